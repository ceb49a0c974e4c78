"""Colour spaces: sRGB, CIE XYZ, CIELAB, CIELUV and luma.

The definitions, exactly as IEC 61966-2-1 (sRGB) and the CIE give them:

- sRGB primaries (0.64, 0.33), (0.30, 0.60), (0.15, 0.06) and white D65 at
  (0.3127, 0.3290). The RGB → XYZ matrix is derived from them in float64
  (the white's XYZ is (x/y, 1, (1 − x − y)/y); the primaries' columns are
  scaled so that RGB = (1, 1, 1) gives the white)::

      SRGB_TO_XYZ = [[0.41239080, 0.35758434, 0.18048079],
                     [0.21263901, 0.71516868, 0.07219232],
                     [0.01933082, 0.11919478, 0.95053215]]

  and ``XYZ_TO_SRGB`` is its inverse. ``WHITE`` = (0.95045593, 1, 1.08905775).
- The transfer function: decoding c ≤ 0.04045 → c/12.92, else
  ((c + 0.055)/1.055)^2.4; encoding c ≤ 0.0031308 → 12.92 c, else
  1.055 c^(1/2.4) − 0.055.
- CIELAB and CIELUV relative to that same white, with the exact CIE
  constants ``EPSILON`` = 216/24389 and ``KAPPA`` = 24389/27: white maps to
  exactly L = 100, a = b = 0 (u = v = 0), black to exactly 0.
  scikit-image uses the rounded 0.008856 / 7.787 and a rounded white (its
  Lab is within 0.0153 ΔE of this over the 8-bit cube, Luv 0.027);
  OpenCV's float Lab is up to 0.547 ΔE off (dark colours, Luv 0.029).
- Luma (:func:`rgb_to_gray`): Y' = 0.2126 R' + 0.7152 G' + 0.0722 B' of the
  gamma-encoded values (Rec. 709 weights, the Y row of the matrix rounded to
  four digits), as scikit-image's ``rgb2gray``; OpenCV uses BT.601's
  0.299 / 0.587 / 0.114.

Ranges are declared, not guessed: float input is in [0, 1]; integer input
is divided by its dtype's maximum (255 for uint8, 65535 for uint16). Values
outside the range are converted as they are, by the same formulas (no
clipping); NaN propagates. Lab and Luv have L in [0, 100] and a, b (u, v)
unbounded. float64 input gives float64, everything else float32 (computed
in float32); ``output=np.float64`` computes in float64.

The per-pixel work runs in the C core (GIL released, threads, vectorised
powers for float32, a 256-entry table for uint8 sRGB).
"""

from __future__ import annotations

from typing import Any, Optional, Tuple, Union

import numpy as np

from . import _native
from ._docstrings import shared_doc
from ._job import resolve_output, store
from ._threads import cpu_cap, get_num_threads
from ._validate import DTYPE_CODES, SUPPORTED_DTYPES, describe, fail, is_double, native

__all__ = [
    "rgb_to_xyz", "xyz_to_rgb", "rgb_to_lab", "lab_to_rgb", "rgb_to_luv", "luv_to_rgb",
    "rgb_to_gray", "convert", "SPACES",
    "SRGB_TO_XYZ", "XYZ_TO_SRGB", "WHITE", "EPSILON", "KAPPA", "LUMA",
]

# ----------------------------------------------------------------------------
# the definitions
# ----------------------------------------------------------------------------
#: the sRGB primaries' CIE xy chromaticities (red, green, blue), IEC 61966-2-1
PRIMARIES = ((0.64, 0.33), (0.30, 0.60), (0.15, 0.06))
#: D65's CIE xy chromaticity, the white of sRGB, CIELAB and CIELUV here
WHITE_XY = (0.3127, 0.3290)
#: the CIE's exact 216/24389 (the rounded 0.008856 of older texts)
EPSILON = 216.0 / 24389.0
#: the CIE's exact 24389/27 (903.3; 7.787 = KAPPA / 116 in older texts)
KAPPA = 24389.0 / 27.0
#: Rec. 709 luma weights of gamma-encoded R', G', B' (:func:`rgb_to_gray`)
LUMA = (0.2126, 0.7152, 0.0722)


def _xyz_of(x: float, y: float) -> np.ndarray:
    """XYZ of the chromaticity (x, y) at Y = 1."""
    return np.array([x / y, 1.0, (1.0 - x - y) / y])


def _inv3(m: np.ndarray) -> np.ndarray:
    """Inverse of a 3x3 matrix by cofactors (no BLAS or LAPACK call at
    import: OpenBLAS's threads would then spin beside the first filters)."""
    c = np.array([[m[(i + 1) % 3, (j + 1) % 3] * m[(i + 2) % 3, (j + 2) % 3]
                   - m[(i + 1) % 3, (j + 2) % 3] * m[(i + 2) % 3, (j + 1) % 3]
                   for i in range(3)] for j in range(3)])  # adjugate (transposed cofactors)
    return c / float((m[0] * c[:, 0]).sum())


#: D65's XYZ with Y = 1, from its xy chromaticity (0.3127, 0.3290)
WHITE = _xyz_of(*WHITE_XY)
_P = np.column_stack([_xyz_of(x, y) for x, y in PRIMARIES])
#: linear sRGB to XYZ, derived in float64 from the primaries and the white
SRGB_TO_XYZ = _P * (_inv3(_P) * WHITE).sum(axis=1)
#: XYZ to linear sRGB, the inverse of :data:`SRGB_TO_XYZ`
XYZ_TO_SRGB = _inv3(SRGB_TO_XYZ)
for _m in (WHITE, SRGB_TO_XYZ, XYZ_TO_SRGB):
    _m.flags.writeable = False


def _unit_rows(m: np.ndarray, dtype: type) -> np.ndarray:
    """``m`` (whose rows sum to 1) in ``dtype``, its last column nudged by
    ulps so that (m0 + m1) + m2 is exactly 1 in that dtype: white stays
    exactly white through the matrix."""
    out = m.astype(dtype)
    one = dtype(1.0)
    for row in out:
        for _ in range(8):
            total = (row[0] + row[1]) + row[2]
            if total == one:
                break
            row[2] = np.nextafter(row[2], dtype(-np.inf) if total > one else dtype(np.inf))
    return out.astype(np.float64)


# the matrices the core applies: absolute for XYZ, white-relative for Lab/Luv
_REL = SRGB_TO_XYZ / WHITE[:, None]              # RGB -> (X/Xn, Y/Yn, Z/Zn)
_REL_INV = XYZ_TO_SRGB * WHITE[None, :]          # its inverse
_MATRICES = {
    # op: (float32 matrix, float64 matrix)
    "rgb2xyz": (SRGB_TO_XYZ.astype(np.float32).astype(np.float64), SRGB_TO_XYZ),
    "xyz2rgb": (XYZ_TO_SRGB.astype(np.float32).astype(np.float64), XYZ_TO_SRGB),
    "rgb2lab": (_unit_rows(_REL, np.float32), _unit_rows(_REL, np.float64)),
    "lab2rgb": (_unit_rows(_REL_INV, np.float32), _unit_rows(_REL_INV, np.float64)),
    "rgb2luv": (_unit_rows(_REL, np.float32), _unit_rows(_REL, np.float64)),
    "luv2rgb": (_unit_rows(_REL_INV, np.float32), _unit_rows(_REL_INV, np.float64)),
    "rgb2gray": (np.array(LUMA + (0.0,) * 6), np.array(LUMA + (0.0,) * 6)),
}
# FK_RGB2XYZ ... of src_c/fk_core.h
_OPS = {"rgb2xyz": 0, "xyz2rgb": 1, "rgb2lab": 2, "lab2rgb": 3, "rgb2luv": 4, "luv2rgb": 5,
        "rgb2gray": 6}


def _decode64(c: np.ndarray) -> np.ndarray:
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


_LUT8 = _decode64(np.arange(256) / 255.0).astype(np.float32)

#: the colour spaces the filters understand (their ``space=`` parameter)
SPACES = ("rgb", "lab", "luv", "gray")

# ----------------------------------------------------------------------------
# the driver
# ----------------------------------------------------------------------------
OutputArg = Union[None, np.ndarray, type, np.dtype, str]


def check_colour_image(image: Any, channel_axis: Any, op: str) -> Tuple[np.ndarray, int, bool]:
    """The image as an array (float16 as float32), its channel axis, and
    whether its 4th channel is an alpha channel that passes through."""
    arr = np.asarray(image)
    if arr.dtype.kind not in "uif" or (arr.dtype.kind == "f" and arr.dtype.itemsize > 8):
        raise fail("image", f"an array of real numbers ({SUPPORTED_DTYPES} or float16)",
                   f"dtype {arr.dtype}", TypeError)
    if arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    arr = native(arr)  # byte order never changes the precision or the bits
    if isinstance(channel_axis, (bool, np.bool_)) or not isinstance(channel_axis, (int, np.integer)):
        raise fail("channel_axis", "an integer", describe(channel_axis), TypeError)
    if arr.ndim == 0:
        raise fail("image", "an array with a colour channel axis", "a scalar")
    if not -arr.ndim <= channel_axis < arr.ndim:
        raise fail("channel_axis", f"an axis of the {arr.ndim}-D image ({-arr.ndim} to {arr.ndim - 1})",
                   repr(channel_axis))
    axis = int(channel_axis) % arr.ndim
    n = arr.shape[axis]
    from_rgb = op.startswith("rgb")
    if n != 3 and not (from_rgb and n == 4):
        what = "3 (RGB) or 4 (RGBA)" if from_rgb else "3"
        raise fail("image", f"{what} channels along channel_axis={channel_axis}",
                   f"{n} in shape {arr.shape}")
    return arr, axis, n == 4


def _rows_view(a: np.ndarray) -> Optional[np.ndarray]:
    """``a`` (channels last) as (rows, columns, channels) without a copy, or
    None when that needs one."""
    if a.ndim == 1:
        shape: Tuple[int, ...] = (1, 1, a.shape[0])
    elif a.ndim == 2:
        shape = (1,) + a.shape
    else:
        shape = (-1,) + a.shape[-2:]
    # reshape gives a view where the strides allow one, else a copy (setting
    # .shape, which refuses to copy, is deprecated from numpy 2.5)
    v = a.reshape(shape)
    return v if a.size and np.may_share_memory(v, a) else None


def _convert(image: Any, op: str, channel_axis: Any, output: OutputArg) -> np.ndarray:
    arr, axis, alpha = check_colour_image(image, channel_axis, op)
    to_rgb = op.endswith("rgb") or op == "rgb2gray"
    gray = op == "rgb2gray"
    # the output dtype and the compute precision
    out_arr: Optional[np.ndarray] = None
    if output is None:
        out_dtype = np.dtype(np.float64 if arr.dtype == np.float64 else np.float32)
    elif isinstance(output, np.ndarray):
        out_arr = output
        out_dtype = output.dtype
    else:
        try:
            out_dtype = np.dtype(output)
        except TypeError:
            raise fail("output", "None, an array or a dtype", describe(output), TypeError) from None
    if out_dtype.newbyteorder("=") not in DTYPE_CODES:
        raise fail("output", f"an array or a dtype of {SUPPORTED_DTYPES}", f"dtype {out_dtype}", TypeError)
    if out_dtype.kind != "f" and not to_rgb:
        raise fail("output", "a float dtype (float32 or float64) for XYZ, Lab and Luv",
                   f"dtype {out_dtype}", TypeError)
    double = is_double(out_dtype) or (arr.dtype == np.float64 and out_dtype.kind != "f")
    compute = np.dtype(np.float64 if double else np.float32)
    # shapes: channels last inside, moved back for the caller
    src = np.moveaxis(arr, axis, -1)
    nout = 1 if gray else src.shape[-1]
    out_shape_last = src.shape[:-1] + (() if gray else (nout,))
    if out_arr is not None:
        want = out_shape_last if gray else np.moveaxis(np.empty(out_shape_last, dtype=np.bool_), -1, axis).shape
        if out_arr.shape != want:
            raise fail("output", f"an array of shape {want}", f"shape {out_arr.shape}")
        if not out_arr.flags.writeable:
            raise fail("output", "a writeable array", "a read-only array")
    src3 = _rows_view(src)
    if src3 is None:
        src3 = _rows_view(np.ascontiguousarray(src))
    # where the core writes: the output itself when it has the compute dtype,
    # a view of rows, and no overlap with the input; else a temporary
    target: Optional[np.ndarray] = None
    if out_arr is not None and out_dtype == compute and out_dtype.isnative:
        moved = out_arr if gray else np.moveaxis(out_arr, axis, -1)
        view = _rows_view(moved[..., np.newaxis] if gray else moved)
        if view is not None and not np.shares_memory(out_arr, arr):
            target, dst3 = out_arr, view
    if target is None:
        tmp = np.empty(out_shape_last + ((1,) if gray else ()), dtype=compute)
        dst3 = _rows_view(tmp)
    matrix = _MATRICES[op][1 if double else 0]
    lut = _LUT8 if (arr.dtype == np.uint8 and not double and op in ("rgb2xyz", "rgb2lab", "rgb2luv")) else None
    in_max = float(np.iinfo(arr.dtype).max) if arr.dtype.kind in "ui" else 0.0
    # luma drops the alpha channel: nothing passes through to its one channel
    spec = _native.ColourOp(_OPS[op], alpha and not gray,
                            np.ascontiguousarray(matrix, dtype=np.float64).ravel(),
                            (float(WHITE[0]), float(WHITE[2])), in_max, lut)
    _native.convert_colour(src3, dst3, spec, _native.Run(double, get_num_threads(), cpu_cap()))
    if target is not None:
        return target
    result = tmp[..., 0] if gray else tmp
    if not gray:
        result = np.moveaxis(result, -1, axis)
    if out_dtype.kind in "ui":
        result = result * float(np.iinfo(out_dtype).max)   # [0, 1] in the integer's range
    elif out_arr is None and out_dtype == result.dtype:
        return result
    if out_arr is None:
        out_arr = np.empty(result.shape, dtype=out_dtype)
    return store(result, out_arr)


# ----------------------------------------------------------------------------
# the public functions
# ----------------------------------------------------------------------------
#: channel_axis and output of the conversions back to sRGB
_TO_RGB_OPTIONS = """
channel_axis : int, optional
    The axis of the channels (default -1).
output : None, ndarray or dtype, optional
    float32/float64 (default as the input's precision); an integer dtype
    scales [0, 1] to its range, rounds half to even and saturates.
"""


def rgb_to_xyz(image: Any, *, channel_axis: int = -1, output: OutputArg = None) -> np.ndarray:
    """sRGB to CIE XYZ (D65, Y of white = 1).

    Parameters
    ----------
    image : array_like
        sRGB colours: float in [0, 1] or integers scaled by their dtype's
        maximum; 3 channels (RGB) or 4 (RGBA: alpha passes through, scaled
        to [0, 1] for integers) along `channel_axis`. Any number of other
        axes.
    channel_axis : int, optional
        The axis of the colour channels (default -1, the last).
    output : None, ndarray or dtype, optional
        float32 or float64 (default: float64 for float64 input, else
        float32), or an array of the output's shape to write into.

    Returns
    -------
    ndarray
        X, Y, Z along `channel_axis`.

    Examples
    --------
    >>> import numpy as np
    >>> from filterkit import color
    >>> color.rgb_to_xyz(np.array([1.0, 1.0, 1.0])).round(6)   # the white D65
    array([0.950456, 1.      , 1.089058])
    """
    return _convert(image, "rgb2xyz", channel_axis, output)


@shared_doc(to_rgb_options=_TO_RGB_OPTIONS)
def xyz_to_rgb(image: Any, *, channel_axis: int = -1, output: OutputArg = None) -> np.ndarray:
    """CIE XYZ (D65, Y of white = 1) to sRGB in [0, 1] (not clipped).

    Parameters
    ----------
    image : array_like
        X, Y, Z (float, or integers taken as they are after dividing by the
        dtype's maximum) along `channel_axis`: 3 channels.
    %(to_rgb_options)s

    Returns
    -------
    ndarray
        R, G, B along `channel_axis`; colours outside the sRGB gamut give
        values outside [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from filterkit import color
    >>> color.xyz_to_rgb(color.WHITE).round(12)
    array([1., 1., 1.])
    """
    return _convert(image, "xyz2rgb", channel_axis, output)


def rgb_to_lab(image: Any, *, channel_axis: int = -1, output: OutputArg = None) -> np.ndarray:
    """sRGB to CIELAB (D65, exact CIE constants).

    Parameters
    ----------
    image : array_like
        sRGB colours: float in [0, 1] or integers scaled by their dtype's
        maximum; 3 channels, or 4 with alpha passing through.
    channel_axis : int, optional
        The axis of the colour channels (default -1).
    output : None, ndarray or dtype, optional
        float32 or float64 (default: float64 for float64 input, else
        float32), or an array to write into.

    Returns
    -------
    ndarray
        L in [0, 100], a and b along `channel_axis`.

    Examples
    --------
    >>> import numpy as np
    >>> from filterkit import color
    >>> color.rgb_to_lab(np.array([[255, 255, 255], [0, 0, 0]], dtype=np.uint8))
    array([[100.,   0.,   0.],
           [  0.,   0.,   0.]], dtype=float32)
    """
    return _convert(image, "rgb2lab", channel_axis, output)


@shared_doc(to_rgb_options=_TO_RGB_OPTIONS)
def lab_to_rgb(image: Any, *, channel_axis: int = -1, output: OutputArg = None) -> np.ndarray:
    """CIELAB (D65) to sRGB in [0, 1] (not clipped).

    Parameters
    ----------
    image : array_like
        L, a, b along `channel_axis` (3 channels).
    %(to_rgb_options)s

    Returns
    -------
    ndarray
        R, G, B along `channel_axis`.

    Examples
    --------
    >>> import numpy as np
    >>> from filterkit import color
    >>> color.lab_to_rgb(np.array([100.0, 0.0, 0.0]), output=np.uint8)
    array([255, 255, 255], dtype=uint8)
    """
    return _convert(image, "lab2rgb", channel_axis, output)


def rgb_to_luv(image: Any, *, channel_axis: int = -1, output: OutputArg = None) -> np.ndarray:
    """sRGB to CIELUV (D65, exact CIE constants).

    Parameters
    ----------
    image : array_like
        sRGB colours: float in [0, 1] or integers scaled by their dtype's
        maximum; 3 channels, or 4 with alpha passing through.
    channel_axis : int, optional
        The axis of the colour channels (default -1).
    output : None, ndarray or dtype, optional
        float32 or float64, or an array to write into.

    Returns
    -------
    ndarray
        L in [0, 100], u and v along `channel_axis` (black: 0, 0, 0).

    Examples
    --------
    >>> import numpy as np
    >>> from filterkit import color
    >>> color.rgb_to_luv(np.array([1.0, 1.0, 1.0]))
    array([100.,   0.,   0.])
    """
    return _convert(image, "rgb2luv", channel_axis, output)


@shared_doc(to_rgb_options=_TO_RGB_OPTIONS)
def luv_to_rgb(image: Any, *, channel_axis: int = -1, output: OutputArg = None) -> np.ndarray:
    """CIELUV (D65) to sRGB in [0, 1] (not clipped); L = 0 is black.

    Parameters
    ----------
    image : array_like
        L, u, v along `channel_axis` (3 channels).
    %(to_rgb_options)s

    Returns
    -------
    ndarray
        R, G, B along `channel_axis`.

    Examples
    --------
    >>> import numpy as np
    >>> from filterkit import color
    >>> color.luv_to_rgb(np.array([100.0, 0.0, 0.0])).round(12)
    array([1., 1., 1.])
    """
    return _convert(image, "luv2rgb", channel_axis, output)


def rgb_to_gray(image: Any, *, channel_axis: int = -1, output: OutputArg = None) -> np.ndarray:
    """Luma Y' = 0.2126 R' + 0.7152 G' + 0.0722 B' of the encoded sRGB values.

    The Rec. 709 weights (the Y row of ``SRGB_TO_XYZ`` to four digits),
    applied to the gamma-encoded values as scikit-image's ``rgb2gray``
    does; an alpha channel is dropped.

    Parameters
    ----------
    image : array_like
        sRGB colours (float in [0, 1] or integers scaled by their maximum),
        3 or 4 channels along `channel_axis`.
    channel_axis : int, optional
        The axis of the colour channels (default -1); it is removed.
    output : None, ndarray or dtype, optional
        float32/float64 (default as the input's precision); an integer dtype
        scales [0, 1] to its range, rounds half to even and saturates.

    Returns
    -------
    ndarray
        The luma, in [0, 1] for in-range input.

    Examples
    --------
    >>> import numpy as np
    >>> from filterkit import color
    >>> color.rgb_to_gray(np.array([[255, 0, 0], [255, 255, 255]], dtype=np.uint8))
    array([0.2126, 1.    ], dtype=float32)
    """
    return _convert(image, "rgb2gray", channel_axis, output)


def _copy(image: Any, space: str, channel_axis: Any, output: OutputArg) -> np.ndarray:
    """:func:`convert` within one space: the image checked and copied into
    `output`, by the conversions' rules (an integer sRGB output is [0, 1]
    scaled to its range, rounded and saturated; XYZ, Lab and Luv only to
    float outputs)."""
    arr = check_colour_image(image, channel_axis, "rgb2rgb" if space == "rgb" else "xyz")[0]
    if output is None:
        return arr.copy()
    target = resolve_output(output, arr.shape, arr.dtype)
    if target.dtype.kind != "f" and space != "rgb":
        raise fail("output", "a float dtype (float32 or float64) for XYZ, Lab and Luv",
                   f"dtype {target.dtype}", TypeError)
    if target.dtype == arr.dtype:
        np.copyto(target, arr)
        return target
    values = arr.astype(np.float64)
    if arr.dtype.kind in "ui":
        values /= float(np.iinfo(arr.dtype).max)          # [0, 1]
    if target.dtype.kind in "ui":
        values *= float(np.iinfo(target.dtype).max)       # the integer's range
    return store(values, target)


def convert(image: Any, source: str, target: str, *, channel_axis: int = -1,
            output: OutputArg = None) -> np.ndarray:
    """Convert between ``'rgb'``, ``'xyz'``, ``'lab'``, ``'luv'`` (and to ``'gray'``).

    Parameters
    ----------
    image : array_like
        Colours in the `source` space along `channel_axis`.
    source, target : str
        One of ``'rgb'``, ``'xyz'``, ``'lab'``, ``'luv'``; `target` may also
        be ``'gray'`` (luma). Conversions between two non-RGB spaces go
        through (unclipped) sRGB.
    channel_axis : int, optional
        The axis of the channels (default -1).
    output : None, ndarray or dtype, optional
        As for the single conversions.

    Returns
    -------
    ndarray
        The colours in the `target` space.

    Examples
    --------
    >>> import numpy as np
    >>> from filterkit import color
    >>> color.convert(np.array([100.0, 0.0, 0.0]), "lab", "luv").round(9)
    array([100.,   0.,   0.])
    """
    spaces = ("rgb", "xyz", "lab", "luv")
    if not isinstance(source, str) or source.lower() not in spaces:
        raise fail("source", f"one of {', '.join(repr(s) for s in spaces)}", describe(source))
    if not isinstance(target, str) or target.lower() not in spaces + ("gray",):
        raise fail("target", f"one of {', '.join(repr(s) for s in spaces + ('gray',))}", describe(target))
    source, target = source.lower(), target.lower()
    if source == target:
        return _copy(image, source, channel_axis, output)
    if source == "rgb" or target == "rgb":
        return _convert(image, source + "2" + target, channel_axis, output)
    return _convert(_convert(image, source + "2rgb", channel_axis, None), "rgb2" + target,
                    channel_axis, output)

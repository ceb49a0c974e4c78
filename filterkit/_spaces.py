"""Filtering colour images in a colour space: the ``space=`` of every filter.

- Low-pass filters (mean, gaussian) run per channel in ``'rgb'``,
  ``'lab'`` or ``'luv'`` and convert back to sRGB in the input's dtype (or
  `output`'s); ``'gray'`` filters the luma. Alpha passes through unchanged.
- High-pass filters take the channels in the space's units: the image's own
  values for ``'rgb'`` (0-255 for uint8), L/a/b or L/u/v for ``'lab'`` and
  ``'luv'``, and for ``'gray'`` the luma in the input's units (luma × 255
  for uint8), so that a grey image gives the same result however it is
  passed. ``sobel`` and ``gradient`` combine the channels into the colour
  gradient (:func:`colour_gradient`); the others filter each channel.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Tuple

import numpy as np

from . import _native, color
from ._engine import OutputArg, resolve_output
from ._engine import store as _store
from ._threads import cpu_cap, get_num_threads
from ._validate import check_image, check_mode, describe, fail, is_double

SPACE_NAMES = ", ".join(repr(s) for s in color.SPACES)


def check_space(space: Any, channel_axis: Any) -> Optional[str]:
    """None, or the lower-case name of a colour space for a colour image."""
    if space is None:
        return None
    if not isinstance(space, str) or space.strip().lower() not in color.SPACES:
        raise fail("space", f"None or one of {SPACE_NAMES}", describe(space),
                   TypeError if not isinstance(space, str) else ValueError)
    if channel_axis is None:
        raise fail("space", "None for an image without channel_axis (a colour space needs "
                   "a colour image: give channel_axis)", repr(space))
    return space.strip().lower()


def _colour_image(image: Any, channel_axis: int) -> Tuple[np.ndarray, int, bool]:
    """A 3-D RGB or RGBA image (float16 as float32), its channel axis and
    whether it has alpha."""
    arr, axis, alpha = color._check_colour_image(image, channel_axis, "rgb2lab")
    if arr.ndim != 3:
        raise fail("image", "3-D (two spatial axes and channel_axis) for a colour space",
                   f"{arr.ndim}-D with shape {arr.shape}")
    return arr, axis, alpha


def _take(arr: np.ndarray, axis: int, channels: slice) -> np.ndarray:
    index: list = [slice(None)] * arr.ndim
    index[axis] = channels
    return arr[tuple(index)]


def in_range_max(dtype: np.dtype) -> float:
    """What 1.0 is in the image's units: the dtype's maximum for integers."""
    return float(np.iinfo(dtype).max) if dtype.kind in "ui" else 1.0


def lowpass(fn: Callable[..., np.ndarray], image: Any, space: str, channel_axis: int,
            output: OutputArg, **kwargs: Any) -> np.ndarray:
    """``fn(image, channel_axis=, output=, **kwargs)`` run in `space`; the
    result in sRGB (or luma for 'gray') with the input's dtype by default."""
    arr, axis, alpha = _colour_image(image, channel_axis)
    if space == "gray":
        luma = color.rgb_to_gray(arr, channel_axis=axis)
        filtered = fn(luma, channel_axis=None, output=None, **kwargs)
        target = resolve_output(output, filtered.shape, arr.dtype)
        scale = in_range_max(target.dtype) if target.dtype.kind in "ui" else 1.0
        return _store(filtered * scale, target)
    colours_in = _take(arr, axis, slice(0, 3))
    if space == "rgb":
        filtered = fn(colours_in, channel_axis=axis, output=None, **kwargs)
    else:
        to_space = color.rgb_to_lab if space == "lab" else color.rgb_to_luv
        from_space = color.lab_to_rgb if space == "lab" else color.luv_to_rgb
        filtered = fn(to_space(colours_in, channel_axis=axis), channel_axis=axis, output=None, **kwargs)
    out_spatial = tuple(n for i, n in enumerate(filtered.shape) if i != axis)
    shape = list(out_spatial)
    shape.insert(axis, arr.shape[axis])
    target = resolve_output(output, tuple(shape), arr.dtype)
    colours_out = _take(target, axis, slice(0, 3))
    if space == "rgb":
        _store(filtered, colours_out)
    elif target.dtype.kind in "ui" and arr.dtype.kind == "f":
        # float input is in [0, 1]: an integer output keeps those values
        _store(from_space(filtered, channel_axis=axis), colours_out)
    else:
        from_space(filtered, channel_axis=axis, output=colours_out)
    if alpha:
        a_in = _take(arr, axis, slice(3, 4))[_valid_crop(arr.shape, axis, out_spatial)]
        np.copyto(_take(target, axis, slice(3, 4)), a_in, casting="unsafe")
    return target


def _valid_crop(shape: Tuple[int, ...], axis: int, out_spatial: Tuple[int, ...]) -> Tuple[slice, ...]:
    spatial_axes = [i for i in range(len(shape)) if i != axis]
    index = [slice(None)] * len(shape)
    for i, n in zip(spatial_axes, out_spatial):
        lo = (shape[i] - n) // 2
        index[i] = slice(lo, lo + n)
    return tuple(index)


def highpass_channels(image: Any, space: Optional[str], channel_axis: int) -> Tuple[np.ndarray, int]:
    """The channels a high-pass filter sees, in the space's units, and their axis.

    None: the image's channels as they are (any number); 'rgb': its colour
    channels (alpha dropped); 'lab'/'luv': converted; 'gray': the luma in
    the input's units, as a 3-D image with one channel.
    """
    if space is None:
        arr = np.asarray(image)
        return arr, channel_axis
    arr, axis, alpha = _colour_image(image, channel_axis)
    colours = _take(arr, axis, slice(0, 3))
    if space == "rgb":
        return colours, axis
    if space == "gray":
        luma = color.rgb_to_gray(colours, channel_axis=axis)
        if arr.dtype.kind in "ui":
            luma *= np.float32(in_range_max(arr.dtype))
        return np.expand_dims(luma, axis), axis
    to_space = color.rgb_to_lab if space == "lab" else color.rgb_to_luv
    return to_space(colours, channel_axis=axis), axis


def gradient_channels(image: Any, space: Optional[str],
                      channel_axis: int) -> Tuple[np.ndarray, int, Callable[[np.ndarray], np.ndarray]]:
    """For the colour gradient: the image, its channel axis, and the function
    that turns a block of its rows (channels last) into the channels the
    gradient combines (no conversion of the whole image at once)."""
    if space is None:
        arr, axis = check_image(image, channel_axis)
        assert axis is not None
        return arr, axis, lambda block: block
    arr, axis, _ = _colour_image(image, channel_axis)
    if space == "rgb":
        return arr, axis, lambda block: block[..., :3]
    to_space = color.rgb_to_lab if space == "lab" else color.rgb_to_luv
    return arr, axis, lambda block: to_space(block[..., :3])


# rows of the image per block of the colour gradient: about this many pixels
_STRIP_PIXELS = 1 << 17


def colour_gradient(image: np.ndarray, axis: int, convert: Callable[[np.ndarray], np.ndarray], *,
                    mode: Any, cval: Any, output: Any, direction: bool,
                    sobel_x: Callable[..., np.ndarray],
                    sobel_y: Callable[..., np.ndarray]) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """The Di Zenzo colour gradient of ``convert(rows)`` (channels last).

    Per pixel the structure tensor G = Σ_c ∇f_c ∇f_cᵀ of the channels' Sobel
    derivatives: strength = sqrt(λ_max(G) / C), the root mean square over
    the C channels of the derivative along the direction of greatest
    change (so C equal channels give the grey strength); direction = the
    angle of λ_max's eigenvector in (-π, π], its sign agreeing with Σ_c ∇f_c
    (so equal channels give the grey direction).

    The image is processed in blocks of rows (with a row of context above
    and below), so the converted channels and their derivatives exist a
    block at a time: memory stays bounded and in cache.
    """
    src = np.moveaxis(image, axis, -1)
    H, W = src.shape[:2]
    name = check_mode(mode, cval)[0]
    if name == "valid" and (H < 3 or W < 3):  # let the filter say what is wrong
        sobel_x(image, mode=mode, cval=cval, channel_axis=axis)
    Ho, Wo = (H - 2, W - 2) if name == "valid" else (H, W)
    want64 = image.dtype == np.float64
    outs = output if isinstance(output, tuple) else (output, output)
    for o in outs:
        if isinstance(o, np.ndarray):
            want64 = want64 or is_double(o.dtype)
        elif o is not None:
            try:
                want64 = want64 or is_double(o)
            except TypeError:
                pass
    compute = np.dtype(np.float64 if want64 else np.float32)
    strength = np.empty((Ho, Wo), dtype=compute)
    theta = np.empty((Ho, Wo), dtype=compute) if direction else None
    # 'wrap' needs the far rows at the top and bottom: one block
    rows = Ho if name == "wrap" else max(8, _STRIP_PIXELS // max(W, 1))
    for y0 in range(0, Ho, rows):
        y1 = min(y0 + rows, Ho)
        if name == "valid":
            s0, s1, keep = y0, y1 + 2, 0          # output row y is source row y + 1
        else:
            s0, s1 = max(y0 - 1, 0), min(y1 + 1, H)
            keep = y0 - s0                        # the block's first row has no row above
        chans = convert(src[s0:s1])
        C = chans.shape[-1]
        hb = s1 - s0 - (2 if name == "valid" else 0)
        fx = np.empty((C, hb, Wo), dtype=compute)
        fy = np.empty((C, hb, Wo), dtype=compute)
        sobel_x(chans, mode=mode, cval=cval, channel_axis=-1, output=np.moveaxis(fx, 0, -1))
        sobel_y(chans, mode=mode, cval=cval, channel_axis=-1, output=np.moveaxis(fy, 0, -1))
        n = y1 - y0
        _native.structure_tensor(fx[:, keep:keep + n], fy[:, keep:keep + n], strength[y0:y1],
                                 None if theta is None else theta[y0:y1],
                                 _native.Run(compute == np.float64, get_num_threads(), cpu_cap()))
    name0 = "output[0]" if isinstance(output, tuple) else "output"
    s_target = resolve_output(outs[0], (Ho, Wo), compute, name0)
    s_result = _store(strength, s_target) if s_target is not strength else strength
    if theta is None:
        return s_result, None
    name1 = "output[1]" if isinstance(output, tuple) else "output"
    d_target = resolve_output(outs[1], (Ho, Wo), compute, name1)
    if d_target.dtype.kind != "f":
        raise fail("output", "a float dtype for the direction (radians)", f"dtype {d_target.dtype}", TypeError)
    return s_result, _store(theta, d_target)

"""The compiled core as the Python side calls it: the only importer of ``_core``.

Every function here computes into arrays it is given and checks nothing:
the callers have validated the arguments and allocated the outputs.  The
geometry of a correlation travels as a :class:`Border` and the execution
settings as a :class:`Run`, and a colour conversion as a
:class:`ColourOp`; the core reads their fields itself (dtype codes too), so
no call across the Cython boundary takes more than seven arguments.
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Tuple

import numpy as np

from . import _core


class Border(NamedTuple):
    """Where output pixel (0, 0) reads and how the image is extended.

    Output pixel (y, x) of a kh x kw correlation reads the source pixels
    (y - oy + a, x - ox + b) for a < kh, b < kw; those outside the source
    follow the border `mode` (a code of ``_validate.MODE_CODES``), with
    `cval` for ``'constant'``.

    With ``channels`` C > 1 the 2-D arrays are rows of interleaved pixels:
    a row of W pixels is W * C elements (channel after channel, equal
    strides), and each channel is filtered on its own in the same pass
    (`ox` still counts pixels).  The correlation, separable, Sobel,
    integer and box calls take C > 1.
    """

    oy: int
    ox: int
    mode: int
    cval: float
    channels: int = 1


class Run(NamedTuple):
    """How the core runs: in float64 or float32, on how many threads, and
    the best SIMD level allowed (``_threads.cpu_cap``)."""

    double: bool
    threads: int
    cpu_cap: int


class ColourOp(NamedTuple):
    """One colour conversion: the core's operation code, whether an alpha
    channel passes through, the 3 x 3 matrix (9 float64, C order), the
    white point's X and Z, what 1.0 is in the source's units (0 for float
    sources) and the 256-entry sRGB table for uint8 sources (or None)."""

    code: int
    alpha: bool
    matrix: np.ndarray
    white_xz: Tuple[float, float]
    in_max: float
    lut8: Optional[np.ndarray]


class IntSums(NamedTuple):
    """An exact integer correlation of an 8- or 16-bit image: the int32
    numerators `k` (2-D, C order), or the factors `col` and `row` (1-D,
    k None), times 2^-`shift`, summed in `lanes` of int16 (0), int32 (1)
    or uint16 (2; 16-bit lanes compute modulo 2^16); `cval` is the border
    value as an integer of the image's dtype; `narrow`: a uint8 output may
    be rounded in 16-bit lanes (every sum plus 2^(shift-1) stays in their
    range).  The caller has checked that every exact sum lies in the
    lanes' range and fits the compute type's mantissa."""

    k: Optional[np.ndarray]
    col: Optional[np.ndarray]
    row: Optional[np.ndarray]
    shift: int
    lanes: int
    cval: int
    narrow: bool = False


#: the identity border of an element-wise copy (a 1 x 1 correlation)
_NO_BORDER = Border(0, 0, 0, 0.0)


def openmp_enabled() -> bool:
    """Whether the core was compiled with OpenMP."""
    return bool(_core.openmp_enabled())


def simd_level(cpu_cap: int) -> str:
    """The SIMD level the core runs under `cpu_cap`."""
    return str(_core.cpu_path(cpu_cap))


def correlate(src: np.ndarray, dst: np.ndarray, weights: np.ndarray, border: Border,
              run: Run) -> None:
    """``dst`` = the correlation of the 2-D `src` with the 2-D `weights`
    (C-contiguous, in the compute dtype), rounded and saturated when `dst`
    is integer.  With ``border.channels`` C > 1, `dst` is 2-D like `src`
    or an (H, W, C) view of any strides (the channels scattered)."""
    _core.correlate(src, dst, weights, border, run)


def correlate_fft(src: np.ndarray, dst: np.ndarray, weights: np.ndarray,
                  block: Tuple[int, int], border: Border, run: Run, check: bool) -> bool:
    """``dst`` = the correlation of the single-channel 2-D `src` with the
    2-D `weights` (C-contiguous, compute dtype) by FFT in blocks of `block`
    = (bh, bw), powers of two of at least 16 larger than the mask; rounded
    and saturated when `dst` is integer.  With `check`, True as soon as a
    block holds a NaN or an inf (`dst` then partly written), else False."""
    assert border.channels == 1
    return bool(_core.correlate_fft(src, dst, weights, block, border, run, check))


def correlate_integer(src: np.ndarray, dst: np.ndarray, sums: IntSums, border: Border,
                      run: Run) -> None:
    """``dst`` = the correlation `sums` of the 8- or 16-bit `src`, exact in
    integers, converted to `dst` as :func:`correlate` stores (the same
    bits, the float path being exact for it)."""
    _core.correlate_integer(src, dst, sums, border, run)


def correlate_factors(src: np.ndarray, dst: np.ndarray, column: np.ndarray, row: np.ndarray,
                      border: Border, run: Run) -> None:
    """``dst`` = the correlation with ``np.outer(column, row)``, as a
    vertical then a horizontal 1-D pass (factors contiguous, compute dtype)."""
    _core.correlate_factors(src, dst, column, row, border, run)


def box(src: np.ndarray, dst: np.ndarray, shape: Tuple[int, int], weight: float,
        border: Border, run: Run) -> None:
    """``dst`` = the sums over `shape` windows times `weight` (running sums)."""
    _core.box(src, dst, shape[0], shape[1], weight, border, run)


def sobel(src: np.ndarray, strength: np.ndarray, direction: Optional[np.ndarray],
          border: Border, run: Run, sums: Optional[IntSums] = None) -> None:
    """The lecture's Sobel f_x and f_y fused: ``strength`` = sqrt(f_x^2 +
    f_y^2), and, unless `direction` is None, ``direction`` = atan2(f_y,
    f_x).  f_x and f_y exist a row at a time; with `sums` (its lanes and
    cval; the masks are Sobel's) they are summed exactly in integers."""
    if sums is not None:
        _core.sobel_integer(src, strength, direction, sums, border, run)
    else:
        _core.sobel(src, strength, direction, border, run)


def copy(src: np.ndarray, dst: np.ndarray, run: Run) -> None:
    """``dst`` = `src` (2-D, float32 or float64) through the core's storers:
    rounded half to even and saturated into integers, NaN to 0."""
    one = np.ones((1, 1), dtype=src.dtype)
    correlate(src, dst, one, _NO_BORDER, run)


def structure_tensor(fx: np.ndarray, fy: np.ndarray, strength: np.ndarray,
                     direction: Optional[np.ndarray], run: Run) -> None:
    """The colour gradient from the channels' f_x and f_y ((C, H, W) arrays
    of the compute dtype, unit column stride): strength, and direction
    unless None ((H, W), unit column stride)."""
    _core.structure_tensor(fx, fy, strength, direction, run)


def convert_colour(src: np.ndarray, dst: np.ndarray, op: ColourOp, run: Run) -> None:
    """Convert the pixels of `src` (rows, columns, channels; any strides)
    into `dst` (the same rows and columns) by `op`."""
    _core.convert_colour(src, dst, op, run)

"""The compiled core as the Python side calls it: the only importer of ``_core``.

Every function here computes into arrays it is given and checks nothing:
the callers have validated the arguments and allocated the outputs.  The
geometry of a correlation travels as a :class:`Border` and the execution
settings as a :class:`Run`, so no call across the Cython boundary takes
more than a handful of arguments.
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Tuple

import numpy as np

from . import _core
from ._validate import DTYPE_CODES


class Border(NamedTuple):
    """Where output pixel (0, 0) reads and how the image is extended.

    Output pixel (y, x) of a kh x kw correlation reads the source pixels
    (y - oy + a, x - ox + b) for a < kh, b < kw; those outside the source
    follow the border `mode` (a code of ``_validate.MODE_CODES``), with
    `cval` for ``'constant'``.
    """

    oy: int
    ox: int
    mode: int
    cval: float


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
    is integer."""
    kh, kw = weights.shape
    _core.correlate_rows(src, dst, DTYPE_CODES[src.dtype], DTYPE_CODES[dst.dtype], weights,
                         None, None, kh, kw, border.oy, border.ox, border.mode, border.cval,
                         run.double, run.threads, run.cpu_cap)


def correlate_factors(src: np.ndarray, dst: np.ndarray, column: np.ndarray, row: np.ndarray,
                      border: Border, run: Run) -> None:
    """``dst`` = the correlation with ``np.outer(column, row)``, as a
    vertical then a horizontal 1-D pass (factors contiguous, compute dtype)."""
    _core.correlate_rows(src, dst, DTYPE_CODES[src.dtype], DTYPE_CODES[dst.dtype], None,
                         column, row, len(column), len(row), border.oy, border.ox, border.mode,
                         border.cval, run.double, run.threads, run.cpu_cap)


def box(src: np.ndarray, dst: np.ndarray, shape: Tuple[int, int], weight: float,
        border: Border, run: Run) -> None:
    """``dst`` = the sums over `shape` windows times `weight` (running sums)."""
    _core.box_rows(src, dst, DTYPE_CODES[src.dtype], DTYPE_CODES[dst.dtype], shape[0], shape[1],
                   weight, border.oy, border.ox, border.mode, border.cval, run.double,
                   run.threads, run.cpu_cap)


def sobel(src: np.ndarray, strength: np.ndarray, direction: Optional[np.ndarray],
          border: Border, run: Run) -> None:
    """The lecture's Sobel f_x and f_y fused: ``strength`` = sqrt(f_x^2 +
    f_y^2), and, unless `direction` is None, ``direction`` = atan2(f_y,
    f_x).  f_x and f_y exist a row at a time."""
    dt = np.float64 if run.double else np.float32
    smooth = np.array([1.0, 2.0, 1.0], dtype=dt)
    diff = np.array([-1.0, 0.0, 1.0], dtype=dt)
    combine = 1 if direction is None else 2
    _core.correlate_rows(src, strength, DTYPE_CODES[src.dtype], DTYPE_CODES[strength.dtype],
                         None, smooth, diff, 3, 3, border.oy, border.ox, border.mode, border.cval,
                         run.double, run.threads, run.cpu_cap, None, combine, direction,
                         DTYPE_CODES[direction.dtype] if direction is not None else 0,
                         diff, smooth)


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
    _core.tensor_rows(fx, fy, strength, direction, run.double, run.threads, run.cpu_cap)


def convert_colour(src: np.ndarray, dst: np.ndarray, op: ColourOp, run: Run) -> None:
    """Convert the pixels of `src` (rows, columns, channels; any strides)
    into `dst` (the same rows and columns) by `op`."""
    _core.color_rows(src, dst, DTYPE_CODES[src.dtype], DTYPE_CODES[dst.dtype], op.code, op.alpha,
                     op.matrix, op.white_xz[0], op.white_xz[1], op.in_max, op.lut8, run.double,
                     run.threads, run.cpu_cap)

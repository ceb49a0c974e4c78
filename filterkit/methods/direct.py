"""The direct sum: every non-zero tap of the mask, per output pixel.

Cost per output pixel: d0 + d1 T for T non-zero taps, or d3 for the 3 x 3
masks the core sums with a dedicated routine (:func:`is_fixed_3x3`).

A mask of integers times a power of two (Sobel, Laplace, binomial) on an
8- or 16-bit image is summed exactly in integers where the float path is
exact too (:func:`integer_sums`): the same bits, in int16 or int32 SIMD.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import numpy as np

from .. import _native
from .._job import Job
from .._maskinfo import IntegerWeights, MaskInfo

NAME = "direct"


def ns_per_pixel(info: MaskInfo, c: Dict[str, float]) -> float:
    """Nanoseconds per output pixel on one thread."""
    return c["d3"] if info.fixed else c["d0"] + c["d1"] * info.taps


def cost(info: MaskInfo, hw: Tuple[int, int], c: Dict[str, float], threads: int,
         full: bool = False) -> Optional[float]:
    """Estimated seconds for an `hw` output on `threads` threads (`full`:
    the same; only methods that can rule themselves out use it)."""
    return float(hw[0]) * hw[1] * ns_per_pixel(info, c) * 1e-9 / max(threads, 1) ** 0.9


def check(info: MaskInfo) -> None:
    """Every mask can be summed directly."""


#: the image dtypes the core sums in integers
INTEGER_SOURCES = (np.uint8, np.int8, np.uint16, np.int16)


def integer_lanes(job: Job, numerators: np.ndarray, double: bool,
                  shift: int = 0) -> Optional[Tuple[int, int, bool]]:
    """Whether the core may sum a mask of these integer `numerators` (any
    shape) exactly in integers on this job's image: ``(lanes, cval,
    narrow)`` (lanes 0 int16, 1 int32, 2 uint16; the border value as an
    integer; whether a uint8 output may be rounded in the lanes, the sums
    plus 2^(shift-1) staying in their range), or None.

    Only where the float path is exact too, so that both give the same
    bits: every partial sum S has |S| <= m sum|n|, m the largest |value|
    of the image's dtype, and that must fit float32's 24-bit mantissa
    (int32's range when computing in float64, exact there).  16-bit lanes
    compute modulo 2^16, so they serve wherever the final sums (not the
    partial ones) lie in int16's or uint16's range.
    """
    dtype = job.arr.dtype
    if dtype not in INTEGER_SOURCES:
        return None
    lim = np.iinfo(dtype)
    cval = 0
    if job.mode == "constant":
        if not float(job.cval).is_integer() or not lim.min <= job.cval <= lim.max:
            return None
        cval = int(job.cval)
    n = np.asarray(numerators, dtype=np.int64)
    pos, neg = int(n[n > 0].sum()), int(n[n < 0].sum())  # exact: |n| < 2^24
    if max(-int(lim.min), int(lim.max)) * (pos - neg) > (2 ** 31 - 1 if double else 2 ** 24):
        return None
    lo = pos * int(lim.min) + neg * int(lim.max)
    hi = pos * int(lim.max) + neg * int(lim.min)
    half = 2 ** (shift - 1) if shift > 0 else 0
    if -2 ** 15 <= lo and hi < 2 ** 15:
        return 0, cval, hi + half < 2 ** 15
    if 0 <= lo and hi < 2 ** 16:
        return 2, cval, hi + half < 2 ** 16
    return 1, cval, False


def integer_sums(job: Job, iw: Optional[IntegerWeights], double: bool,
                 factors: bool = False) -> Optional[_native.IntSums]:
    """The core's exact integer correlation for `iw` (its factors with
    `factors`) on this job, or None where the float path must run."""
    if iw is None or (factors and iw.col is None):
        return None
    lanes = integer_lanes(job, iw.numerators, double, iw.shift)
    if lanes is None:
        return None

    def i32(a: Optional[np.ndarray]) -> Optional[np.ndarray]:
        return None if a is None else np.ascontiguousarray(a, dtype=np.int32)

    if factors:
        return _native.IntSums(None, i32(iw.col), i32(iw.row), iw.shift, *lanes)
    return _native.IntSums(i32(iw.numerators), None, None, iw.shift, *lanes)


def run(job: Job, info: MaskInfo, flip: bool, target: np.ndarray, double: bool,
        finite: bool = False) -> np.ndarray:
    """Correlate with the mask (mirrored with `flip`) into `target`."""
    sums = integer_sums(job, info.correlation_integers(flip), double)
    if sums is not None:
        return correlate_integer(job, sums, target, double)
    return correlate(job, info.correlation_weights(flip), target, double)


def correlate_integer(job: Job, sums: _native.IntSums, target: np.ndarray,
                      double: bool) -> np.ndarray:
    """The exact integer correlation `sums` (:func:`integer_sums`), written
    into `target` as :func:`correlate` writes (the same bits)."""
    settings = job.settings(double)

    def call(src: np.ndarray, dsts: List[np.ndarray], border: _native.Border) -> None:
        _native.correlate_integer(src, dsts[0], sums, border, settings)

    job.run([target], call, lanes=True, planes_out=True)
    return target


def correlate(job: Job, weights: np.ndarray, target: np.ndarray, double: bool) -> np.ndarray:
    """The correlation with the 2-D `weights`, written into `target`
    (rounded and saturated there when integer)."""
    k2d = np.ascontiguousarray(weights, dtype=np.float64 if double else np.float32)
    settings = job.settings(double)

    def call(src: np.ndarray, dsts: List[np.ndarray], border: _native.Border) -> None:
        _native.correlate(src, dsts[0], k2d, border, settings)

    job.run([target], call, lanes=True, planes_out=True)
    return target

"""Two 1-D passes for a rank-1 mask: a vertical, then a horizontal one.

Cost per output pixel: s0 + s1 (h + w).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import numpy as np

from .. import _native
from .._job import Job
from .._maskinfo import MaskInfo
from .._validate import fail
from . import direct

NAME = "separable"


def ns_per_pixel(info: MaskInfo, c: Dict[str, float]) -> float:
    kh, kw = info.shape
    return c["s0"] + c["s1"] * (kh + kw)


def may_win(info: MaskInfo, c: Dict[str, float]) -> bool:
    """Whether two passes could beat the direct sum (if the mask is rank
    1): only then is the rank test (an SVD) worth its time."""
    return ns_per_pixel(info, c) < direct.ns_per_pixel(info, c)


def cost(info: MaskInfo, hw: Tuple[int, int], c: Dict[str, float], threads: int,
         full: bool = False) -> Optional[float]:
    """Estimated seconds, or None when the method does not apply (a row or
    a column mask, rank > 1) or, without `full`, cannot win."""
    kh, kw = info.shape
    if kh == 1 or kw == 1 or (not full and not may_win(info, c)) or info.factors is None:
        return None
    return float(hw[0]) * hw[1] * ns_per_pixel(info, c) * 1e-9 / max(threads, 1) ** 0.9


def check(info: MaskInfo) -> None:
    """Refuse a mask of rank > 1."""
    if info.factors is None:
        kh, kw = info.shape
        raise fail("mask", "rank 1 (an outer product of a column and a row) with "
                   "method='separable'", f"a {kh}x{kw} mask of higher rank")


def run(job: Job, info: MaskInfo, flip: bool, target: np.ndarray, double: bool,
        finite: bool = False) -> np.ndarray:
    """Correlate with the mask's factors (mirrored with `flip`) into `target`:
    exactly in integers where :func:`direct.integer_sums` allows."""
    sums = direct.integer_sums(job, info.correlation_integers(flip), double, factors=True)
    if sums is not None:
        return direct.correlate_integer(job, sums, target, double)
    col, row = info.correlation_factors(flip)
    return correlate(job, col, row, target, double)


def correlate(job: Job, column: np.ndarray, row: np.ndarray, target: np.ndarray,
              double: bool) -> np.ndarray:
    """The correlation with ``np.outer(column, row)`` as two 1-D passes,
    written into `target` (rounded and saturated there when integer)."""
    cdtype = np.float64 if double else np.float32
    col = np.ascontiguousarray(column, dtype=cdtype)
    row = np.ascontiguousarray(row, dtype=cdtype)
    settings = job.settings(double)

    def call(src: np.ndarray, dsts: List[np.ndarray], border: _native.Border) -> None:
        _native.correlate_factors(src, dsts[0], col, row, border, settings)

    job.run([target], call, lanes=True, planes_out=True)
    return target

"""Running window sums for a constant mask: O(1) work per pixel.

Cost per output pixel: b0 + b1 min(w, 12) (direct horizontal sums up to
w = 9, running sums beyond).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import numpy as np

from .. import _native
from .._job import Job
from .._maskinfo import MaskInfo
from .._validate import fail

NAME = "box"


def cost(info: MaskInfo, hw: Tuple[int, int], c: Dict[str, float], threads: int,
         full: bool = False) -> Optional[float]:
    """Estimated seconds, or None for a mask of unequal weights."""
    if not info.constant:
        return None
    return float(hw[0]) * hw[1] * (c["b0"] + c["b1"] * min(info.shape[1], 12)) * 1e-9 \
        / max(threads, 1) ** 0.9


def check(info: MaskInfo) -> None:
    """Refuse a mask of unequal weights."""
    if not info.constant:
        kh, kw = info.shape
        raise fail("method", "'box' only for a constant mask (every weight equal); "
                   "use 'auto', 'direct' or 'fft'", f"'box' with a {kh}x{kw} mask of unequal weights")


def run(job: Job, info: MaskInfo, flip: bool, target: np.ndarray, double: bool,
        finite: bool = False) -> np.ndarray:
    """The window sums times the mask's weight, into `target`."""
    assert info.weights is not None
    return sums(job, info.shape, float(info.weights.flat[0]), target, double)


def sums(job: Job, shape: Tuple[int, int], weight: float, target: np.ndarray,
         double: bool) -> np.ndarray:
    """Sums over `shape` windows times `weight` (``mean``: 1 / its size),
    straight into `target` (rounded and saturated there when integer)."""
    settings = job.settings(double)

    def call(src: np.ndarray, dsts: List[np.ndarray], border: _native.Border) -> None:
        _native.box(src, dsts[0], shape, weight, border, settings)

    job.run([target], call, lanes=True)
    return target

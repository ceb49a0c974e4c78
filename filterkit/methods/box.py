"""Running window sums for a constant mask: O(1) work per pixel.

Cost per output pixel: b0 + b1 min(w, 12) (direct horizontal sums up to
w = 9, running sums beyond); windows three rows high and at most 9 wide
have a path of their own (two output rows per pass, no running state):
b3 + b1 (w - 3).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import numpy as np

from .. import _native
from .._job import Job
from .._maskinfo import MaskInfo
from .._validate import fail

NAME = "box"
#: the widest window of the core's three-row path (FK_BOX_DIRECT_MAX)
THREE_ROW_MAX_WIDTH = 9


def cost(info: MaskInfo, hw: Tuple[int, int], c: Dict[str, float], threads: int,
         full: bool = False) -> Optional[float]:
    """Estimated seconds, or None for a mask of unequal weights."""
    if not info.constant:
        return None
    kh, kw = info.shape
    if kh == 3 and kw <= THREE_ROW_MAX_WIDTH:
        ns = c["b3"] + c["b1"] * (kw - 3)
    else:
        ns = c["b0"] + c["b1"] * min(kw, 12)
    return float(hw[0]) * hw[1] * ns * 1e-9 / max(threads, 1) ** 0.9


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

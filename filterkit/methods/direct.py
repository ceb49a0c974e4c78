"""The direct sum: every non-zero tap of the mask, per output pixel.

Cost per output pixel: d0 + d1 T for T non-zero taps, or d3 for the 3 x 3
masks the core sums with a dedicated routine (:func:`is_fixed_3x3`).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import numpy as np

from .. import _native
from .._job import Job
from .._maskinfo import MaskInfo

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


def run(job: Job, info: MaskInfo, flip: bool, target: np.ndarray, double: bool,
        finite: bool = False) -> np.ndarray:
    """Correlate with the mask (mirrored with `flip`) into `target`."""
    return correlate(job, info.correlation_weights(flip), target, double)


def correlate(job: Job, weights: np.ndarray, target: np.ndarray, double: bool) -> np.ndarray:
    """The correlation with the 2-D `weights`, written into `target`
    (rounded and saturated there when integer)."""
    k2d = np.ascontiguousarray(weights, dtype=np.float64 if double else np.float32)
    settings = job.settings(double)

    def call(src: np.ndarray, dsts: List[np.ndarray], border: _native.Border) -> None:
        _native.correlate(src, dsts[0], k2d, border, settings)

    job.run([target], call, lanes=True, planes_out=True)
    return target

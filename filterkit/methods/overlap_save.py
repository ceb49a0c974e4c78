"""FFT in blocks (overlap-save): bounded memory, and faster than one
whole-image transform for images much larger than the mask.

Cost: f0 B + f1 B log2 B + tb per block of B values, t0 per band of
blocks, oc per call, with the constants of the library that transforms
the blocks (``native.f1`` ... for the core's, ``fftw.f1`` ... when they go
through FFTW, ``scipy.f1`` ... on pocketfft); one block costs the
whole-image transform plus oc.  Blocks of more than fb values cost fc
times as much per value: their workspace outgrows the second-level cache
(a threshold per precision; fc is 1 for the libraries whose grid showed
no such step).
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import numpy as np

from .._costs import fft_key
from .._job import Job
from .._maskinfo import MaskInfo
from . import fft
from ._fftlib import block_shape, blocks_library

NAME = "overlap_save"


def cost(info: MaskInfo, hw: Tuple[int, int], c: Dict[str, float], threads: int,
         full: bool = False) -> Optional[float]:
    """Estimated seconds for an `hw` output."""
    Ho, Wo = hw
    kh, kw = info.shape
    library = blocks_library(Ho + kh - 1, Wo + kw - 1)

    def k(name: str) -> float:
        return c[fft_key(library, name)]

    bh, bw = block_shape(library, kh, kw, Ho, Wo)
    ny, nx = -(-Ho // (bh - kh + 1)), -(-Wo // (bw - kw + 1))
    spectral = max(threads, 1) ** 0.6
    if ny * nx == 1:
        # one block: the whole-image transform, with the tiling's overhead
        whole = fft.cost(info, hw, c, threads, full)
        assert whole is not None
        return whole + k("oc") * 1e-9 / spectral
    B = float(bh) * bw
    block = k("f0") * B + k("f1") * B * np.log2(B)
    if B > k("fb"):  # the block's workspace outgrows the L2 cache
        block *= k("fc")
    return float((ny * nx * (block + k("tb")) + ny * k("t0") + k("oc")) * 1e-9 / spectral)


def check(info: MaskInfo) -> None:
    """Every mask can be transformed."""


def run(job: Job, info: MaskInfo, flip: bool, target: np.ndarray, double: bool,
        finite: bool = False) -> np.ndarray:
    """Correlate block by block; with `finite`, :class:`fft.NonFinite` as
    soon as a block shows a NaN or inf."""
    return fft.spectral(job, info.correlation_weights(flip), target, double, tiled=True,
                        finite=finite)

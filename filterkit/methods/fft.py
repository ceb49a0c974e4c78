"""The whole image by one real FFT of the image extended by the border
mode, one axis at a time in bands (``_fftlib._correlate_bands``): the
spectrum and the output are the only image-sized arrays.

Cost: f0 P + f F log2 F + fa min(P, 2^18) for P extended pixels and a
transform of F values, where f = f2s for transforms that fit the caches
(2^18 values) and moves log-linearly to f2 at 2^22 values and beyond; fa
is the first touch of the temporaries (page faults).  The constants are
pocketfft's (``scipy.f0`` ...: the whole image goes through ``scipy.fft``
whatever the backend).  FFT costs divide by the thread count to the power
0.6.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import numpy as np

from .._costs import fft_key
from .._job import Job, store
from .._maskinfo import MaskInfo
from .. import _native
from .._native import Border
from ._fftlib import (NonFinite, blocks_library, correlate_tiled, correlate_whole, fast_len,
                      native_tile_shape)

NAME = "fft"
#: the library that transforms the whole image, whose constants it costs with
LIBRARY = "scipy"

__all__ = ["LIBRARY", "NAME", "NonFinite", "check", "cost", "run", "spectral"]


def cost(info: MaskInfo, hw: Tuple[int, int], c: Dict[str, float], threads: int,
         full: bool = False) -> Optional[float]:
    """Estimated seconds for an `hw` output."""
    Ho, Wo = hw
    kh, kw = info.shape
    Ph, Pw = Ho + kh - 1, Wo + kw - 1
    F = float(fast_len(Ph)) * fast_len(Pw)
    blend = min(max((np.log2(F) - 18.0) / 4.0, 0.0), 1.0)
    f2s, f2 = c[fft_key(LIBRARY, "f2s")], c[fft_key(LIBRARY, "f2")]
    f_whole = f2s + (f2 - f2s) * blend
    P = float(Ph) * Pw
    return float((c[fft_key(LIBRARY, "f0")] * P + f_whole * F * np.log2(F)
                  + c[fft_key(LIBRARY, "fa")] * min(P, 2.0 ** 18)) * 1e-9 / max(threads, 1) ** 0.6)


def check(info: MaskInfo) -> None:
    """Every mask can be transformed."""


def run(job: Job, info: MaskInfo, flip: bool, target: np.ndarray, double: bool,
        finite: bool = False) -> np.ndarray:
    """Correlate by one FFT of the extended image; with `finite`,
    :class:`NonFinite` as soon as the transform shows a NaN or inf."""
    return spectral(job, info.correlation_weights(flip), target, double, tiled=False,
                    finite=finite)


def spectral(job: Job, weights: np.ndarray, target: np.ndarray, double: bool, *,
             tiled: bool, finite: bool) -> np.ndarray:
    """The correlation with `weights` by FFT, whole or in overlap-save
    tiles; with `finite`, :class:`NonFinite` is raised as soon as a
    transformed block shows a NaN or inf in the image (a target that
    overlaps the image is then untouched, any other may be partly written).

    Through :meth:`Job.run` like every method: an output that overlaps the
    image (``output=image[:, :, ::-1]``) is computed into a temporary and
    copied at the end, so no plane reads what another has written."""
    cdtype = np.dtype(np.float64 if double else np.float32)
    kh, kw = weights.shape
    w = np.ascontiguousarray(weights, dtype=cdtype)
    Ho, Wo = job.hw
    if tiled and blocks_library(Ho + kh - 1, Wo + kw - 1) == "native":
        # the core's blocks: any source and target dtype, converted, rounded
        # and saturated as the direct sum's are
        block = native_tile_shape(kh, kw, Ho, Wo)
        settings = job.settings(double)

        def native(src: np.ndarray, dsts: List[np.ndarray], border: Border) -> None:
            if _native.correlate_fft(src, dsts[0], w, block, border, settings, finite):
                raise NonFinite

        job.run([target], native)
        return target

    def call(src: np.ndarray, dsts: List[np.ndarray], _: Border) -> None:
        dst = dsts[0]
        if not tiled:
            # stored into the output band by band: no image-sized result first
            correlate_whole(src, w, job.nthreads, mode=job.mode, cval=job.cval,
                            oy=job.top, ox=job.left, finite=finite, out=dst)
            return
        straight = dst.dtype == cdtype  # written into the output block by block
        result = correlate_tiled(src.astype(cdtype, copy=False), w, job.nthreads,
                                 mode=job.mode, cval=job.cval, oy=job.top, ox=job.left,
                                 out=dst if straight else None, finite=finite)
        if not straight:
            store(result, dst)

    job.run([target], call)
    return target

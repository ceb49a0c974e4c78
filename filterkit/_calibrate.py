"""Calibration: time every method on this machine and store the cost
constants that ``method="auto"`` reads (:mod:`filterkit._costs`).

It sits above everything it measures: it calls :func:`filterkit.convolve`
with each method named, on one thread.
"""

from __future__ import annotations

import json
import os
import platform
import time
from typing import Any, Dict, Tuple

import numpy as np

from ._cache import calibration_path
from ._convolve import convolve
from ._costs import DEFAULTS, fft_key, forget
from ._threads import get_num_threads, set_num_threads
from .methods._fftlib import block_shape, fast_len, forced_backend, pyfftw_module


def _backends() -> Tuple[str, ...]:
    """The FFT libraries the overlap-save method can use here: each gets its
    set of constants measured (a library that is not installed keeps its
    defaults)."""
    return ("native", "scipy", "fftw") if pyfftw_module() is not None else ("native", "scipy")


def _timeit(fn: Any, repeat: int) -> float:
    """The fastest of `repeat` runs: on a shared machine the others measure
    the neighbours."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.min(times))


def calibrate(*, quick: bool = False, save: bool = True) -> Dict[str, Dict[str, float]]:
    """Measure this machine's cost constants for ``method="auto"``.

    Times every method on a few images and masks with one thread, fits
    the constants of the cost model (see :mod:`filterkit._choose`) and,
    with `save`, stores them in :func:`calibration_path`, where ``auto``
    and :func:`choose_method` find them (also in later sessions).

    Parameters
    ----------
    quick : bool, optional
        Smaller images and fewer repeats (about 2 s instead of 5).
    save : bool, optional
        Store the constants (default True).

    Returns
    -------
    dict
        ``{"float32": {...}, "float64": {...}}``, nanoseconds per unit of
        work: the spatial constants and each FFT library's set
        (``native.f1``, ``scipy.f1``, ``fftw.f1``, ...), measured for the
        core's blocks, pocketfft and, when pyFFTW is installed, FFTW; the
        others are the defaults.

    Examples
    --------
    >>> import filterkit
    >>> c = filterkit.calibrate(quick=True, save=False)  # doctest: +SKIP
    >>> sorted(c)                                        # doctest: +SKIP
    ['float32', 'float64']
    """
    side = 256 if quick else 512
    big = 512 if quick else 1024
    repeat = 3 if quick else 7
    rng = np.random.default_rng(0)
    old = get_num_threads()
    result: Dict[str, Dict[str, float]] = {}
    measured: Dict[str, Dict[str, float]] = {}
    try:
        set_num_threads(1)
        for prec, dt in (("float32", np.float32), ("float64", np.float64)):
            img = rng.random((side, side)).astype(dt)
            img2 = rng.random((big, big)).astype(dt)
            n = float(side * side)
            c: Dict[str, float] = {}
            n2 = float(big * big)
            # the general direct sum on 5 x 5 and 15 x 15, the dedicated 3 x 3 one
            t3 = _timeit(lambda: convolve(img2, rng.random((3, 3)) + 0.5, method="direct"), repeat)
            t5 = _timeit(lambda: convolve(img2, rng.random((5, 5)), method="direct"), repeat)
            t15 = _timeit(lambda: convolve(img2, rng.random((15, 15)), method="direct"), repeat)
            c["d1"] = max((t15 - t5) / (n2 * (225 - 25)), 1e-15) * 1e9
            c["d0"] = max(t5 / n2 * 1e9 - 25 * c["d1"], 0.0)
            c["d3"] = t3 / n2 * 1e9
            g5, g21 = np.outer(np.hanning(7)[1:-1], np.hanning(7)[1:-1]), np.outer(np.hanning(23)[1:-1], np.hanning(23)[1:-1])
            ts5 = _timeit(lambda: convolve(img, g5, method="separable"), repeat)
            ts21 = _timeit(lambda: convolve(img, g21, method="separable"), repeat)
            c["s1"] = max((ts21 - ts5) / (n * 32), 1e-15) * 1e9
            c["s0"] = max(ts5 / n * 1e9 - 10 * c["s1"], 0.0)
            # box: one add per column sum and row, then kw adds per output up
            # to kw = 9 (a running sum beyond); measured where direct is
            tb3 = _timeit(lambda: convolve(img2, np.ones((5, 3)), method="box"), repeat)
            tb11 = _timeit(lambda: convolve(img2, np.ones((5, 11)), method="box"), repeat)
            c["b1"] = max((tb11 - tb3) / (n2 * 8), 0.0) * 1e9
            c["b0"] = max(tb3 / n2 * 1e9 - 3 * c["b1"], 1e-3)
            # the three-row path (kh = 3, kw <= 9) on its own: in float64
            # it is slower than the dedicated 3 x 3 direct sum
            c["b3"] = _timeit(lambda: convolve(img2, np.ones((3, 3)), method="box"), repeat) \
                / n2 * 1e9
            # FFT, a set of constants per library (FFT_KEYS).  Whole images
            # (pocketfft whatever the backend) give scipy.f2 (out of the
            # caches) and scipy.f2s; blocks (overlap-save on the larger
            # image, three masks) give each library's f1, tb and t0.  f0, fa
            # and oc stay the grid's
            k = 31
            f0 = DEFAULTS[prec][fft_key("scipy", "f0")]
            whole = rng.random((2 * big, 2 * big)).astype(dt)  # beyond the caches
            F = float(fast_len(2 * big + k - 1)) * fast_len(2 * big + k - 1)
            t = _timeit(lambda: convolve(whole, rng.random((k, k)), method="fft"), max(2, repeat // 2)) * 1e9
            c[fft_key("scipy", "f2")] = max(t - f0 * (2 * big + k - 1) ** 2, 0.0) / (F * np.log2(F))
            F = float(fast_len(side + k - 1)) * fast_len(side + k - 1)
            t = _timeit(lambda: convolve(img, rng.random((k, k)), method="fft"), repeat) * 1e9
            c[fft_key("scipy", "f2s")] = max(t - f0 * (side + k - 1) ** 2, 0.0) / (F * np.log2(F))
            n2 = 2 * big  # blocks on an image beyond the caches, like the ones that need them
            for library in _backends():
                f0 = DEFAULTS[prec][fft_key(library, "f0")]
                with forced_backend(library):
                    rows = []
                    for k in (9, 21, 41):
                        bh, bw = block_shape(library, k, k, n2, n2)
                        ny, nx = -(-n2 // (bh - k + 1)), -(-n2 // (bw - k + 1))
                        B = float(bh) * bw
                        cache = 1.0  # large blocks (fb and fc: the grid's, not measured)
                        if B > DEFAULTS[prec][fft_key(library, "fb")]:
                            cache = DEFAULTS[prec][fft_key(library, "fc")]
                        t = _timeit(lambda k=k: convolve(whole, rng.random((k, k)), method="overlap_save"),
                                    max(2, repeat // 2)) * 1e9
                        rows.append(([ny * nx * B * np.log2(B) * cache, ny * nx, ny],
                                     t - f0 * ny * nx * B * cache))
                A = np.array([r for r, _ in rows])
                y = np.array([t for _, t in rows])
                fit = np.linalg.lstsq(A, y, rcond=None)[0]
                if np.any(fit < 0):  # noisy: all of it per B log B
                    fit = np.array([float(np.mean(y / A[:, 0])), 0.0, 0.0])
                for name, v in zip(("f1", "tb", "t0"), fit):
                    c[fft_key(library, name)] = float(v)
            measured[prec] = {key: float(v) for key, v in c.items()}
            result[prec] = {key: measured[prec].get(key, v) for key, v in DEFAULTS[prec].items()}
    finally:
        set_num_threads(old)
    if save:
        # only what was measured: the grid's constants (f0, fa, oc) and the
        # set of a library that is not installed are the defaults of the
        # version that reads the file
        path = calibration_path()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + ".tmp"
        with open(tmp, "w") as fh:
            json.dump({"version": 2, "created": time.strftime("%Y-%m-%d %H:%M:%S"),
                       "machine": platform.platform(), "processor": platform.processor(),
                       "fft_libraries": list(_backends()), "constants": measured}, fh, indent=1)
        os.replace(tmp, path)
    forget()  # the stored constants (or the defaults) on next use
    return result

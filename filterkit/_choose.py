"""``method="auto"``: a cost model of every method, calibrated per machine.

Estimated seconds for an output of N pixels (per channel) and an h x w mask
with T non-zero taps, in the compute precision:

    direct     N (d0 + d1 T), or N d3 for the 3 x 3 masks with a kernel of
               their own (every weight non-zero, or only the cross)
    separable  N (s0 + s1 (h + w))                  rank-1 masks
    box        N (b0 + b1 min(w, 12))               constant masks (running sums: direct
                                                   horizontal sums up to w = 9)
    fft        f0 P + f F log2 F + fa min(P, 2^18)  P extended pixels, F transform size
    overlap_save f0 B + f1 B log2 B + tb per block, plus t0 per band of blocks,
               plus oc per call
               (w1, wb, w0 in place of f1, tb, t0 when the blocks go
               through FFTW: images from 512 x 512 on, pyFFTW installed)

fa and oc are the first touch of the FFT methods' temporaries (page faults
on 4 KiB pages: up to twice the arithmetic on images of 256^2 to 512^2;
larger arrays get huge pages); they were fitted on the benchmark grid and
are not measured by :func:`calibrate`.

where f = f2s for whole images that fit the caches and rises to f2 for
whole images of 2^22 values and more.

divided by the thread count to the power 0.9 (spatial) or 0.6 (FFT). The
defaults were measured on the development machine; :func:`calibrate`
measures this one and stores the constants in the user cache directory
(``$FILTERKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/filterkit``, else
``~/.cache/filterkit``), where ``auto`` finds them on first use.
"""

from __future__ import annotations

import json
import os
import platform
import time
import warnings
from typing import Any, Dict, NamedTuple, Optional, Tuple

import numpy as np

from ._fft import _fftw_state as _fft_state, backend_setting
from ._validate import describe, fail, is_double

# nanoseconds (tb, t0: per block, per band); measured with calibrate() on
# the development machine (AMD EPYC, AVX-512, one thread)
#
# Two of them come from the AVX2 machine (16 vector registers) that runs
# the benchmark grid now: float32's d1, 0.039 there (0.0392-0.0404 over three
# calibrations) against 0.028 with AVX-512 (with which the model kept the
# direct sum ahead of the FFT up to 707 taps at 256^2, where the grid
# measured the crossover at about 535); and
# d3 (the fixed 3 x 3 kernels, which came later), set against the other
# constants by the ratios measured there: the direct 3 x 3 sum 1.07-1.2
# times faster than separable passes, and in float32 as fast as running
# sums (the box is 1.2-1.6 times faster in float64)
DEFAULTS: Dict[str, Dict[str, float]] = {
    "float32": {"d0": 0.199, "d1": 0.039, "d3": 0.40, "s0": 0.132, "s1": 0.055, "b0": 0.25, "b1": 0.037,
                "f0": 0.5, "f1": 0.398, "f2s": 0.425, "f2": 0.72, "tb": 0.0, "t0": 0.0,
                "w1": 0.31, "wb": 0.0, "w0": 0.0, "fa": 9.0, "oc": 6e5},
    "float64": {"d0": 0.286, "d1": 0.053, "d3": 0.59, "s0": 0.031, "s1": 0.099, "b0": 0.38, "b1": 0.055,
                "f0": 0.8, "f1": 0.625, "f2s": 0.641, "f2": 1.271, "tb": 0.0, "t0": 0.0,
                "w1": 0.42, "wb": 0.0, "w0": 0.0, "fa": 15.0, "oc": 4e5},
}
#: the tiled method's constants for pocketfft and for FFTW blocks
OA_KEYS = {"scipy": ("f1", "tb", "t0"), "fftw": ("w1", "wb", "w0")}
SPATIAL = ("direct", "separable", "box")
CACHE_ENV = "FILTERKIT_CACHE_DIR"
_loaded: Optional[Dict[str, Dict[str, float]]] = None


class MethodChoice(NamedTuple):
    """What ``method="auto"`` would do, and why."""

    method: str
    costs: Dict[str, float]
    reason: str


def calibration_path() -> str:
    """Where :func:`calibrate` stores this machine's constants.

    ``$FILTERKIT_CACHE_DIR/calibration.json``, else
    ``$XDG_CACHE_HOME/filterkit/calibration.json``, else
    ``~/.cache/filterkit/calibration.json``.

    Returns
    -------
    str

    Examples
    --------
    >>> import filterkit
    >>> filterkit.calibration_path().endswith("calibration.json")
    True
    """
    base = os.environ.get(CACHE_ENV)
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        base = os.path.join(xdg, "filterkit")
    return os.path.join(base, "calibration.json")


def constants() -> Dict[str, Dict[str, float]]:
    """The cost constants: this machine's calibration if stored, else the defaults."""
    global _loaded
    if _loaded is None:
        _estimates.clear()
        path = calibration_path()
        _loaded = {k: dict(v) for k, v in DEFAULTS.items()}
        if os.path.exists(path):
            try:
                with open(path) as fh:
                    stored = json.load(fh)["constants"]
                for prec in DEFAULTS:
                    for key in DEFAULTS[prec]:
                        if key not in stored[prec]:  # a constant of a later version
                            continue
                        value = float(stored[prec][key])
                        if not np.isfinite(value) or value < 0:
                            raise ValueError(f"{prec}.{key} = {value}")
                        _loaded[prec][key] = value
                    if "b0" in stored[prec] and "b1" not in stored[prec]:
                        # an earlier version's flat box cost (of a 9 x 9 box)
                        _loaded[prec]["b1"] = 0.0
                    if "d0" in stored[prec] and "d3" not in stored[prec]:
                        # an earlier version without the fixed 3 x 3 kernels'
                        # cost: the general kernel's, as it estimated them
                        _loaded[prec]["d3"] = _loaded[prec]["d0"] + 9 * _loaded[prec]["d1"]
            except (OSError, ValueError, KeyError, TypeError) as exc:
                warnings.warn(f"filterkit: ignoring the calibration file {path} ({exc}); "
                              "using the default cost constants (run filterkit.calibrate() "
                              "to measure this machine)", RuntimeWarning, stacklevel=3)
                _loaded = {k: dict(v) for k, v in DEFAULTS.items()}
    return _loaded


def _fast_len(n: int, real: bool = False) -> int:
    from ._fft import fast_len

    return fast_len(int(n))


#: the 3 x 3 patterns of non-zero weights (bit 3 i + j for weight (i, j))
#: that have a kernel of their own in the core (src_c/fk_kernels.h): every
#: weight, and the cross of the 4-neighbour Laplace mask
FIXED_PATTERNS = (0x1FF, 0x0BA)


def fixed_kernel(weights: np.ndarray) -> bool:
    """Whether the core sums this mask with a fixed 3 x 3 kernel."""
    if weights.shape != (3, 3):
        return False
    pattern = sum(1 << i for i, v in enumerate(weights.flat) if v != 0)
    return pattern in FIXED_PATTERNS


def _direct_ns(c: Dict[str, float], taps: int, fixed: bool) -> float:
    return c["d3"] if fixed else c["d0"] + c["d1"] * taps


def separable_may_win(mask_shape: Tuple[int, int], taps: int, double: bool,
                      fixed: bool = False) -> bool:
    """Whether two 1-D passes could beat the direct sum (if the mask is rank
    1): only then is the rank test (an SVD) worth its time."""
    c = constants()["float64" if double else "float32"]
    kh, kw = mask_shape
    return c["s0"] + c["s1"] * (kh + kw) < _direct_ns(c, taps, fixed)


def estimate(out_hw: Tuple[int, int], mask_shape: Tuple[int, int], taps: int, *,
             double: bool, threads: int, separable: bool, constant: bool,
             valid: bool = False, full: bool = False, fixed: bool = False) -> Dict[str, float]:
    """Estimated seconds of every applicable method for one channel (without
    `full`, the FFT methods are left out where they cannot win; `fixed`: a
    3 x 3 mask of the core's fixed kernels, :func:`fixed_kernel`)."""
    return dict(cheapest_cached(out_hw, mask_shape, taps, double, threads, separable, constant,
                                full, fixed)[1])


def cheapest_cached(out_hw: Tuple[int, int], mask_shape: Tuple[int, int], taps: int,
                    double: bool, threads: int, separable: bool, constant: bool,
                    full: bool = False, fixed: bool = False) -> Tuple[str, Dict[str, float]]:
    """(the cheapest method, the estimates) from the cache: ``auto``'s
    whole decision is one dictionary lookup for a shape seen before (the
    estimates are shared: do not modify them)."""
    key = (out_hw, mask_shape, taps, double, threads, separable, constant, full, fixed,
           backend_setting())
    hit = _estimates.get(key)
    if hit is None or _loaded is None:
        costs = _estimate(out_hw, mask_shape, taps, double, threads, separable, constant, full,
                          fixed)
        if len(_estimates) > 256:
            _estimates.clear()
        hit = _estimates[key] = (min(costs, key=costs.__getitem__), costs)
    return hit



_estimates: Dict[Any, Tuple[str, Dict[str, float]]] = {}

#: the thread count ``auto``'s choice assumes, whatever the real one: the
#: spatial and FFT methods gain differently from threads, so a choice that
#: followed the thread count would change the result's last bits with it
#: (and the constants are measured on one thread)
AUTO_THREADS = 1


def _estimate(out_hw: Tuple[int, int], mask_shape: Tuple[int, int], taps: int, double: bool,
              threads: int, separable: bool, constant: bool, full: bool,
              fixed: bool = False) -> Dict[str, float]:
    c = constants()["float64" if double else "float32"]
    Ho, Wo = out_hw
    kh, kw = mask_shape
    n = float(Ho) * Wo
    spatial = max(threads, 1) ** 0.9
    spectral = max(threads, 1) ** 0.6
    direct = _direct_ns(c, taps, fixed)
    costs = {"direct": n * direct * 1e-9 / spatial}
    if separable and kh > 1 and kw > 1:
        costs["separable"] = n * (c["s0"] + c["s1"] * (kh + kw)) * 1e-9 / spatial
    if constant:
        costs["box"] = n * (c["b0"] + c["b1"] * min(kw, 12)) * 1e-9 / spatial
    # the FFT methods cost at least f1 log2(64 x 64) per pixel (blocks of 64
    # and more): a direct sum below that needs no transform sizes
    if not full and direct < 12.0 * c["f1"] * spatial / spectral:
        return costs
    Ph, Pw = Ho + kh - 1, Wo + kw - 1
    F = float(_fast_len(Ph)) * _fast_len(Pw, real=True)
    # a whole-image transform (three of them: image, mask, inverse) costs
    # f2s per F log F up to 2^18 values (in the caches), f2 from 2^22 on;
    # log-linear between
    blend = min(max((np.log2(F) - 18.0) / 4.0, 0.0), 1.0)
    f_whole = c["f2s"] + (c["f2"] - c["f2s"]) * blend
    P = float(Ph) * Pw
    costs["fft"] = float((c["f0"] * P + f_whole * F * np.log2(F) + c["fa"] * min(P, 2.0 ** 18))
                         * 1e-9 / spectral)
    from ._fft import tile_shape, use_fftw

    fftw = use_fftw(Ph, Pw)
    bh, bw = tile_shape(kh, kw, Ho, Wo, fftw)
    ny, nx = -(-Ho // (bh - kh + 1)), -(-Wo // (bw - kw + 1))
    B = float(bh) * bw
    k1, kb, k0 = OA_KEYS["fftw" if fftw else "scipy"]
    if ny * nx == 1:
        # one block: the whole-image transform, with the tiling's overhead
        costs["overlap_save"] = costs["fft"] + c["oc"] * 1e-9 / spectral
    else:
        costs["overlap_save"] = float((ny * nx * (c["f0"] * B + c[k1] * B * np.log2(B) + c[kb]) + ny * c[k0]
                             + c["oc"]) * 1e-9 / spectral)
    return costs


def pick(costs: Dict[str, float]) -> Tuple[str, str]:
    best = min(costs, key=costs.__getitem__)
    ranked = sorted(costs, key=costs.__getitem__)
    reason = ", ".join(f"{m} {costs[m] * 1e3:.3g} ms" for m in ranked)
    return best, f"estimated {reason}"


def _check_shape(value: Any, name: str, odd: bool) -> Tuple[int, int]:
    what = "a pair of positive odd integers (h, w)" if odd else "a pair of positive integers (H, W)"
    if (not isinstance(value, (tuple, list)) or len(value) != 2
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
                       for v in value)):
        raise fail(name, what, describe(value), TypeError)
    h, w = int(value[0]), int(value[1])
    if h < 1 or w < 1 or (odd and (h % 2 == 0 or w % 2 == 0)):
        raise fail(name, what, repr(tuple(value)))
    return h, w


def choose_method(image_shape: Any, mask_shape: Any = None, dtype: Any = np.float32, *,
                  mask: Any = None) -> MethodChoice:
    """The method ``convolve(..., method="auto")`` takes, with the estimated costs.

    Parameters
    ----------
    image_shape : (int, int)
        Height and width of the image (of one channel).
    mask_shape : (int, int), optional
        Odd height and width of the mask; taken from `mask` when that is given.
    mask : array_like, optional
        The mask itself: then ``'separable'`` (rank 1) and ``'box'`` (every
        weight equal) are considered too, and zero weights are not counted.
    dtype : dtype, optional
        The compute precision: float64 computes in double, anything else in
        single precision (default float32).

    Returns
    -------
    MethodChoice
        ``method`` (the cheapest), ``costs`` (estimated seconds of every
        method considered, on one thread: ``auto`` decides by one-thread
        costs whatever the thread count, so that the result does not
        depend on it) and ``reason`` (the methods ranked, as text).

    Examples
    --------
    >>> import filterkit
    >>> filterkit.choose_method((2048, 2048), (3, 3)).method
    'direct'
    >>> filterkit.choose_method((2048, 2048), (63, 63)).method in ("fft", "overlap_save")
    True
    >>> import numpy as np
    >>> filterkit.choose_method((512, 512), (15, 15), np.float64).costs["direct"] > 0
    True
    """
    from ._validate import check_mask
    from .masks import separate

    H, W = _check_shape(image_shape, "image_shape", odd=False)
    if isinstance(mask_shape, np.ndarray) and mask_shape.ndim == 2:
        raise fail("mask_shape", "a pair of positive odd integers (h, w) (pass the mask "
                   "itself as mask=...)", describe(mask_shape), TypeError)
    separable = constant = False
    if mask is not None:
        weights = check_mask(mask)
        if mask_shape is not None and _check_shape(mask_shape, "mask_shape", odd=True) != weights.shape:
            raise fail("mask_shape", f"the shape of `mask` {weights.shape}", repr(tuple(mask_shape)))
        kh, kw = weights.shape
        taps = int(np.count_nonzero(weights))
        fixed = fixed_kernel(weights)
        constant = bool(np.all(weights == weights.flat[0]))
        separable = kh > 1 and kw > 1 and separate(mask) is not None  # the mask's own dtype
    else:
        if mask_shape is None:
            raise fail("mask_shape", "a pair of odd integers (h, w) when `mask` is not given", "None",
                       TypeError)
        kh, kw = _check_shape(mask_shape, "mask_shape", odd=True)
        taps = kh * kw
        fixed = (kh, kw) == (3, 3)  # every weight non-zero
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise fail("dtype", "a numpy dtype such as np.float32 or np.float64", describe(dtype),
                   TypeError) from None
    if dt.kind not in "uif":
        raise fail("dtype", "a real dtype (float32 computes in single, float64 in double precision)",
                   f"dtype {dt}", TypeError)
    costs = estimate((H, W), (kh, kw), taps, double=is_double(dt), threads=AUTO_THREADS,
                     separable=separable, constant=constant, full=True, fixed=fixed)
    method, reason = pick(costs)
    return MethodChoice(method, costs, reason)


def _backends() -> Tuple[str, ...]:
    """The FFT libraries the tiled method can use here."""
    from ._fft import _pyfftw

    return ("scipy", "fftw") if _pyfftw() is not None else ("scipy",)


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
        ``{"float32": {...}, "float64": {...}}``, nanoseconds per unit of work.

    Examples
    --------
    >>> import filterkit
    >>> c = filterkit.calibrate(quick=True, save=False)  # doctest: +SKIP
    >>> sorted(c)                                        # doctest: +SKIP
    ['float32', 'float64']
    """
    global _loaded
    from . import _threads
    from ._convolve import convolve

    side = 256 if quick else 512
    big = 512 if quick else 1024
    repeat = 3 if quick else 7
    rng = np.random.default_rng(0)
    old = _threads.get_num_threads()
    result: Dict[str, Dict[str, float]] = {}
    try:
        _threads.set_num_threads(1)
        for prec, dt in (("float32", np.float32), ("float64", np.float64)):
            img = rng.random((side, side)).astype(dt)
            img2 = rng.random((big, big)).astype(dt)
            n = float(side * side)
            c: Dict[str, float] = {}
            n2 = float(big * big)
            # the general kernel on 5 x 5 and 15 x 15, the fixed 3 x 3 one
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
            # FFT: whole images give f2 (out of the caches) and f0; blocks
            # (overlap-save on the larger image, two masks) give f1 and t0
            from ._fft import tile_shape

            _loaded = {p: dict(DEFAULTS[p]) for p in DEFAULTS}
            k = 31
            whole = rng.random((2 * big, 2 * big)).astype(dt)  # beyond the caches
            F = float(_fast_len(2 * big + k - 1)) * _fast_len(2 * big + k - 1, real=True)
            t = _timeit(lambda: convolve(whole, rng.random((k, k)), method="fft"), max(2, repeat // 2)) * 1e9
            c["f0"] = DEFAULTS[prec]["f0"]
            c["f2"] = max(t - c["f0"] * (2 * big + k - 1) ** 2, 0.0) / (F * np.log2(F))
            F = float(_fast_len(side + k - 1)) * _fast_len(side + k - 1, real=True)
            t = _timeit(lambda: convolve(img, rng.random((k, k)), method="fft"), repeat) * 1e9
            c["f2s"] = max(t - c["f0"] * (side + k - 1) ** 2, 0.0) / (F * np.log2(F))
            n2 = 2 * big  # blocks on an image beyond the caches, like the ones that need them
            for backend in _backends():
                keys = OA_KEYS[backend]
                _fft_state["override"] = backend
                try:
                    rows = []
                    for k in (9, 21, 41):
                        bh, bw = tile_shape(k, k, n2, n2, backend == "fftw")
                        ny, nx = -(-n2 // (bh - k + 1)), -(-n2 // (bw - k + 1))
                        B = float(bh) * bw
                        t = _timeit(lambda k=k: convolve(whole, rng.random((k, k)), method="overlap_save"),
                                    max(2, repeat // 2)) * 1e9
                        rows.append(([ny * nx * B * np.log2(B), ny * nx, ny], t - c["f0"] * ny * nx * B))
                finally:
                    _fft_state.pop("override", None)
                A = np.array([r for r, _ in rows])
                y = np.array([t for _, t in rows])
                fit = np.linalg.lstsq(A, y, rcond=None)[0]
                if np.any(fit < 0):  # noisy: all of it per B log B
                    fit = np.array([float(np.mean(y / A[:, 0])), 0.0, 0.0])
                for key, v in zip(keys, fit):
                    c[key] = float(v)
            for key in DEFAULTS[prec]:
                c.setdefault(key, DEFAULTS[prec][key])
            result[prec] = {key: float(c[key]) for key in DEFAULTS[prec]}
    finally:
        _threads.set_num_threads(old)
        _loaded = None
    if save:
        path = calibration_path()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + ".tmp"
        with open(tmp, "w") as fh:
            json.dump({"version": 1, "created": time.strftime("%Y-%m-%d %H:%M:%S"),
                       "machine": platform.platform(), "processor": platform.processor(),
                       "constants": result}, fh, indent=1)
        os.replace(tmp, path)
    _loaded = None  # the stored constants (or the defaults) on next use
    return result

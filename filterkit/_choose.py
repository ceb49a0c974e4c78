"""``method="auto"``: the cheapest method by a cost model of every method.

Each method module estimates its own cost (:mod:`filterkit.methods`) from
the constants of :mod:`filterkit._costs`, in seconds for one channel:

    direct        N (d0 + d1 T), or N d3 for the dedicated 3 x 3 sums
    separable     N (s0 + s1 (h + w))                  rank-1 masks
    box           N (b0 + b1 min(w, 12))               constant masks
                  N (b3 + b1 (w - 3)) for h = 3, w <= 9 (the three-row path)
    fft           f0 P + f F log2 F + fa min(P, 2^18)  P extended pixels, F transform size
    overlap_save  f0 B + f1 B log2 B + tb per block, t0 per band, oc per call
                  (f0 B + f1 B log2 B times fc for blocks of B > fb values)

for N output pixels, T non-zero taps of an h x w mask, divided by the
thread count to the power 0.9 (spatial) or 0.6 (FFT).  ``auto`` decides by
one-thread costs (:data:`AUTO_THREADS`), so that the choice, and with it the
result's last bits, does not depend on the thread count.  The FFT
constants are those of the library that transforms the call (``scipy.f1``
for pocketfft, ``fftw.f1`` for FFTW blocks, ...: :data:`_costs.FFT_KEYS`),
so the choice follows the FFT backend in use.
"""

from __future__ import annotations

from typing import Any, Dict, NamedTuple, Tuple

import numpy as np

from . import methods
from ._costs import FFT_LIBRARIES, constants, fft_key
from ._maskinfo import MaskInfo, describe_mask
from ._validate import check_mask, describe, fail, is_double
from .methods import direct
from .methods._fftlib import backend_setting

#: the thread count ``auto``'s choice assumes, whatever the real one
AUTO_THREADS = 1

Costs = Dict[str, float]


class MethodChoice(NamedTuple):
    """What ``method="auto"`` would do, and why."""

    method: str
    costs: Dict[str, float]
    reason: str


def estimate(info: MaskInfo, hw: Tuple[int, int], double: bool, threads: int,
             full: bool = False) -> Costs:
    """Estimated seconds of every method that applies to the mask for an
    `hw` output.  Without `full`, methods are left out where they cannot
    win: separable when two passes cost more than the direct sum (its rank
    test is then not run), and the FFT methods below the direct sum's cost
    of a 64 x 64 block's transform per pixel (no transform sizes needed)."""
    c = constants()["float64" if double else "float32"]
    costs: Costs = {}
    for name in methods.SPATIAL:
        value = methods.REGISTRY[name].cost(info, hw, c, threads, full)
        if value is not None:
            costs[name] = value
    spatial, spectral = max(threads, 1) ** 0.9, max(threads, 1) ** 0.6
    # the cheaper library's block transform: the gate must not hide an FFT
    # method that could win
    f1 = min(c[fft_key(lib, "f1")] for lib in FFT_LIBRARIES)
    if not full and direct.ns_per_pixel(info, c) < 12.0 * f1 * spatial / spectral:
        return costs
    for name in methods.SPECTRAL:
        value = methods.REGISTRY[name].cost(info, hw, c, threads, full)
        if value is not None:
            costs[name] = value
    return costs


def cheapest(costs: Costs) -> Tuple[str, str]:
    """The cheapest method, and the methods ranked with their costs as text."""
    best = min(costs, key=costs.__getitem__)
    ranked = sorted(costs, key=costs.__getitem__)
    reason = ", ".join(f"{m} {costs[m] * 1e3:.3g} ms" for m in ranked)
    return best, f"estimated {reason}"


def choose(info: MaskInfo, hw: Tuple[int, int], double: bool) -> Tuple[str, Costs]:
    """``auto``'s method for this mask on an `hw` plane, and the estimates.

    Remembered on the mask's description, so that a call with a mask and a
    shape seen before decides by one dictionary lookup.  The choice is made
    again when the constants change (a calibration) and, if the FFT
    methods were in the running, when the FFT backend setting does."""
    key = (hw, double)
    hit = info.choices.get(key)
    consts = constants()
    if (hit is not None and hit[0] is consts
            and (hit[1] is None or hit[1] == backend_setting())):
        return hit[2], hit[3]
    costs = estimate(info, hw, double, AUTO_THREADS)
    method = min(costs, key=costs.__getitem__)
    spectral = any(m in costs for m in methods.SPECTRAL)
    if len(info.choices) >= 32:  # many image shapes (tiles): keep the recent ones
        info.choices.clear()
    info.choices[key] = (consts, backend_setting() if spectral else None, method, costs)
    return method, costs


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
    H, W = _check_shape(image_shape, "image_shape", odd=False)
    if isinstance(mask_shape, np.ndarray) and mask_shape.ndim == 2:
        raise fail("mask_shape", "a pair of positive odd integers (h, w) (pass the mask "
                   "itself as mask=...)", describe(mask_shape), TypeError)
    if mask is not None:
        weights = check_mask(mask)
        if mask_shape is not None and _check_shape(mask_shape, "mask_shape", odd=True) != weights.shape:
            raise fail("mask_shape", f"the shape of `mask` {weights.shape}", repr(tuple(mask_shape)))
        info = describe_mask(mask)
    else:
        if mask_shape is None:
            raise fail("mask_shape", "a pair of odd integers (h, w) when `mask` is not given", "None",
                       TypeError)
        info = MaskInfo.of_shape(_check_shape(mask_shape, "mask_shape", odd=True))
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise fail("dtype", "a numpy dtype such as np.float32 or np.float64", describe(dtype),
                   TypeError) from None
    if dt.kind not in "uif":
        raise fail("dtype", "a real dtype (float32 computes in single, float64 in double precision)",
                   f"dtype {dt}", TypeError)
    costs = estimate(info, (H, W), is_double(dt), AUTO_THREADS, full=True)
    method, reason = cheapest(costs)
    return MethodChoice(method, costs, reason)

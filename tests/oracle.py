"""Independent oracles for the tests: nothing here imports filterkit.

``naive_correlate`` pads with numpy.pad and sums shifted copies in float64:
scipy's 'reflect' is numpy's 'symmetric', 'mirror' is 'reflect', 'nearest'
is 'edge', 'wrap' is 'wrap', 'constant' is 'constant'.  numpy.pad handles
pads wider than the array by repeating the rule, which scipy.ndimage does
not for 'reflect' (it reads outside the array once the mask radius reaches
about four times a short image side).
"""

from __future__ import annotations

import numpy as np

NP_PAD_MODE = {
    "constant": "constant",
    "nearest": "edge",
    "reflect": "symmetric",
    "mirror": "reflect",
    "wrap": "wrap",
}


def naive_correlate(image, mask, mode="reflect", cval=0.0):
    """Correlation in float64 by explicit padding and a double loop over taps."""
    f = np.asarray(image, dtype=np.float64)
    k = np.asarray(mask, dtype=np.float64)
    kh, kw = k.shape
    if mode == "valid":
        padded = f
        H, W = f.shape[0] - kh + 1, f.shape[1] - kw + 1
    else:
        ry, rx = kh // 2, kw // 2
        pad = ((ry, ry), (rx, rx))
        if mode == "constant":
            padded = np.pad(f, pad, mode="constant", constant_values=cval)
        else:
            padded = np.pad(f, pad, mode=NP_PAD_MODE[mode])
        H, W = f.shape
    out = np.zeros((H, W))
    for a in range(kh):
        for b in range(kw):
            if k[a, b] != 0:  # scipy.ndimage skips zero weights too
                out += k[a, b] * padded[a:a + H, b:b + W]
    return out


def naive_convolve(image, mask, mode="reflect", cval=0.0):
    """True convolution: correlation with the mask mirrored on both axes."""
    k = np.asarray(mask, dtype=np.float64)
    return naive_correlate(image, k[::-1, ::-1], mode=mode, cval=cval)


def error_bound(mask, image, taps=None, dtype=np.float32):
    """Rounding-error bound of a dot product of n terms: (n + 1) u sum|k| max|f|.

    u is the unit roundoff of the compute type (2**-24 for float32, 2**-53
    for float64); n + 1 counts the products' summation and the rounding of
    the weights to the compute type (Higham, Accuracy and Stability of
    Numerical Algorithms, 3.1).  A factor 4 covers the separable path's two
    passes and the float64 oracle's own rounding.
    """
    k = np.asarray(mask, dtype=np.float64)
    f = np.asarray(image, dtype=np.float64)
    n = np.count_nonzero(k) if taps is None else taps
    u = 2.0 ** -24 if np.dtype(dtype) == np.float32 else 2.0 ** -53
    scale = np.abs(k).sum() * max(np.abs(f).max(), 1.0)
    return 4 * (n + 1) * u * scale

"""Independent oracles for the tests: nothing here imports filterkit.

``naive_correlate`` pads with numpy.pad and sums shifted copies in float64:
scipy's 'reflect' is numpy's 'symmetric', 'mirror' is 'reflect', 'nearest'
is 'edge', 'wrap' is 'wrap', 'constant' is 'constant'.  numpy.pad handles
pads wider than the array by repeating the rule, which scipy.ndimage does
not for 'reflect' (it reads outside the array once the mask radius reaches
about four times a short image side).
"""

from __future__ import annotations

import zlib

import numpy as np

NP_PAD_MODE = {
    "constant": "constant",
    "nearest": "edge",
    "reflect": "symmetric",
    "mirror": "reflect",
    "wrap": "wrap",
}

#: the border modes by their canonical names; ALL_MODES adds 'valid' (no border)
MODES = list(NP_PAD_MODE)
ALL_MODES = MODES + ["valid"]


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


def promise(mask, image, dtype, cval=0.0):
    """The documented accuracy of method="fft"/"overlap_save" against
    method="direct": ``1e-4 * sum|mask| * max|image|`` computing in float32,
    ``1e-10 * ...`` in float64.

    max|image| includes |cval|: with mode='constant' the extended image the
    FFT transforms holds cval too (the test images are chosen so that this
    changes nothing: max|image| > |cval| there).
    """
    k = np.abs(np.asarray(mask, dtype=np.float64)).sum()
    m = max(float(np.abs(np.asarray(image, dtype=np.float64)).max()), abs(cval))
    rel = 1e-4 if np.dtype(dtype) == np.float32 else 1e-10
    return rel * k * m


def oracle_tol(mask, image, dtype, cval=0.0):
    """fft/overlap_save vs the float64 oracle, by the triangle inequality:
    |fft - direct| (``promise``) + |direct - oracle| (``error_bound``)."""
    return promise(mask, image, dtype, cval) + error_bound(mask, image, dtype=dtype)


# --------------------------------------------------------------------------
# Test inputs and the compute precision they imply.

def seed(*parts):
    """A seed for numpy.random.default_rng from any parts with a stable repr
    (crc32, not hash(): str hashes are salted per process)."""
    return zlib.crc32(repr(parts).encode())


def random_image(rng, shape, dtype, scale=10.0):
    """Values spread over the dtype's useful range, negatives where it has
    them: floats standard normal times `scale`, integers within +-4000 (so
    int32 values and their window sums stay exact in float32)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return (rng.standard_normal(shape) * scale).astype(dtype)
    info = np.iinfo(dtype)
    lo, hi = max(info.min, -4000), min(info.max, 4000)
    return rng.integers(lo, hi, size=shape, endpoint=True).astype(dtype)


def compute_dtype(dtype):
    """The precision a filter of an image (or into an output) of `dtype`
    computes and returns in: float64 for float64, float32 for every other
    dtype."""
    return np.dtype(np.float64 if np.dtype(dtype) == np.float64 else np.float32)


#: the lecture's Sobel masks, typed in independently of filterkit.masks
SOBEL_X = np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])
SOBEL_Y = np.array([[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]])


def angle_error(a, b):
    """|a - b| for angles, wrapped into [0, pi]: 2*pi apart counts as equal."""
    d = np.mod(np.asarray(a, np.float64) - np.asarray(b, np.float64) + np.pi, 2 * np.pi) - np.pi
    return np.abs(d)


#: non-finite values placed in an image, one after another along a row
NONFINITE = {
    "nan": [np.nan],
    "+inf": [np.inf],
    "-inf": [-np.inf],
    "+inf and -inf": [np.inf, -np.inf],  # side by side: their sum is NaN
}


# --------------------------------------------------------------------------
# Colour: sRGB (IEC 61966-2-1), CIE XYZ, L*a*b*, L*u*v* in float64, written
# from the definitions (exact CIE constants, primaries and D65 chromaticities;
# the matrix derived here, never copied from filterkit).

CIE_EPSILON = 216.0 / 24389.0
CIE_KAPPA = 24389.0 / 27.0
SRGB_PRIMARIES = ((0.64, 0.33), (0.30, 0.60), (0.15, 0.06))
D65_XY = (0.3127, 0.3290)


def xy_to_XYZ(x, y):
    """The XYZ of chromaticity (x, y) with Y = 1."""
    return np.array([x / y, 1.0, (1.0 - x - y) / y])


def srgb_matrix():
    """RGB -> XYZ: M = P diag(S), P's columns the primaries, S = P^-1 W."""
    P = np.column_stack([xy_to_XYZ(x, y) for x, y in SRGB_PRIMARIES])
    W = xy_to_XYZ(*D65_XY)
    S = np.linalg.solve(P, W)
    return P * S, W


REF_M, REF_WHITE = srgb_matrix()
REF_M_INV = np.linalg.inv(REF_M)


def _channels_last(a, channel_axis):
    return np.moveaxis(np.asarray(a, dtype=np.float64), channel_axis, -1)


def srgb_decode(c):
    c = np.asarray(c, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        # the power branch only where it is taken (negatives stay linear)
        hi = ((np.where(c > 0.04045, c, 1.0) + 0.055) / 1.055) ** 2.4
    return np.where(c <= 0.04045, c / 12.92, np.where(np.isnan(c), np.nan, hi))


def srgb_encode(c):
    c = np.asarray(c, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        hi = 1.055 * np.where(c > 0.0031308, c, 1.0) ** (1 / 2.4) - 0.055
    return np.where(c <= 0.0031308, 12.92 * c, np.where(np.isnan(c), np.nan, hi))


def ref_rgb_to_xyz(rgb):
    """rgb (..., 3) in [0, 1] (float64, any values) -> XYZ with white Y = 1."""
    return srgb_decode(rgb) @ REF_M.T


def ref_xyz_to_rgb(xyz):
    return srgb_encode(np.asarray(xyz, np.float64) @ REF_M_INV.T)


def _f(t):
    with np.errstate(invalid="ignore"):
        cube = np.cbrt(t)
    return np.where(t > CIE_EPSILON, cube, np.where(np.isnan(t), np.nan, (CIE_KAPPA * t + 16) / 116))


def _finv(f):
    f3 = f ** 3
    return np.where(f3 > CIE_EPSILON, f3, np.where(np.isnan(f), np.nan, (116 * f - 16) / CIE_KAPPA))


def ref_xyz_to_lab(xyz):
    xyz = np.asarray(xyz, np.float64)
    fx, fy, fz = (_f(xyz[..., i] / REF_WHITE[i]) for i in range(3))
    return np.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], axis=-1)


def ref_lab_to_xyz(lab):
    lab = np.asarray(lab, np.float64)
    fy = (lab[..., 0] + 16) / 116
    fx = fy + lab[..., 1] / 500
    fz = fy - lab[..., 2] / 200
    return np.stack([REF_WHITE[0] * _finv(fx), REF_WHITE[1] * _finv(fy),
                     REF_WHITE[2] * _finv(fz)], axis=-1)


def _uv_prime(xyz):
    X, Y, Z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    d = X + 15 * Y + 3 * Z
    safe = np.where(d == 0, 1.0, d)
    return 4 * X / safe, 9 * Y / safe, d == 0


def ref_xyz_to_luv(xyz):
    xyz = np.asarray(xyz, np.float64)
    L = 116 * _f(xyz[..., 1] / REF_WHITE[1]) - 16
    up, vp, black = _uv_prime(xyz)
    upn, vpn, _ = _uv_prime(REF_WHITE)
    u = np.where(black, 0.0, 13 * L * (up - upn))
    v = np.where(black, 0.0, 13 * L * (vp - vpn))
    return np.stack([L, u, v], axis=-1)


def ref_luv_to_xyz(luv):
    luv = np.asarray(luv, np.float64)
    L, u, v = luv[..., 0], luv[..., 1], luv[..., 2]
    upn, vpn, _ = _uv_prime(REF_WHITE)
    zero = L == 0
    Ls = np.where(zero, 1.0, L)
    Y = REF_WHITE[1] * _finv((L + 16) / 116)
    up = u / (13 * Ls) + upn
    vp = v / (13 * Ls) + vpn
    X = Y * 9 * up / (4 * vp)
    Z = Y * (12 - 3 * up - 20 * vp) / (4 * vp)
    return np.where(zero[..., None], 0.0, np.stack([X, Y, Z], axis=-1))


def ref_rgb_to_lab(rgb):
    return ref_xyz_to_lab(ref_rgb_to_xyz(rgb))


def ref_lab_to_rgb(lab):
    return ref_xyz_to_rgb(ref_lab_to_xyz(lab))


def ref_rgb_to_luv(rgb):
    return ref_xyz_to_luv(ref_rgb_to_xyz(rgb))


def ref_luv_to_rgb(luv):
    return ref_xyz_to_rgb(ref_luv_to_xyz(luv))


def ref_rgb_to_gray(rgb):
    """Luma on the gamma-encoded values (no decoding)."""
    rgb = np.asarray(rgb, np.float64)
    return 0.2126 * rgb[..., 0] + 0.7152 * rgb[..., 1] + 0.0722 * rgb[..., 2]


def to_unit(image):
    """float64 values of an image: integers divided by their dtype's maximum."""
    image = np.asarray(image)
    if image.dtype.kind in "ui":
        return image.astype(np.float64) / np.iinfo(image.dtype).max
    return image.astype(np.float64)

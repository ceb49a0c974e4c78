"""FFT convolution: the whole image at once, or in tiles (overlap-save).

The image is first extended by the border mode (exactly as the direct
method reads it), so the result equals the direct one for every mode,
``'valid'`` and masks larger than the image included. Real FFTs from
scipy.fft, in single precision for float32 and double for float64, with
``workers`` = filterkit's thread count and sizes from ``next_fast_len``.

Only the valid part of a circular correlation is kept, so the transform
needs to be as large as the extended image, not image + mask.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

# numpy.pad's names for filterkit's border modes
PAD_MODES = {"constant": "constant", "nearest": "edge", "reflect": "symmetric",
             "mirror": "reflect", "wrap": "wrap"}


def _fft():  # scipy is imported on first use: the spatial methods do not need it
    import scipy.fft

    return scipy.fft


def fast_len(n: int) -> int:
    """The smallest 2^a 3^b 5^c >= n (and even from 2 on): scipy's
    next_fast_len also allows factors 7 and 11, which pocketfft transforms
    up to 1.8 times slower here."""
    best = 1 << max(int(n - 1).bit_length(), 0)
    p5 = 1
    while p5 < 2 * n:
        p35 = p5
        while p35 < 2 * n:
            m = p35
            while m < n:
                m *= 2
            if m % 2 == 0 or m == 1:
                best = min(best, m)
            p35 *= 3
        p5 *= 5
    return max(best, 1)


def extend(plane: np.ndarray, mode: str, cval: float, kh: int, kw: int, oy: int, ox: int,
           dtype: np.dtype) -> np.ndarray:
    """The plane extended by the border mode so that a 'valid' correlation
    with a kh x kw mask centred at (oy, ox) gives the filtered plane."""
    src = plane.astype(dtype, copy=False)
    if mode == "valid":
        return src
    pads = ((oy, kh - 1 - oy), (ox, kw - 1 - ox))
    if mode == "constant":
        return np.pad(src, pads, mode="constant", constant_values=cval)
    if mode == "mirror" and min(src.shape) == 1:
        # numpy's 'reflect' cannot reflect a single row or column: mirroring
        # it repeats it, like 'nearest' (axis by axis)
        for axis, n in enumerate(src.shape):
            width = [(0, 0), (0, 0)]
            width[axis] = pads[axis]
            src = np.pad(src, width, mode="edge" if n == 1 else "reflect")
        return src
    return np.pad(src, pads, mode=PAD_MODES[mode])


def correlate_valid(padded: np.ndarray, weights: np.ndarray, workers: int) -> np.ndarray:
    """The 'valid' correlation of `padded` with `weights` by one real FFT.

    `padded` is consumed (the caller's own extended copy): it is released
    as soon as it is transformed, and the mask's spectrum as soon as it is
    applied, so at most about three image-sized arrays exist at once."""
    fft = _fft()
    kh, kw = weights.shape
    Ph, Pw = padded.shape
    dtype = padded.dtype
    nh = fast_len(Ph)
    nw = fast_len(Pw)
    f = fft.rfft2(padded, s=(nh, nw), workers=workers)
    del padded
    # correlation = convolution with the mirrored mask; the circular result
    # is exact from index (kh - 1, kw - 1) on
    f *= fft.rfft2(weights[::-1, ::-1].astype(dtype), s=(nh, nw), workers=workers)
    r = fft.irfft2(f, s=(nh, nw), workers=workers, overwrite_x=True)
    del f
    return r[kh - 1:Ph, kw - 1:Pw]


# block lengths for overlap-save: products of 2, 3 and 5 with a large power
# of two, which pocketfft transforms fastest
_BLOCKS = (64, 96, 128, 160, 192, 256, 320, 384, 512, 640, 768, 1024, 1280, 1536, 2048,
           2560, 3072, 4096)


def tile_shape(kh: int, kw: int, Ho: int, Wo: int) -> Tuple[int, int]:
    """FFT block sizes (bh, bw) for overlap-save: the first fast length of at
    least 5 times the mask (measured on 2048 x 2048 with masks 21 to 63:
    within 5 % of the best block, where b log b / (b - k + 1) alone picks
    blocks 30 % slower), and no larger than the image needs."""

    def best(k: int, n: int) -> int:
        whole = fast_len(n + k - 1)
        for b in _BLOCKS:
            if b >= 5 * k:
                return min(b, whole)
        return whole

    return best(kh, Ho), best(kw, Wo)


def map_index(i: np.ndarray, n: int, mode: str) -> np.ndarray:
    """Indices of an extended axis (any integers) in the image's axis [0, n),
    by the border mode; -1 where 'constant' takes cval.  The same extension
    as numpy.pad's (periodic for the reflecting modes)."""
    if mode == "valid":
        return i
    if mode == "constant":
        return np.where((i >= 0) & (i < n), i, -1)
    if mode == "nearest" or (mode == "mirror" and n == 1):
        return np.clip(i, 0, n - 1)
    if mode == "wrap":
        return np.mod(i, n)
    if mode == "reflect":
        j = np.mod(i, 2 * n)
        return np.where(j < n, j, 2 * n - 1 - j)
    j = np.mod(i, 2 * n - 2)  # mirror
    return np.where(j < n, j, 2 * n - 2 - j)


def _gather(src: np.ndarray, rows: np.ndarray, cols: np.ndarray, cval: float,
            dst: np.ndarray) -> None:
    """dst = the extended image at (rows, cols); -1 indices take cval."""
    block = src.take(np.maximum(rows, 0), axis=0).take(np.maximum(cols, 0), axis=1)
    if (rows < 0).any():
        block[rows < 0, :] = cval
    if (cols < 0).any():
        block[:, cols < 0] = cval
    dst[...] = block


def correlate_tiled(src: np.ndarray, weights: np.ndarray, workers: int, *, mode: str,
                    cval: float, oy: int, ox: int, block: Tuple[int, int] = (0, 0),
                    out: Optional[np.ndarray] = None) -> np.ndarray:
    """The correlation of the plane `src` (extended by `mode`, the mask
    centred at (oy, ox)) with `weights`, overlap-save in blocks of bh x bw,
    a band of blocks per transform call, written into `out` (a new array
    by default).  Each band is gathered from the plane with its border:
    the extended image never exists as a whole."""
    fft = _fft()
    kh, kw = weights.shape
    H, W = src.shape
    if mode == "valid":
        Ho, Wo = H - kh + 1, W - kw + 1
        oy = ox = 0
    else:
        Ho, Wo = H, W
    Pw = Wo + kw - 1
    bh, bw = block if block != (0, 0) else tile_shape(kh, kw, Ho, Wo)
    th, tw = bh - kh + 1, bw - kw + 1          # output rows and columns per block
    ny, nx = -(-Ho // th), -(-Wo // tw)
    dtype = src.dtype
    g = fft.rfft2(weights[::-1, ::-1].astype(dtype), s=(bh, bw), workers=workers)
    if out is None:
        out = np.empty((Ho, Wo), dtype=dtype)
    cols = map_index(np.arange(Pw) - ox, W, mode)
    # a band of rows with zeros beyond the extended image, so that every
    # block is whole
    buf = np.zeros((bh, nx * tw + kw - 1), dtype=dtype)
    s0, s1 = buf.strides
    for by in range(ny):
        y0 = by * th
        rows_in = min(bh, Ho + kh - 1 - y0)
        rows = map_index(np.arange(y0, y0 + rows_in) - oy, H, mode)
        _gather(src, rows, cols, cval, buf[:rows_in, :Pw])
        if rows_in < bh:
            buf[rows_in:] = 0
        # the band's blocks as a (nx, bh, bw) view: no copy until the transform
        band = np.lib.stride_tricks.as_strided(buf, shape=(nx, bh, bw),
                                               strides=(tw * s1, s0, s1), writeable=False)
        f = fft.rfft2(band, axes=(-2, -1), workers=workers)
        f *= g
        r = fft.irfft2(f, s=(bh, bw), axes=(-2, -1), workers=workers, overwrite_x=True)
        n = min(th, Ho - y0)
        for bx in range(nx):
            x0 = bx * tw
            cw = min(tw, Wo - x0)
            out[y0:y0 + n, x0:x0 + cw] = r[bx, kh - 1:kh - 1 + n, kw - 1:kw - 1 + cw]
    return out

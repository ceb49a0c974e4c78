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
    nh = fft.next_fast_len(Ph, real=False)
    nw = fft.next_fast_len(Pw, real=True)
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
    fft = _fft()

    def best(k: int, n: int) -> int:
        whole = fft.next_fast_len(n + k - 1)
        for b in _BLOCKS:
            if b >= 5 * k:
                return min(b, whole)
        return whole

    return best(kh, Ho), best(kw, Wo)


def correlate_tiled(padded: np.ndarray, weights: np.ndarray, workers: int,
                    block: Tuple[int, int] = (0, 0), out: Optional[np.ndarray] = None) -> np.ndarray:
    """The 'valid' correlation of `padded` with `weights`, overlap-save in
    blocks of bh x bw (a band of blocks per transform call), written into
    `out` (a new array by default)."""
    fft = _fft()
    kh, kw = weights.shape
    Ph, Pw = padded.shape
    Ho, Wo = Ph - kh + 1, Pw - kw + 1
    bh, bw = block if block != (0, 0) else tile_shape(kh, kw, Ho, Wo)
    th, tw = bh - kh + 1, bw - kw + 1          # output rows and columns per block
    ny, nx = -(-Ho // th), -(-Wo // tw)
    g = fft.rfft2(weights[::-1, ::-1].astype(padded.dtype), s=(bh, bw), workers=workers)
    if out is None:
        out = np.empty((Ho, Wo), dtype=padded.dtype)
    # a band of rows with zeros beyond the image, so that every block is
    # whole: one band at a time, not a second copy of the image
    buf = np.zeros((bh, nx * tw + kw - 1), dtype=padded.dtype)
    s0, s1 = buf.strides
    for by in range(ny):
        y0 = by * th
        rows_in = min(bh, Ph - y0)
        buf[:rows_in, :Pw] = padded[y0:y0 + rows_in]
        if rows_in < bh:
            buf[rows_in:] = 0
        # the band's blocks as a (nx, bh, bw) view: no copy until the transform
        band = np.lib.stride_tricks.as_strided(buf, shape=(nx, bh, bw),
                                               strides=(tw * s1, s0, s1), writeable=False)
        f = fft.rfft2(band, axes=(-2, -1), workers=workers)
        f *= g
        r = fft.irfft2(f, s=(bh, bw), axes=(-2, -1), workers=workers, overwrite_x=True)
        rows = min(th, Ho - y0)
        for bx in range(nx):
            x0 = bx * tw
            cols = min(tw, Wo - x0)
            out[y0:y0 + rows, x0:x0 + cols] = r[bx, kh - 1:kh - 1 + rows, kw - 1:kw - 1 + cols]
    return out

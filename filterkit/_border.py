"""The one border rule: how an image is extended beyond its edges, and
which source rows and columns a block of output reads (its halo).

The compiled core applies the same rule inside its row loops
(``fk_map_index`` in ``src_c``); the tests hold the two against each other
and against ``numpy.pad``.  Everything in Python that reads beyond an
image's edge goes through here: the whole-image FFT, the overlap-save
bands, the command line's ``--tile`` windows and the windows that
``filterkit.dask`` reads from a store.
"""

from __future__ import annotations

from typing import Any, List, Tuple

import numpy as np

#: (what to read along an axis: a slice or an index array, rows to cut
#: from the filtered block before, rows to cut after)
Window = Tuple[Any, int, int]


def map_index(i: np.ndarray, n: int, mode: str) -> np.ndarray:
    """Indices of an extended axis (any integers) in the image's axis [0, n),
    by the border mode; -1 where 'constant' takes cval.  The same extension
    as ``numpy.pad``'s (periodic for the reflecting modes, so a border wider
    than the image keeps folding)."""
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


def gather(src: np.ndarray, rows: np.ndarray, cols: np.ndarray, r0: int, c0: int,
           cval: float, dst: np.ndarray) -> None:
    """dst = the extended image at (rows, cols) (-1 takes cval), where row
    i and column j of `dst` read the image's row r0 + i and column c0 + j
    wherever those exist: the inside is one slice copy, the border rows
    and columns are filled from it."""
    H, W = src.shape
    n, P = dst.shape
    a, b = max(0, -r0), min(n, H - r0)           # rows read in place
    lo, hi = max(0, -c0), min(P, W - c0)         # columns read in place
    if b > a:
        dst[a:b, lo:hi] = src[r0 + a:r0 + b, c0 + lo:c0 + hi]
    for i in (*range(0, min(a, n)), *range(max(b, 0), n)):
        if rows[i] < 0:
            dst[i, lo:hi] = cval
        else:
            dst[i, lo:hi] = src[rows[i], c0 + lo:c0 + hi]
    for j in (*range(0, min(lo, P)), *range(max(hi, 0), P)):
        # the columns beyond the image: copies of columns already in dst
        if cols[j] < 0:
            dst[:, j] = cval
        else:
            dst[:, j] = dst[:, cols[j] - c0]


def extend(plane: np.ndarray, mode: str, cval: float, kh: int, kw: int, oy: int, ox: int,
           dtype: np.dtype) -> np.ndarray:
    """The plane extended by the border mode, in `dtype`, so that a 'valid'
    correlation with a kh x kw mask centred at (oy, ox) gives the filtered
    plane."""
    src = plane.astype(dtype, copy=False)
    if mode == "valid":
        return src
    H, W = src.shape
    Ph, Pw = H + kh - 1, W + kw - 1
    out = np.empty((Ph, Pw), dtype=dtype)
    gather(src, map_index(np.arange(Ph) - oy, H, mode), map_index(np.arange(Pw) - ox, W, mode),
           -oy, -ox, cval, out)
    return out


def halo(a: int, b: int, n: int, r: int, wrap: bool) -> Tuple[int, int]:
    """How many rows (or columns) of halo a block of output rows [a, b) of
    an axis of length n reads before and after itself, for a mask radius r.

    Inside the image, r on each side; at the image's edges none (the filter
    applies the border mode there itself, exactly as for the whole image);
    with `wrap`, r on both sides (read from the far side); a block that
    spans the whole axis reads no halo."""
    if a == 0 and b == n:
        return 0, 0
    if wrap:
        return r, r
    return min(a, r), min(n - b, r)


def window(a: int, b: int, n: int, r: int, mode: str) -> Window:
    """What to read for the output rows [a, b) of an axis of length n with a
    halo of r, and how much to cut off the filtered result before and after.

    Inside the image the block reads its neighbours' pixels; at the image's
    edges it reads no further than the image (the filter then applies the
    border mode there, exactly as for the whole image), except for 'wrap',
    which reads the far side (:func:`halo`); 'valid' output row o is input
    row o + r."""
    if mode == "valid":
        return slice(a, b + 2 * r), 0, 0
    before, after = halo(a, b, n, r, mode == "wrap")
    if mode == "wrap" and before:
        return np.mod(np.arange(a - before, b + after), n), before, after
    return slice(a - before, b + after), before, after


def runs(index: Any) -> List[slice]:
    """What a :func:`window` reads, as slices of consecutive indices: the
    slice itself, or a wrapped index array split where it jumps (a store
    reads slices, not index arrays)."""
    if isinstance(index, slice):
        return [index]
    idx = np.asarray(index)
    breaks = np.flatnonzero(np.diff(idx) != 1) + 1
    return [slice(int(part[0]), int(part[-1]) + 1) for part in np.split(idx, breaks)]

"""Filter masks and mask algebra.

All masks are float64 arrays of odd height and width, centre in the middle.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Tuple, Union

import numpy as np

from ._validate import MAX_MASK_SIDE, check_mask, check_side, describe, fail, to_float

__all__ = ["mean", "binomial", "gaussian", "gaussian_size", "gaussian_factors", "sobel_x",
           "sobel_y", "laplace", "compose", "separate", "default_rtol", "MAX_MASK_SIDE",
           "MAX_SIGMA"]

Size = Union[int, Tuple[int, int]]

def check_size(size: Any, name: str = "size") -> Tuple[int, int]:
    """An odd positive mask size, int or (height, width); return (h, w)."""
    pair = size if isinstance(size, (tuple, list)) else (size, size)
    if len(pair) != 2 or any(isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer))
                             for n in pair):
        raise fail(name, "an odd positive integer or a pair (height, width) of them",
                   describe(size), TypeError)
    h, w = int(pair[0]), int(pair[1])
    if h < 1 or w < 1 or h % 2 == 0 or w % 2 == 0:
        raise fail(name, "odd and positive (1, 3, 5, ...) so that the mask has a centre pixel",
                   repr(size))
    check_side(name, h, w)
    return h, w


def _check_sigma(sigma: Any) -> Tuple[float, float]:
    pair = sigma if isinstance(sigma, (tuple, list)) else (sigma, sigma)
    if len(pair) != 2 or any(isinstance(s, (bool, np.bool_)) or
                             not isinstance(s, (int, float, np.integer, np.floating)) for s in pair):
        raise fail("sigma", "a positive number or a pair (sigma_y, sigma_x) of them",
                   describe(sigma), TypeError)
    sy, sx = to_float("sigma", pair[0]), to_float("sigma", pair[1])
    if not (sy > 0 and sx > 0 and math.isfinite(sy) and math.isfinite(sx)):
        raise fail("sigma", "positive and finite", repr(sigma))
    return sy, sx


def mean(size: Size = 3) -> np.ndarray:
    """The mean (box) mask: every weight 1 / (h * w).

    Parameters
    ----------
    size : int or (int, int), optional
        Odd height and width (default 3).

    Returns
    -------
    ndarray of float64, shape (h, w)

    Examples
    --------
    >>> from filterkit import masks
    >>> masks.mean(3) * 9
    array([[1., 1., 1.],
           [1., 1., 1.],
           [1., 1., 1.]])
    >>> masks.mean((1, 5)).shape
    (1, 5)
    """
    h, w = check_size(size)
    return np.full((h, w), 1.0 / (h * w))


def _binomial_1d(n: int) -> np.ndarray:
    row = np.array([math.comb(n - 1, k) for k in range(n)], dtype=np.float64)
    return row / row.sum()


def binomial(n: int = 3) -> np.ndarray:
    """The binomial mask: the outer product of two rows of Pascal's triangle.

    The discrete approximation of a Gaussian of variance (n - 1) / 4 that the
    lecture calls "3x3 Gaussian": n = 3 gives 1/16 [[1, 2, 1], [2, 4, 2],
    [1, 2, 1]].

    Parameters
    ----------
    n : int, optional
        Odd size (default 3).

    Returns
    -------
    ndarray of float64, shape (n, n), summing to 1

    Examples
    --------
    >>> from filterkit import masks
    >>> masks.binomial(3) * 16
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    """
    h, _ = check_size(n, "n")
    if isinstance(n, (tuple, list)):
        raise fail("n", "an odd positive integer", describe(n), TypeError)
    b = _binomial_1d(h)
    return np.outer(b, b)


def _gaussian_1d(size: int, sigma: float, sampling: str) -> np.ndarray:
    r = size // 2
    x = np.arange(-r, r + 1, dtype=np.float64)
    if sampling == "point":
        g = np.exp(-0.5 * (x / sigma) ** 2)
    else:
        # the integral of the Gaussian over each pixel [x - 1/2, x + 1/2]
        edges = np.arange(-r - 0.5, r + 1.0, 1.0) / (sigma * math.sqrt(2.0))
        cdf = np.array([math.erf(e) for e in edges])
        g = np.diff(cdf)
    return g / g.sum()


#: the largest sigma whose default mask (2 ceil(3 sigma) + 1) fits MAX_MASK_SIDE
MAX_SIGMA = (MAX_MASK_SIDE - 1) / 6.0


def gaussian_size(sigma: float) -> int:
    """The default Gaussian mask size for `sigma`: 2 ceil(3 sigma) + 1.

    Examples
    --------
    >>> from filterkit.masks import gaussian_size
    >>> gaussian_size(1.0), gaussian_size(5.0)
    (7, 31)
    """
    return 2 * math.ceil(3.0 * sigma) + 1


def gaussian_factors(size: Optional[Size] = None, *, sigma: Any = 1.0,
                     sampling: str = "integral") -> Tuple[np.ndarray, np.ndarray]:
    """The column and the row whose outer product is :func:`gaussian`'s mask.

    Same parameters as :func:`gaussian`.

    Examples
    --------
    >>> from filterkit import masks
    >>> col, row = masks.gaussian_factors(3, sigma=1.0)
    >>> bool(abs(col.sum() - 1) < 1e-15), col.shape
    (True, (3,))
    """
    sy, sx = _check_sigma(sigma)
    if sampling not in ("integral", "point"):
        raise fail("sampling", "'integral' or 'point'", repr(sampling))
    if size is None:
        if max(sy, sx) > MAX_SIGMA:
            big = max(sy, sx)
            side = f"{gaussian_size(big)}" if big < 1e15 else f"about {6 * big:.3g}"
            raise fail("sigma", f"at most {MAX_SIGMA:.6g} without `size` (the default mask, "
                       f"2*ceil(3*sigma)+1 pixels, may be at most {MAX_MASK_SIDE} wide): "
                       "give a smaller `size`, or downsample the image first",
                       f"{sigma!r}, which implies a mask {side} pixels wide")
        h, w = gaussian_size(sy), gaussian_size(sx)
    else:
        h, w = check_size(size)
    return _gaussian_1d(h, sy, sampling), _gaussian_1d(w, sx, sampling)


def gaussian(size: Optional[Size] = None, *, sigma: Any = 1.0,
             sampling: str = "integral") -> np.ndarray:
    """The Gaussian mask, normalised to sum 1.

    Parameters
    ----------
    size : int or (int, int), optional
        Odd height and width.  Default ``2 * ceil(3 * sigma) + 1`` on each
        axis (7 for sigma = 1, 31 for sigma = 5).
    sigma : float or (float, float), optional
        Standard deviation in pixels (default 1), or (sigma_y, sigma_x).
    sampling : {'integral', 'point'}, optional
        ``'integral'`` (default): each weight is the Gaussian integrated over
        that pixel's area (differences of erf), the closest to the lecture's
        5x5, sigma = 1 table (1/273 ...): every weight within 0.51 / 273 of
        it, though rounded to integers the four 7s become 6 (the lecture's
        table is hand-rounded to sum to 273).  ``'point'``: the Gaussian
        sampled at the pixel centres, as OpenCV and scipy do.

    Returns
    -------
    ndarray of float64, shape (h, w)

    Examples
    --------
    >>> import numpy as np
    >>> from filterkit import masks
    >>> np.rint(masks.gaussian(5, sigma=1.0) * 273).astype(int)
    array([[ 1,  4,  6,  4,  1],
           [ 4, 16, 26, 16,  4],
           [ 6, 26, 41, 26,  6],
           [ 4, 16, 26, 16,  4],
           [ 1,  4,  6,  4,  1]])

    Every entry is within 1 of the lecture's table (which has 7 where this
    has 6: the lecture's table was rounded from a slightly different
    integration).
    """
    col, row = gaussian_factors(size, sigma=sigma, sampling=sampling)
    return np.outer(col, row)


def sobel_x() -> np.ndarray:
    """The lecture's Sobel mask for f_x (a convolution mask, unnormalised).

    With :func:`filterkit.convolve`, a unit ramp along x (the column, to the
    right) gives f_x = 8.

    Examples
    --------
    >>> from filterkit import masks
    >>> masks.sobel_x()
    array([[ 1.,  0., -1.],
           [ 2.,  0., -2.],
           [ 1.,  0., -1.]])
    """
    return np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])


def sobel_y() -> np.ndarray:
    """The lecture's Sobel mask for f_y (a convolution mask, unnormalised).

    With :func:`filterkit.convolve`, a unit ramp along y (the row, down)
    gives f_y = 8.

    Examples
    --------
    >>> from filterkit import masks
    >>> masks.sobel_y()
    array([[ 1.,  2.,  1.],
           [ 0.,  0.,  0.],
           [-1., -2., -1.]])
    """
    return sobel_x().T.copy()


def laplace(neighbours: int = 4) -> np.ndarray:
    """The Laplace mask with the 4- or 8-neighbourhood.

    Parameters
    ----------
    neighbours : {4, 8}, optional

    Examples
    --------
    >>> from filterkit import masks
    >>> masks.laplace(4)
    array([[ 0.,  1.,  0.],
           [ 1., -4.,  1.],
           [ 0.,  1.,  0.]])
    >>> float(masks.laplace(8).sum())
    0.0
    """
    if isinstance(neighbours, (bool, np.bool_)) or neighbours not in (4, 8):
        raise fail("neighbours", "4 or 8", repr(neighbours))
    if neighbours == 4:
        return np.array([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])
    m = np.ones((3, 3))
    m[1, 1] = -8.0
    return m


def compose(*masks: Any) -> np.ndarray:
    """Concatenate filters: the one mask whose convolution equals convolving with each in turn.

    The full convolution of the masks: for masks of sizes (h1, w1) and
    (h2, w2) the result is (h1 + h2 - 1, w1 + w2 - 1), still odd.  Then
    ``convolve(convolve(f, a), b) == convolve(f, compose(a, b))`` at every
    pixel at least b's radius from the border; everywhere with
    ``mode='wrap'``, and with ``'reflect'`` or ``'mirror'`` when ``a`` is
    symmetric left-right and up-down (its result is then mirrored at the
    border like the image).  As the lecture states:
    "filters can be concatenated, resulting in a single new linear filter
    mask".  Convolution is commutative, so the order does not matter.

    Parameters
    ----------
    *masks : array_like
        One or more 2-D masks with odd sides.

    Returns
    -------
    ndarray of float64

    Examples
    --------
    >>> import numpy as np
    >>> from filterkit import masks
    >>> box = np.ones((1, 3))
    >>> masks.compose(box, box)
    array([[1., 2., 3., 2., 1.]])
    >>> masks.compose([[1, 2, 1]], [[1], [2], [1]]) * 1
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    """
    if not masks:
        raise fail("masks", "at least one mask", "none", TypeError)
    out = check_mask(masks[0])
    for m in masks[1:]:
        b = check_mask(m)
        h, w = out.shape
        full = np.zeros((h + b.shape[0] - 1, w + b.shape[1] - 1))
        # the full convolution: every weight of b places a scaled copy of out
        for (i, j), v in np.ndenumerate(b):
            if v != 0:
                full[i:i + h, j:j + w] += v * out
        out = full
    return out


def default_rtol(dtype: Any, shape: Tuple[int, int]) -> float:
    """The default tolerance of :func:`separate` for a mask of this dtype and shape.

    ``16 * max(h, w) * eps``: the rounding of a rank-1 mask to its dtype
    (eps of float32 for float32 masks, of float64 otherwise) raises its
    second singular value to about ``sqrt(h * w) * eps`` times the first.
    """
    dt = np.dtype(dtype)
    eps = np.finfo(dt if dt.kind == "f" and dt.itemsize <= 8 else np.float64).eps
    return 16 * max(shape) * float(eps)


def separate(mask: Any, *, rtol: Optional[float] = None) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """Split a rank-1 mask into a column and a row whose outer product is the mask.

    Parameters
    ----------
    mask : array_like, shape (h, w)
        A 2-D mask with odd sides and finite values.
    rtol : float, optional
        The mask counts as rank 1 when its second singular value is at most
        ``rtol`` times its first.  Default :func:`default_rtol`: 16 max(h, w)
        machine epsilons of the mask's dtype (float32 or float64), i.e.
        rank 1 up to the rounding of its entries.

    Returns
    -------
    (column, row) : tuple of two 1-D float64 arrays, or None
        ``np.outer(column, row)`` equals the mask (to ``rtol``).  The factors
        are taken from the mask itself (a column and a scaled row through its
        largest entry), so integer masks such as Sobel split into integer
        factors.  None when the mask is not rank 1.

    Notes
    -----
    Filtering with a separable mask costs h + w operations per pixel
    instead of h * w: a vertical pass with ``column`` and a horizontal pass
    with ``row``.  An all-zero mask separates into zeros.

    Examples
    --------
    >>> from filterkit.masks import separate
    >>> col, row = separate([[1, 0, -1], [2, 0, -2], [1, 0, -1]])
    >>> col, row
    (array([1., 2., 1.]), array([ 1.,  0., -1.]))
    >>> separate([[0, 1, 0], [1, -4, 1], [0, 1, 0]]) is None
    True
    """
    m = check_mask(mask)
    if rtol is None:
        rtol = default_rtol(np.asarray(mask).dtype, m.shape)
    if isinstance(rtol, bool) or not (isinstance(rtol, (int, float, np.floating)) and 0 <= rtol < 1):
        raise fail("rtol", "a number in [0, 1)", repr(rtol))
    if m.shape[0] == 1 or m.shape[1] == 1:
        s_ratio = 0.0
    else:
        # a quick no before the SVD: the cross through the largest entry
        # misses a matrix by at most 2 s2 (Goreinov-Tyrtyshnikov), and
        # s1 <= the Frobenius norm, so a larger miss means s2 > rtol s1
        i, j = np.unravel_index(np.argmax(np.abs(m)), m.shape)
        if m[i, j] != 0:
            miss = np.abs(m - np.outer(m[:, j], m[i, :] / m[i, j])).max()
            if miss > 2 * rtol * np.linalg.norm(m):
                return None
        s = np.linalg.svd(m, compute_uv=False)
        if s[0] == 0:
            return np.zeros(m.shape[0]), np.zeros(m.shape[1])
        s_ratio = s[1] / s[0]
    if s_ratio > rtol:
        return None
    i, j = np.unravel_index(np.argmax(np.abs(m)), m.shape)
    if m[i, j] == 0:
        return np.zeros(m.shape[0]), np.zeros(m.shape[1])
    column = m[:, j].copy()
    row = m[i, :] / m[i, j]
    return column, row

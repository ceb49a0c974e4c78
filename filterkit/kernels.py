"""Filter masks and mask algebra.

All masks are float64 arrays of odd height and width, centre in the middle.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from ._validate import check_mask, fail

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
    >>> from filterkit.kernels import separate
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

"""The one description of a mask: everything the methods and the cost
model ask of it, computed once and remembered for the masks seen last."""

from __future__ import annotations

import functools
from typing import Any, Dict, NamedTuple, Optional, Tuple

import numpy as np

from ._validate import check_mask
from .masks import separate

#: the 3 x 3 patterns of non-zero weights (bit 3 i + j for weight (i, j))
#: that the core sums with a dedicated 3 x 3 routine: every weight, and the
#: cross of the 4-neighbour Laplace mask
FIXED_PATTERNS = (0x1FF, 0x0BA)

_UNKNOWN = object()

#: the largest shift e of weights n 2^-e that the integer description tries
MAX_SHIFT = 24


class IntegerWeights(NamedTuple):
    """A mask whose weights are integers times one power of two:
    ``weights == numerators * 2.0 ** -shift`` exactly.

    Any sum over an image of integers with ``|pixel| <= m`` is then
    ``S 2^-shift`` with ``|S| <= m * bound`` at every step (the products
    and partial sums included), so float32 computes it exactly when
    ``m * bound <= 2**24``, and so does the core's integer path.
    """

    numerators: np.ndarray       # int64, the mask's shape, read-only
    shift: int                   # e >= 0, the smallest that makes them integers
    bound: int                   # sum |numerators|
    col: Optional[np.ndarray]    # integer factors, numerators == outer(col, row),
    row: Optional[np.ndarray]    # or None (rank > 1); int64, read-only


def integer_weights(weights: np.ndarray) -> Optional[IntegerWeights]:
    """`weights` (float64) as :class:`IntegerWeights`, or None when they
    are not integers times one power of two 2^-e (e <= MAX_SHIFT) with
    numerators below 2^24 (exact in float32), or all zero."""
    for shift in range(MAX_SHIFT + 1):
        scaled = np.ldexp(weights, shift)
        if np.all(scaled == np.floor(scaled)):
            break
    else:
        return None
    if not np.all(np.abs(scaled) < 2.0 ** 24):
        return None
    n = scaled.astype(np.int64)
    bound = int(np.abs(n).sum())
    if bound == 0:
        return None
    # rank 1 over the integers: the row through the largest numerator, over
    # the gcd of its entries, and each row's multiple of it (an integer, as
    # that row is primitive)
    i, j = np.unravel_index(np.argmax(np.abs(n)), n.shape)
    row = n[i, :] // np.gcd.reduce(np.abs(n[i, :]))
    col = n[:, j] // row[j]
    if not np.array_equal(np.outer(col, row), n):
        col = row = None
    for a in (n, col, row):
        if a is not None:
            a.flags.writeable = False
    return IntegerWeights(n, shift, bound, col, row)


def is_fixed_3x3(weights: np.ndarray) -> bool:
    """Whether the core sums this mask with a dedicated 3 x 3 routine."""
    if weights.shape != (3, 3):
        return False
    pattern = sum(1 << i for i, v in enumerate(weights.flat) if v != 0)
    return pattern in FIXED_PATTERNS


class MaskInfo:
    """A checked mask and what the methods ask of it.

    Attributes
    ----------
    weights : ndarray of float64, read-only, or None
        The mask (None for a description from a shape alone).
    shape : (int, int)
    constant : bool
        Every weight equal (the box method applies).
    taps : int
        How many weights are not zero (the direct sum skips the others).
    fixed : bool
        A 3 x 3 mask with a dedicated routine in the core.
    integer : IntegerWeights or None
        The weights as integers times a power of two (with integer rank-1
        factors where there are), or None; computed on first use.
    choices : dict
        ``method="auto"``'s last choices for this mask, kept by
        :mod:`filterkit._choose`.
    """

    __slots__ = ("given", "weights", "shape", "constant", "taps", "fixed", "_factors",
                 "_integer", "choices")

    def __init__(self, mask: Any) -> None:
        weights = check_mask(mask)
        weights.flags.writeable = False
        self.given = mask  # as given: the rank test's tolerance follows its dtype
        self.weights: Optional[np.ndarray] = weights
        self.shape: Tuple[int, int] = (int(weights.shape[0]), int(weights.shape[1]))
        self.constant = bool(np.all(weights == weights.flat[0]))
        self.taps = int(np.count_nonzero(weights))
        self.fixed = is_fixed_3x3(weights)
        self._factors: Any = _UNKNOWN
        self._integer: Any = _UNKNOWN
        self.choices: Dict[Any, Any] = {}

    @classmethod
    def of_shape(cls, shape: Tuple[int, int]) -> "MaskInfo":
        """A dense mask of this shape whose weights are unknown: not
        constant, not rank 1, every tap non-zero."""
        info = cls.__new__(cls)
        info.given = info.weights = None
        info.shape = (int(shape[0]), int(shape[1]))
        info.constant = False
        info.taps = info.shape[0] * info.shape[1]
        info.fixed = info.shape == (3, 3)
        info._factors = None
        info._integer = None
        info.choices = {}
        return info

    @property
    def factors(self) -> Optional[Tuple[np.ndarray, np.ndarray]]:
        """(column, row) whose outer product is the mask, or None (rank > 1).
        Computed on first use (an SVD)."""
        if self._factors is _UNKNOWN:
            self._factors = separate(self.given)
        return self._factors

    @property
    def integer(self) -> Optional[IntegerWeights]:
        """The weights as integers times 2^-e, or None; computed on first use."""
        if self._integer is _UNKNOWN:
            assert self.weights is not None
            self._integer = integer_weights(self.weights)
        return self._integer

    def correlation_integers(self, flip: bool) -> Optional[IntegerWeights]:
        """:attr:`integer` mirrored on both axes for a convolution."""
        iw = self.integer
        if iw is None or not flip:
            return iw
        return iw._replace(numerators=iw.numerators[::-1, ::-1],
                           col=None if iw.col is None else iw.col[::-1],
                           row=None if iw.row is None else iw.row[::-1])

    def correlation_weights(self, flip: bool) -> np.ndarray:
        """The weights to correlate with: mirrored on both axes for a
        convolution (``f'(x, y) = sum_ij f(x - i, y - j) g(i, j)``)."""
        assert self.weights is not None
        return self.weights[::-1, ::-1] if flip else self.weights

    def correlation_factors(self, flip: bool) -> Tuple[np.ndarray, np.ndarray]:
        """The rank-1 factors to correlate with (mirrored for a convolution):
        for integer weights the integer factors (the column times 2^-e), so
        that the float path's products are exact as the integer path's
        are (a binomial mask's factors by :func:`separate` are not dyadic)."""
        factors = self.factors
        assert factors is not None
        iw = self.integer if self.weights is not None else None
        if iw is not None and iw.col is not None:
            factors = (np.ldexp(iw.col.astype(np.float64), -iw.shift), iw.row.astype(np.float64))
        col, row = factors
        return (col[::-1], row[::-1]) if flip else (col, row)


@functools.lru_cache(maxsize=64)
def _described(data: bytes, dtype: str, shape: Tuple[int, ...]) -> MaskInfo:
    return MaskInfo(np.frombuffer(data, dtype=np.dtype(dtype)).reshape(shape))


def describe_mask(mask: Any) -> MaskInfo:
    """The mask checked and described, remembered by its bytes for the last
    64 masks: a filter called again with one mask (on many images, tiles or
    chunks) skips the checks, the tap count and the rank test."""
    m = np.asarray(mask)
    if m.size > 4096 or m.dtype.kind not in "uif" or m.ndim != 2:
        return MaskInfo(mask)  # refused by check_mask, or too large to key on
    return _described(m.tobytes(), m.dtype.str, m.shape)

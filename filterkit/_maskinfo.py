"""The one description of a mask: everything the methods and the cost
model ask of it, computed once and remembered for the masks seen last."""

from __future__ import annotations

import functools
from typing import Any, Dict, Optional, Tuple

import numpy as np

from ._validate import check_mask
from .masks import separate

#: the 3 x 3 patterns of non-zero weights (bit 3 i + j for weight (i, j))
#: that the core sums with a dedicated 3 x 3 routine: every weight, and the
#: cross of the 4-neighbour Laplace mask
FIXED_PATTERNS = (0x1FF, 0x0BA)

_UNKNOWN = object()


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
    choices : dict
        ``method="auto"``'s last choices for this mask, kept by
        :mod:`filterkit._choose`.
    """

    __slots__ = ("given", "weights", "shape", "constant", "taps", "fixed", "_factors", "choices")

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
        info.choices = {}
        return info

    @property
    def factors(self) -> Optional[Tuple[np.ndarray, np.ndarray]]:
        """(column, row) whose outer product is the mask, or None (rank > 1).
        Computed on first use (an SVD)."""
        if self._factors is _UNKNOWN:
            self._factors = separate(self.given)
        return self._factors

    def correlation_weights(self, flip: bool) -> np.ndarray:
        """The weights to correlate with: mirrored on both axes for a
        convolution (``f'(x, y) = sum_ij f(x - i, y - j) g(i, j)``)."""
        assert self.weights is not None
        return self.weights[::-1, ::-1] if flip else self.weights

    def correlation_factors(self, flip: bool) -> Tuple[np.ndarray, np.ndarray]:
        """The rank-1 factors to correlate with (mirrored for a convolution)."""
        factors = self.factors
        assert factors is not None
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

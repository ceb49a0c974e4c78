"""filterkit.kernels.separate."""

from __future__ import annotations

import numpy as np
import pytest

from filterkit.kernels import separate


def test_sobel_separates_into_integer_factors():
    col, row = separate([[1, 0, -1], [2, 0, -2], [1, 0, -1]])
    np.testing.assert_array_equal(col, [1, 2, 1])
    np.testing.assert_array_equal(row, [1, 0, -1])


@pytest.mark.parametrize("shape", [(3, 3), (5, 9), (1, 7), (7, 1), (21, 21)])
def test_outer_product_reconstructs_the_mask(shape):
    rng = np.random.default_rng(0)
    mask = np.outer(rng.standard_normal(shape[0]), rng.standard_normal(shape[1]))
    col, row = separate(mask)
    np.testing.assert_allclose(np.outer(col, row), mask, rtol=0, atol=1e-13 * np.abs(mask).max())


def test_float32_rounding_of_a_rank_one_mask_still_separates():
    g = np.exp(-np.arange(-3, 4) ** 2 / 4.5)
    mask = np.outer(g, g).astype(np.float32)
    assert separate(mask) is not None


def test_rank_two_masks_do_not_separate():
    assert separate([[0, 1, 0], [1, -4, 1], [0, 1, 0]]) is None
    assert separate(np.eye(3)) is None


def test_zero_mask_separates_into_zeros():
    col, row = separate(np.zeros((3, 5)))
    assert col.shape == (3,) and row.shape == (5,)
    assert not col.any() and not row.any()


def test_bad_rtol():
    with pytest.raises(ValueError, match=r"`rtol` must be a number in \[0, 1\); got 2"):
        separate(np.ones((3, 3)), rtol=2)

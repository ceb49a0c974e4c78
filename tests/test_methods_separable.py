"""method="separable" (methods/separable.py): a rank-1 mask as a column
pass and a row pass; masks of higher rank are refused.

Oracles: the naive numpy.pad oracle of oracle.py in float64 and
filterkit's own method="direct"; tolerances from oracle.error_bound with
the passes' taps.
"""

from __future__ import annotations

import numpy as np
import pytest

import filterkit
from oracle import MODES, error_bound, naive_convolve, random_image



class TestSeparable:
    @pytest.mark.parametrize("mode", MODES + ["valid"])
    @pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
    def test_separable_equals_direct(self, mode, dtype):
        rng = np.random.default_rng(10)
        image = random_image(rng, (45, 77), dtype)
        mask = np.outer(rng.standard_normal(7), rng.standard_normal(5))
        direct = filterkit.convolve(image, mask, mode=mode, method="direct")
        separable = filterkit.convolve(image, mask, mode=mode, method="separable")
        oracle = naive_convolve(image, mask, mode=mode)
        tol = error_bound(mask, image, taps=7 + 5, dtype=direct.dtype) + error_bound(mask, image, dtype=direct.dtype)
        np.testing.assert_allclose(separable, oracle, rtol=0, atol=tol)
        np.testing.assert_allclose(direct, oracle, rtol=0, atol=tol)

    @pytest.mark.parametrize("mode", MODES + ["valid"])
    @pytest.mark.parametrize("row", [
        [1.0, 4.0, 6.0, 4.0, 1.0],                 # symmetric: mirrored taps added first
        [1.0, 2.0, 0.0, -2.0, -1.0],               # antisymmetric: subtracted first
        [0.25, 0.5, 0.25],
        [1.0, 0.0, -1.0],
        [0.1, 0.2, 0.3, 0.4, 0.3, 0.2, 0.1, 0.05, 0.1],  # not symmetric: plain taps
    ])
    def test_separable_with_symmetric_rows(self, mode, row):
        rng = np.random.default_rng(18)
        image = rng.standard_normal((37, 83)).astype(np.float32)
        col = np.array([1.0, 3.0, 1.0])
        mask = np.outer(col, row)
        got = filterkit.convolve(image, mask, mode=mode, method="separable")
        want = naive_convolve(image, mask, mode=mode)
        tol = error_bound(mask, image, taps=len(col) + len(row) + 1, dtype=np.float32)
        np.testing.assert_allclose(got, want, rtol=0, atol=tol)

    def test_separable_refuses_a_mask_of_higher_rank(self):
        laplace = [[0, 1, 0], [1, -4, 1], [0, 1, 0]]
        with pytest.raises(ValueError, match=r"`mask` must be rank 1 .*method='separable'; got a 3x3 mask"):
            filterkit.convolve(np.ones((5, 5)), laplace, method="separable")


def test_separable_refuses_a_rank_two_mask():
    # the message names `mask` and method='separable', as for the Laplace mask above
    mask = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    with pytest.raises(ValueError, match=r"`mask` must be rank 1 .*method='separable'"):
        filterkit.convolve(np.ones((20, 20)), mask, method="separable")


def test_float32_rank1_mask_is_separable():
    # the rank test's tolerance follows the mask's own dtype: a float32
    # Gaussian outer product (rounded entries, rank 1 to float32 precision)
    # is separable for method="separable" and for the cost model
    x = np.exp(-np.arange(-2, 3) ** 2 / 2.0)
    g = (x / x.sum()).astype(np.float32)
    mask = np.outer(g, g)
    image = np.random.default_rng(5).random((30, 40)).astype(np.float32)
    got = filterkit.convolve(image, mask, method="separable")
    want = naive_convolve(image, mask.astype(np.float64), mode="reflect")
    np.testing.assert_allclose(got, want, rtol=0, atol=error_bound(mask, image, dtype=np.float32))
    assert "separable" in filterkit.choose_method((2048, 2048), mask=mask).costs

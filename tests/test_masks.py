"""filterkit.masks: separate, and the masks against independent oracles.

Oracles: the lecture's tables typed in, scipy.special / scipy.stats /
scipy.integrate for the Gaussian, OpenCV and scipy.ndimage for the
point-sampled Gaussian, scipy.signal.convolve2d for compose.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.integrate
import scipy.ndimage as ndi
import scipy.signal
import scipy.special
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

import filterkit
from filterkit import masks as fkm
from filterkit.masks import separate
from oracle import error_bound


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


# ---------------------------------------------------------------------------
# the masks
# ---------------------------------------------------------------------------

LECTURE_GAUSSIAN_5x5 = np.array([[1, 4, 7, 4, 1],
                                 [4, 16, 26, 16, 4],
                                 [7, 26, 41, 26, 7],
                                 [4, 16, 26, 16, 4],
                                 [1, 4, 7, 4, 1]], dtype=float)  # times 1/273
LECTURE_GAUSSIAN_3x3 = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=float)  # times 1/16
EPS = np.finfo(np.float64).eps


def gaussian_1d_integral(n, sigma):
    """The normal distribution's mass over each pixel [x - 1/2, x + 1/2], normalised."""
    r = n // 2
    x = np.arange(-r, r + 1, dtype=np.float64)
    g = scipy.stats.norm.cdf(x + 0.5, scale=sigma) - scipy.stats.norm.cdf(x - 0.5, scale=sigma)
    return g / g.sum()


def gaussian_1d_point(n, sigma):
    r = n // 2
    x = np.arange(-r, r + 1, dtype=np.float64)
    g = scipy.stats.norm.pdf(x, scale=sigma)
    return g / g.sum()


def odd_shape(max_radius=3):
    return st.tuples(st.integers(0, max_radius), st.integers(0, max_radius)).map(
        lambda t: (2 * t[0] + 1, 2 * t[1] + 1))


class TestMeanMask:
    @pytest.mark.parametrize("size", [1, 3, 5, 11, 21, (1, 5), (5, 1), (3, 7), [7, 3]])
    def test_every_weight_is_one_over_h_times_w(self, size):
        h, w = (size, size) if isinstance(size, int) else size
        mask = fkm.mean(size)
        assert mask.dtype == np.float64 and mask.shape == (h, w)
        np.testing.assert_array_equal(mask, np.full((h, w), 1.0 / (h * w)))

    @pytest.mark.parametrize("size", [3, 5, 11, 21])
    def test_the_lectures_sizes_sum_to_one(self, size):
        mask = fkm.mean(size)
        assert mask.shape == (size, size)
        # size^2 additions of a value rounded once: sum within size^2 eps of 1
        assert abs(mask.sum() - 1.0) <= size * size * EPS

    def test_default_is_three_by_three(self):
        np.testing.assert_array_equal(fkm.mean() * 9, np.ones((3, 3)))

    @pytest.mark.parametrize("size, exc, match", [
        (4, ValueError, r"`size` must be odd and positive \(1, 3, 5, \.\.\.\) so that the mask has a centre pixel; got 4\."),
        (0, ValueError, r"`size` must be odd and positive .*; got 0\."),
        (-3, ValueError, r"`size` must be odd and positive .*; got -3\."),
        ((3, 2), ValueError, r"`size` must be odd and positive .*; got \(3, 2\)\."),
        ("x", TypeError, r"`size` must be an odd positive integer or a pair \(height, width\) of them; got 'x' \(str\)\."),
        (3.0, TypeError, r"`size` must be an odd positive integer or a pair .*; got 3\.0 \(float\)\."),
        (True, TypeError, r"`size` must be an odd positive integer or a pair .*; got True \(bool\)\."),
        ((3, 5, 7), TypeError, r"`size` must be an odd positive integer or a pair .*; got \(3, 5, 7\) \(tuple\)\."),
        ((3, 5.0), TypeError, r"`size` must be an odd positive integer or a pair .*; got \(3, 5\.0\) \(tuple\)\."),
    ])
    def test_bad_size(self, size, exc, match):
        with pytest.raises(exc, match=match):
            fkm.mean(size)


class TestBinomialMask:
    def test_three_is_the_lectures_three_by_three_gaussian(self):
        mask = fkm.binomial(3)
        assert mask.dtype == np.float64
        np.testing.assert_array_equal(mask * 16, LECTURE_GAUSSIAN_3x3)
        np.testing.assert_array_equal(fkm.binomial(), mask)  # the default

    @pytest.mark.parametrize("n", [1, 3, 5, 7, 11, 21])
    def test_rows_are_pascals_triangle_over_a_power_of_two(self, n):
        # dyadic weights: every step is exact, so equality is exact
        row = np.array([scipy.special.comb(n - 1, k, exact=True) for k in range(n)], dtype=float) / 2.0 ** (n - 1)
        np.testing.assert_array_equal(fkm.binomial(n), np.outer(row, row))

    @pytest.mark.parametrize("n", [3, 5, 9, 15])
    def test_variance_is_n_minus_one_over_four(self, n):
        # B(n - 1, 1/2) has variance (n - 1) / 4 on each axis
        mask = fkm.binomial(n)
        y, x = np.mgrid[-(n // 2):n // 2 + 1, -(n // 2):n // 2 + 1]
        assert (mask * x ** 2).sum() == pytest.approx((n - 1) / 4, rel=1e-14)
        assert (mask * y ** 2).sum() == pytest.approx((n - 1) / 4, rel=1e-14)

    def test_larger_binomials_are_repeated_three_by_three(self):
        b3 = fkm.binomial(3)
        np.testing.assert_array_equal(fkm.binomial(5), scipy.signal.convolve2d(b3, b3, mode="full"))
        np.testing.assert_array_equal(fkm.binomial(7), fkm.compose(b3, b3, b3))

    @pytest.mark.parametrize("n, exc, match", [
        (4, ValueError, r"`n` must be odd and positive .*; got 4\."),
        (0, ValueError, r"`n` must be odd and positive .*; got 0\."),
        ((3, 3), TypeError, r"`n` must be an odd positive integer; got \(3, 3\) \(tuple\)\."),
        ("3", TypeError, r"`n` must be an odd positive integer or a pair .*; got '3' \(str\)\."),
    ])
    def test_bad_n(self, n, exc, match):
        with pytest.raises(exc, match=match):
            fkm.binomial(n)


class TestGaussianMask:
    def test_five_by_five_sigma_one_is_within_one_of_the_lectures_table(self):
        mask = fkm.gaussian(5, sigma=1.0)
        assert mask.shape == (5, 5) and mask.dtype == np.float64
        assert np.all(np.abs(mask * 273 - LECTURE_GAUSSIAN_5x5) <= 1.0)
        # and the table is not matched by accident: the centre is 41/273
        assert mask[2, 2] * 273 == pytest.approx(41, abs=0.1)

    @pytest.mark.parametrize("size, sigma", [(5, 1.0), (3, 0.5), (7, 1.0), (11, 5.0), (9, 2.5), (1, 1.0),
                                             ((5, 9), (1.0, 2.0)), ((11, 3), (3.0, 0.6))])
    def test_integral_sampling_is_the_normal_mass_over_each_pixel(self, size, sigma):
        h, w = (size, size) if isinstance(size, int) else size
        sy, sx = (sigma, sigma) if np.isscalar(sigma) else sigma
        want = np.outer(gaussian_1d_integral(h, sy), gaussian_1d_integral(w, sx))
        got = fkm.gaussian(size, sigma=sigma)
        # two independent float64 evaluations of erf differences: a few eps
        # relative to the largest weight (cancellation in the cdf difference
        # costs at most a factor ~ 1 / weight, which the tails keep small)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
        np.testing.assert_array_equal(fkm.gaussian(size, sigma=sigma, sampling="integral"), got)

    def test_integral_sampling_matches_numerical_integration(self):
        sigma, r = 1.3, 4
        pdf = lambda t: math.exp(-0.5 * (t / sigma) ** 2)
        mass = np.array([scipy.integrate.quad(pdf, x - 0.5, x + 0.5, epsabs=1e-15)[0] for x in range(-r, r + 1)])
        want = np.outer(mass, mass) / mass.sum() ** 2
        np.testing.assert_allclose(fkm.gaussian(2 * r + 1, sigma=sigma), want, rtol=1e-10, atol=0)

    @pytest.mark.parametrize("ksize, sigma", [(3, 0.8), (5, 1.0), (7, 1.5), (9, 2.0), (11, 5.0), (15, 2.2)])
    def test_point_sampling_matches_opencv(self, ksize, sigma):
        cv2 = pytest.importorskip("cv2")
        g = cv2.getGaussianKernel(ksize, sigma)  # float64 column, normalised to sum 1
        # both sides evaluate exp and normalise in float64: a few ulps apart
        np.testing.assert_allclose(fkm.gaussian(ksize, sigma=sigma, sampling="point"), np.outer(g, g),
                                   rtol=1e-12, atol=1e-16)

    @pytest.mark.parametrize("sigma", [0.5, 1.0, 1.7, 3.0])
    def test_point_sampling_matches_scipy_gaussian_filter_impulse_response(self, sigma):
        r = int(4 * sigma + 0.5)  # scipy's radius for truncate=4
        impulse = np.zeros(2 * r + 21)
        impulse[r + 10] = 1.0
        response = ndi.gaussian_filter1d(impulse, sigma, truncate=4.0, mode="constant")[10:10 + 2 * r + 1]
        col, row = fkm.gaussian_factors(2 * r + 1, sigma=sigma, sampling="point")
        np.testing.assert_allclose(col, response, rtol=1e-12, atol=1e-17)
        np.testing.assert_allclose(row, response, rtol=1e-12, atol=1e-17)
        np.testing.assert_allclose(col, gaussian_1d_point(2 * r + 1, sigma), rtol=1e-12, atol=1e-17)

    @pytest.mark.parametrize("sigma", [1.5, 2.0, 3.0])
    def test_integral_adds_one_twelfth_to_the_variance(self, sigma):
        # integrating over a unit pixel convolves with a unit box (variance
        # 1/12); for sigma >= 1.5 the sampled variances equal sigma^2 + 1/12
        # and sigma^2 up to aliasing ~ exp(-2 pi^2 sigma^2) < 1e-19, and the
        # 10-sigma truncation drops < 1e-22 of the mass
        n = 2 * math.ceil(10 * sigma) + 1
        x = np.arange(n) - n // 2
        integral = fkm.gaussian((1, n), sigma=sigma)[0]
        point = fkm.gaussian((1, n), sigma=sigma, sampling="point")[0]
        assert (integral * x ** 2).sum() == pytest.approx(sigma ** 2 + 1 / 12, abs=1e-12)
        assert (point * x ** 2).sum() == pytest.approx(sigma ** 2, abs=1e-12)

    @pytest.mark.parametrize("sigma, size", [(1.0, 7), (5.0, 31), (0.5, 5), (1.2, 9), (2.0, 13), (0.1, 3),
                                             ((1.0, 2.0), (7, 13))])
    def test_default_size_is_two_ceil_three_sigma_plus_one(self, sigma, size):
        shape = size if isinstance(size, tuple) else (size, size)
        assert fkm.gaussian(sigma=sigma).shape == shape
        if not isinstance(sigma, tuple):
            assert fkm.gaussian_size(sigma) == size

    @pytest.mark.parametrize("sampling", ["integral", "point"])
    @pytest.mark.parametrize("size, sigma", [(5, 1.0), (11, 5.0), ((3, 9), (0.7, 2.0)), (21, 3.0)])
    def test_sums_to_one_and_is_symmetric(self, sampling, size, sigma):
        mask = fkm.gaussian(size, sigma=sigma, sampling=sampling)
        assert abs(mask.sum() - 1.0) <= mask.size * EPS
        np.testing.assert_array_equal(mask, mask[::-1, :])
        np.testing.assert_array_equal(mask, mask[:, ::-1])
        assert np.all(mask > 0)
        # decreasing away from the centre along each axis
        c = mask[:, mask.shape[1] // 2]
        assert np.all(np.diff(c[:len(c) // 2 + 1]) > 0) or len(c) == 1

    def test_factors_outer_product_is_the_mask(self):
        for size, sigma, sampling in [(5, 1.0, "integral"), ((7, 11), (1.0, 2.0), "point"), (None, 1.5, "integral")]:
            col, row = fkm.gaussian_factors(size, sigma=sigma, sampling=sampling)
            mask = fkm.gaussian(size, sigma=sigma, sampling=sampling)
            assert col.ndim == 1 and row.ndim == 1
            assert (col.size, row.size) == mask.shape
            np.testing.assert_array_equal(np.outer(col, row), mask)
            assert abs(col.sum() - 1) <= col.size * EPS and abs(row.sum() - 1) <= row.size * EPS

    def test_factors_use_sigma_y_for_the_column(self):
        col, row = fkm.gaussian_factors((5, 5), sigma=(0.5, 2.0))
        np.testing.assert_allclose(col, gaussian_1d_integral(5, 0.5), rtol=1e-12)
        np.testing.assert_allclose(row, gaussian_1d_integral(5, 2.0), rtol=1e-12)

    @pytest.mark.parametrize("sigma, exc, match", [
        (0, ValueError, r"`sigma` must be positive and finite; got 0\."),
        (-1.0, ValueError, r"`sigma` must be positive and finite; got -1\.0\."),
        (float("nan"), ValueError, r"`sigma` must be positive and finite; got nan\."),
        (float("inf"), ValueError, r"`sigma` must be positive and finite; got inf\."),
        ((1.0, 0.0), ValueError, r"`sigma` must be positive and finite; got \(1\.0, 0\.0\)\."),
        ("1", TypeError, r"`sigma` must be a positive number or a pair \(sigma_y, sigma_x\) of them; got '1' \(str\)\."),
        (True, TypeError, r"`sigma` must be a positive number or a pair .*; got True \(bool\)\."),
        ((1, 2, 3), TypeError, r"`sigma` must be a positive number or a pair .*; got \(1, 2, 3\) \(tuple\)\."),
        (None, TypeError, r"`sigma` must be a positive number or a pair .*; got None \(NoneType\)\."),
    ])
    def test_bad_sigma(self, sigma, exc, match):
        with pytest.raises(exc, match=match):
            fkm.gaussian(5, sigma=sigma)
        with pytest.raises(exc, match=match):
            fkm.gaussian_factors(5, sigma=sigma)

    @pytest.mark.parametrize("sampling, got", [("exact", r"'exact'"), ("Point", r"'Point'"), (None, r"None")])
    def test_bad_sampling(self, sampling, got):
        with pytest.raises(ValueError, match=r"`sampling` must be 'integral' or 'point'; got " + got + r"\."):
            fkm.gaussian(5, sigma=1.0, sampling=sampling)

    def test_bad_size(self):
        with pytest.raises(ValueError, match=r"`size` must be odd and positive .*; got 4\."):
            fkm.gaussian(4, sigma=1.0)
        with pytest.raises(TypeError, match=r"`size` must be an odd positive integer or a pair .*; got 5\.0 \(float\)\."):
            fkm.gaussian(5.0, sigma=1.0)


class TestDerivativeMasks:
    def test_sobel_masks_are_the_lectures(self):
        sx, sy = fkm.sobel_x(), fkm.sobel_y()
        assert sx.dtype == np.float64 and sy.dtype == np.float64
        np.testing.assert_array_equal(sx, [[1, 0, -1], [2, 0, -2], [1, 0, -1]])
        np.testing.assert_array_equal(sy, [[1, 2, 1], [0, 0, 0], [-1, -2, -1]])

    def test_sobel_masks_are_fresh_arrays(self):
        a = fkm.sobel_y()
        a[0, 0] = 99.0
        assert fkm.sobel_y()[0, 0] == 1.0 and fkm.sobel_x()[0, 0] == 1.0

    def test_laplace_masks_are_the_lectures(self):
        np.testing.assert_array_equal(fkm.laplace(4), [[0, 1, 0], [1, -4, 1], [0, 1, 0]])
        np.testing.assert_array_equal(fkm.laplace(8), [[1, 1, 1], [1, -8, 1], [1, 1, 1]])
        np.testing.assert_array_equal(fkm.laplace(), fkm.laplace(4))
        assert fkm.laplace(8).dtype == np.float64

    @pytest.mark.parametrize("neighbours, got", [(6, "6"), (0, "0"), (True, "True"), ("4", "'4'"), (4.5, r"4\.5")])
    def test_bad_neighbours(self, neighbours, got):
        with pytest.raises(ValueError, match=r"`neighbours` must be 4 or 8; got " + got + r"\."):
            fkm.laplace(neighbours)


class TestCompose:
    @pytest.mark.parametrize("shapes", [[(3, 3), (3, 3)], [(1, 5), (7, 1)], [(5, 3), (3, 7)], [(1, 1), (5, 5)],
                                        [(3, 5), (1, 3), (5, 1)]])
    def test_is_the_full_convolution_of_the_masks(self, shapes):
        rng = np.random.default_rng(len(shapes) * 100 + shapes[0][0])
        masks = [rng.standard_normal(s) for s in shapes]
        want = masks[0]
        for m in masks[1:]:
            want = scipy.signal.convolve2d(want, m, mode="full")
        got = fkm.compose(*masks)
        assert got.dtype == np.float64
        assert got.shape == (sum(s[0] for s in shapes) - len(shapes) + 1, sum(s[1] for s in shapes) - len(shapes) + 1)
        scale = np.prod([np.abs(m).sum() for m in masks])
        np.testing.assert_allclose(got, want, rtol=0, atol=sum(m.size for m in masks) * 4 * EPS * scale)

    def test_is_commutative(self):
        rng = np.random.default_rng(81)
        a, b, c = rng.standard_normal((3, 5)), rng.standard_normal((5, 1)), rng.standard_normal((3, 3))
        ref = fkm.compose(a, b, c)
        tol = 64 * EPS * np.abs(a).sum() * np.abs(b).sum() * np.abs(c).sum()
        for order in [(b, a, c), (c, b, a), (a, c, b)]:
            np.testing.assert_allclose(fkm.compose(*order), ref, rtol=0, atol=tol)

    def test_lecture_examples(self):
        # a derivative row and a smoothing column make the Sobel mask; two
        # boxes make a triangle; 1-D binomials make the 2-D one
        np.testing.assert_array_equal(fkm.compose([[1], [2], [1]], [[1, 0, -1]]), fkm.sobel_x())
        np.testing.assert_array_equal(fkm.compose(np.ones((1, 3)), np.ones((1, 3))), [[1, 2, 3, 2, 1]])
        np.testing.assert_array_equal(fkm.compose([[1, 2, 1]], [[1], [2], [1]]), LECTURE_GAUSSIAN_3x3)
        np.testing.assert_array_equal(fkm.compose(fkm.mean(3), fkm.mean(3)) * 81,
                                      scipy.signal.convolve2d(np.ones((3, 3)), np.ones((3, 3))))

    def test_single_mask_is_returned_as_float64(self):
        got = fkm.compose([[1, 2, 3]])
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, [[1.0, 2.0, 3.0]])

    def test_without_masks(self):
        with pytest.raises(TypeError, match=r"`masks` must be at least one mask; got none\."):
            fkm.compose()

    def test_even_mask_is_refused(self):
        with pytest.raises(ValueError, match=r"`mask` must be odd in both height and width .*; got shape \(2, 2\)\."):
            fkm.compose(np.ones((3, 3)), np.ones((2, 2)))

    @settings(max_examples=40, deadline=None)
    @given(shape_a=odd_shape(), shape_b=odd_shape(),
           image_shape=st.tuples(st.integers(1, 16), st.integers(1, 24)),
           seed=st.integers(0, 2**32 - 1))
    def test_convolving_in_turn_equals_convolving_with_the_composite_wrap(self, shape_a, shape_b, image_shape, seed):
        # with periodic borders convolution is associative everywhere, even
        # for masks larger than the image
        rng = np.random.default_rng(seed)
        a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
        f = rng.standard_normal(image_shape)
        two = filterkit.convolve(filterkit.convolve(f, a, mode="wrap"), b, mode="wrap")
        one = filterkit.convolve(f, fkm.compose(a, b), mode="wrap")
        np.testing.assert_allclose(two, one, rtol=0, atol=chain_tolerance(a, b, f))

    @pytest.mark.parametrize("mode", ["constant", "nearest", "reflect", "mirror"])
    def test_convolving_in_turn_equals_the_composite_away_from_the_border(self, mode):
        rng = np.random.default_rng(82)
        a, b = rng.standard_normal((3, 5)), rng.standard_normal((5, 3))
        f = rng.standard_normal((40, 60))
        c = fkm.compose(a, b)
        two = filterkit.convolve(filterkit.convolve(f, a, mode=mode), b, mode=mode)
        one = filterkit.convolve(f, c, mode=mode)
        ry, rx = c.shape[0] // 2, c.shape[1] // 2
        np.testing.assert_allclose(two[ry:-ry, rx:-rx], one[ry:-ry, rx:-rx], rtol=0, atol=chain_tolerance(a, b, f))
        # at the border they do differ (the property is only claimed inside)
        if mode in ("constant", "nearest"):
            assert np.abs(two - one).max() > 1e3 * chain_tolerance(a, b, f)

    def test_valid_mode_chain_equals_the_composite_valid(self):
        rng = np.random.default_rng(83)
        a, b = rng.standard_normal((5, 3)), rng.standard_normal((3, 7))
        f = rng.standard_normal((40, 60))
        two = filterkit.convolve(filterkit.convolve(f, a, mode="valid"), b, mode="valid")
        one = filterkit.convolve(f, fkm.compose(a, b), mode="valid")
        assert two.shape == one.shape == (40 - 6, 60 - 8)
        np.testing.assert_allclose(two, one, rtol=0, atol=chain_tolerance(a, b, f))


def chain_tolerance(a, b, f):
    """Rounding of the two-pass chain and of the one-pass composite (float64).

    First pass: error e1 <= error_bound(a, f), amplified by sum|b| in the
    second pass, which adds error_bound(b, g) with |g| <= sum|a| max|f|.
    The composite's own weights are rounded (the float64 full convolution,
    error_bound(b, a) per weight) and its pass adds error_bound(c, f).
    """
    c = np.asarray(scipy.signal.convolve2d(a, b, mode="full"))
    g_max = np.abs(a).sum() * max(np.abs(f).max(), 1.0)
    first = np.abs(b).sum() * error_bound(a, f, dtype=np.float64)
    second = error_bound(b, np.array([g_max]), dtype=np.float64)
    weights = c.size * error_bound(b, a, dtype=np.float64) * max(np.abs(f).max(), 1.0)
    return first + second + weights + error_bound(c, f, dtype=np.float64)


class TestSeparateFilterMasks:
    def test_gaussian_separates_and_reconstructs(self):
        mask = fkm.gaussian(7, sigma=1.5)
        factors = separate(mask)
        assert factors is not None
        col, row = factors
        np.testing.assert_allclose(np.outer(col, row), mask, rtol=0, atol=4 * EPS * mask.max())

    def test_anisotropic_gaussian_separates(self):
        mask = fkm.gaussian((5, 11), sigma=(0.8, 2.5), sampling="point")
        col, row = separate(mask)
        np.testing.assert_allclose(np.outer(col, row), mask, rtol=0, atol=4 * EPS * mask.max())

    @pytest.mark.parametrize("n", [3, 5, 9])
    def test_binomial_separates_into_pascal_rows_up_to_scale(self, n):
        col, row = separate(fkm.binomial(n))
        pascal = np.array([scipy.special.comb(n - 1, k, exact=True) for k in range(n)], dtype=float)
        # the column is a column of the (dyadic) mask: exact; the row is
        # divided by the largest entry (not a power of two): a few eps
        np.testing.assert_array_equal(col / col[0], pascal)
        np.testing.assert_allclose(row / row[0], pascal, rtol=4 * EPS, atol=0)
        np.testing.assert_allclose(np.outer(col, row), fkm.binomial(n), rtol=4 * EPS, atol=0)

    def test_mean_sobel_and_laplace(self):
        col, row = separate(fkm.mean((3, 5)))
        np.testing.assert_allclose(np.outer(col, row), fkm.mean((3, 5)), rtol=0, atol=EPS)
        assert separate(fkm.sobel_y()) is not None
        assert separate(fkm.laplace(8)) is None

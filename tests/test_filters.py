"""The lecture's filters (mean, gaussian, sobel_x/y, sobel, gradient, laplace)
of _filters.py, and their size limits.

Oracles, none of which imports filterkit: scipy.ndimage in float64
(uniform_filter, gaussian_filter, sobel, laplace), scipy.signal.convolve2d,
OpenCV, the naive numpy.pad oracle of oracle.py (needed where scipy's
'reflect' is wrong for windows larger than the image), closed-form values
(ramps, quadratics, trigonometric identities) and numpy's arctan2 / hypot.
The masks are typed in again here from the lecture rather than taken from
filterkit.masks, so a wrong mask there cannot pass.

Tolerances come from oracle.error_bound (the rounding-error bound of an
n-term dot product in the compute type) unless a comment derives another.
"""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest
import scipy.ndimage as ndi
import scipy.signal
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import filterkit
from filterkit import masks
from helpers import same_for_every_thread_count
from oracle import (MODES, SOBEL_X, SOBEL_Y, angle_error, compute_dtype, error_bound,
                    naive_convolve, random_image, seed)

MEAN_DTYPES = [np.uint8, np.uint16, np.int16, np.float32, np.float64]
MEAN_SIZES = [1, 3, 5, 11, 21, (1, 5), (5, 1), (3, 7)]

# the lecture's masks, typed in independently of filterkit.masks (Sobel's in oracle.py)
LAPLACE = {4: np.array([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]),
           8: np.array([[1.0, 1.0, 1.0], [1.0, -8.0, 1.0], [1.0, 1.0, 1.0]])}

# the documented accuracy of the float32 direction (a vectorised polynomial)
DIRECTION_TOL_F32 = 5e-7
# float64 directions come from the C library's atan2 (correctly rounded to
# within an ulp or two of pi, i.e. ~1e-15): 1e-12 leaves room but would
# catch any float32 intermediate (~1e-7)
DIRECTION_TOL_F64 = 1e-12
U32, U64 = 2.0 ** -24, 2.0 ** -53


def box(size):
    h, w = (size, size) if isinstance(size, int) else size
    return np.ones((h, w)) / (h * w)


def strength_tol(image, dtype):
    """|hypot(fx, fy) - hypot(fx', fy')| <= |fx - fx'| + |fy - fy'| (triangle
    inequality), each bounded by error_bound; plus the rounding of the
    squares, their sum and the square root (3 u relative, 4 u with margin)."""
    eb = error_bound(SOBEL_X, image, dtype=dtype)
    u = U32 if np.dtype(dtype) == np.float32 else U64
    return 2 * eb + 4 * u * 4 * math.sqrt(2) * max(float(np.abs(np.asarray(image, np.float64)).max()), 1.0)


# ---------------------------------------------------------------------------
# mean
# ---------------------------------------------------------------------------

class TestMean:
    @pytest.mark.parametrize("mode", MODES)
    @pytest.mark.parametrize("dtype", MEAN_DTYPES)
    @pytest.mark.parametrize("size", MEAN_SIZES)
    def test_mean_matches_scipy_uniform_filter(self, mode, dtype, size):
        rng = np.random.default_rng(seed(mode, np.dtype(dtype).str, str(size)))
        image = random_image(rng, (40, 60), dtype, scale=100)
        got = filterkit.mean(image, size, mode=mode, cval=-3.25)
        want = ndi.uniform_filter(image.astype(np.float64), size, mode=mode, cval=-3.25)
        assert got.dtype == compute_dtype(dtype)
        assert got.shape == image.shape
        np.testing.assert_allclose(got, want, rtol=0, atol=error_bound(box(size), image, dtype=got.dtype))

    @pytest.mark.parametrize("cpu", ["auto", "avx2", "portable"])
    @pytest.mark.parametrize("mode", MODES + ["valid"])
    @pytest.mark.parametrize("width", [1, 2, 3, 7, 8, 15, 16, 17, 33, 70])
    @pytest.mark.parametrize("kw", [1, 3, 5, 9, 11, 21])
    def test_short_and_wide_windows_every_width_and_row_parity(self, monkeypatch, cpu, mode, width, kw):
        # three-row windows take their own path (rows in pairs, vector
        # horizontal sums for kw == 3 with a scalar tail) and windows wider
        # than 9 a running sum along the row (vectors of 4 or 8 with a scalar
        # tail): every width around the vector lengths, odd and even heights,
        # a strided input, on every kernel path
        monkeypatch.setenv("FILTERKIT_CPU", cpu)
        rng = np.random.default_rng(width * 10 + kw)
        for kh, height in [(3, 1), (3, 2), (3, 5), (3, 6), (7, 9), (7, 12)]:
            if mode == "valid" and (height < kh or width < kw):
                continue
            mask = box((kh, kw))
            image = (rng.standard_normal((height, 2 * width)) * 50)[:, ::2]
            got = filterkit.mean(image, (kh, kw), mode=mode, cval=1.5)
            if mode == "valid":
                want = scipy.signal.convolve2d(image, mask, mode="valid")
            else:
                want = naive_convolve(image, mask, mode=mode, cval=1.5)
            np.testing.assert_allclose(got, want, rtol=0, atol=error_bound(mask, image, dtype=np.float64))
            got32 = filterkit.mean(image.astype(np.float32), (kh, kw), mode=mode, cval=1.5)
            np.testing.assert_allclose(got32, want, rtol=0, atol=error_bound(mask, image, dtype=np.float32))

    def test_three_row_windows_are_the_same_for_any_thread_count(self):
        # rows are summed in pairs from the start of each block of rows, so
        # splitting 1000 rows among threads must not change a bit
        rng = np.random.default_rng(31)
        image = rng.standard_normal((1001, 203)).astype(np.float32) * 1e3
        old = filterkit.get_num_threads()
        try:
            filterkit.set_num_threads(1)
            one = filterkit.mean(image, 3)
            filterkit.set_num_threads(2)
            two = filterkit.mean(image, 3)
        finally:
            filterkit.set_num_threads(old)
        np.testing.assert_array_equal(one, two)

    @pytest.mark.parametrize("kh, kw", [(5, 5), (9, 3), (21, 21), (41, 13), (3, 11)])
    def test_running_sums_are_the_same_for_any_thread_count(self, kh, kw):
        # the column sums restart at offsets that depend on the image height
        # and the mask (equal parts of small images, so that two threads
        # share them), never on the threads: heights around those splits
        rng = np.random.default_rng(kh * 100 + kw)
        old = filterkit.get_num_threads()
        try:
            for height in (64, 127, 256, 300, 513, 1030):
                image = rng.standard_normal((height, 37)) * 1e3
                results = []
                for n in (1, 2, 3):
                    filterkit.set_num_threads(n)
                    results.append(filterkit.mean(image, (kh, kw)))
                    results.append(filterkit.mean(image.astype(np.float32), (kh, kw)))
                for r in results[2:]:
                    np.testing.assert_array_equal(r, results[r.dtype == np.float32])
                # and the sums are right (float64 running sums of 1e3 values:
                # the bound of the direct sum in float32 is far above their drift)
                want = naive_convolve(image, box((kh, kw)), mode="reflect")
                np.testing.assert_allclose(results[0], want, rtol=0,
                                           atol=error_bound(box((kh, kw)), image, dtype=np.float32))
        finally:
            filterkit.set_num_threads(old)

    @pytest.mark.parametrize("mode", MODES + ["valid"])
    def test_uint8_3x3_mean_in_integers_gives_the_float_paths_bits(self, mode, monkeypatch):
        # uint8 in and out, 3 x 3: 16-bit sums and round(s / 9) as
        # (2 s + 9) * 3641 >> 16 on AVX2; the portable kernels sum in
        # floating point and round half to even: the same bits, for every
        # width (16-pixel steps and their tails), height, thread count and
        # cval (an integral cval in [0, 255] stays in integers, others and
        # strided images take the float path)
        rng = np.random.default_rng(303)
        old = filterkit.get_num_threads()
        try:
            for height, width in [(1, 1), (2, 3), (3, 17), (5, 16), (7, 33), (40, 100), (64, 255)]:
                if mode == "valid" and (height < 3 or width < 3):
                    continue
                image = rng.integers(0, 256, (height, width)).astype(np.uint8)
                image[0, 0], image[-1, -1] = 255, 0
                for cval in (0.0, 255.0, 7.0, 7.5, -3.0):
                    kw = dict(mode=mode, cval=cval, output=np.uint8)
                    monkeypatch.setenv("FILTERKIT_CPU", "portable")
                    want = filterkit.mean(image, 3, **kw)
                    monkeypatch.setenv("FILTERKIT_CPU", "auto")
                    for n in (1, 2):
                        filterkit.set_num_threads(n)
                        np.testing.assert_array_equal(filterkit.mean(image, 3, **kw), want)
                    strided = np.zeros((height, 2 * width), np.uint8)
                    strided[:, ::2] = image
                    np.testing.assert_array_equal(filterkit.mean(strided[:, ::2], 3, **kw), want)
                # and against the oracle: the float64 mean rounded half to even
                with np.errstate(invalid="ignore"):
                    exact = np.rint(naive_convolve(image.astype(np.float64), box((3, 3)),
                                                   mode=mode, cval=7.0))
                np.testing.assert_array_equal(filterkit.mean(image, 3, mode=mode, cval=7.0,
                                                             output=np.uint8), exact)
        finally:
            filterkit.set_num_threads(old)

    def test_uint8_3x3_mean_rounds_every_window_sum(self):
        # every window sum s from 0 to 9 * 255, each in a 3 x 3 block of its
        # own: the 'valid' output at each block's corner is round(s / 9)
        # (never a tie: s / 9 is at least 1/18 from a half)
        sums = np.arange(9 * 255 + 1)
        blocks = np.repeat(sums // 9, 9).reshape(-1, 9)
        blocks += np.arange(9)[None, :] < (sums % 9)[:, None]  # s % 9 cells one higher
        image = blocks.reshape(-1, 3, 3).transpose(1, 0, 2).reshape(3, -1).astype(np.uint8)
        assert image.astype(int).reshape(3, -1, 3).sum(axis=(0, 2)).tolist() == sums.tolist()
        got = filterkit.mean(image, 3, mode="valid", output=np.uint8)[0, ::3]
        np.testing.assert_array_equal(got, np.floor(sums / 9 + 0.5).astype(np.uint8))

    def test_size_one_is_the_identity(self):
        rng = np.random.default_rng(1)
        for dtype in (np.uint8, np.int16, np.uint16):
            # integer sums are exact in float64: exactly the image
            image = random_image(rng, (13, 17), dtype, scale=100)
            np.testing.assert_array_equal(filterkit.mean(image, 1), image.astype(np.float32))
        for dtype in (np.float32, np.float64):
            # float running sums may round (not promised exact): the 1-tap bound
            image = random_image(rng, (13, 17), dtype, scale=100)
            np.testing.assert_allclose(filterkit.mean(image, 1), image, rtol=0,
                                       atol=error_bound(np.ones((1, 1)), image, dtype=dtype))

    @pytest.mark.parametrize("mode", MODES)
    @pytest.mark.parametrize("size", [7, 21, (21, 3), (3, 21), (9, 15)])
    @pytest.mark.parametrize("shape", [(5, 7), (1, 1), (2, 9), (9, 2)])
    def test_windows_larger_than_the_image_match_the_naive_oracle(self, mode, size, shape):
        # scipy's uniform_filter is not the oracle here: its 'reflect' reads
        # outside the array once the window is several times the image
        rng = np.random.default_rng(21)
        image = rng.standard_normal(shape) * 10
        got = filterkit.mean(image, size, mode=mode, cval=0.75)
        want = naive_convolve(image, box(size), mode=mode, cval=0.75)
        np.testing.assert_allclose(got, want, rtol=0, atol=error_bound(box(size), image, dtype=np.float64))

    @pytest.mark.parametrize("size", [3, 5, (3, 7), (7, 1), 21])
    @pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
    def test_valid_mode_is_the_interior_of_reflect(self, size, dtype):
        rng = np.random.default_rng(22)
        image = random_image(rng, (40, 60), dtype, scale=100)
        h, w = (size, size) if isinstance(size, int) else size
        got = filterkit.mean(image, size, mode="valid")
        assert got.shape == (40 - h + 1, 60 - w + 1)
        full = filterkit.mean(image, size, mode="reflect")
        tol = error_bound(box(size), image, dtype=got.dtype)
        np.testing.assert_allclose(got, full[h // 2:40 - h // 2, w // 2:60 - w // 2], rtol=0, atol=2 * tol)
        # and against an independent 'valid' convolution
        want = scipy.signal.convolve2d(image.astype(np.float64), box(size), mode="valid")
        np.testing.assert_allclose(got, want, rtol=0, atol=tol)

    @pytest.mark.parametrize("mode", MODES)
    @pytest.mark.parametrize("size", [3, 5, (3, 7), 11])
    @pytest.mark.parametrize("in_dtype", [np.uint8, np.float32, np.float64])
    def test_uint8_output_is_rounded_and_clipped(self, mode, size, in_dtype):
        rng = np.random.default_rng(23)
        if np.dtype(in_dtype).kind == "f":
            image = rng.uniform(-40.0, 300.0, size=(40, 60)).astype(in_dtype)  # clips on both sides
        else:
            image = rng.integers(0, 256, size=(40, 60)).astype(in_dtype)
        exact = naive_convolve(image, box(size), mode=mode, cval=280.0)
        want = np.clip(np.rint(exact), 0, 255)
        got = filterkit.mean(image, size, mode=mode, cval=280.0, output=np.uint8)
        assert got.dtype == np.uint8
        # near a .5 tie the computed mean may round the other way: the compute
        # error is at most one float32 rounding of values <= 300 (1.8e-5), so
        # 1e-4 excludes every pixel that may legitimately differ
        near_tie = np.abs(np.abs(exact - np.floor(exact)) - 0.5) < 1e-4
        assert (~near_tie).sum() > 0.99 * near_tie.size
        np.testing.assert_array_equal(got[~near_tie], want[~near_tie])
        assert np.all(np.abs(got[near_tie].astype(int) - exact[near_tie]) <= 0.5 + 1e-4)

    def test_int16_output_saturates(self):
        rng = np.random.default_rng(24)
        image = rng.uniform(-1e5, 1e5, size=(30, 50))  # ~9% of the 3x3 means leave int16's range
        exact = ndi.uniform_filter(image, 3, mode="nearest")
        got = filterkit.mean(image, 3, mode="nearest", output=np.int16)
        near_tie = np.abs(np.abs(exact - np.floor(exact)) - 0.5) < 1e-4
        want = np.clip(np.rint(exact), -32768, 32767)
        assert got.dtype == np.int16
        assert np.any(want == 32767) and np.any(want == -32768)
        np.testing.assert_array_equal(got[~near_tie], want[~near_tie])

    def test_output_array_is_written_in_place_and_returned(self):
        rng = np.random.default_rng(25)
        image = rng.integers(0, 256, size=(20, 30)).astype(np.uint8)
        out = np.full((20, 30), np.nan)
        result = filterkit.mean(image, 5, output=out)
        assert result is out
        # float64 output: uint8 sums are exact, only the division rounds
        np.testing.assert_allclose(out, ndi.uniform_filter(image.astype(np.float64), 5), rtol=0,
                                   atol=error_bound(box(5), image, dtype=np.float64))

    def test_float64_output_dtype_computes_in_float64(self):
        image = np.array([[16777217, 16777217, 16777217]], dtype=np.int32)  # 2**24 + 1
        assert filterkit.mean(image, (1, 3), output=np.float64)[0, 1] == 16777217
        assert filterkit.mean(image, (1, 3)).dtype == np.float32

    @pytest.mark.parametrize("shape, size, mode", [
        ((3000, 8), 3, "reflect"), ((3000, 8), 21, "reflect"), ((3000, 8), 21, "constant"),
        ((3000, 8), 11, "wrap"), ((8, 3000), 3, "reflect"), ((8, 3000), 21, "nearest"),
    ])
    def test_running_sums_do_not_drift_on_long_images(self, shape, size, mode):
        rng = np.random.default_rng(26)
        image = (rng.random(shape) * 1000).astype(np.float32)
        got = filterkit.mean(image, size, mode=mode)
        want = naive_convolve(image, box(size), mode=mode)
        err = np.abs(got - want)
        # the general contract holds everywhere
        assert err.max() <= error_bound(box(size), image)
        # and, tighter, running sums without drift leave only the final
        # rounding of the mean to float32 (u |mean| <= u max|f|) plus the
        # float64 sums' own error (6000 add/subtract steps of size^2 max|f|):
        # a float32 running sum exceeds this at the far end (see the next test)
        tight = U32 * 1000 + 6000 * U64 * size * size * 1000
        assert err.max() <= tight, err.max()
        tail = err[-50:] if shape[0] > shape[1] else err[:, -50:]
        assert tail.max() <= tight

    def test_drift_bound_would_catch_float32_running_sums(self):
        # justifies the tight bound above: a naive float32 running column sum
        # (add the entering row, subtract the leaving one) drifts past it
        rng = np.random.default_rng(26)
        image = (rng.random((3000, 8)) * 1000).astype(np.float32)
        s, r = 3, 1
        padded = np.pad(image, r, mode="symmetric")
        col = padded[:s].sum(axis=0, dtype=np.float32)
        sums = [col]
        for y in range(1, image.shape[0]):
            col = (col + padded[y + s - 1]) - padded[y - 1]
            sums.append(col)
        cols = np.array(sums, dtype=np.float32)
        drifting = sum(cols[:, b:b + 8] for b in range(s)) / np.float32(s * s)
        err = np.abs(drifting - naive_convolve(image, box(s)))
        assert err[-50:].max() > U32 * 1000 + 6000 * U64 * s * s * 1000

    @settings(max_examples=60, deadline=None)
    @given(
        image=arrays(np.float64, st.tuples(st.integers(1, 14), st.integers(1, 40)),
                     elements=st.floats(-1000, 1000, width=32)),
        size=st.tuples(st.integers(0, 6), st.integers(0, 6)).map(lambda t: (2 * t[0] + 1, 2 * t[1] + 1)),
        mode=st.sampled_from(MODES),
        dtype=st.sampled_from([np.float32, np.float64]),
    )
    def test_mean_matches_naive_oracle_for_random_shapes(self, image, size, mode, dtype):
        image = image.astype(dtype)
        got = filterkit.mean(image, size, mode=mode, cval=-1.5)
        want = naive_convolve(image, box(size), mode=mode, cval=-1.5)
        np.testing.assert_allclose(got, want, rtol=0, atol=error_bound(box(size), image, dtype=dtype))

    @pytest.mark.parametrize("make_view", [
        lambda a: a[::2, ::3], lambda a: a[::-1, ::-1], lambda a: a.T, lambda a: np.asfortranarray(a),
        lambda a: a.astype(a.dtype.newbyteorder(">")),
    ])
    def test_strided_views(self, make_view):
        rng = np.random.default_rng(27)
        view = make_view(random_image(rng, (60, 90), np.float32, scale=100))
        got = filterkit.mean(view, (5, 3), mode="mirror")
        want = ndi.uniform_filter(np.array(view, dtype=np.float64), (5, 3), mode="mirror")
        np.testing.assert_allclose(got, want, rtol=0, atol=error_bound(box((5, 3)), view))


# ---------------------------------------------------------------------------
# gaussian
# ---------------------------------------------------------------------------

def gaussian_mask_oracle(size, sigma, sampling):
    """The Gaussian mask from scipy.special (not math.erf), normalised to sum 1."""
    from scipy.special import ndtr

    def one(n, s):
        r = n // 2
        x = np.arange(-r, r + 1, dtype=np.float64)
        if sampling == "point":
            g = np.exp(-0.5 * (x / s) ** 2)
        else:
            g = ndtr((x + 0.5) / s) - ndtr((x - 0.5) / s)  # the normal cdf over each pixel
        return g / g.sum()

    h, w = (size, size) if isinstance(size, int) else size
    sy, sx = (sigma, sigma) if np.isscalar(sigma) else sigma
    return np.outer(one(h, sy), one(w, sx))


class TestGaussian:
    @pytest.mark.parametrize("mode", MODES)
    @pytest.mark.parametrize("sampling", ["integral", "point"])
    @pytest.mark.parametrize("sigma, size", [(1.0, None), (0.6, 3), (2.0, (5, 9)), ((1.0, 2.5), None),
                                             ((3.0, 0.7), (11, 3))])
    @pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
    def test_gaussian_matches_naive_oracle(self, mode, sampling, sigma, size, dtype):
        rng = np.random.default_rng(31)
        image = random_image(rng, (40, 60), dtype, scale=100) if dtype != np.uint8 else \
            rng.integers(0, 256, (40, 60)).astype(np.uint8)
        sy, sx = (sigma, sigma) if np.isscalar(sigma) else sigma
        shape = size if size is not None else (2 * math.ceil(3 * sy) + 1, 2 * math.ceil(3 * sx) + 1)
        mask = gaussian_mask_oracle(shape, sigma, sampling)
        got = filterkit.gaussian(image, sigma, size=size, sampling=sampling, mode=mode, cval=9.0)
        want = naive_convolve(image, mask, mode=mode, cval=9.0)
        assert got.dtype == compute_dtype(dtype)
        # two 1-D passes of h and w taps, plus the mask's own rounding
        tol = error_bound(mask, image, taps=sum(mask.shape) + 1, dtype=got.dtype)
        np.testing.assert_allclose(got, want, rtol=0, atol=tol)

    def test_integral_and_point_sampling_give_different_results(self):
        # the sampling argument reaches the filter: the two masks differ by
        # ~1e-2 at sigma = 0.8, far above the rounding tolerance
        rng = np.random.default_rng(32)
        image = rng.standard_normal((30, 40))
        a = filterkit.gaussian(image, 0.8, sampling="integral")
        b = filterkit.gaussian(image, 0.8, sampling="point")
        assert np.abs(a - b).max() > 1e3 * error_bound(np.ones((7, 7)), image, dtype=np.float64)

    @pytest.mark.parametrize("mode", MODES)
    @pytest.mark.parametrize("sigma", [0.5, 1.0, 1.7, (1.0, 2.5), (2.0, 0.8)])
    def test_point_sampling_matches_scipy_gaussian_filter(self, mode, sigma):
        rng = np.random.default_rng(33)
        image = rng.standard_normal((40, 60)) * 10
        sy, sx = (sigma, sigma) if np.isscalar(sigma) else sigma
        size = (2 * int(4 * sy + 0.5) + 1, 2 * int(4 * sx + 0.5) + 1)  # scipy's truncate=4 radius
        got = filterkit.gaussian(image, sigma, size=size, sampling="point", mode=mode, cval=2.0)
        want = ndi.gaussian_filter(image, sigma, mode=mode, truncate=4.0, cval=2.0)
        # both sides round: twice the separable bound
        tol = 2 * error_bound(np.ones(size) / np.prod(size), image, taps=sum(size) + 1, dtype=np.float64)
        np.testing.assert_allclose(got, want, rtol=0, atol=tol)

    def test_default_size_is_two_ceil_three_sigma_plus_one(self):
        # an impulse in a big zero image: the response's support is the mask
        image = np.zeros((61, 61))
        image[30, 30] = 1.0
        for sigma, extent in [(1.0, 7), (0.5, 5), (2.0, 13), (1.2, 9)]:
            out = filterkit.gaussian(image, sigma, mode="constant")
            rows, cols = np.nonzero(out)
            assert rows.max() - rows.min() + 1 == extent
            assert cols.max() - cols.min() + 1 == extent
            np.testing.assert_allclose(out[30 - extent // 2:31 + extent // 2, 30 - extent // 2:31 + extent // 2],
                                       gaussian_mask_oracle(extent, sigma, "integral"), rtol=0, atol=1e-15)

    def test_anisotropic_sigma_is_sigma_y_then_sigma_x(self):
        image = np.zeros((41, 41))
        image[20, 20] = 1.0
        out = filterkit.gaussian(image, (1.0, 3.0), mode="constant")
        rows, cols = np.nonzero(out)
        assert rows.max() - rows.min() + 1 == 7    # sigma_y = 1 -> 7 rows
        assert cols.max() - cols.min() + 1 == 19   # sigma_x = 3 -> 19 columns

    def test_a_constant_image_stays_constant(self):
        # the mask sums to 1: 'nearest' keeps a constant image (to rounding)
        image = np.full((20, 30), 77.0)
        out = filterkit.gaussian(image, 2.0, mode="nearest")
        np.testing.assert_allclose(out, 77.0, rtol=0, atol=error_bound(np.ones((13, 13)) / 169, image, taps=27,
                                                                        dtype=np.float64))

    @pytest.mark.parametrize("kwargs, exc, match", [
        (dict(sigma=-1), ValueError, r"`sigma` must be positive and finite; got -1\."),
        (dict(sigma=0.0), ValueError, r"`sigma` must be positive and finite; got 0\.0\."),
        (dict(sigma=float("nan")), ValueError, r"`sigma` must be positive and finite; got nan\."),
        (dict(sigma=(1.0, float("inf"))), ValueError, r"`sigma` must be positive and finite; got \(1\.0, inf\)\."),
        (dict(sigma="wide"), TypeError, r"`sigma` must be a positive number or a pair \(sigma_y, sigma_x\) of them; got 'wide' \(str\)\."),
        (dict(sigma=1.0, size=4), ValueError, r"`size` must be odd and positive"),
        (dict(sigma=1.0, sampling="exact"), ValueError, r"`sampling` must be 'integral' or 'point'; got 'exact'\."),
    ])
    def test_gaussian_errors(self, kwargs, exc, match):
        with pytest.raises(exc, match=match):
            filterkit.gaussian(np.ones((9, 9)), **kwargs)


# ---------------------------------------------------------------------------
# sobel_x, sobel_y, sobel
# ---------------------------------------------------------------------------

class TestSobel:
    @pytest.mark.parametrize("mode", MODES + ["valid"])
    @pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32, np.float64])
    def test_sobel_x_and_y_match_the_lecture_masks(self, mode, dtype):
        rng = np.random.default_rng(41)
        image = random_image(rng, (40, 60), dtype, scale=100)
        for func, mask in [(filterkit.sobel_x, SOBEL_X), (filterkit.sobel_y, SOBEL_Y)]:
            got = func(image, mode=mode, cval=5.0)
            want = naive_convolve(image, mask, mode=mode, cval=5.0)
            assert got.dtype == compute_dtype(dtype)
            np.testing.assert_allclose(got, want, rtol=0, atol=error_bound(mask, image, dtype=got.dtype))

    @pytest.mark.parametrize("mode", MODES)
    def test_sobel_x_and_y_match_scipy_ndimage_sobel(self, mode):
        # scipy's sobel(axis=1) is the derivative along x with [1, 2, 1]
        # smoothing along y, same sign convention (a rising ramp gives +8).
        # cval = 0: scipy pads its intermediate 1-D result with cval too, which
        # equals the 2-D padding only when the derivative of the fill is cval
        rng = np.random.default_rng(42)
        image = rng.standard_normal((40, 60))
        tol = error_bound(SOBEL_X, image, dtype=np.float64)
        np.testing.assert_allclose(filterkit.sobel_x(image, mode=mode),
                                   ndi.sobel(image, axis=1, mode=mode), rtol=0, atol=tol)
        np.testing.assert_allclose(filterkit.sobel_y(image, mode=mode),
                                   ndi.sobel(image, axis=0, mode=mode), rtol=0, atol=tol)

    def test_sobel_x_matches_opencv(self):
        cv2 = pytest.importorskip("cv2")
        rng = np.random.default_rng(43)
        image = rng.standard_normal((40, 60))
        tol = error_bound(SOBEL_X, image, dtype=np.float64)
        want_x = cv2.Sobel(image, cv2.CV_64F, 1, 0, ksize=3, borderType=cv2.BORDER_REFLECT_101)
        want_y = cv2.Sobel(image, cv2.CV_64F, 0, 1, ksize=3, borderType=cv2.BORDER_REFLECT_101)
        np.testing.assert_allclose(filterkit.sobel_x(image, mode="mirror"), want_x, rtol=0, atol=tol)
        np.testing.assert_allclose(filterkit.sobel_y(image, mode="mirror"), want_y, rtol=0, atol=tol)

    @pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32, np.float64])
    def test_unit_ramps_give_eight(self, dtype):
        y, x = np.mgrid[0:9, 0:11]
        along_x, along_y = x.astype(dtype), y.astype(dtype)
        np.testing.assert_array_equal(filterkit.sobel_x(along_x, mode="valid"), 8)
        np.testing.assert_array_equal(filterkit.sobel_y(along_x, mode="valid"), 0)
        np.testing.assert_array_equal(filterkit.sobel_y(along_y, mode="valid"), 8)
        np.testing.assert_array_equal(filterkit.sobel_x(along_y, mode="valid"), 0)

    def test_quadratic_gives_exact_central_differences(self):
        # f = x^2 + 3xy + y^2: the central difference is exact for quadratics
        # and [1, 2, 1] smoothing is exact for the linear f_x = 2x + 3y, so
        # sobel_x / 8 == 2x + 3y and sobel_y / 8 == 3x + 2y exactly (integers)
        y, x = np.mgrid[0:40, 0:60].astype(np.float64)
        f = x ** 2 + 3 * x * y + y ** 2
        inner_x, inner_y = x[1:-1, 1:-1], y[1:-1, 1:-1]
        for dtype in (np.float32, np.float64):
            np.testing.assert_array_equal(filterkit.sobel_x(f.astype(dtype), mode="valid") / 8, 2 * inner_x + 3 * inner_y)
            np.testing.assert_array_equal(filterkit.sobel_y(f.astype(dtype), mode="valid") / 8, 3 * inner_x + 2 * inner_y)

    def test_sobel_over_eight_approximates_the_derivative(self):
        # f = sin(a x) cos(b y).  Exactly (trigonometric identities):
        #   sobel_x / 8 = cos(a x) sin(a) * cos(b y) (1 + cos b) / 2
        # versus df/dx = a cos(a x) cos(b y): |error| <= (a - sin a) + a (1 - cos b) / 2
        #   <= a^3 / 6 + a b^2 / 4 (Taylor), and likewise for y with a, b swapped.
        a, b = 0.2, 0.15
        y, x = np.mgrid[0:40, 0:60].astype(np.float64)
        f = np.sin(a * x) * np.cos(b * y)
        X, Y = x[1:-1, 1:-1], y[1:-1, 1:-1]
        fx = filterkit.sobel_x(f, mode="valid") / 8
        fy = filterkit.sobel_y(f, mode="valid") / 8
        np.testing.assert_allclose(fx, a * np.cos(a * X) * np.cos(b * Y), rtol=0, atol=a ** 3 / 6 + a * b ** 2 / 4)
        np.testing.assert_allclose(fy, -b * np.sin(a * X) * np.sin(b * Y), rtol=0, atol=b ** 3 / 6 + b * a ** 2 / 4)
        # the closed form of the discrete operator, to rounding
        tol = error_bound(SOBEL_X, f, dtype=np.float64) / 8 + 1e-15
        np.testing.assert_allclose(fx, np.cos(a * X) * np.sin(a) * np.cos(b * Y) * (1 + np.cos(b)) / 2, rtol=0, atol=tol)
        np.testing.assert_allclose(fy, -np.sin(a * X) * np.sin(b * Y) * np.sin(b) * (1 + np.cos(a)) / 2, rtol=0, atol=tol)
        # and the truncation bound is not vacuous: a central difference with
        # the wrong sign or without the 1/8 would be off by ~a
        assert a ** 3 / 6 + a * b ** 2 / 4 < 0.05 * a

    @pytest.mark.parametrize("mode", MODES + ["valid"])
    @pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32, np.float64])
    def test_sobel_strength_is_the_hypot_of_fx_and_fy(self, mode, dtype):
        rng = np.random.default_rng(44)
        image = random_image(rng, (40, 60), dtype, scale=100)
        fx = naive_convolve(image, SOBEL_X, mode=mode, cval=-2.0)
        fy = naive_convolve(image, SOBEL_Y, mode=mode, cval=-2.0)
        got = filterkit.sobel(image, mode=mode, cval=-2.0)
        assert got.dtype == compute_dtype(dtype)
        assert np.all(got >= 0)
        np.testing.assert_allclose(got, np.hypot(fx, fy), rtol=0, atol=strength_tol(image, got.dtype))

    def test_flat_image_gives_exactly_zero_sobel_x(self):
        # sobel_x's docstring: "A flat image gives exactly 0"
        for value, dtype in [(0.1, np.float32), (0.1, np.float64), (-7.3, np.float32), (1 / 3, np.float64),
                             (200, np.uint8)]:
            image = np.full((9, 13), value, dtype=dtype)
            for mode in ["nearest", "reflect", "mirror", "wrap"]:
                np.testing.assert_array_equal(filterkit.sobel_x(image, mode=mode), 0)

    def test_range_for_an_image_in_zero_one_is_at_most_four_sqrt_two(self):
        rng = np.random.default_rng(45)
        image = (rng.random((40, 60)) > 0.5).astype(np.float64)  # extreme edges everywhere
        s = filterkit.sobel(image, mode="reflect")
        assert s.max() <= 4 * math.sqrt(2) * (1 + 1e-15)
        assert s.max() >= 4  # the binary image does reach full-contrast edges
        # by hand: columns 0 | 1 give f_x = 1 + 2 + 1 = 4; rows [0, 0, 1] and
        # [0, 1, 1] give f_y = (0 + 2 + 1) - (0 + 0 + 1) = 2; s = sqrt(20)
        corner = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
        assert filterkit.sobel(corner, mode="valid")[0, 0] == pytest.approx(math.sqrt(20), rel=1e-15)
        assert filterkit.gradient(corner, mode="valid")[1][0, 0] == pytest.approx(math.atan2(2, 4), rel=1e-15)


# dyadic values (exact in any order of operations) and values that are not
# short binary fractions (0.1, -7.3, 1/3), where only an operation order that
# subtracts equal neighbours gives exactly 0
FLAT_VALUES = [
    (np.uint8, 200),
    (np.int16, -300),
    (np.float32, 0.0),
    (np.float32, 0.5),
    (np.float64, 5.0),
    (np.float64, -0.0),
    (np.float32, 0.1),
    (np.float64, 0.1),
    (np.float32, -7.3),
    (np.float64, 1 / 3),
    (np.float32, 12345.678),
    (np.float64, 1e30),
]


@pytest.mark.parametrize("dtype, value", FLAT_VALUES)
def test_flat_image_gives_exactly_zero_strength(dtype, value):
    image = np.full((9, 13), value, dtype=dtype)
    cval = float(image[0, 0])
    for mode in MODES + ["valid"]:  # 'constant' with cval = the value is flat too
        s = filterkit.sobel(image, mode=mode, cval=cval)
        np.testing.assert_array_equal(s, 0, err_msg=mode)


@pytest.mark.parametrize("dtype, value", FLAT_VALUES)
def test_flat_image_gives_zero_gradient_strength_and_direction(dtype, value):
    image = np.full((9, 13), value, dtype=dtype)
    cval = float(image[0, 0])
    for mode in MODES + ["valid"]:
        strength, direction = filterkit.gradient(image, mode=mode, cval=cval)
        np.testing.assert_array_equal(strength, 0, err_msg=mode)
        np.testing.assert_array_equal(direction, 0, err_msg=mode)
        assert not np.signbit(direction).any(), mode  # +0, not -0


@pytest.mark.parametrize("image", [
    pytest.param(np.tile(np.arange(6.0), (5, 1)).astype(np.float32), id="float32-unit-ramp"),
    # sqrt(fx*fx + fy*fy) in the compute type would overflow to inf here
    # (|f_x| > 1.8e19 in float32, > 1.3e154 in float64) ...
    pytest.param(np.tile(np.array([0, 2**62, 2**63], dtype=np.uint64), (3, 1)), id="uint64-2**63"),
    pytest.param(np.tile(np.arange(6.0) * 1e19, (5, 1)).astype(np.float32), id="float32-1e19"),
    pytest.param(np.tile(np.arange(6.0) * 1e160, (5, 1)), id="float64-1e160"),
    # ... or lose digits to underflow (|f_x| < 1e-19 in float32)
    pytest.param(np.tile(np.arange(6.0) * 1e-23, (5, 1)).astype(np.float32), id="float32-1e-23"),
    pytest.param(np.tile(np.arange(6.0) * 1e-160, (5, 1)), id="float64-1e-160"),
    pytest.param((np.tile(np.arange(6.0), (5, 1)) * 1e18 + np.arange(5.0)[:, None] * 3e18).astype(np.float32),
                 id="float32-diagonal-1e18"),
])
def test_strength_neither_overflows_nor_underflows(image):
    fx = filterkit.sobel_x(image, mode="valid").astype(np.float64)
    fy = filterkit.sobel_y(image, mode="valid").astype(np.float64)
    assert np.all(np.isfinite(fx)) and np.all(fx != 0)  # the derivatives themselves are fine
    want = np.hypot(fx, fy)
    # a correctly computed hypot of representable fx, fy is off by a few
    # rounding errors of the result type, relative
    rtol = 4 * (U32 if filterkit.sobel_x(image).dtype == np.float32 else U64)
    np.testing.assert_allclose(filterkit.sobel(image, mode="valid"), want, rtol=rtol, atol=0)
    np.testing.assert_allclose(filterkit.gradient(image, mode="valid")[0], want, rtol=rtol, atol=0)


# ---------------------------------------------------------------------------
# gradient
# ---------------------------------------------------------------------------

# (slope along x, slope along y) -> the direction atan2(f_y, f_x) in radians
RAMPS = [
    ((1, 0), 0.0, "right"),
    ((0, 1), math.pi / 2, "down"),
    ((-1, 0), math.pi, "left"),
    ((0, -1), -math.pi / 2, "up"),
    ((1, 1), math.pi / 4, "down-right"),
    ((-1, 1), 3 * math.pi / 4, "down-left"),
    ((-1, -1), -3 * math.pi / 4, "up-left"),
    ((1, -1), -math.pi / 4, "up-right"),
    ((3, 4), math.atan2(4, 3), "3-4-5"),
    ((-5, 2), math.atan2(2, -5), "second quadrant"),
    ((-2, -7), math.atan2(-7, -2), "third quadrant"),
    ((7, -1), math.atan2(-1, 7), "fourth quadrant"),
]


class TestGradient:
    @pytest.mark.parametrize("slopes, want, name", RAMPS, ids=[r[2] for r in RAMPS])
    @pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32, np.float64])
    def test_ramp_directions_in_all_quadrants(self, slopes, want, name, dtype):
        a, b = slopes
        y, x = np.mgrid[0:9, 0:11]
        image = (a * x + b * y + 100).astype(dtype)  # integers: fx = 8a, fy = 8b exactly
        strength, direction = filterkit.gradient(image, mode="valid")
        u = U64 if strength.dtype == np.float64 else U32
        np.testing.assert_allclose(strength, 8 * math.hypot(a, b), rtol=4 * u, atol=0)
        tol = DIRECTION_TOL_F64 if direction.dtype == np.float64 else DIRECTION_TOL_F32
        # not wrapped: the ramp to the left must give +pi, not -pi
        np.testing.assert_allclose(direction.astype(np.float64), want, rtol=0, atol=tol)
        if name == "left":
            assert np.all(direction > 0)
        if name == "right":
            assert not np.signbit(direction).any()

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    @pytest.mark.parametrize("step, offset", [(1.0, 0.7), (0.1, 0.0), (0.3, 2.2), (1 / 3, -1.1)])
    def test_fractional_ramps_point_exactly_along_the_axes(self, dtype, step, offset):
        # non-dyadic values: f_y (f_x) of an image constant along y (x) is 0
        # only if equal neighbours are subtracted; a rounding residual would
        # turn the ramp to the left into -pi, or tilt the others
        y, x = np.mgrid[0:6, 0:9]
        pi = dtype(math.pi)
        for image, want in [(offset - step * x, pi), (offset + step * x, 0.0),
                            (offset + step * y, dtype(math.pi / 2)), (offset - step * y, -dtype(math.pi / 2))]:
            direction = filterkit.gradient(image.astype(dtype), mode="valid")[1]
            np.testing.assert_array_equal(direction, want)

    @settings(max_examples=40, deadline=None)
    @given(values=arrays(np.float64, st.integers(1, 30), elements=st.floats(-1e6, 1e6)),
           rows=st.integers(1, 12), along_y=st.booleans(),
           # not 'constant': its fill would make the image vary along the axis
           mode=st.sampled_from(["nearest", "reflect", "mirror", "wrap"]),
           dtype=st.sampled_from([np.float32, np.float64]))
    def test_image_constant_along_one_axis_has_exactly_zero_derivative_along_it(self, values, rows, along_y,
                                                                                   mode, dtype):
        # every column constant (along_y) -> f_y == 0 exactly, direction 0 or
        # pi exactly; every row constant -> f_x == 0, direction +-pi/2 or 0
        line = values.astype(dtype)
        image = np.tile(line, (rows, 1)) if along_y else np.tile(line[:, None], (1, rows))
        fx, fy = filterkit.sobel_x(image, mode=mode), filterkit.sobel_y(image, mode=mode)
        strength, direction = filterkit.gradient(image, mode=mode)
        zero, other = (fy, fx) if along_y else (fx, fy)
        np.testing.assert_array_equal(zero, 0)
        allowed = [0.0, dtype(math.pi)] if along_y else [0.0, dtype(math.pi / 2), -dtype(math.pi / 2)]
        assert np.all(np.isin(direction, allowed))
        np.testing.assert_array_equal(direction[other == 0], 0)
        np.testing.assert_allclose(strength, np.abs(other), rtol=4 * (U32 if dtype == np.float32 else U64), atol=0)

    @pytest.mark.parametrize("mode", MODES + ["valid"])
    @pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32])
    def test_float32_direction_within_5e7_of_exact_atan2(self, mode, dtype):
        # integer-valued images: f_x and f_y are exact in float32 (|f| <= 8 *
        # 4000 < 2**24), so np.arctan2 in float64 is an exact reference
        rng = np.random.default_rng(51)
        image = random_image(rng, (40, 60), np.int16, scale=100).astype(dtype) if dtype != np.uint8 else \
            rng.integers(0, 256, (40, 60)).astype(np.uint8)
        strength, direction = filterkit.gradient(image, mode=mode, cval=3.0)
        assert direction.dtype == np.float32 and strength.dtype == np.float32
        fx = naive_convolve(image, SOBEL_X, mode=mode, cval=3.0)
        fy = naive_convolve(image, SOBEL_Y, mode=mode, cval=3.0)
        assert angle_error(direction, np.arctan2(fy, fx)).max() <= DIRECTION_TOL_F32
        np.testing.assert_allclose(strength, np.hypot(fx, fy), rtol=0, atol=strength_tol(image, np.float32))

    @pytest.mark.parametrize("mode", MODES)
    def test_float32_direction_matches_atan2_of_the_float32_derivatives(self, mode):
        rng = np.random.default_rng(52)
        image = (rng.standard_normal((40, 60)) * 50).astype(np.float32)
        _, direction = filterkit.gradient(image, mode=mode)
        fx = filterkit.sobel_x(image, mode=mode).astype(np.float64)
        fy = filterkit.sobel_y(image, mode=mode).astype(np.float64)
        assert angle_error(direction, np.arctan2(fy, fx)).max() <= DIRECTION_TOL_F32

    @pytest.mark.parametrize("scale", [1e-30, 1e-3, 1.0, 1e6, 1e15])
    def test_float32_direction_accuracy_is_independent_of_scale(self, scale):
        rng = np.random.default_rng(53)
        image = (rng.integers(-1000, 1001, size=(30, 50)) * scale).astype(np.float32)
        _, direction = filterkit.gradient(image, mode="wrap")
        fx = filterkit.sobel_x(image, mode="wrap").astype(np.float64)
        fy = filterkit.sobel_y(image, mode="wrap").astype(np.float64)
        assert angle_error(direction, np.arctan2(fy, fx)).max() <= DIRECTION_TOL_F32

    @pytest.mark.parametrize("mode", MODES + ["valid"])
    def test_float64_direction_is_atan2(self, mode):
        rng = np.random.default_rng(54)
        integer_valued = rng.integers(-1000, 1001, size=(40, 60)).astype(np.float64)
        strength, direction = filterkit.gradient(integer_valued, mode=mode)
        assert direction.dtype == np.float64 and strength.dtype == np.float64
        fx = naive_convolve(integer_valued, SOBEL_X, mode=mode)  # exact: integers
        fy = naive_convolve(integer_valued, SOBEL_Y, mode=mode)
        assert angle_error(direction, np.arctan2(fy, fx)).max() <= DIRECTION_TOL_F64
        # random floats: against atan2 of filterkit's own float64 derivatives
        image = rng.standard_normal((40, 60))
        _, direction = filterkit.gradient(image, mode=mode)
        fx, fy = filterkit.sobel_x(image, mode=mode), filterkit.sobel_y(image, mode=mode)
        assert angle_error(direction, np.arctan2(fy, fx)).max() <= DIRECTION_TOL_F64

    @settings(max_examples=40, deadline=None)
    @given(image=arrays(np.int16, st.tuples(st.integers(1, 12), st.integers(1, 30)),
                        elements=st.integers(-3000, 3000)),
           mode=st.sampled_from(MODES),
           dtype=st.sampled_from([np.float32, np.float64]))
    def test_direction_is_in_minus_pi_to_pi_and_exact_on_axes(self, image, mode, dtype):
        image = image.astype(dtype)  # integer values: f_x, f_y exact in both dtypes
        strength, direction = filterkit.gradient(image, mode=mode)
        fx = naive_convolve(image, SOBEL_X, mode=mode)
        fy = naive_convolve(image, SOBEL_Y, mode=mode)
        tol = DIRECTION_TOL_F64 if dtype == np.float64 else DIRECTION_TOL_F32
        assert angle_error(direction, np.arctan2(fy, fx)).max(initial=0) <= tol
        pi = float(np.asarray(math.pi, dtype))  # pi rounded to the result type
        assert np.all(direction <= pi) and np.all(direction >= -pi)
        # f_y == 0 exactly: on the axis, +pi (never -pi) to the left
        np.testing.assert_array_equal(direction[(fy == 0) & (fx < 0)], pi)
        np.testing.assert_array_equal(direction[(fy == 0) & (fx > 0)], 0)
        # zero gradient: direction 0 and strength 0
        zero = (fx == 0) & (fy == 0)
        np.testing.assert_array_equal(direction[zero], 0)
        np.testing.assert_array_equal(strength[zero], 0)

    def test_zero_gradient_at_a_symmetric_peak_gives_direction_zero(self):
        for value in (9.0, -9.0):
            image = np.zeros((7, 7))
            image[3, 3] = value
            for dtype in (np.float32, np.float64):
                strength, direction = filterkit.gradient(image.astype(dtype), mode="constant")
                assert strength[3, 3] == 0 and direction[3, 3] == 0
                assert not np.signbit(direction[3, 3])
                # around the peak the gradient points away from / towards it
                assert direction[3, 4] == pytest.approx(math.pi if value > 0 else 0.0, abs=DIRECTION_TOL_F32)
                assert direction[4, 3] == pytest.approx(-math.pi / 2 if value > 0 else math.pi / 2,
                                                        abs=DIRECTION_TOL_F32)

    @pytest.mark.parametrize("cpu", ["auto", "avx2", "portable"])
    def test_gradient_strength_equals_sobel(self, cpu, monkeypatch):
        # the strength is computed in a loop of its own for sobel and beside
        # the direction for gradient: the same bits on every kernel level
        monkeypatch.setenv("FILTERKIT_CPU", cpu)
        rng = np.random.default_rng(55)
        for dtype in (np.uint8, np.float32, np.float64):
            image = random_image(rng, (40, 60), dtype, scale=100)
            for mode in MODES:
                np.testing.assert_array_equal(filterkit.gradient(image, mode=mode)[0],
                                              filterkit.sobel(image, mode=mode))

    def test_output_pair_is_written_in_place_and_returned(self):
        rng = np.random.default_rng(56)
        image = rng.integers(0, 256, size=(20, 30)).astype(np.uint8)
        s_out = np.full((20, 30), np.nan, dtype=np.float32)
        d_out = np.full((20, 30), np.nan, dtype=np.float32)
        strength, direction = filterkit.gradient(image, output=(s_out, d_out))
        assert strength is s_out and direction is d_out
        fx, fy = naive_convolve(image, SOBEL_X), naive_convolve(image, SOBEL_Y)
        np.testing.assert_allclose(s_out, np.hypot(fx, fy), rtol=0, atol=strength_tol(image, np.float32))
        assert angle_error(d_out, np.arctan2(fy, fx)).max() <= DIRECTION_TOL_F32

    def test_output_float64_gives_float64_results(self):
        rng = np.random.default_rng(57)
        image = rng.integers(0, 256, size=(20, 30)).astype(np.uint8)
        strength, direction = filterkit.gradient(image, output=np.float64)
        assert strength.dtype == np.float64 and direction.dtype == np.float64
        fx, fy = naive_convolve(image, SOBEL_X), naive_convolve(image, SOBEL_Y)  # exact
        assert angle_error(direction, np.arctan2(fy, fx)).max() <= DIRECTION_TOL_F64
        np.testing.assert_allclose(strength, np.hypot(fx, fy), rtol=4 * U64, atol=0)

    def test_mixed_output_pair_uint8_strength_float64_direction(self):
        rng = np.random.default_rng(58)
        image = rng.integers(0, 256, size=(20, 30)).astype(np.uint8)
        s_out = np.empty((20, 30), dtype=np.uint8)
        d_out = np.empty((20, 30), dtype=np.float64)
        filterkit.gradient(image, output=(s_out, d_out))
        fx, fy = naive_convolve(image, SOBEL_X), naive_convolve(image, SOBEL_Y)
        exact = np.hypot(fx, fy)
        near_tie = np.abs(np.abs(exact - np.floor(exact)) - 0.5) < 1e-4
        np.testing.assert_array_equal(s_out[~near_tie], np.clip(np.rint(exact), 0, 255)[~near_tie])
        assert np.any(exact > 255)  # saturation is exercised
        assert angle_error(d_out, np.arctan2(fy, fx)).max() <= DIRECTION_TOL_F64

    def test_integer_direction_output_array_is_refused(self):
        image = np.ones((5, 6))
        with pytest.raises(TypeError, match=r"`output` must be a float dtype for the direction \(radians\); got dtype int32\."):
            filterkit.gradient(image, output=(np.empty((5, 6)), np.empty((5, 6), dtype=np.int32)))
        with pytest.raises(TypeError, match=r"`output` must be a float dtype for the direction \(radians\); got dtype uint8\."):
            filterkit.gradient(image, output=np.uint8)

    def test_output_tuple_must_be_a_pair(self):
        image = np.ones((5, 6))
        with pytest.raises(TypeError, match=r"`output` must be a dtype or a pair \(strength, direction\) of arrays; got a tuple of 3\."):
            filterkit.gradient(image, output=(np.empty((5, 6)),) * 3)
        with pytest.raises(TypeError, match=r"`output` must be a dtype or a pair \(strength, direction\) of arrays; got a tuple of 1\."):
            filterkit.gradient(image, output=(np.empty((5, 6)),))

    def test_output_pair_must_not_overlap(self):
        image = np.ones((5, 6))
        both = np.empty((5, 6))
        with pytest.raises(ValueError, match=r"`output` must be two arrays that do not overlap \(strength, direction\); got overlapping arrays\."):
            filterkit.gradient(image, output=(both, both))

    def test_output_pair_shapes_are_checked(self):
        image = np.ones((5, 6))
        with pytest.raises(ValueError, match=r"`output\[1\]` must be an array of shape \(5, 6\) \(the result's shape\); got shape \(6, 5\)\."):
            filterkit.gradient(image, output=(np.empty((5, 6)), np.empty((6, 5))))
        with pytest.raises(ValueError, match=r"`output\[0\]` must be an array of shape \(3, 4\) .*; got shape \(5, 6\)\."):
            filterkit.gradient(image, mode="valid", output=(np.empty((5, 6)), np.empty((3, 4))))


# ---------------------------------------------------------------------------
# laplace
# ---------------------------------------------------------------------------

class TestLaplace:
    @pytest.mark.parametrize("neighbours", [4, 8])
    @pytest.mark.parametrize("mode", MODES + ["valid"])
    @pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32, np.float64])
    def test_laplace_matches_the_lecture_masks(self, neighbours, mode, dtype):
        rng = np.random.default_rng(61)
        image = random_image(rng, (40, 60), dtype, scale=100)
        got = filterkit.laplace(image, neighbours=neighbours, mode=mode, cval=-4.0)
        want = naive_convolve(image, LAPLACE[neighbours], mode=mode, cval=-4.0)
        assert got.dtype == compute_dtype(dtype)
        np.testing.assert_allclose(got, want, rtol=0, atol=error_bound(LAPLACE[neighbours], image, dtype=got.dtype))

    @pytest.mark.parametrize("mode", MODES)
    def test_four_neighbour_laplace_matches_scipy_ndimage_laplace(self, mode):
        rng = np.random.default_rng(62)
        image = rng.standard_normal((40, 60))
        np.testing.assert_allclose(filterkit.laplace(image, mode=mode, cval=0.5),
                                   ndi.laplace(image, mode=mode, cval=0.5), rtol=0,
                                   atol=2 * error_bound(LAPLACE[4], image, dtype=np.float64))

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_quadratics_give_the_exact_second_derivatives(self, dtype):
        # 4-neighbour: f(x+1) + f(x-1) - 2 f(x) = 2 for x^2, so x^2 + y^2 -> 4.
        # 8-neighbour: sum over the 8 neighbours (i, j) of i^2 + j^2 = 6 + 6 = 12.
        # For x^2 + 3xy + 2y^2 (Laplacian 6) the diagonal cross terms cancel
        # (sum of i*j over the diagonals is 0): 4-neighbour 6, 8-neighbour 6 + 12 = 18.
        # Integer values < 2**24: exact in float32 too.
        y, x = np.mgrid[0:40, 0:60].astype(np.float64)
        for f, want4, want8 in [(x ** 2 + y ** 2, 4, 12), (x ** 2 + 3 * x * y + 2 * y ** 2, 6, 18),
                                (5 * x - 2 * y + 7, 0, 0)]:
            f = f.astype(dtype)
            np.testing.assert_array_equal(filterkit.laplace(f, mode="valid"), want4)
            np.testing.assert_array_equal(filterkit.laplace(f, neighbours=8, mode="valid"), want8)

    @pytest.mark.parametrize("neighbours, match", [
        (6, r"`neighbours` must be 4 or 8; got 6\."),
        (0, r"`neighbours` must be 4 or 8; got 0\."),
        (True, r"`neighbours` must be 4 or 8; got True\."),
        ("4", r"`neighbours` must be 4 or 8; got '4'\."),
    ])
    def test_bad_neighbours(self, neighbours, match):
        with pytest.raises(ValueError, match=match):
            filterkit.laplace(np.ones((5, 5)), neighbours=neighbours)


# ---------------------------------------------------------------------------
# every filter: channels, threads, portable kernels, errors
# ---------------------------------------------------------------------------

FILTERS = {
    "mean": lambda im, **kw: filterkit.mean(im, 5, **kw),
    "mean-3x7": lambda im, **kw: filterkit.mean(im, (3, 7), **kw),
    "gaussian": lambda im, **kw: filterkit.gaussian(im, 1.5, **kw),
    "sobel_x": filterkit.sobel_x,
    "sobel_y": filterkit.sobel_y,
    "sobel": filterkit.sobel,
    "gradient": filterkit.gradient,
    "laplace4": filterkit.laplace,
    "laplace8": lambda im, **kw: filterkit.laplace(im, neighbours=8, **kw),
}


def as_tuple(result):
    return result if isinstance(result, tuple) else (result,)


@pytest.mark.parametrize("name", list(FILTERS))
@pytest.mark.parametrize("axis", [-1, 0])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_each_channel_equals_the_2d_call(name, axis, dtype):
    rng = np.random.default_rng(71)
    rgb = random_image(rng, (25, 31, 3), dtype, scale=100) if dtype != np.uint8 else \
        rng.integers(0, 256, (25, 31, 3)).astype(np.uint8)
    image = np.moveaxis(rgb, -1, axis)
    func = FILTERS[name]
    # sobel and gradient combine the channels (the colour gradient) unless
    # asked for per-channel results
    extra = {"per_channel": True} if name in ("sobel", "gradient") else {}
    got = as_tuple(func(image, mode="wrap", channel_axis=axis, **extra))
    for c in range(3):
        plane = np.take(image, c, axis=axis)
        want = as_tuple(func(plane, mode="wrap"))
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == image.shape
            np.testing.assert_array_equal(np.take(g, c, axis=axis), w)


@pytest.mark.parametrize("name", list(FILTERS))
def test_three_channels_without_channel_axis_are_refused(name):
    with pytest.raises(ValueError, match=r"`image` must be 2-D when channel_axis is None"):
        FILTERS[name](np.ones((8, 8, 3)))


@pytest.mark.parametrize("name, dtype", [
    ("mean", np.float32), ("mean", np.uint8), ("mean", np.uint16), ("mean", np.float64),
    ("mean-3x7", np.float64), ("gradient", np.float32), ("gradient", np.float64), ("gradient", np.uint8),
    ("sobel", np.uint8), ("gaussian", np.float64),
])
def test_results_are_bit_identical_for_every_thread_count(name, dtype):
    rng = np.random.default_rng(72)
    image = random_image(rng, (301, 517), dtype, scale=100) if dtype != np.uint8 else \
        rng.integers(0, 256, (301, 517)).astype(np.uint8)
    func = FILTERS[name]
    same_for_every_thread_count(lambda: as_tuple(func(image, mode="reflect")))


class TestPortableKernels:
    @pytest.mark.parametrize("mode", MODES)
    def test_portable_gradient_direction_meets_the_bound(self, monkeypatch, mode):
        monkeypatch.setenv("FILTERKIT_CPU", "portable")
        rng = np.random.default_rng(73)
        image = rng.integers(-4000, 4001, size=(40, 70)).astype(np.float32)
        strength, direction = filterkit.gradient(image, mode=mode)
        fx, fy = naive_convolve(image, SOBEL_X, mode=mode), naive_convolve(image, SOBEL_Y, mode=mode)
        assert angle_error(direction, np.arctan2(fy, fx)).max() <= DIRECTION_TOL_F32
        np.testing.assert_allclose(strength, np.hypot(fx, fy), rtol=0, atol=strength_tol(image, np.float32))
        # and the left ramp still gives +pi
        y, x = np.mgrid[0:6, 0:9]
        left = filterkit.gradient((50 - x).astype(np.float32), mode="valid")[1]
        np.testing.assert_allclose(left, math.pi, rtol=0, atol=DIRECTION_TOL_F32)

    @pytest.mark.parametrize("cpu", ["portable", "avx2"])
    @pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
    @pytest.mark.parametrize("size", [3, (3, 7), 21, (5, 11)])
    def test_portable_and_avx2_mean_match_scipy(self, monkeypatch, cpu, dtype, size):
        monkeypatch.setenv("FILTERKIT_CPU", cpu)
        rng = np.random.default_rng(74)
        image = random_image(rng, (40, 61), dtype, scale=100)
        got = filterkit.mean(image, size, mode="nearest")
        want = ndi.uniform_filter(image.astype(np.float64), size, mode="nearest")
        np.testing.assert_allclose(got, want, rtol=0, atol=error_bound(box(size), image, dtype=got.dtype))

    def test_portable_and_native_agree_on_a_long_image(self, monkeypatch):
        rng = np.random.default_rng(75)
        image = (rng.random((2000, 9)) * 1000).astype(np.float32)
        native = filterkit.mean(image, 11)
        monkeypatch.setenv("FILTERKIT_CPU", "portable")
        portable = filterkit.mean(image, 11)
        want = naive_convolve(image, box(11))
        tight = U32 * 1000 + 4000 * U64 * 121 * 1000  # as in the drift test
        assert np.abs(native - want).max() <= tight
        assert np.abs(portable - want).max() <= tight


class TestErrors:
    def test_even_size(self):
        with pytest.raises(ValueError, match=r"`size` must be odd and positive \(1, 3, 5, \.\.\.\) so that the mask has a centre pixel; got 4\."):
            filterkit.mean(np.ones((9, 9)), size=4)
        with pytest.raises(ValueError, match=r"`size` must be odd and positive .*; got \(3, 4\)\."):
            filterkit.mean(np.ones((9, 9)), size=(3, 4))
        with pytest.raises(ValueError, match=r"`size` must be odd and positive .*; got 0\."):
            filterkit.mean(np.ones((9, 9)), size=0)
        with pytest.raises(ValueError, match=r"`size` must be odd and positive .*; got -3\."):
            filterkit.mean(np.ones((9, 9)), size=-3)

    @pytest.mark.parametrize("size, got", [("big", r"'big' \(str\)"), (3.0, r"3\.0 \(float\)"),
                                           (True, r"True \(bool\)"), ((3,), r"\(3,\) \(tuple\)"),
                                           ((3, 3, 3), r"\(3, 3, 3\) \(tuple\)"), (None, r"None \(NoneType\)")])
    def test_size_of_the_wrong_type(self, size, got):
        with pytest.raises(TypeError, match=r"`size` must be an odd positive integer or a pair \(height, width\) of them; got " + got):
            filterkit.mean(np.ones((9, 9)), size=size)

    def test_valid_mode_needs_the_window_inside_the_image(self):
        with pytest.raises(ValueError, match=r"`mask` must be no larger than the image with mode='valid' \(image 5x6\); got shape \(7, 7\)\."):
            filterkit.mean(np.ones((5, 6)), 7, mode="valid")
        with pytest.raises(ValueError, match=r"`mask` must be no larger than the image with mode='valid' \(image 2x2\)"):
            filterkit.gradient(np.ones((2, 2)), mode="valid")

    def test_negative_sigma(self):
        with pytest.raises(ValueError, match=r"`sigma` must be positive and finite; got -1\."):
            filterkit.gaussian(np.ones((9, 9)), sigma=-1)

    def test_bad_neighbours(self):
        with pytest.raises(ValueError, match=r"`neighbours` must be 4 or 8; got 6\."):
            filterkit.laplace(np.ones((9, 9)), neighbours=6)

    @pytest.mark.parametrize("name", ["mean", "gaussian", "sobel", "gradient", "laplace4"])
    def test_bad_mode_and_output_are_named(self, name):
        func = FILTERS[name]
        with pytest.raises(ValueError, match=r"`mode` must be one of 'constant', .*; got 'reflekt'\."):
            func(np.ones((9, 9)), mode="reflekt")
        with pytest.raises(ValueError, match=r"`output` must be an array of shape \(9, 9\) \(the result's shape\); got shape \(9, 8\)\."):
            func(np.ones((9, 9)), output=np.empty((9, 8)))


# ---------------------------------------------------------------------------
# size limits: numbers too large are ValueErrors naming the parameter
# ---------------------------------------------------------------------------

def test_oversized_numbers():
    img = np.ones((8, 8), np.float32)
    with pytest.raises(ValueError, match=r"`size` must be at most 65537 high and wide; got 1 x 2147483649"):
        filterkit.mean(img, (1, 2**31 + 1))
    with pytest.raises(ValueError, match=r"`cval` must be a real number within the float64 range"):
        filterkit.mean(img, 3, mode="constant", cval=10**400)
    with pytest.raises(ValueError, match=r"`cval` must be a real number within the float64 range"):
        filterkit.convolve(img, [[1.0]], mode="constant", cval=-(10**400))
    with pytest.raises(ValueError, match=r"`sigma` must be a real number within the float64 range"):
        filterkit.gaussian(img, 10**400)
    with pytest.raises(ValueError, match=r"`mask` must be at most 65537 high and wide; got 1 x 65539"):
        filterkit.convolve(img, np.ones((1, 65539)))
    with pytest.raises(ValueError, match=r"`size` must be at most 65537 high and wide; got 70001 x 70001"):
        masks.mean(70001)


# ---------------------------------------------------------------------------
# huge Gaussians: a clear error, and no 2-D mask for large ones
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("sigma", [1e8, 1e7, 1e300, (1.0, 2e4)])
def test_a_huge_sigma_is_refused_before_any_allocation(sigma):
    img = np.ones((16, 16), np.float32)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"`sigma` must be at most 10922\.7 without `size` "
                                             r".*; got .*, which implies a mask .* pixels wide"):
            filterkit.gaussian(img, sigma)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_a_huge_sigma_with_a_small_size_is_fine():
    # the limit is on the mask, not on sigma: a 5-tap mask of sigma 1e8 is flat
    img = np.random.default_rng(10).random((20, 20))
    got = filterkit.gaussian(img, 1e8, size=5)
    np.testing.assert_allclose(got, ndi.uniform_filter(img, 5, mode="reflect"), rtol=1e-12)


def test_large_gaussians_are_built_from_their_factors(monkeypatch):
    # no 2-D mask and no SVD (sigma 400 took 2.7-9.6 s in the SVD alone)
    def refuse(*args, **kwargs):
        raise AssertionError("a 2-D mask was built or split")

    monkeypatch.setattr(np, "outer", refuse)
    monkeypatch.setattr(np.linalg, "svd", refuse)
    monkeypatch.setattr(masks, "separate", refuse)
    img = np.random.default_rng(11).random((160, 120))
    got = filterkit.gaussian(img, 40)
    monkeypatch.undo()
    col, row = masks.gaussian_factors(sigma=40)
    want = ndi.correlate1d(ndi.correlate1d(img, col, axis=0, mode="reflect"), row, axis=1,
                           mode="reflect")
    # float64, 241 taps per pass: a few ulps of the result
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)

"""filterkit.convolve / correlate against independent oracles.

Oracles: scipy.ndimage in float64, scipy.signal.convolve2d for 'valid', and
the naive numpy.pad oracle of oracle.py (where scipy's 'reflect' is wrong
for masks much larger than the image).  Tolerances come from
oracle.error_bound: the rounding-error bound of an n-term dot product in the
compute type, never a guess.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi
import scipy.signal

import filterkit
from helpers import same_for_every_thread_count
from oracle import MODES, compute_dtype, error_bound, naive_convolve, random_image, seed

DTYPES = [np.uint8, np.uint16, np.int16, np.int32, np.float32, np.float64]
MASK_SHAPES = [(1, 1), (3, 3), (1, 7), (7, 1), (5, 3), (3, 5), (9, 9), (21, 21)]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", MASK_SHAPES)
def test_convolve_matches_scipy_ndimage(mode, dtype, shape):
    rng = np.random.default_rng(seed(mode, np.dtype(dtype).str, shape))
    image = random_image(rng, (37, 71), dtype)  # odd sizes: no accidental block alignment
    mask = rng.standard_normal(shape)  # asymmetric: a missing mirror cannot pass
    got = filterkit.convolve(image, mask, mode=mode, cval=1.5)
    want = ndi.convolve(image.astype(np.float64), mask, mode=mode, cval=1.5)
    assert got.dtype == compute_dtype(dtype)
    assert got.shape == image.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=error_bound(mask, image, dtype=got.dtype))


@pytest.mark.parametrize("dtype", [np.int8, np.uint32, np.int64, np.uint64, np.float16])
def test_less_common_dtypes_compute_in_float32(dtype):
    rng = np.random.default_rng(17)
    image = random_image(rng, (30, 41), np.int8).astype(dtype) if dtype != np.float16 else \
        rng.standard_normal((30, 41)).astype(np.float16)
    if dtype in (np.uint32, np.uint64):
        image = np.abs(image.astype(np.int64)).astype(dtype)
    mask = rng.standard_normal((5, 3))
    got = filterkit.convolve(image, mask, mode="wrap")
    want = ndi.convolve(image.astype(np.float64), mask, mode="wrap")
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=0, atol=error_bound(mask, image))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape", MASK_SHAPES)
def test_correlate_matches_scipy_ndimage(mode, shape):
    rng = np.random.default_rng(7)
    image = rng.standard_normal((40, 130))
    mask = rng.standard_normal(shape)
    got = filterkit.correlate(image, mask, mode=mode, cval=-2.0)
    want = ndi.correlate(image, mask, mode=mode, cval=-2.0)
    np.testing.assert_allclose(got, want, rtol=0, atol=error_bound(mask, image, dtype=np.float64))


@pytest.mark.parametrize("shape", [(3, 3), (5, 7), (1, 9), (13, 13)])
def test_valid_mode_matches_scipy_signal_convolve2d(shape):
    rng = np.random.default_rng(3)
    image = rng.standard_normal((50, 90))
    mask = rng.standard_normal(shape)
    got = filterkit.convolve(image, mask, mode="valid")
    want = scipy.signal.convolve2d(image, mask, mode="valid")
    assert got.shape == (50 - shape[0] + 1, 90 - shape[1] + 1)
    np.testing.assert_allclose(got, want, rtol=0, atol=error_bound(mask, image, dtype=np.float64))
    got_corr = filterkit.correlate(image, mask, mode="valid")
    want_corr = scipy.signal.correlate2d(image, mask, mode="valid")
    np.testing.assert_allclose(got_corr, want_corr, rtol=0, atol=error_bound(mask, image, dtype=np.float64))


def test_mirror_pinned_by_hand_worked_row():
    # scipy's documented example, with the mask made odd by a zero: [1, 1, 0]
    # correlates [1, 2, 3] to [2, 3, 5] and convolves it to [3, 5, 6] (reflect).
    f = np.array([[1.0, 2.0, 3.0]])
    g = np.array([[1.0, 1.0, 0.0]])
    np.testing.assert_array_equal(filterkit.correlate(f, g), [[2, 3, 5]])
    np.testing.assert_array_equal(filterkit.convolve(f, g), [[3, 5, 6]])
    # and down a column: the vertical axis is mirrored too
    np.testing.assert_array_equal(filterkit.convolve(f.T, g.T), [[3], [5], [6]])


def test_convolution_formula_with_lecture_coordinates():
    # f'(x, y) = sum_ij f(x - i, y - j) g(i, j); x = column, y = row, (0, 0) at
    # the mask centre.  A single weight at (i, j) = (1, -1) (right, up) gives
    # f'(x, y) = f(x - 1, y + 1): the value from one column left, one row down.
    f = np.arange(36, dtype=np.float64).reshape(6, 6)
    g = np.zeros((3, 3))
    g[1 - 1, 1 + 1] = 1.0  # row j = -1, column i = +1
    out = filterkit.convolve(f, g, mode="constant")
    for y in range(6):
        for x in range(6):
            want = f[y + 1, x - 1] if (y + 1 < 6 and x - 1 >= 0) else 0.0
            assert out[y, x] == want


def test_sobel_on_a_ramp_gives_eight():
    ramp = np.tile(np.arange(9, dtype=np.float32), (7, 1))  # grows by 1 per column
    sobel_x = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]])
    np.testing.assert_array_equal(filterkit.convolve(ramp, sobel_x, mode="valid"), 8)
    # correlation (OpenCV's filter2D convention) flips the sign
    np.testing.assert_array_equal(filterkit.correlate(ramp, sobel_x, mode="valid"), -8)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("image_shape", [(1, 1), (1, 5), (4, 1), (2, 3), (3, 2)])
@pytest.mark.parametrize("mask_shape", [(3, 3), (9, 5), (21, 21)])
def test_tiny_images_and_masks_larger_than_the_image(mode, image_shape, mask_shape):
    rng = np.random.default_rng(11)
    image = rng.standard_normal(image_shape)
    mask = rng.standard_normal(mask_shape)
    got = filterkit.convolve(image, mask, mode=mode, cval=0.5)
    want = naive_convolve(image, mask, mode=mode, cval=0.5)
    np.testing.assert_allclose(got, want, rtol=0, atol=error_bound(mask, image, dtype=np.float64))


def test_scipy_reflect_is_wrong_where_the_naive_oracle_is_needed():
    # documents why the naive oracle exists: scipy reads outside the array
    rng = np.random.default_rng(5)
    image, mask = rng.standard_normal((2, 9)), rng.standard_normal((21, 21))
    naive = naive_convolve(image, mask, mode="reflect")
    np.testing.assert_allclose(filterkit.convolve(image, mask), naive, atol=1e-12)


@pytest.mark.parametrize("make_view", [
    lambda a: a[::2, ::3],
    lambda a: a[::-1, ::-1],
    lambda a: a[5:-3, ::-2],
    lambda a: np.asfortranarray(a),
    lambda a: a.T,
    lambda a: a.astype(a.dtype.newbyteorder(">")),
    lambda a: np.broadcast_to(a[:1], a.shape),
])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_strided_views_negative_strides_fortran_and_byte_order(make_view, dtype):
    rng = np.random.default_rng(2)
    base = random_image(rng, (60, 90), dtype)
    view = make_view(base)
    mask = rng.standard_normal((5, 3))
    got = filterkit.convolve(view, mask, mode="mirror")
    want = ndi.convolve(np.array(view, dtype=np.float64), mask, mode="mirror")
    np.testing.assert_allclose(got, want, rtol=0, atol=error_bound(mask, view, dtype=got.dtype))


def test_unaligned_input_buffer():
    raw = np.zeros(8 * 30 * 40 + 1, dtype=np.uint8)
    image = np.frombuffer(raw.data, dtype=np.float64, count=30 * 40, offset=1).reshape(30, 40)
    assert not image.flags.aligned
    mask = np.ones((3, 3)) / 9
    np.testing.assert_allclose(filterkit.convolve(image, mask), ndi.convolve(image, mask, mode="reflect"))


def test_input_is_never_modified():
    rng = np.random.default_rng(0)
    image = random_image(rng, (33, 45), np.uint8)
    before = image.copy()
    filterkit.convolve(image, rng.standard_normal((5, 5)), output=np.uint8)
    np.testing.assert_array_equal(image, before)


class TestOutput:
    def test_default_result_never_wraps(self):
        image = np.full((8, 8), 200, dtype=np.uint8)
        out = filterkit.convolve(image, np.ones((3, 3)))
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out, 1800)

    @pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.uint16, np.int16, np.int32])
    def test_integer_output_is_rounded_half_to_even_and_saturated(self, dtype):
        rng = np.random.default_rng(4)
        image = rng.uniform(-3e4, 3e4, size=(40, 50))
        mask = np.array([[0.5, 0, 0], [0, 1, 0], [0, 0, 0.75]])
        exact = ndi.convolve(image, mask, mode="nearest")
        info = np.iinfo(dtype)
        want = np.clip(np.rint(exact), info.min, info.max)
        got = filterkit.convolve(image, mask, mode="nearest", output=dtype)
        assert got.dtype == dtype
        # float64 compute: only values within 1e-9 of a .5 tie may round apart
        near_tie = np.abs(np.abs(exact - np.floor(exact)) - 0.5) < 1e-9
        np.testing.assert_array_equal(got[~near_tie], want[~near_tie])

    def test_halves_round_to_even(self):
        image = np.array([[0.5, 1.5, 2.5, -0.5, -1.5, 300.0, -7.0]])
        got = filterkit.convolve(image, [[1]], output=np.int16)
        np.testing.assert_array_equal(got, [[0, 2, 2, 0, -2, 300, -7]])
        got8 = filterkit.convolve(image, [[1]], output=np.uint8)
        np.testing.assert_array_equal(got8, [[0, 2, 2, 0, 0, 255, 0]])

    @pytest.mark.parametrize("cpu", ["auto", "avx2", "portable"])
    @pytest.mark.parametrize("compute", [np.float32, np.float64])
    @pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.uint16, np.int16])
    @pytest.mark.parametrize("strided", [False, True])
    def test_small_integer_outputs_round_half_to_even_saturate_and_zero_nan(self, compute, dtype,
                                                                             strided, cpu,
                                                                             monkeypatch):
        # 8- and 16-bit targets have vectorised storers of their own (add
        # and subtract 1.5 * 2^mantissa after clamping; from float32 with
        # AVX2, max, min and cvtps2dq, 32 or 16 values a step): every half,
        # both bounds and beyond, NaN and inf, in either compute precision,
        # into a contiguous or a strided output, rows of 141 values (whole
        # steps, then a tail of 13 for the scalar loop), on every kernel
        # level; the oracle is numpy's rint + clip
        monkeypatch.setenv("FILTERKIT_CPU", cpu)
        info = np.iinfo(dtype)
        values = np.concatenate([np.arange(-4.5, 5.0, 0.5), [info.min - 0.5, info.min + 0.5,
                                 info.max - 0.5, info.max + 0.5, info.max - 1.5, 1e30, -1e30,
                                 np.inf, -np.inf, np.nan, 0.49999997, 2.5000002, -0.0]])
        image = np.tile(values, (3, 5))[:, :141].astype(compute)
        image[1] = np.roll(image[1], 7)  # every value at another place in the step
        with np.errstate(invalid="ignore"):
            want = np.clip(np.rint(np.nan_to_num(image.astype(np.float64), nan=0.0,
                                                 posinf=np.inf, neginf=-np.inf)),
                           info.min, info.max).astype(dtype)
        if strided:
            base = np.zeros((image.shape[0], 2 * image.shape[1]), dtype)
            out = base[:, ::2]
            filterkit.convolve(image, [[1]], output=out)
            got = out
        else:
            got = filterkit.convolve(image, [[1]], output=dtype)
        np.testing.assert_array_equal(got, want)

    def test_nan_becomes_zero_in_an_integer_output(self):
        image = np.array([[np.nan, 1.0, 2.0]])
        np.testing.assert_array_equal(filterkit.convolve(image, [[1]], output=np.uint8), [[0, 1, 2]])

    def test_output_array_is_written_in_place_and_returned(self):
        rng = np.random.default_rng(1)
        image = rng.standard_normal((20, 30)).astype(np.float32)
        out = np.empty((20, 30), dtype=np.float64)
        result = filterkit.correlate(image, np.ones((3, 3)), output=out)
        assert result is out
        np.testing.assert_allclose(out, ndi.correlate(image.astype(np.float64), np.ones((3, 3))),
                                   atol=error_bound(np.ones((3, 3)), image, dtype=np.float64))

    def test_float64_output_computes_in_float64(self):
        image = np.array([[16777217]], dtype=np.int32)  # 2**24 + 1: not a float32
        assert filterkit.convolve(image, [[1]], output=np.float64)[0, 0] == 16777217
        assert filterkit.convolve(image, [[1]])[0, 0] == 16777216  # float32 by default

    def test_output_may_be_the_input_itself(self):
        rng = np.random.default_rng(8)
        image = rng.standard_normal((64, 80))
        want = ndi.convolve(image, np.ones((5, 5)), mode="wrap")
        result = filterkit.convolve(image, np.ones((5, 5)), mode="wrap", output=image)
        assert result is image
        np.testing.assert_allclose(image, want, atol=1e-12)

    def test_strided_and_byte_swapped_output_arrays(self):
        rng = np.random.default_rng(9)
        image = rng.standard_normal((30, 40))
        want = ndi.convolve(image, np.ones((3, 3)))
        big = np.zeros((60, 80), dtype=">f8")
        view = big[::2, ::-2]
        filterkit.convolve(image, np.ones((3, 3)), output=view)
        np.testing.assert_allclose(view, want, atol=1e-12)
        assert np.all(big[1::2] == 0)


class TestChannels:
    @pytest.mark.parametrize("axis", [-1, 2, 0])
    def test_each_channel_is_filtered_independently(self, axis):
        rng = np.random.default_rng(6)
        rgb = rng.integers(0, 256, size=(25, 31, 3), dtype=np.uint8)
        image = np.moveaxis(rgb, -1, axis)
        mask = rng.standard_normal((3, 5))
        got = filterkit.convolve(image, mask, channel_axis=axis)
        assert got.shape == image.shape
        for c in range(3):
            plane = np.take(image, c, axis=axis)
            np.testing.assert_array_equal(np.take(got, c, axis=axis), filterkit.convolve(plane, mask))

    def test_valid_mode_keeps_the_channel_axis(self):
        image = np.ones((10, 12, 4), dtype=np.float32)
        assert filterkit.convolve(image, np.ones((3, 5)), mode="valid", channel_axis=-1).shape == (8, 8, 4)


class TestMethods:
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

    def test_auto_picks_separable_for_a_rank_one_mask(self):
        # an integer image and an integer rank-1 mask: both methods are exact
        rng = np.random.default_rng(12)
        image = rng.integers(0, 256, size=(30, 40)).astype(np.float64)
        mask = np.outer([1, 4, 6, 4, 1], [1, 2, 1])
        auto = filterkit.convolve(image, mask)
        np.testing.assert_array_equal(auto, filterkit.convolve(image, mask, method="separable"))
        np.testing.assert_array_equal(auto, ndi.convolve(image, mask.astype(float)))

    def test_separable_refuses_a_mask_of_higher_rank(self):
        laplace = [[0, 1, 0], [1, -4, 1], [0, 1, 0]]
        with pytest.raises(ValueError, match=r"`mask` must be rank 1 .*method='separable'; got a 3x3 mask"):
            filterkit.convolve(np.ones((5, 5)), laplace, method="separable")


class TestThreads:
    def test_results_are_bit_identical_for_every_thread_count(self):
        rng = np.random.default_rng(13)
        image = rng.standard_normal((301, 517)).astype(np.float32)
        mask = rng.standard_normal((7, 5))
        same_for_every_thread_count(lambda: filterkit.convolve(image, mask, mode="reflect"),
                                    (1, 2, 3, 5))

    def test_environment_variable_sets_the_default(self, monkeypatch):
        filterkit.set_num_threads(None)
        monkeypatch.setenv("FILTERKIT_NUM_THREADS", "3")
        assert filterkit.get_num_threads() == 3
        filterkit.set_num_threads(2)
        assert filterkit.get_num_threads() == 2  # the call wins over the variable
        filterkit.set_num_threads(None)
        monkeypatch.delenv("FILTERKIT_NUM_THREADS")
        assert filterkit.get_num_threads() >= 1

    def test_bad_environment_variable_is_named(self, monkeypatch):
        filterkit.set_num_threads(None)
        monkeypatch.setenv("FILTERKIT_NUM_THREADS", "many")
        with pytest.raises(ValueError, match=r"`FILTERKIT_NUM_THREADS` must be a positive integer; got 'many'"):
            filterkit.convolve(np.ones((3, 3)), [[1]])
        monkeypatch.setenv("FILTERKIT_NUM_THREADS", "0")
        with pytest.raises(ValueError, match=r"`FILTERKIT_NUM_THREADS` must be a positive integer; got 0"):
            filterkit.get_num_threads()

    @pytest.mark.parametrize("n, exc, match", [
        (0, ValueError, r"`n` must be a positive integer; got 0\."),
        (-2, ValueError, r"`n` must be a positive integer; got -2\."),
        (1.5, TypeError, r"`n` must be a positive integer; got 1\.5 \(float\)\."),
        (True, TypeError, r"`n` must be a positive integer; got True \(bool\)\."),
    ])
    def test_bad_thread_counts(self, n, exc, match):
        with pytest.raises(exc, match=match):
            filterkit.set_num_threads(n)


@pytest.mark.parametrize("cpu", ["portable", "avx2"])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
@pytest.mark.parametrize("mode", MODES)
def test_portable_and_avx2_kernels_match_the_oracle(monkeypatch, cpu, dtype, mode):
    # FILTERKIT_CPU=portable runs the SSE2/NEON kernels, =avx2 the AVX2
    # kernels, on a machine that has more
    monkeypatch.setenv("FILTERKIT_CPU", cpu)
    rng = np.random.default_rng(14)
    image = random_image(rng, (50, 150), dtype)
    for shape in [(3, 3), (5, 1), (1, 9)]:
        mask = rng.standard_normal(shape)
        got = filterkit.convolve(image, mask, mode=mode)
        want = naive_convolve(image, mask, mode=mode)
        np.testing.assert_allclose(got, want, rtol=0, atol=error_bound(mask, image, dtype=got.dtype))


def test_bad_cpu_variable(monkeypatch):
    monkeypatch.setenv("FILTERKIT_CPU", "avx9000")
    with pytest.raises(ValueError, match=r"`FILTERKIT_CPU` must be 'auto', 'avx2' or 'portable'; got 'avx9000'"):
        filterkit.convolve(np.ones((3, 3)), [[1]])


class TestNaN:
    def test_nan_spreads_over_nonzero_taps_only(self):
        image = np.zeros((5, 5))
        image[2, 2] = np.nan
        plus = [[0, 1, 0], [1, 1, 1], [0, 1, 0]]
        out = filterkit.convolve(image, plus, mode="constant")
        want = ndi.convolve(image, np.array(plus, float), mode="constant")
        np.testing.assert_array_equal(np.isnan(out), np.isnan(want))
        assert np.isnan(out).sum() == 5


class TestErrors:
    @pytest.mark.parametrize("image, match", [
        (np.ones((4, 4), dtype=bool), r"`image` must be an array of real numbers .*; got dtype bool\."),
        (np.ones((4, 4), dtype=complex), r"`image` must be an array of real numbers .*; got dtype complex128\."),
        (np.array([["a", "b"]]), r"`image` must be an array of real numbers .*; got dtype <U1\."),
    ])
    def test_image_dtype(self, image, match):
        with pytest.raises(TypeError, match=match):
            filterkit.convolve(image, [[1]])

    def test_long_double_is_refused(self):
        with pytest.raises(TypeError, match=r"`image` must be an array of one of the dtypes .*; got dtype float128"):
            filterkit.convolve(np.ones((3, 3), dtype=np.longdouble), [[1]])

    @pytest.mark.parametrize("shape, match", [
        ((5,), r"`image` must be 2-D when channel_axis is None; got 1-D with shape \(5,\)\."),
        ((4, 4, 3), r"`image` must be 2-D when channel_axis is None \(a colour or multi-channel image needs channel_axis, e\.g\. channel_axis=-1\); got 3-D"),
        ((2, 2, 2, 2), r"`image` must be 2-D when channel_axis is None; got 4-D"),
        ((0, 4), r"`image` must be non-empty; got shape \(0, 4\)\."),
    ])
    def test_image_shape(self, shape, match):
        with pytest.raises(ValueError, match=match):
            filterkit.convolve(np.ones(shape), [[1]])

    def test_channel_axis(self):
        with pytest.raises(ValueError, match=r"`image` must be 3-D when channel_axis is given; got 2-D"):
            filterkit.convolve(np.ones((4, 4)), [[1]], channel_axis=-1)
        with pytest.raises(ValueError, match=r"`channel_axis` must be an axis of a 3-D image \(-3 to 2\); got 3\."):
            filterkit.convolve(np.ones((4, 4, 3)), [[1]], channel_axis=3)
        with pytest.raises(TypeError, match=r"`channel_axis` must be None or an integer; got 'last' \(str\)\."):
            filterkit.convolve(np.ones((4, 4, 3)), [[1]], channel_axis="last")

    @pytest.mark.parametrize("mask, exc, match", [
        (np.ones((2, 3)), ValueError, r"`mask` must be odd in both height and width .*pad an even side with a row or column of zeros.*; got shape \(2, 3\)\."),
        (np.ones((3, 4)), ValueError, r"`mask` must be odd .*; got shape \(3, 4\)\."),
        (np.ones(3), ValueError, r"`mask` must be 2-D \(use mask\[np\.newaxis, :\] for a row .*\); got 1-D with shape \(3,\)\."),
        (np.ones((0, 3)), ValueError, r"`mask` must be non-empty; got shape \(0, 3\)\."),
        ([[1, np.nan, 1]], ValueError, r"`mask` must be finite \(no NaN or inf\); got nan at index \(0, 1\)\."),
        ([[np.inf]], ValueError, r"`mask` must be finite \(no NaN or inf\); got inf at index \(0, 0\)\."),
        ([[1j]], TypeError, r"`mask` must be an array of real numbers; got dtype complex128\."),
        ([[True]], TypeError, r"`mask` must be an array of real numbers; got dtype bool\."),
    ])
    def test_mask(self, mask, exc, match):
        with pytest.raises(exc, match=match):
            filterkit.convolve(np.ones((5, 5)), mask)

    def test_valid_mode_needs_a_mask_inside_the_image(self):
        with pytest.raises(ValueError, match=r"`mask` must be no larger than the image with mode='valid' \(image 4x9\); got shape \(5, 3\)\."):
            filterkit.convolve(np.ones((4, 9)), np.ones((5, 3)), mode="valid")

    @pytest.mark.parametrize("mode, exc, match", [
        ("reflekt", ValueError, r"`mode` must be one of 'constant', 'nearest', 'reflect', 'mirror', 'wrap', 'valid' .*; got 'reflekt'\."),
        (3, TypeError, r"`mode` must be a string, one of 'constant', .*; got 3 \(int\)\."),
    ])
    def test_mode(self, mode, exc, match):
        with pytest.raises(exc, match=match):
            filterkit.convolve(np.ones((5, 5)), [[1]], mode=mode)

    def test_cval(self):
        with pytest.raises(TypeError, match=r"`cval` must be a real number; got 'zero' \(str\)\."):
            filterkit.convolve(np.ones((5, 5)), [[1]], mode="constant", cval="zero")
        with pytest.raises(ValueError, match=r"`cval` must be 0 with mode='zero' .*; got 2\.0\."):
            filterkit.convolve(np.ones((5, 5)), [[1]], mode="zero", cval=2)

    def test_method(self):
        with pytest.raises(ValueError, match=r"`method` must be one of 'auto', 'direct', 'separable', 'box', 'fft', 'overlap_save'; got 'fast'\."):
            filterkit.convolve(np.ones((5, 5)), [[1]], method="fast")
        with pytest.raises(TypeError, match=r"`method` must be one of 'auto', 'direct', 'separable', 'box', 'fft', 'overlap_save'; got None \(NoneType\)\."):
            filterkit.convolve(np.ones((5, 5)), [[1]], method=None)

    def test_output(self):
        image = np.ones((5, 6))
        with pytest.raises(ValueError, match=r"`output` must be an array of shape \(5, 6\) \(the result's shape\); got shape \(6, 5\)\."):
            filterkit.convolve(image, [[1]], output=np.empty((6, 5)))
        with pytest.raises(TypeError, match=r"`output` must be an array of one of the dtypes .*; got dtype complex128\."):
            filterkit.convolve(image, [[1]], output=np.empty((5, 6), complex))
        with pytest.raises(TypeError, match=r"`output` must be an array or a dtype of .*; got dtype bool\."):
            filterkit.convolve(image, [[1]], output=bool)
        with pytest.raises(TypeError, match=r"`output` must be None, an array or a dtype .*; got 'pixels' \(str\)\."):
            filterkit.convolve(image, [[1]], output="pixels")
        readonly = np.empty((5, 6))
        readonly.flags.writeable = False
        with pytest.raises(ValueError, match=r"`output` must be a writeable array; got a read-only array\."):
            filterkit.convolve(image, [[1]], output=readonly)


@pytest.mark.parametrize("alias, canonical", [
    ("replicate", "nearest"), ("BORDER_REPLICATE", "nearest"), ("edge", "nearest"),
    ("reflect101", "mirror"), ("reflect_101", "mirror"), ("symmetric", "reflect"),
    ("circular", "wrap"), ("grid-wrap", "wrap"), ("zero", "constant"), ("Reflect", "reflect"),
])
def test_mode_aliases(alias, canonical):
    rng = np.random.default_rng(15)
    image = rng.standard_normal((12, 17))
    mask = rng.standard_normal((5, 5))
    np.testing.assert_array_equal(filterkit.convolve(image, mask, mode=alias),
                                  filterkit.convolve(image, mask, mode=canonical))


def test_opencv_filter2d_is_correlation():
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(16)
    image = rng.standard_normal((40, 50)).astype(np.float32)
    mask = rng.standard_normal((3, 5)).astype(np.float32)
    want = cv2.filter2D(image, -1, mask, borderType=cv2.BORDER_REFLECT_101)
    got = filterkit.correlate(image, mask, mode="reflect101")
    np.testing.assert_allclose(got, want, rtol=0, atol=error_bound(mask, image) * 4)


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


@pytest.mark.parametrize("cpu", ["auto", "portable"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("width", [5, 64, 67, 300])
@pytest.mark.parametrize("pattern", ["full", "cross"])
def test_the_fixed_3x3_kernels_match_the_oracle_for_every_thread_count(monkeypatch, cpu, dtype,
                                                                      width, pattern):
    # a 3x3 mask with no zero weight, or zeros exactly at the corners (the
    # 4-neighbour Laplace's cross), runs a fixed-size kernel (weights held in
    # registers): in-place strips from 64 columns on, ring strips at the
    # borders, rows in pairs and one alone (odd heights), any thread count;
    # a NaN spreads over the non-zero taps only
    monkeypatch.setenv("FILTERKIT_CPU", cpu)
    rng = np.random.default_rng(seed("fixed 3x3", cpu, np.dtype(dtype).str, width, pattern))
    image = rng.standard_normal((41, width)).astype(dtype)
    image[20, width // 2] = np.nan
    mask = rng.uniform(0.5, 1.5, (3, 3)) * rng.choice([-1, 1], (3, 3))
    if pattern == "cross":
        mask[[0, 0, 2, 2], [0, 2, 0, 2]] = 0.0
    got = same_for_every_thread_count(
        lambda: filterkit.convolve(image, mask, mode="mirror", method="direct"))
    with np.errstate(invalid="ignore"):
        want = naive_convolve(image, mask, mode="mirror")
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))  # NaN: its 3x3 neighbourhood
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=0,
                               atol=error_bound(mask, np.nan_to_num(image), dtype=dtype))


def test_a_zero_weight_still_keeps_nan_out_with_a_3x3_mask():
    # the 4-neighbour Laplace mask has zero corners: the general kernel skips
    # them, so a NaN reaches only the cross, not the corners
    image = np.zeros((9, 80), np.float32)
    image[4, 40] = np.nan
    got = filterkit.convolve(image, [[0, 1, 0], [1, -4, 1], [0, 1, 0]])
    assert np.isnan(got).sum() == 5 and not np.isnan(got[3, 39])

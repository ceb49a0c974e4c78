"""filterkit.convolve / correlate (_convolve.py, _validate.py, the direct
method's kernels): the public contract against independent oracles.  Modes
and their aliases, dtypes and the compute precision, channels, the output
(a dtype, an array written in place, strided, byte-swapped or overlapping
the image), byte order, FILTERKIT_CPU's kernel levels, NaN, and the
errors.  Each method's own tests are in test_methods_*.py, auto's in
test_choose.py, integer outputs in test_job.py, thread counts in
test_threads.py.

Oracles: scipy.ndimage in float64, scipy.signal.convolve2d for 'valid', and
the naive numpy.pad oracle of oracle.py (where scipy's 'reflect' is wrong
for masks much larger than the image).  Tolerances come from
oracle.error_bound: the rounding-error bound of an n-term dot product in the
compute type, never a guess.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
import scipy.ndimage as ndi
import scipy.signal

import filterkit
from filterkit import masks
from helpers import same_for_every_thread_count
from oracle import (MODES, compute_dtype, error_bound, naive_convolve, naive_correlate, oracle_tol,
                    random_image, seed)

DTYPES = [np.uint8, np.uint16, np.int16, np.int32, np.float32, np.float64]
MASK_SHAPES = [(1, 1), (3, 3), (1, 7), (7, 1), (5, 3), (3, 5), (9, 9), (21, 21)]
ALL_METHODS = ["direct", "separable", "box", "fft", "overlap_save", "auto"]


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
        (np.ones((4, 4), dtype=bool), r"`image` must be an array of real numbers \(uint8, .*, float64 or float16\); got dtype bool\."),
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


# ----------------------------------------------------------------------------
# every method: inputs untouched, outputs in place or strided, bad method names
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["fft", "overlap_save", "box", "auto", "direct"])
def test_input_and_mask_are_never_modified(method):
    rng = np.random.default_rng(50)
    image = random_image(rng, (60, 70), np.float64)
    mask = np.full((5, 5), 0.5) if method == "box" else rng.standard_normal((5, 5))
    before, mask_before = image.copy(), mask.copy()
    for fn in (filterkit.convolve, filterkit.correlate):
        for mode in ("reflect", "valid"):
            fn(image, mask, mode=mode, method=method)
            fn(image, mask, mode=mode, method=method, output=np.uint8)
    np.testing.assert_array_equal(image, before)
    np.testing.assert_array_equal(mask, mask_before)


@pytest.mark.parametrize("out_dtype", [np.float64, np.float32, np.int16])
@pytest.mark.parametrize("method", ["fft", "overlap_save", "box"])
def test_output_array_is_written_in_place(method, out_dtype):
    rng = np.random.default_rng(51)
    image = random_image(rng, (50, 64), np.float32)
    mask = np.full((3, 5), 0.25) if method == "box" else rng.standard_normal((3, 5))
    out = np.zeros((50, 64), dtype=out_dtype)
    result = filterkit.correlate(image, mask, mode="wrap", method=method, output=out)
    assert result is out
    exact = naive_correlate(image, mask, mode="wrap")
    if np.dtype(out_dtype).kind == "f":
        cdt = compute_dtype(out_dtype)
        np.testing.assert_allclose(out, exact, rtol=0, atol=oracle_tol(mask, image, cdt))
    else:
        # rounded half to even from a float32 result: one level apart at most
        # where the exact value is within the error of a .5 tie (see the uint8 test)
        decided = np.abs(exact - np.floor(exact) - 0.5) > oracle_tol(mask, image, np.float32)
        np.testing.assert_array_equal(out[decided], np.rint(exact)[decided])
        assert np.abs(out - np.rint(exact)).max() <= 1


@pytest.mark.parametrize("method", ["fft", "overlap_save"])
def test_output_may_be_a_strided_view_or_the_input_itself(method):
    rng = np.random.default_rng(52)
    image = rng.standard_normal((48, 62))
    mask = rng.standard_normal((7, 7))
    want = naive_convolve(image, mask, mode="nearest")
    tol = oracle_tol(mask, image, np.float64)
    big = np.zeros((96, 124))
    view = big[::2, ::-2]
    assert filterkit.convolve(image, mask, mode="nearest", method=method, output=view) is view
    np.testing.assert_allclose(view, want, rtol=0, atol=tol)
    assert np.all(big[1::2] == 0)
    result = filterkit.convolve(image, mask, mode="nearest", method=method, output=image)
    assert result is image
    np.testing.assert_allclose(image, want, rtol=0, atol=tol)


@pytest.mark.parametrize("method", ["nope", "FFT-ish", "", 3, None])
def test_bad_method_name(method):
    with pytest.raises((ValueError, TypeError), match=r"`method` must be"):
        filterkit.convolve(np.ones((8, 8)), np.ones((3, 3)), method=method)
    with pytest.raises((ValueError, TypeError), match=r"`method` must be"):
        filterkit.correlate(np.ones((8, 8)), np.ones((3, 3)), method=method)


def test_bad_method_string_is_a_value_error():
    with pytest.raises(ValueError, match=r"`method` must be .*'fft'.*; got 'fourier'"):
        filterkit.convolve(np.ones((8, 8)), np.ones((3, 3)), method="fourier")


# ----------------------------------------------------------------------------
# byte order never changes the precision or the bits
# ----------------------------------------------------------------------------

MASK5 = np.random.default_rng(5).random((5, 5))
BYTE_ORDER_CALLS = {
    "convolve direct": lambda a: filterkit.convolve(a, MASK5, method="direct"),
    "convolve fft": lambda a: filterkit.convolve(a, MASK5, method="fft"),
    "convolve oa": lambda a: filterkit.convolve(a, MASK5, method="overlap_save"),
    "correlate auto": lambda a: filterkit.correlate(a, MASK5),
    "mean": lambda a: filterkit.mean(a, 5),
    "gaussian": lambda a: filterkit.gaussian(a, 1.5),
    "sobel": lambda a: filterkit.sobel(a),
    "gradient": lambda a: np.stack(filterkit.gradient(a)),
    "laplace": lambda a: filterkit.laplace(a),
}


@pytest.mark.parametrize("call", list(BYTE_ORDER_CALLS), ids=list(BYTE_ORDER_CALLS))
@pytest.mark.parametrize("dtype", ["f8", "f4", "u2", "i4"])
def test_byte_swapped_images_give_the_native_result(call, dtype):
    native = (np.random.default_rng(1).random((40, 50)) * 1e8).astype("=" + dtype)
    swapped = native.astype(">" + dtype if sys.byteorder == "little" else "<" + dtype)
    assert not swapped.dtype.isnative
    want = BYTE_ORDER_CALLS[call](native)
    got = BYTE_ORDER_CALLS[call](swapped)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_big_endian_float64_is_computed_in_float64():
    # values near 1e8: computed in float32 they would be off by up to 5.8
    a = (np.random.default_rng(2).random((64, 64)) * 1e8).astype(">f8")
    mask = np.random.default_rng(3).random((5, 5))
    got = filterkit.convolve(a, mask, method="direct")
    assert got.dtype == np.float64
    want = ndi.convolve(a.astype(np.float64), mask, mode="reflect")
    np.testing.assert_allclose(got, want, rtol=1e-13)   # float64 arithmetic, 25 taps
    # a byte-swapped float64 *output* dtype computes in float64 too
    out = filterkit.convolve(a.astype(np.float32), mask, output=">f8", method="direct")
    np.testing.assert_array_equal(out, filterkit.convolve(a.astype(np.float32), mask,
                                                          output=np.float64, method="direct"))


# ----------------------------------------------------------------------------
# an output that overlaps the image, for every method
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("method", ALL_METHODS)
@pytest.mark.parametrize("view", ["reversed channels", "itself", "shifted rows"])
def test_outputs_overlapping_the_image(method, view):
    rng = np.random.default_rng(7)
    b = (rng.random((48, 40, 3)) * 255).astype(np.float32)
    mask = masks.mean(5)  # constant and rank 1: every method takes it
    want = filterkit.convolve(b, mask, method=method, channel_axis=-1)
    work = b.copy()
    if view == "reversed channels":
        out, read_back = work[:, :, ::-1], lambda: work[:, :, ::-1]
    elif view == "itself":
        out, read_back = work, lambda: work
    else:
        big = np.concatenate([work, work[:1]], axis=0)
        work = big[:-1]
        out, read_back = big[1:], lambda: big[1:]
    got = filterkit.convolve(work, mask, method=method, channel_axis=-1, output=out)
    assert got is out
    np.testing.assert_array_equal(read_back(), want)


def test_fft_methods_write_into_the_reversed_channels_of_their_image():
    rng = np.random.default_rng(8)
    b = (rng.random((64, 64, 3)) * 255).astype(np.float32)
    m = rng.random((7, 7))
    for method in ("fft", "overlap_save"):
        want = filterkit.convolve(b, m, method=method, channel_axis=-1)
        work = b.copy()
        filterkit.convolve(work, m, method=method, channel_axis=-1, output=work[:, :, ::-1])
        np.testing.assert_array_equal(work[:, :, ::-1], want)

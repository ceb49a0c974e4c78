"""Integer outputs (_job.store): every method's float result is rounded
half to even and saturated to the output's range (NaN to 0), without a
cast warning, from 8-bit to 64-bit integers.

Oracles: exact integer expectations (saturation limits, numpy's rint and
clip, round half to even of exactly representable halves) and
scipy.ndimage in float64.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi

import filterkit
from filterkit import masks

ALL_METHODS = ["direct", "separable", "box", "fft", "overlap_save", "auto"]
WIDE_INTS = [np.uint32, np.int32, np.uint64, np.int64]
ALL_INTS = [np.uint8, np.int8, np.uint16, np.int16] + WIDE_INTS


class TestStore:
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


@pytest.mark.parametrize("method", ALL_METHODS)
@pytest.mark.parametrize("dtype", ALL_INTS)
def test_every_method_saturates_integer_outputs(method, dtype, no_warnings):
    # a constant, rank-1 mask summing to 1 (every method takes it): the
    # extreme values come back as themselves, saturated, never wrapped.
    # Computed in float32: within the FFT methods' documented 1e-4 of
    # sum|mask| max|image| (the loosest path; the direct sums are within
    # 225 float32 roundings, 1.4e-5) of the value; that is exact for 8- and
    # 16-bit values (a tolerance under 1/2), and a wrap is off by 100 %
    info = np.iinfo(dtype)
    mask = masks.mean(15)
    for value in (info.max, info.min):
        image = np.full((64, 80), value, dtype=dtype)
        got = filterkit.convolve(image, mask, output=dtype, method=method)
        assert got.dtype == dtype
        tol = max(0.5, 1e-4 * abs(float(value)))
        err = np.abs(got.astype(object) - int(value)).max()
        assert err <= tol, (method, dtype, value, got[30, 30])


@pytest.mark.parametrize("method", ["direct", "fft", "overlap_save", "auto"])
def test_uint32_maximum_through_a_normalised_31x31_mask_stays_near_it(method, no_warnings):
    m = np.random.default_rng(0).random((31, 31))
    m /= m.sum()
    got = filterkit.convolve(np.full((1024, 1024), 2**32 - 1, np.uint32), m, output=np.uint32,
                             method=method)
    # float32 arithmetic: within the documented 1e-4 relative of the maximum
    # (a conversion that wraps instead of saturating gives 0 here)
    assert got.min() >= (2**32 - 1) * (1 - 1e-4)


@pytest.mark.parametrize("method", ["direct", "fft", "overlap_save"])
@pytest.mark.parametrize("dtype", WIDE_INTS)
def test_floats_beyond_an_integer_range_saturate_without_a_warning(method, dtype, no_warnings):
    # 1e300 into int64 is its maximum (the float 2^63 does not fit): no
    # 'invalid value encountered in cast', no wrap to the minimum
    info = np.iinfo(dtype)
    for value, want in ((1e300, info.max), (-1e300, info.min), (2.0**64, info.max),
                        (-(2.0**63), info.min)):
        got = filterkit.convolve(np.full((40, 40), value), [[1.0]], output=dtype, method=method)
        assert np.all(got == want), (value, got[0, 0])


@pytest.mark.parametrize("dtype", ALL_INTS)
def test_nan_becomes_zero_in_integer_outputs(dtype, no_warnings):
    image = np.zeros((40, 40))
    image[:, :10] = np.nan
    got = filterkit.convolve(image, [[1.0]], output=dtype, method="direct")
    assert np.all(got == 0)
    # and through the colour stores
    rgb = np.full((4, 4, 3), np.nan)
    assert np.all(filterkit.mean(rgb, 3, channel_axis=-1, space="rgb", output=dtype) == 0)


def test_rows_of_pixels_only_for_interleaved_memory():
    # the one-pass path takes images whose pixel stride is C channel
    # strides; any other layout goes plane by plane
    from filterkit._job import MAX_LANES, _rows_of_pixels

    hwc = np.arange(2 * 5 * 3, dtype=np.float32).reshape(2, 5, 3)
    rows = _rows_of_pixels(hwc, 2)
    assert rows is not None and rows.shape == (2, 15)
    np.testing.assert_array_equal(rows, hwc.reshape(2, 15))
    chw_view = np.moveaxis(hwc, -1, 0)
    np.testing.assert_array_equal(_rows_of_pixels(chw_view, 0), hwc.reshape(2, 15))
    assert _rows_of_pixels(np.ascontiguousarray(chw_view), 0) is None
    assert _rows_of_pixels(hwc[..., ::-1], 2) is None
    assert _rows_of_pixels(hwc[:, ::2], 2) is None
    assert _rows_of_pixels(np.zeros((2, 3, MAX_LANES + 1)), 2) is None

"""method="box" (methods/box.py): running window sums times the mask's one
weight, for masks whose weights are all equal; NaN and inf stay where the
window sees them; filterkit.mean takes the same sums.

Oracles: the naive numpy.pad oracle of oracle.py in float64 and
filterkit's own method="direct"; tolerances from oracle.error_bound.
"""

from __future__ import annotations

import numpy as np
import pytest

import filterkit
from oracle import ALL_MODES, MODES, compute_dtype, error_bound, naive_convolve, naive_correlate, random_image, seed

CVAL = 1.5


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
@pytest.mark.parametrize("mode", ALL_MODES)
def test_box_equals_direct_for_a_constant_mask(mode, dtype):
    rng = np.random.default_rng(seed("box", mode, np.dtype(dtype).str))
    image = random_image(rng, (46, 71), dtype)
    mask = np.full((5, 7), 0.3)
    cdt = compute_dtype(dtype)
    got = filterkit.convolve(image, mask, mode=mode, cval=CVAL, method="box")
    direct = filterkit.convolve(image, mask, mode=mode, cval=CVAL, method="direct")
    want = naive_convolve(image, mask, mode=mode, cval=CVAL)
    assert got.dtype == cdt and got.shape == want.shape
    # a sum of 35 terms and one scaling by 35 * 0.3: within the dot-product
    # bound (its 4 (n + 1) u covers the extra rounding of the scaling)
    eb = error_bound(mask, image, dtype=cdt)
    np.testing.assert_allclose(got, want, rtol=0, atol=eb)
    np.testing.assert_allclose(got, direct, rtol=0, atol=2 * eb)
    corr = filterkit.correlate(image, mask, mode=mode, cval=CVAL, method="box")
    np.testing.assert_allclose(corr, want, rtol=0, atol=eb)  # symmetric mask


@pytest.mark.parametrize("weight", [0.0, -0.5, 3.0])
@pytest.mark.parametrize("out_dtype", [np.uint8, np.int16, np.float32])
def test_box_scales_by_the_weight_and_saturates_integer_outputs(weight, out_dtype):
    # the window sums times the weight go straight into the output: a zero
    # mask gives zeros, a negative or large weight saturates integer outputs
    rng = np.random.default_rng(seed("box weight", weight, np.dtype(out_dtype).str))
    image = rng.integers(0, 256, (37, 53)).astype(np.uint8)
    mask = np.full((5, 3), weight)
    got = filterkit.convolve(image, mask, mode="nearest", method="box", output=out_dtype)
    exact = naive_convolve(image, mask, mode="nearest")
    assert got.dtype == out_dtype
    if np.dtype(out_dtype).kind == "f":
        np.testing.assert_allclose(got, exact, rtol=0, atol=error_bound(mask, image, dtype=np.float32))
    else:
        info = np.iinfo(out_dtype)
        # sums of integers times 0, -0.5 or 3 in float32: exact, so no tie is in doubt
        np.testing.assert_array_equal(got, np.clip(np.rint(exact), info.min, info.max))


def placed(shape, dtype, offset, rng=None):
    """An array whose data starts `offset` bytes after a 4 KiB boundary."""
    dt = np.dtype(dtype)
    n = int(np.prod(shape))
    buf = np.empty(n * dt.itemsize + 8192, np.uint8)
    start = (-buf.ctypes.data + offset) % 4096
    out = buf[start:start + n * dt.itemsize].view(dt).reshape(shape)
    assert out.ctypes.data % 4096 == offset
    if rng is not None:
        out[...] = rng.standard_normal(shape)
    return out


@pytest.mark.parametrize("width", [1024, 1000, 61])
@pytest.mark.parametrize("mode", ["reflect", "constant", "wrap"])
def test_box_3x3_gives_the_same_bits_wherever_the_output_lies(width, mode):
    # the 3x3 box stores each vector of outputs a step late (4K aliasing:
    # an output 16 bytes after the image modulo 4 KiB): every placement of
    # the output gives the same bits, and they match the oracle.  Width 1024
    # makes every row start at the same place modulo 4 KiB, 1000 and 61 not;
    # 61 also ends in a partial vector.
    rng = np.random.default_rng(seed("box placement", width, mode))
    image = placed((11, width), np.float32, 0, rng)
    mask = np.full((3, 3), 1.0 / 9.0)
    want = naive_convolve(image, mask, mode=mode, cval=CVAL)
    results = []
    for offset in (0, 16, 64, 128, 132, 2048, 4032):
        out = placed(image.shape, np.float32, offset)
        filterkit.convolve(image, mask, mode=mode, cval=CVAL, output=out, method="box")
        results.append(out.copy())
    np.testing.assert_allclose(results[0], want, rtol=0, atol=error_bound(mask, image, dtype=np.float32))
    for got in results[1:]:
        np.testing.assert_array_equal(got, results[0])


def test_box_keeps_nan_where_the_window_sees_it():
    image = np.zeros((20, 30))
    image[10, 12] = np.nan
    got = filterkit.convolve(image, np.full((3, 5), 0.1), method="box")
    want = np.zeros_like(image)
    want[9:12, 10:15] = np.nan
    np.testing.assert_array_equal(got, want)


def assert_same_nonfinite(got, want, bound):
    """NaN, +inf and -inf exactly where the float64 oracle has them; the rest
    within the rounding bound."""
    for kind in (np.isnan, np.isposinf, np.isneginf):
        np.testing.assert_array_equal(kind(got), kind(want), err_msg=kind.__name__)
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=0, atol=bound)


# running sums would keep a NaN (or inf - inf) after it leaves the window:
# masks taller than 3 or wider than 9 take those paths, widths over 256
# cross a chunk of column sums, and the tall image a fresh start (row 256)
@pytest.mark.parametrize("shape", [(5, 5), (11, 15), (5, 11), (3, 31), (21, 3), (9, 41)])
@pytest.mark.parametrize("mode", MODES + ["valid"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mean_and_box_keep_nan_and_inf_only_where_the_window_sees_them(shape, mode, dtype):
    rng = np.random.default_rng(seed("box nan", shape, mode, np.dtype(dtype).str))
    image = rng.random((300, 290)).astype(dtype)
    image[[37, 3, 299, 250, 251], [150, 2, 289, 60, 280]] = [np.nan, np.inf, np.nan, -np.inf, np.inf]
    image[120, 200] = image[122, 205] = np.inf      # inf, then inf - inf, in one window
    image[124, 203] = -np.inf
    mask = np.full(shape, 1.0 / (shape[0] * shape[1]))
    with np.errstate(invalid="ignore"):  # inf - inf in the oracle: NaN, as wanted
        want = naive_convolve(image, mask, mode=mode)
    # the running sums in float64 carry at most (kh + kw) roundings of values <= 1
    bound = error_bound(mask, np.nan_to_num(image, posinf=1, neginf=1), dtype=dtype)
    got = filterkit.convolve(image, mask, mode=mode, method="box")
    assert_same_nonfinite(got, want, bound)
    if mode != "valid":
        assert_same_nonfinite(filterkit.mean(image, shape, mode=mode), want, bound)


@pytest.mark.parametrize("shape", [(5, 5), (11, 15), (3, 5)])
def test_box_with_a_nan_cval_is_nan_where_the_window_reaches_the_border(shape):
    image = np.random.default_rng(seed("box nan cval", shape)).random((40, 300))
    mask = np.full(shape, 1.0 / (shape[0] * shape[1]))
    with np.errstate(invalid="ignore"):
        want = naive_convolve(image, mask, mode="constant", cval=np.nan)
    got = filterkit.convolve(image, mask, mode="constant", cval=np.nan, method="box")
    assert_same_nonfinite(got, want, error_bound(mask, image, dtype=np.float64))
    assert np.isnan(got[0]).all() and np.isfinite(got[shape[0] // 2, shape[1] // 2:-(shape[1] // 2)]).all()


def test_box_refuses_a_mask_of_unequal_weights():
    mask = np.full((5, 7), 0.3)
    mask[2, 3] = 0.31
    with pytest.raises(ValueError, match=r"`method`.*'box'"):
        filterkit.convolve(np.ones((20, 20)), mask, method="box")
    with pytest.raises(ValueError, match=r"`method`.*'box'"):
        filterkit.correlate(np.ones((20, 20)), [[1, 2, 1]], method="box")


@pytest.mark.parametrize("layout", ["hwc", "chw view", "planar"])
@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16, np.int8, np.uint32])
def test_box_over_interleaved_channels(dtype, mode, layout):
    # an (H, W, C) image (or a channel-first view of one) goes to the core
    # as rows of interleaved pixels, planar images plane by plane: narrow
    # and wide windows (a running sum per channel), every border mode
    rng = np.random.default_rng(seed("box lanes", np.dtype(dtype).str, mode, layout))
    if np.dtype(dtype).kind == "f":
        base = rng.standard_normal((10, 14, 3)).astype(dtype)
    else:
        base = rng.integers(0, 100, (10, 14, 3)).astype(dtype)
    image, axis = {"hwc": (base, -1), "chw view": (np.moveaxis(base, -1, 0), 0),
                   "planar": (np.ascontiguousarray(np.moveaxis(base, -1, 0)), 0)}[layout]
    for shape in [(3, 3), (5, 1), (3, 11), (9, 13), (1, 21)]:
        if mode == "valid" and (shape[0] > 10 or shape[1] > 14):
            continue
        mask = np.full(shape, 1.0 / (shape[0] * shape[1]))
        got = filterkit.correlate(image, mask, mode=mode, cval=1.5, method="box", channel_axis=axis)
        want = np.stack([naive_correlate(base[:, :, c], mask, mode=mode, cval=1.5) for c in range(3)],
                        axis=-1)
        bound = error_bound(mask, np.array([np.abs(base).max(), 1.5]), dtype=got.dtype)
        np.testing.assert_allclose(np.moveaxis(got, axis, -1), want, rtol=0, atol=bound, err_msg=str(shape))


@pytest.mark.parametrize("shape", [(5, 5), (3, 11), (9, 41)])
@pytest.mark.parametrize("mode", ["reflect", "constant", "wrap"])
def test_box_keeps_nan_and_inf_in_their_channel(shape, mode):
    # interleaved channels: a NaN or an infinity spreads over its own
    # channel's windows only, and leaves no NaN behind in the running sums
    rng = np.random.default_rng(seed("box nan lanes", shape, mode))
    image = rng.random((60, 300, 3)).astype(np.float32)
    image[20, 150, 1] = np.nan
    image[40, 10, 0] = np.inf
    image[41, 12, 0] = -np.inf
    image[5, 299, 2] = np.inf
    mask = np.full(shape, 1.0 / (shape[0] * shape[1]))
    got = filterkit.correlate(image, mask, mode=mode, method="box", channel_axis=-1)
    for c in range(3):
        with np.errstate(invalid="ignore"):
            want = naive_correlate(image[:, :, c], mask, mode=mode)
        bound = error_bound(mask, np.nan_to_num(image[:, :, c], posinf=1, neginf=1), dtype=np.float32)
        assert_same_nonfinite(got[:, :, c], want, bound)

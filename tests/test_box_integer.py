"""The box sums of uint8 and uint16 images in integers (src_c/fk_box.h,
box_int), over interleaved channels as over planes.

The integer path must give the float path's bits: the float path sums the
same integers exactly in float64 and computes ``(T)(S * weight)`` (T the
compute type: float32 unless the output is float64), then rounds half to
even and saturates.  ``float_path`` below is that expression in numpy, from
the exact window sums S of the float64 oracle (``naive_correlate`` with a
mask of ones); a strided copy of the image (rows the integer path does not
take) runs the core's float path itself for the comparisons of bits.
"""

from __future__ import annotations

import numpy as np
import pytest

import filterkit
from filterkit import _native
from filterkit._validate import MODE_CODES
from helpers import same_for_every_thread_count
from oracle import ALL_MODES, MODES, naive_correlate, seed

OUTPUTS = [np.uint8, np.uint16, np.float32, np.float64]
# odd and even, square and not, wider and taller than the images below
SIZES = [(1, 1), (3, 3), (5, 5), (3, 5), (21, 1), (1, 21), (7, 3), (11, 13), (25, 25), (9, 1)]
LAYOUTS = ["hwc", "chw view", "planar"]


def float_path(S, weight, out_dtype, double):
    """What the float path stores for window sums S (exact, float64)."""
    v = np.asarray(S, np.float64) * weight
    if not double:
        v = v.astype(np.float32)
    out = np.dtype(out_dtype)
    if out.kind == "f":
        return v.astype(out)
    info = np.iinfo(out)
    return np.clip(np.rint(v.astype(np.float64)), info.min, info.max).astype(out)


def window_sums(planes, shape, mode, cval):
    """The exact sums over `shape` windows of each (H, W) plane, stacked last."""
    ones = np.ones(shape)
    return np.stack([naive_correlate(p, ones, mode=mode, cval=cval) for p in planes], axis=-1)


def laid_out(a, layout):
    """(H, W, C) array `a` as the layout: the image and its channel_axis."""
    if a.shape[2] == 1 and layout == "hwc":
        return a[:, :, 0], None
    if layout == "hwc":
        return a, -1
    if layout == "chw view":
        return np.moveaxis(a, -1, 0), 0
    return np.ascontiguousarray(np.moveaxis(a, -1, 0)), 0


def as_hwc(result, axis):
    if axis is None:
        return result[:, :, None]
    return np.moveaxis(result, axis, -1)


def strided(image, axis):
    """The same image with rows that are not contiguous: the float path."""
    x_axis = [i for i in range(image.ndim) if i != axis][1]
    return np.repeat(image, 2, axis=x_axis)[tuple(
        slice(None, None, 2) if i == x_axis else slice(None) for i in range(image.ndim))]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("C", [1, 2, 3, 4])
@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_integer_box_gives_the_float_paths_bits(dtype, mode, C, layout):
    rng = np.random.default_rng(seed("box int", np.dtype(dtype).str, mode, C, layout))
    top = np.iinfo(dtype).max
    base = rng.integers(0, top + 1, (9, 13, C)).astype(dtype)
    base[0, :3] = top  # the largest sums too
    image, axis = laid_out(base, layout)
    cval = 200
    planes = [base[:, :, c] for c in range(C)]
    for shape in SIZES:
        kh, kw = shape
        if mode == "valid" and (kh > 9 or kw > 13):
            continue
        S = window_sums(planes, shape, mode, cval)
        for weight, how in [(1.0 / (kh * kw), "mean"), (0.3, "box")]:
            mask = np.full(shape, weight)
            for out in OUTPUTS:
                if how == "mean" and mode != "valid":
                    got = filterkit.mean(image, shape, mode=mode, cval=cval, output=out,
                                         channel_axis=axis)
                else:
                    got = filterkit.correlate(image, mask, mode=mode, cval=cval, output=out,
                                              method="box", channel_axis=axis)
                want = float_path(S, weight, out, double=np.dtype(out) == np.float64)
                np.testing.assert_array_equal(as_hwc(got, axis), want,
                                              err_msg=f"{shape} {how} -> {np.dtype(out)}")


@pytest.mark.parametrize("C", [1, 3])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("hw", [(1, 1), (1, 7), (7, 1), (2, 3), (4, 2)])
def test_integer_box_on_images_smaller_than_the_window(hw, mode, C):
    rng = np.random.default_rng(seed("box int small", hw, mode, C))
    base = rng.integers(0, 256, hw + (C,)).astype(np.uint8)
    image, axis = laid_out(base, "hwc")
    for shape in [(3, 3), (5, 9), (1, 25), (25, 1), (13, 13)]:
        S = window_sums([base[:, :, c] for c in range(C)], shape, mode, 7)
        got = filterkit.mean(image, shape, mode=mode, cval=7, output=np.uint8, channel_axis=axis)
        want = float_path(S, 1.0 / (shape[0] * shape[1]), np.uint8, False)
        np.testing.assert_array_equal(as_hwc(got, axis), want)


@pytest.mark.parametrize("C", [1, 3])
@pytest.mark.parametrize("mode", ["reflect", "constant", "wrap"])
@pytest.mark.parametrize("shape", [(2, 2), (4, 6), (1, 4), (6, 1), (3, 4), (10, 12)])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_integer_box_of_even_windows(dtype, shape, mode, C):
    # the public functions take odd windows; the core's box takes any
    rng = np.random.default_rng(seed("box int even", np.dtype(dtype).str, shape, mode, C))
    base = rng.integers(0, np.iinfo(dtype).max + 1, (11, 14, C)).astype(dtype)
    kh, kw = shape
    S = window_sums([base[:, :, c] for c in range(C)], shape, mode, 5)
    for weight in (1.0 / (kh * kw), 0.3):
        for out in OUTPUTS:
            double = np.dtype(out) == np.float64
            run = _native.Run(double, 1, 0)
            border = _native.Border(kh // 2, kw // 2, MODE_CODES[mode], 5.0, C)
            got = np.empty(base.shape, out)
            _native.box(base.reshape(11, -1), got.reshape(11, -1), shape, weight, border, run)
            np.testing.assert_array_equal(got, float_path(S, weight, out, double))
            # the float path (strided rows), plane by plane
            again = np.empty(base.shape, out)
            plain = _native.Border(kh // 2, kw // 2, MODE_CODES[mode], 5.0)
            for c in range(C):
                _native.box(strided(base[:, :, c], None), again[:, :, c], shape, weight, plain, run)
            np.testing.assert_array_equal(got, again)


@pytest.mark.parametrize("cval", [1.5, -3.0, 300.0, 70000.0])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_a_cval_the_integers_cannot_hold_takes_the_float_path(dtype, cval):
    rng = np.random.default_rng(seed("box int cval", np.dtype(dtype).str, cval))
    image = rng.integers(0, np.iinfo(dtype).max + 1, (12, 15, 3)).astype(dtype)
    for shape in [(3, 3), (5, 5), (3, 21)]:
        S = window_sums([image[:, :, c] for c in range(3)], shape, "constant", cval)
        for out in (np.uint8, np.float32):
            got = filterkit.mean(image, shape, mode="constant", cval=cval, output=out, channel_axis=-1)
            np.testing.assert_array_equal(got, float_path(S, 1.0 / (shape[0] * shape[1]), out, False))


@pytest.mark.parametrize("out", [np.int8, np.int16, np.int32, np.uint32, np.int64])
def test_integer_box_into_other_integer_outputs(out):
    rng = np.random.default_rng(seed("box int out", np.dtype(out).str))
    image = rng.integers(0, 256, (20, 30, 3)).astype(np.uint8)
    for shape, weight in [((5, 5), None), ((3, 3), -0.5), ((21, 21), None), ((3, 7), 700.0)]:
        w = 1.0 / (shape[0] * shape[1]) if weight is None else weight
        S = window_sums([image[:, :, c] for c in range(3)], shape, "reflect", 0)
        got = filterkit.correlate(image, np.full(shape, w), output=out, method="box", channel_axis=-1)
        np.testing.assert_array_equal(got, float_path(S, w, out, False))


@pytest.mark.parametrize("shape", [(3, 3), (5, 5), (21, 21), (3, 31), (13, 13), (1, 41)])
@pytest.mark.parametrize("C", [1, 3])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_integer_box_equals_the_float_path_on_wide_images(dtype, C, shape):
    # rows longer than a chunk of outputs (1024 elements)
    rng = np.random.default_rng(seed("box int wide", np.dtype(dtype).str, C, shape))
    image = rng.integers(0, np.iinfo(dtype).max + 1, (40, 700, C)).astype(dtype)
    image, axis = laid_out(image, "hwc")
    for out in OUTPUTS:
        got = filterkit.mean(image, shape, mode="mirror", output=out, channel_axis=axis)
        want = filterkit.mean(strided(image, axis), shape, mode="mirror", output=out, channel_axis=axis)
        np.testing.assert_array_equal(got, want)
        if dtype == np.uint8 and out in (np.uint8, np.float64):
            # the mean's integers are round(S / n) exactly: the float64 path's too
            mask = np.full(shape, 1.0 / (shape[0] * shape[1]))
            as_f64 = filterkit.correlate(image.astype(np.float64), mask, mode="mirror",
                                         output=out, method="box", channel_axis=axis)
            np.testing.assert_array_equal(got, as_f64)


def test_mean_rounding_for_every_sum_through_the_core():
    # MULHI (uint8 windows of at most 128 pixels) and FLOAT: every reachable
    # window sum S in [0, 255 n], each the sum of one block of the image
    # (mode 'valid': the outputs at multiples of kw see one block each)
    for shape in [(1, 1), (1, 3), (3, 1), (3, 3), (3, 5), (5, 5), (1, 21), (7, 7), (9, 9),
                  (11, 11), (3, 41), (13, 13), (15, 15), (17, 17)]:
        kh, kw = shape
        n = kh * kw
        S = np.arange(255 * n + 1)
        per = np.zeros((len(S), n), np.uint8)
        per[:] = (S // n)[:, None]
        per += np.arange(n)[None, :] < (S % n)[:, None]
        blocks = per.reshape(len(S), kh, kw).transpose(1, 0, 2).reshape(kh, len(S) * kw)
        assert (blocks.reshape(kh, len(S), kw).sum(axis=(0, 2)) == S).all()
        for out in (np.uint8, np.float32):
            got = filterkit.correlate(blocks, np.full(shape, 1.0 / n), mode="valid", method="box",
                                      output=out)[0, ::kw]
            np.testing.assert_array_equal(got, float_path(S, 1.0 / n, out, False), err_msg=str(shape))


def _mulhi_plan(n):
    """The core's MULHI constants (fk_box.h, box_int), or None."""
    d, amax = 2 * n, 511 * n
    for sh in range(16):
        two_k = 1 << (16 + sh)
        M = -(-two_k // d)
        if M > 65535:
            return None
        if amax * (M * d - two_k) < two_k:
            return M, sh
    return None


def test_mulhi_rounding_is_exact_for_every_odd_window_up_to_128():
    for n in range(1, 129, 2):
        plan = _mulhi_plan(n)
        if plan is None:
            continue
        M, sh = plan
        S = np.arange(255 * n + 1, dtype=np.int64)
        got = (((2 * S + n) * M) >> 16) >> sh
        np.testing.assert_array_equal(got, float_path(S, 1.0 / n, np.uint8, False), err_msg=str(n))


def test_float32_rounding_is_exact_where_the_core_takes_it():
    # FLOAT: (float)S * (float)(1 / n) rounded gives the float path's
    # integer for every S in [0, max n] when n is odd and max n <= 2^21
    def check(n, top):
        S = np.arange(top * n + 1, dtype=np.int64)
        fast = np.rint((S.astype(np.float32) * np.float32(1.0 / n)).astype(np.float64))
        np.testing.assert_array_equal(fast, float_path(S, 1.0 / n, np.uint32, False),
                                      err_msg=f"n={n} max={top}")
    for n in list(range(1, 258, 2)) + [15 * 17, 21 * 21, 25 * 25, 8221, 8223]:
        check(n, 255)
    for n in range(1, 32, 2):
        check(n, 65535)


@pytest.mark.parametrize("dtype,shape", [(np.uint8, (3, 3)), (np.uint8, (5, 5)), (np.uint8, (21, 21)),
                                         (np.uint8, (13, 13)), (np.uint16, (5, 5)), (np.uint16, (21, 21)),
                                         (np.uint8, (7, 41))])
@pytest.mark.parametrize("C", [1, 3])
def test_integer_box_is_the_same_on_every_cpu_level_and_thread_count(monkeypatch, dtype, shape, C):
    rng = np.random.default_rng(seed("box int cpu", np.dtype(dtype).str, shape, C))
    image = rng.integers(0, np.iinfo(dtype).max + 1, (300, 260, C)).astype(dtype)
    image, axis = laid_out(image, "hwc")
    results = []
    for cpu in ("portable", "avx2", "auto"):
        monkeypatch.setenv("FILTERKIT_CPU", cpu)
        for out in (dtype, np.float32):
            results.append(same_for_every_thread_count(
                lambda: filterkit.mean(image, shape, mode="reflect", output=out, channel_axis=axis),
                counts=(1, 2)))
    for i, got in enumerate(results):
        np.testing.assert_array_equal(got, results[i % 2])
    monkeypatch.setenv("FILTERKIT_CPU", "auto")
    planes = [image] if axis is None else [image[:, :, c] for c in range(C)]
    S = window_sums(planes, shape, "reflect", 0)
    want = float_path(S, 1.0 / (shape[0] * shape[1]), dtype, False)
    np.testing.assert_array_equal(as_hwc(results[0], axis), want)

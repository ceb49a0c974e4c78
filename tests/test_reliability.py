"""Issue 14 (API side): wrong integer results, byte order, overlapping
outputs, auto and the thread count, thread caps, fork, oversized numbers and
huge Gaussians.  Each test failed before its fix; the command line's items
are in test_cli*.py, the model files' in test_nn*.py.

Oracles: exact integer expectations (saturation limits, round half to
even of exactly representable halves), the same call on the native-order or
non-overlapping array (bit for bit), scipy.ndimage in float64.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.ndimage as ndi

import filterkit
from filterkit import _choose, _costs, color, masks
from filterkit._maskinfo import MaskInfo
from helpers import same_for_every_thread_count

# subprocesses import the tested build (site-packages in CI), never a bare source tree
PKG_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(filterkit.__file__)))
ALL_METHODS = ["direct", "separable", "box", "fft", "overlap_save", "auto"]
WIDE_INTS = [np.uint32, np.int32, np.uint64, np.int64]
ALL_INTS = [np.uint8, np.int8, np.uint16, np.int16] + WIDE_INTS


def run_python(code: str, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = dict(os.environ, PYTHONPATH=PKG_ROOT, **(env or {}))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout, cwd=os.path.dirname(PKG_ROOT) or "/",
                          env=full_env)


@pytest.fixture
def no_warnings():
    """A cast warning ('invalid value encountered in cast') is a failure."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# ---------------------------------------------------------------------------
# 1. integer outputs saturate and round half to even on every path
# ---------------------------------------------------------------------------
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
def test_the_issue_uint32_example(method, no_warnings):
    m = np.random.default_rng(0).random((31, 31))
    m /= m.sum()
    got = filterkit.convolve(np.full((1024, 1024), 2**32 - 1, np.uint32), m, output=np.uint32,
                             method=method)
    # float32 arithmetic: within the documented 1e-4 relative (it was 0)
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


def test_colour_paths_saturate_wide_integers(no_warnings):
    white = np.full((6, 6, 3), 2**32 - 1, np.uint32)
    assert np.all(color.rgb_to_gray(white[:2, :2], output=np.uint32) == 2**32 - 1)
    for space in ("rgb", "lab", "luv", "gray"):
        got = filterkit.gaussian(white, 1, channel_axis=-1, space=space)
        assert got.dtype == np.uint32
        assert np.all(got == 2**32 - 1), space
    big = np.full((4, 4, 3), 2**63 - 1, np.int64)
    assert np.all(filterkit.mean(big, 3, channel_axis=-1, space="rgb") == 2**63 - 1)
    # a white float image into an integer output: 1.0 is the maximum
    assert np.all(color.lab_to_rgb(color.rgb_to_lab(np.ones((2, 2, 3))), output=np.uint64)
                  == 2**64 - 1)


def test_colour_stores_round_half_to_even(no_warnings):
    # weights 1/2 at both ends: (a + b) / 2 is exactly k + 0.5, which the
    # documented rounding sends to the even neighbour
    row = np.array([1, 0, 2, 0, 3, 0, 4, 0, 5], dtype=np.uint16)
    image = np.repeat(row[None, :, None], 3, axis=0).repeat(3, axis=2)
    mask = [[0.5, 0.0, 0.0, 0.0, 0.5]]
    got = filterkit.correlate(image, mask, mode="valid", channel_axis=-1, space="rgb")
    # (1+3)/2, (0+0)/2, (2+4)/2, (0+0)/2, (3+5)/2: integers; now halves:
    assert got[1, :, 0].tolist() == [2, 0, 3, 0, 4]
    halves = np.array([1, 2, 3, 4, 5, 6], dtype=np.uint16)[None, :, None].repeat(3, 0).repeat(3, 2)
    got = filterkit.correlate(halves, [[0.5, 0.5, 0.0]], mode="valid", channel_axis=-1, space="rgb")
    # 1.5, 2.5, 3.5, 4.5 -> 2, 2, 4, 4
    assert got[1, :, 0].tolist() == [2, 2, 4, 4]


def test_convert_within_one_space_scales_and_saturates(no_warnings):
    a = np.array([[0.5, 1.2, -0.1]])
    assert color.convert(a, "rgb", "rgb", output=np.uint8).tolist() == [[128, 255, 0]]
    u8 = np.array([[255, 0, 128]], np.uint8)
    assert color.convert(u8, "rgb", "rgb", output=np.uint16).tolist() == [[65535, 0, 32896]]
    with pytest.raises(TypeError, match=r"`output` must be a float dtype .* for XYZ, Lab and Luv"):
        color.convert(a, "lab", "lab", output=np.uint8)
    with pytest.raises(ValueError, match=r"`image` must be 3 channels"):
        color.convert(np.zeros((2, 5)), "lab", "lab")


# ---------------------------------------------------------------------------
# 2. byte order never changes the precision or the bits
# ---------------------------------------------------------------------------
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
MASK5 = np.random.default_rng(5).random((5, 5))


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
    # the issue's example: values near 1e8 were off by up to 5.8 in float32
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


@pytest.mark.parametrize("fn", [color.rgb_to_lab, color.rgb_to_luv, color.rgb_to_xyz,
                                color.rgb_to_gray])
def test_byte_swapped_colour_conversions(fn):
    rgb = np.random.default_rng(4).random((8, 9, 3))
    want = fn(rgb)
    got = fn(rgb.astype(">f8"))
    assert got.dtype == want.dtype == np.float64
    np.testing.assert_array_equal(got, want)
    g = filterkit.gaussian(rgb.astype(">f8"), 1, channel_axis=-1, space="lab")
    assert g.dtype == np.float64
    np.testing.assert_array_equal(g, filterkit.gaussian(rgb, 1, channel_axis=-1, space="lab"))


def test_byte_swapped_dask_arrays():
    da = pytest.importorskip("dask.array")
    import filterkit.dask as fkd

    a = (np.random.default_rng(6).random((60, 70)) * 1e8)
    swapped = da.from_array(a.astype(">f8"), chunks=(25, 30))
    native = da.from_array(a, chunks=(25, 30))
    for name, kwargs in (("convolve", dict(mask=MASK5)), ("gaussian", dict(sigma=1.5)),
                         ("mean", dict(size=5)), ("sobel", {})):
        got = getattr(fkd, name)(swapped, **kwargs)
        assert got.dtype == np.float64, name  # the lazy array's declared dtype
        want = getattr(fkd, name)(native, **kwargs).compute(scheduler="threads")
        np.testing.assert_array_equal(got.compute(scheduler="threads"), want)


# ---------------------------------------------------------------------------
# 3. an output that overlaps the input, for every method
# ---------------------------------------------------------------------------
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


def test_the_issue_overlap_example_with_a_random_mask():
    rng = np.random.default_rng(8)
    b = (rng.random((64, 64, 3)) * 255).astype(np.float32)
    m = rng.random((7, 7))
    for method in ("fft", "overlap_save"):
        want = filterkit.convolve(b, m, method=method, channel_axis=-1)
        work = b.copy()
        filterkit.convolve(work, m, method=method, channel_axis=-1, output=work[:, :, ::-1])
        np.testing.assert_array_equal(work[:, :, ::-1], want)


# ---------------------------------------------------------------------------
# 4. auto's choice does not depend on the thread count
# ---------------------------------------------------------------------------
def _cells_where_threads_changed_the_model():
    """(shape, mask shape, dtype) cells where the cost model, given the
    thread count as before the fix, ranks methods differently for 1 and 2
    threads: the crossover cells of the grid, shrunk to test sizes."""
    cells = [((288, 284), (21, 21), np.float64)]  # the issue's example
    for n in (96, 128, 192, 256, 320):
        for k in (9, 13, 17, 21, 25, 31):
            for dt in (np.float32, np.float64):
                info = MaskInfo.of_shape((k, k))
                one = _choose.estimate(info, (n, n), dt == np.float64, threads=1)
                two = _choose.estimate(info, (n, n), dt == np.float64, threads=2)
                if min(one, key=one.get) != min(two, key=two.get):
                    cells.append(((n, n), (k, k), dt))
    return cells[:6]


def test_auto_gives_the_same_bits_for_every_thread_count(monkeypatch, tmp_path):
    monkeypatch.setenv("FILTERKIT_CACHE_DIR", str(tmp_path))  # the default constants
    monkeypatch.setattr(_costs, "_loaded", None)
    cells = _cells_where_threads_changed_the_model()
    assert len(cells) >= 2
    rng = np.random.default_rng(9)
    for shape, kshape, dt in cells:
        image = rng.random(shape).astype(dt)
        mask = rng.random(kshape)
        same_for_every_thread_count(lambda: filterkit.convolve(image, mask), counts=(1, 2, 4))
        # and choose_method names the method auto runs, whatever the threads
        methods = set()
        for n in (1, 2, 4):
            filterkit.set_num_threads(n)
            methods.add(filterkit.choose_method(shape, mask=mask, dtype=dt).method)
        filterkit.set_num_threads(None)
        assert len(methods) == 1, (shape, kshape, dt, methods)


# ---------------------------------------------------------------------------
# 5. thread counts are capped
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("n", [100000, 2**31 + 5, 2**64])
def test_huge_thread_counts_are_refused(n):
    cap = filterkit._validate.max_threads()
    with pytest.raises(ValueError, match=rf"`n` must be at most {cap} threads .*; got {n}\."):
        filterkit.set_num_threads(n)
    filterkit.set_num_threads(cap)  # the cap itself is fine
    assert filterkit.get_num_threads() == cap
    filterkit.set_num_threads(None)


def test_huge_thread_counts_never_reach_the_core():
    # in a subprocess: before the fix this was a SIGSEGV inside libgomp
    res = run_python("""
        import numpy as np, filterkit
        try:
            filterkit.set_num_threads(100000)
        except ValueError as e:
            print("set:", e)
        print(filterkit.mean(np.ones((300, 300)), 3).sum())
    """, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "set: `n` must be at most" in res.stdout
    res = run_python("""
        import numpy as np, filterkit
        try:
            filterkit.mean(np.ones((300, 300)), 3)
        except ValueError as e:
            print(e)
    """, timeout=60, env={"FILTERKIT_NUM_THREADS": "100000"})
    assert res.returncode == 0, res.stderr
    assert "`FILTERKIT_NUM_THREADS` must be at most" in res.stdout


# ---------------------------------------------------------------------------
# 6. fork after a multithreaded filter
# ---------------------------------------------------------------------------
@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX only")
def test_a_forked_pool_filters_after_the_parent_used_threads():
    # before the fix the children hung forever in libgomp
    res = run_python("""
        import multiprocessing as mp
        import numpy as np, filterkit
        img = np.random.default_rng(0).random((1024, 1024)).astype(np.float32)
        filterkit.set_num_threads(2)
        parent = filterkit.gaussian(img, 2)          # a multithreaded team in the parent

        def work(i):
            return filterkit.get_num_threads(), filterkit.gaussian(img, 2)

        with mp.get_context("fork").Pool(2) as pool:
            for threads, child in pool.map(work, range(2)):
                assert threads == 1, threads
                assert np.array_equal(child, parent)
        print("ok")
    """, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"


# ---------------------------------------------------------------------------
# 12. oversized numbers are ValueErrors naming the parameter
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
# 14. huge Gaussians: a clear error, and no 2-D mask for large ones
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

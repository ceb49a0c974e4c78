"""Masks of integers times a power of two on 8- and 16-bit images: the
core sums them exactly in integers (int16, uint16 or int32 lanes), which
must give the float path's bits, the float64 oracle's exact sums rounded
half to even and saturated, on every table, thread count, layout and
border mode."""

from __future__ import annotations

import numpy as np
import pytest

import filterkit
from filterkit import _native
from filterkit._maskinfo import describe_mask, integer_weights
from filterkit.methods import direct
from oracle import ALL_MODES, naive_correlate, seed

SOURCES = [np.uint8, np.int8, np.uint16, np.int16]
OUTPUTS = [np.float32, np.float64, np.uint8, np.uint16, np.int16]

_b3 = np.array([1, 2, 1])
_b5 = np.array([1, 4, 6, 4, 1])
_r53 = np.random.default_rng(seed("r53")).integers(-4, 5, (5, 3))
_r53[2, 1] = 7  # not rank 1
#: name -> (mask, rank 1)
MASKS = {
    "sobel_x": (np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]]), True),
    "sobel_y": (np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]]), True),
    "laplace4": (np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]]), False),
    "laplace8": (np.array([[1, 1, 1], [1, -8, 1], [1, 1, 1]]), False),
    "binomial3": (np.outer(_b3, _b3) / 16.0, True),
    "binomial5": (np.outer(_b5, _b5) / 256.0, True),
    "random5x3": (_r53, False),
    "scaled5x3": (_r53 / 8.0, False),
}


def expected(image, mask, mode, cval, out):
    """The oracle (exact here) stored as the core stores: rounded half to
    even and saturated for integer outputs."""
    ref = naive_correlate(image, mask, mode=mode, cval=cval)
    if np.dtype(out).kind in "iu":
        info = np.iinfo(out)
        ref = np.clip(np.round(ref), info.min, info.max)
    return ref.astype(out)


@pytest.fixture
def spy(monkeypatch):
    """Counts the core's integer correlations and Sobel gradients."""
    calls = _Calls()
    spy_sums = calls.sums = []
    real_corr, real_sobel = _native.correlate_integer, _native.sobel

    def corr(*args):
        calls.append("correlate")
        spy_sums.append(args[2])
        return real_corr(*args)

    def sobel(src, strength, direction, border, run, sums=None):
        if sums is not None:
            calls.append("sobel")
        return real_sobel(src, strength, direction, border, run, sums)

    monkeypatch.setattr(_native, "correlate_integer", corr)
    monkeypatch.setattr(_native, "sobel", sobel)
    return calls


@pytest.fixture
def float_path(monkeypatch):
    """A context in which every call takes the float path."""
    class Forced:
        def __enter__(self):
            self.mp = pytest.MonkeyPatch()
            self.mp.setattr(direct, "integer_lanes", lambda *a, **k: None)

        def __exit__(self, *exc):
            self.mp.undo()
    return Forced()


class _Calls(list):
    """The calls a spy saw, and the IntSums of the correlations."""


def _image(rng, shape, dtype):
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)


def _cval(dtype):
    return -3.0 if np.iinfo(dtype).min < 0 else 3.0


def _methods(rank1):
    return ["direct", "separable"] if rank1 else ["direct"]


def bits(a):
    return np.ascontiguousarray(a).view(np.uint8)


# ---- the description of a mask -----------------------------------------------

def test_integer_description():
    sx = describe_mask(MASKS["sobel_x"][0]).integer
    assert sx.shift == 0 and sx.bound == 8
    np.testing.assert_array_equal(np.outer(sx.col, sx.row), MASKS["sobel_x"][0])
    b5 = describe_mask(MASKS["binomial5"][0]).integer
    assert b5.shift == 8 and b5.bound == 256
    np.testing.assert_array_equal(np.abs(b5.col), _b5)
    np.testing.assert_array_equal(np.abs(b5.row), _b5)
    lap = integer_weights(np.asarray(MASKS["laplace4"][0], float))
    assert lap.shift == 0 and lap.bound == 8 and lap.col is None
    sc = describe_mask(MASKS["scaled5x3"][0]).integer
    assert sc.shift == 3 and sc.bound == np.abs(_r53).sum()
    assert describe_mask([[0.1, 0.2, 0.1]]).integer is None
    assert describe_mask(filterkit.masks.gaussian(5, sigma=1.0)).integer is None
    assert describe_mask(np.zeros((3, 3))).integer is None
    assert describe_mask([[2.0 ** -30]]).integer is None


# ---- bit-identical to the oracle and to the float path -------------------------

def _every_output_exact(spy, image, mask, rank1, mode):
    """Every output dtype and method on the integer path, bit for bit."""
    for out in OUTPUTS:
        want = expected(image, mask, mode, 0.0, out)
        for method in _methods(rank1):
            spy.clear()
            got = filterkit.correlate(image, mask, mode=mode, output=out, method=method)
            assert spy == ["correlate"]
            np.testing.assert_array_equal(got, want, err_msg=f"{out} {method}")


@pytest.mark.parametrize("dtype", SOURCES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", list(MASKS))
def test_exact_for_every_output_and_mode(name, dtype, spy, float_path):
    mask, rank1 = MASKS[name]
    rng = np.random.default_rng(seed(name, np.dtype(dtype).name))
    image = _image(rng, (13, 19), dtype)
    cval = _cval(dtype)
    for mode in ALL_MODES:
        for out in OUTPUTS:
            want = expected(image, mask, mode, cval, out)
            for method in _methods(rank1):
                spy.clear()
                got = filterkit.correlate(image, mask, mode=mode, cval=cval, output=out,
                                          method=method)
                assert spy == ["correlate"], (mode, out, method)
                np.testing.assert_array_equal(got, want, err_msg=f"{mode} {out} {method}")
                with float_path:
                    ref = filterkit.correlate(image, mask, mode=mode, cval=cval, output=out,
                                              method=method)
                assert bits(got).tobytes() == bits(ref).tobytes(), (mode, out, method)


@pytest.mark.parametrize("dtype", SOURCES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", list(MASKS))
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_channels_interleaved_and_planar(name, dtype, channels, spy):
    mask, rank1 = MASKS[name]
    rng = np.random.default_rng(seed(name, np.dtype(dtype).name, channels))
    image = _image(rng, (11, 14, channels), dtype)
    cval = _cval(dtype)
    for axis, arr in ((-1, image), (0, np.ascontiguousarray(np.moveaxis(image, -1, 0)))):
        for mode in ALL_MODES:
            for out in (np.float32, np.uint8, np.int16):
                want = np.stack([expected(image[..., c], mask, mode, cval, out)
                                 for c in range(channels)], axis=axis)
                for method in _methods(rank1):
                    spy.clear()
                    got = filterkit.correlate(arr, mask, mode=mode, cval=cval, output=out,
                                              method=method, channel_axis=axis)
                    assert spy and set(spy) == {"correlate"}
                    np.testing.assert_array_equal(got, want,
                                                  err_msg=f"{axis} {mode} {out} {method}")


@pytest.mark.parametrize("dtype", [np.uint8, np.int8], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", list(MASKS))
def test_every_8bit_value_at_every_tap(name, dtype, spy):
    """With mode='wrap' each tap reads every pixel of the image once (the
    shift is a permutation), and the image holds each of the 256 values
    four times among shuffled neighbours: every tap sees every value."""
    mask, rank1 = MASKS[name]
    info = np.iinfo(dtype)
    rng = np.random.default_rng(seed("all", name, np.dtype(dtype).name))
    values = np.tile(np.arange(info.min, info.max + 1), 4)
    image = rng.permutation(values).reshape(32, 32).astype(dtype)
    _every_output_exact(spy, image, mask, rank1, "wrap")


@pytest.mark.parametrize("dtype", SOURCES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", list(MASKS))
def test_extreme_sums(name, dtype, spy):
    """The largest and the smallest sum a mask can make on the dtype (each
    tap at the dtype's maximum or minimum by its sign), where 16-bit lanes
    are at their limits, and flat images of the extremes."""
    mask, rank1 = MASKS[name]
    info = np.iinfo(dtype)
    sign = np.sign(np.asarray(mask, float))
    images = [np.where(sign > 0, info.max, info.min).astype(dtype),
              np.where(sign > 0, info.min, info.max).astype(dtype),
              np.full(np.shape(mask), info.max, dtype), np.full(np.shape(mask), info.min, dtype)]
    for image in images:
        _every_output_exact(spy, image, mask, rank1, "valid")


@pytest.mark.parametrize("name", ["sobel_x", "laplace8", "binomial5", "scaled5x3"])
def test_same_on_every_table_and_thread_count(name, monkeypatch, spy):
    mask, rank1 = MASKS[name]
    rng = np.random.default_rng(seed("tables", name))
    cases = [(_image(rng, (150, 170), np.uint8), None),
             (_image(rng, (140, 131, 3), np.uint8), -1),
             (_image(rng, (133, 150), np.int16), None)]
    old = filterkit.get_num_threads()
    try:
        for image, axis in cases:
            for out in (np.float32, np.uint8):
                for method in _methods(rank1):
                    results = []
                    for cpu in ("portable", "avx2", "auto"):
                        monkeypatch.setenv("FILTERKIT_CPU", cpu)
                        for threads in (1, 2):
                            filterkit.set_num_threads(threads)
                            results.append(filterkit.correlate(
                                image, mask, mode="mirror", output=out, method=method,
                                channel_axis=axis))
                    assert "correlate" in spy
                    for r in results[1:]:
                        assert bits(r).tobytes() == bits(results[0]).tobytes()
    finally:
        filterkit.set_num_threads(old)


def test_lanes_chosen_by_the_range_of_the_sums(spy):
    """int16 lanes for uint8 x Sobel, uint16 for uint8 x the 5 x 5 binomial
    (sums up to 65280, rounded into uint8 in the lanes), int32 for 16-bit
    images."""
    rng = np.random.default_rng(seed("lanes"))
    u8, u16 = _image(rng, (9, 9), np.uint8), _image(rng, (9, 9), np.uint16)
    cases = [(u8, "sobel_x", np.float32, 0, True), (u8, "binomial5", np.uint8, 2, True),
             (u8, "random5x3", np.uint8, 0, True), (u16, "sobel_x", np.float32, 1, False),
             (u16, "binomial5", np.uint16, 1, False)]
    for image, name, out, lanes, narrow in cases:
        spy.sums.clear()
        filterkit.correlate(image, MASKS[name][0], output=out, method="direct")
        (sums,) = spy.sums
        assert (sums.lanes, sums.narrow) == (lanes, narrow), name


# ---- the filters ---------------------------------------------------------------

@pytest.mark.parametrize("dtype", SOURCES, ids=lambda d: np.dtype(d).name)
def test_filters_take_the_integer_path(dtype, spy, float_path):
    rng = np.random.default_rng(seed("filters", np.dtype(dtype).name))
    image = _image(rng, (23, 29), dtype)
    calls = [lambda **k: filterkit.sobel_x(image, **k), lambda **k: filterkit.sobel_y(image, **k),
             lambda **k: filterkit.laplace(image, **k),
             lambda **k: filterkit.laplace(image, neighbours=8, **k)]
    for call in calls:
        for mode in ALL_MODES:
            spy.clear()
            got = call(mode=mode)
            assert spy == ["correlate"]
            with float_path:
                ref = call(mode=mode)
            assert bits(got).tobytes() == bits(ref).tobytes()


@pytest.mark.parametrize("dtype", SOURCES, ids=lambda d: np.dtype(d).name)
def test_gradient_same_bits_as_the_float_path(dtype, spy, float_path):
    """f_x and f_y are exact either way, so strength and direction too."""
    rng = np.random.default_rng(seed("gradient", np.dtype(dtype).name))
    image = _image(rng, (37, 41), dtype)
    image[5:15, 5:15] = 7  # flat: zero gradients
    rgb = _image(rng, (17, 23, 3), dtype)
    for mode in ALL_MODES:
        for out in (None, np.float64):
            for args in ((image,), (rgb,)):
                kw = dict(mode=mode, output=out, cval=_cval(dtype))
                if args[0].ndim == 3:
                    kw.update(channel_axis=-1, per_channel=True)
                spy.clear()
                got = filterkit.gradient(*args, **kw)
                assert spy == ["sobel"]
                with float_path:
                    ref = filterkit.gradient(*args, **kw)
                for a, b in zip(got, ref):
                    assert bits(a).tobytes() == bits(b).tobytes(), (mode, out)


# ---- where the float path stays ------------------------------------------------

def test_float_path_where_integers_do_not_apply(spy):
    rng = np.random.default_rng(seed("float"))
    u16 = _image(rng, (20, 20), np.uint16)
    u8 = _image(rng, (20, 20), np.uint8)
    big = np.full((5, 5), 12)  # 65535 * 300 > 2^24: float32 is not exact
    cases = [
        lambda: filterkit.correlate(u16, big, method="direct"),
        lambda: filterkit.correlate(u8, [[0.1, 0.8, 0.1]]),
        lambda: filterkit.correlate(u8, MASKS["sobel_x"][0], mode="constant", cval=0.5),
        lambda: filterkit.correlate(u8, MASKS["sobel_x"][0], mode="constant", cval=-1),
        lambda: filterkit.correlate(u8.astype(np.int32), MASKS["sobel_x"][0]),
        lambda: filterkit.correlate(u8.astype(np.float32), MASKS["sobel_x"][0]),
    ]
    for call in cases:
        spy.clear()
        call()
        assert spy == []
    # the same mask in float64 (int32 lanes, exact there)
    spy.clear()
    got = filterkit.correlate(u16, big, output=np.float64, method="direct")
    assert spy == ["correlate"]
    np.testing.assert_array_equal(got, naive_correlate(u16, big))

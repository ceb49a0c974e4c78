"""Interleaved channels: (H, W, C) images filtered in one pass.

The core filters an image whose channels are interleaved in memory (an
(H, W, C) C-order array, or a channel-first view of one) as rows of pixels,
each channel on its own.  The oracles:

- the float64 loops of ``oracle.naive_correlate`` per channel, within the
  rounding bound ``oracle.error_bound`` of the compute type;
- the same call on each channel plane made contiguous on its own (the
  plane-by-plane path): bit-identical, since every output element sees the
  same operations in the same order in both;
- integer outputs: the float64 oracle rounded half to even and saturated,
  within one level (the float32 sum may sit on the other side of a .5).
"""

from __future__ import annotations

import numpy as np
import pytest

import filterkit
from oracle import ALL_MODES, compute_dtype, error_bound, naive_correlate, random_image, seed

DTYPES = [np.uint8, np.uint16, np.int16, np.float32, np.float64]
CHANNELS = [1, 2, 3, 4]


def layouts(base):
    """(name, image, channel_axis) for the memory layouts of one (H, W, C)
    image: interleaved, a channel-first view of it (still interleaved in
    memory), channel-first planes, every other pixel (interleaved with a
    pixel gap), and reversed channels (not interleaved in order)."""
    yield "hwc", base, -1
    yield "chw-view", np.moveaxis(base, -1, 0), 0
    yield "chw-planes", np.ascontiguousarray(np.moveaxis(base, -1, 0)), 0
    yield "pixel-gap", np.repeat(base, 2, axis=1)[:, ::2], -1
    yield "reversed", base[..., ::-1], -1


def per_plane(fn, image, axis, **kw):
    """`fn` on each channel plane made contiguous, stacked on `axis`."""
    planes = np.moveaxis(image, axis, 0)
    return np.stack([fn(np.ascontiguousarray(p), **kw) for p in planes], axis=axis)


def oracle(image, axis, mask, mode, cval=0.0):
    planes = np.moveaxis(image, axis, 0)
    return np.stack([naive_correlate(p, mask, mode, cval) for p in planes], axis=axis)


MASKS = {
    "3x3": lambda rng: rng.standard_normal((3, 3)),
    "3x3-cross": lambda rng: np.array([[0, 1.0, 0], [1, -4, 1], [0, 1, 0]]),
    "5x3": lambda rng: rng.standard_normal((5, 3)),
    "1x7": lambda rng: rng.standard_normal((1, 7)),
    "rank1-5x7": lambda rng: np.outer(rng.random(5), rng.random(7)),
    "rank1-sym-3x9": lambda rng: np.outer([1.0, 2, 1], [1.0, 3, 5, 7, 9, 7, 5, 3, 1]),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("C", CHANNELS)
@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("mask_name", list(MASKS))
def test_matches_oracle_and_planes(dtype, C, mode, mask_name):
    rng = np.random.default_rng(seed("interleaved", np.dtype(dtype).name, C, mode, mask_name))
    mask = MASKS[mask_name](rng)
    base = random_image(rng, (23, 70, C), dtype)
    cval = 3.5 if mode == "constant" else 0.0
    methods = ["direct", "separable"] if mask_name.startswith("rank1") else ["direct"]
    for method in methods:
        for name, image, axis in layouts(base):
            got = filterkit.correlate(image, mask, mode=mode, cval=cval, method=method,
                                      channel_axis=axis)
            want = oracle(image, axis, mask, mode, cval)
            assert got.shape == want.shape
            bound = error_bound(mask, image, dtype=compute_dtype(dtype))
            np.testing.assert_allclose(got, want, rtol=0, atol=bound,
                                       err_msg=f"{name} {method}")
            planes = per_plane(filterkit.correlate, image, axis, mask=mask, mode=mode,
                               cval=cval, method=method)
            np.testing.assert_array_equal(got, planes, err_msg=f"{name} {method}")


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int8], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("C", [3, 4])
def test_integer_output_rounds_and_saturates(dtype, C):
    rng = np.random.default_rng(seed("interleaved-int", np.dtype(dtype).name, C))
    info = np.iinfo(dtype)
    image = rng.integers(info.min, info.max, (19, 66, C), endpoint=True).astype(dtype)
    mask = rng.standard_normal((3, 5)) * 2  # sums far beyond the range: saturation
    got = filterkit.correlate(image, mask, mode="mirror", channel_axis=-1, output=dtype)
    ref = oracle(image, -1, mask, "mirror")
    want = np.clip(np.round(ref), info.min, info.max)
    assert got.dtype == dtype
    assert np.abs(got.astype(np.float64) - want).max() <= 1
    assert np.mean(got == want) > 0.99
    planes = per_plane(filterkit.correlate, image, -1, mask=mask, mode="mirror", output=dtype)
    np.testing.assert_array_equal(got, planes)


@pytest.mark.parametrize("target", ["hwc", "chw", "byteswapped", "is-image"])
def test_outputs_of_any_layout(target):
    rng = np.random.default_rng(seed("interleaved-out", target))
    image = random_image(rng, (21, 67, 3), np.float32)
    mask = rng.standard_normal((3, 3))
    want = filterkit.correlate(image, mask, channel_axis=-1)
    if target == "hwc":
        out = np.empty_like(image)
    elif target == "chw":  # same shape, channels planar in memory
        out = np.moveaxis(np.empty((3, 21, 67), np.float32), 0, -1)
    elif target == "byteswapped":
        out = np.empty(image.shape, np.dtype(">f4"))
    else:
        out = image
    got = filterkit.correlate(image, mask, channel_axis=-1, output=out)
    assert got is out
    np.testing.assert_array_equal(got, want)


def test_input_is_never_modified():
    rng = np.random.default_rng(seed("interleaved-input"))
    image = random_image(rng, (20, 65, 3), np.uint8)
    before = image.copy()
    filterkit.correlate(image, rng.standard_normal((5, 5)), channel_axis=-1, output=np.uint8)
    filterkit.gradient(image, channel_axis=-1, per_channel=True)
    np.testing.assert_array_equal(image, before)


@pytest.mark.parametrize("C", [2, 3, 4])
def test_sobel_and_gradient_per_channel(C):
    rng = np.random.default_rng(seed("interleaved-sobel", C))
    image = random_image(rng, (31, 90, C), np.float32)
    for fn in (filterkit.sobel, filterkit.gradient):
        got = fn(image, channel_axis=-1, per_channel=True)
        planes = [fn(np.ascontiguousarray(image[..., c])) for c in range(C)]
        if fn is filterkit.gradient:
            for part in range(2):
                np.testing.assert_array_equal(
                    got[part], np.stack([p[part] for p in planes], axis=-1))
        else:
            np.testing.assert_array_equal(got, np.stack(planes, axis=-1))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("cpu", ["portable", "avx2", "auto"])
def test_same_bits_on_every_kernel_and_thread_count(monkeypatch, threads, cpu):
    rng = np.random.default_rng(seed("interleaved-cpu"))
    image = random_image(rng, (300, 140, 3), np.float32)
    mask = rng.standard_normal((5, 5))
    separable = np.outer(rng.random(7), rng.random(7))
    # (float kernels of different instruction sets differ in the last bit:
    # AVX2 fuses multiply-adds; each is compared with itself plane by plane)
    monkeypatch.setenv("FILTERKIT_CPU", cpu)
    monkeypatch.setenv("FILTERKIT_NUM_THREADS", "1")
    want = [per_plane(filterkit.correlate, image, -1, mask=m, method=meth)
            for m, meth in ((mask, "direct"), (separable, "separable"))]
    monkeypatch.setenv("FILTERKIT_NUM_THREADS", str(threads))
    got = [filterkit.correlate(image, m, channel_axis=-1, method=meth)
           for m, meth in ((mask, "direct"), (separable, "separable"))]
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("dtype", [np.float32, np.uint8], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("layout", ["hwc", "planes", "padded-planes"])
def test_gradient_outputs_of_any_layout(layout, dtype):
    # strength and direction of interleaved channels scattered straight
    # into planes (the core's planar stores) or written as rows; uint8
    # takes the exact integer Sobel
    rng = np.random.default_rng(seed("interleaved-gradient-out", layout))
    image = random_image(rng, (25, 77, 3), dtype)
    want = filterkit.gradient(image, channel_axis=-1, per_channel=True)

    def target():
        if layout == "hwc":
            return np.empty((25, 77, 3), np.float32)
        if layout == "planes":
            return np.moveaxis(np.empty((3, 25, 77), np.float32), 0, -1)
        return np.moveaxis(np.empty((3, 25, 90), np.float32)[:, :, 5:82], 0, -1)

    outs = (target(), target())
    got = filterkit.gradient(image, channel_axis=-1, per_channel=True, output=outs)
    for g, o, w in zip(got, outs, want):
        assert g is o
        np.testing.assert_array_equal(g, w)
    strength = target()
    np.testing.assert_array_equal(
        filterkit.sobel(image, channel_axis=-1, per_channel=True, output=strength), want[0])


@pytest.mark.parametrize("out", [np.uint8, np.float32])
def test_integer_mask_into_planes(out):
    # the exact integer path (uint8 image, binomial mask) scatters into a
    # channel-first target like the float path
    rng = np.random.default_rng(seed("interleaved-int-planes", np.dtype(out).name))
    image = random_image(rng, (24, 71, 3), np.uint8)
    mask = np.outer([1, 2, 1], [1, 2, 1]) / 16
    want = filterkit.correlate(image, mask, channel_axis=-1, output=out)
    planes = np.moveaxis(np.empty((3, 24, 71), out), 0, -1)
    got = filterkit.correlate(image, mask, channel_axis=-1, output=planes)
    assert got is planes
    np.testing.assert_array_equal(got, want)
    first = filterkit.correlate(np.moveaxis(image, -1, 0), mask, channel_axis=0, output=out)
    np.testing.assert_array_equal(np.moveaxis(first, 0, -1), want)
    exact = oracle(image, -1, mask, "reflect")  # sums of 2^-4 steps: exact in float
    np.testing.assert_array_equal(want, np.round(exact) if out == np.uint8 else exact)

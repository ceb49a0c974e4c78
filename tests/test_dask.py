"""filterkit.dask: lazy, chunk-by-chunk filters equal to the in-memory ones.

Oracles:

- filterkit's own in-memory functions on the whole array: the promise of
  filterkit.dask is equality BIT FOR BIT (same dtype, same shape) when both
  run the same method, for every chunking (uneven, chunks smaller than the
  halo, a single chunk), every border mode and alias, every dtype, 2-D and
  3-D with channel_axis -1 and 0, space= and output=.  Compared with
  np.testing.assert_array_equal(strict=True) (no tolerance at all).
- independent of filterkit: scipy.ndimage.convolve/correlate in float64, and
  the naive numpy.pad oracle of oracle.py (the one that folds windows larger
  than the image as numpy.pad 'symmetric' does), with oracle.error_bound as
  tolerance (the rounding bound of an n-term dot product in the compute
  type).  A seam bug (a missing halo, a wrong crop, a wrong periodic
  boundary) is off by a sizeable fraction of sum|mask| * max|image|, orders
  of magnitude above that bound.
- the Dask graph itself: every block checked against the declared chunks
  and dtype (``run``), nothing computed while building, only neighbouring
  input blocks read for an output block.

The three ways filterkit.dask gets the halo are tested ("source" below):
a store (an array-like read by slices, as zarr) is read a window per
output block, its halo included (and, when the store is chunked, a stored
chunk at a time, each decoded once per process: its halo pieces are kept
for the blocks that follow); NumPy chunks held in the graph are read
twice (edges, then the chunk); chunks computed by Dask go through
map_overlap.

The only tolerance against filterkit itself is for the running sums of
``mean`` and of method='box' on float images (they restart at every chunk,
as documented), derived in ``mean_tol``.
"""

from __future__ import annotations

import logging
import os
import threading
import time

import numpy as np
import pytest
import scipy.ndimage as ndi
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import filterkit
import filterkit.color as fkc

da = pytest.importorskip("dask.array")
import dask  # noqa: E402  (after the importorskip of dask.array)

import filterkit.dask as fkd  # noqa: E402
from filterkit import _chunkcache  # noqa: E402
from helpers import PKG_ROOT  # noqa: E402  (dask.distributed's workers import this build)
from oracle import (ALL_MODES, MODES, error_bound, naive_convolve,  # noqa: E402
                    naive_correlate, promise, random_image, seed)

# alias -> canonical name, as filterkit documents them
ALIASES = {"reflect101": "mirror", "reflect_101": "mirror", "circular": "wrap", "grid-wrap": "wrap",
           "replicate": "nearest", "edge": "nearest", "symmetric": "reflect",
           "grid-mirror": "reflect", "grid-constant": "constant", "zero": "constant"}
SCIPY_MODE = {"constant": "constant", "nearest": "nearest", "reflect": "reflect",
              "mirror": "mirror", "wrap": "grid-wrap"}
CVAL = 1.5
SHAPE = (37, 29)  # odd, coprime sides: no accidental alignment of chunks and masks
CHUNKINGS = {
    "uneven": ((5, 20, 12), (3, 3, 23)),
    # 1-2 px chunks at both edges and in the middle: smaller than the halo of
    # most masks below, they are merged with a neighbour first (a radius of 0,
    # as across the 7x1 mask, keeps them)
    "thin": ((1, 2, 1, 30, 3), (2, 1, 1, 25)),
    "regular": (13, 10),
    "one": SHAPE,
}
DTYPES = [np.uint8, np.uint16, np.int16, np.int32, np.float32, np.float64, np.float16]
U64 = 2.0 ** -53
U32 = 2.0 ** -24


def colour_image(rng, shape, dtype):
    """sRGB(A) colours: integers over the dtype's range, floats in [0, 1] in
    steps of 2**-16 (dark ones included: CIE f's linear branch, see
    test_rgb_to_lab_does_not_depend_on_the_column_chunks).  The steps make
    any window sum of up to 2**8 values exact in float32 and float64, so the
    running sums of mean (restarted per chunk) cannot differ either."""
    dtype = np.dtype(dtype)
    unit = rng.random(shape)
    if dtype.kind in "ui":
        return np.rint(unit * np.iinfo(dtype).max).astype(dtype)
    return (np.rint(unit * 2.0 ** 16) / 2.0 ** 16).astype(dtype)


def lazy(image, chunks, source="stored"):
    """`image` as a Dask array, its chunks as Dask gives them to filterkit.dask.

    'store': an array-like store (as zarr or h5py) read by Dask's getter:
    each output block reads its own window, halo included.
    'chunked store': the same store chunked as zarr is (11 x 9 stored
    chunks, unlike any Dask chunking below): each stored chunk is decoded
    once per process and its halo pieces shared (filterkit._chunkcache).
    'stored': NumPy chunks held in the graph (da.from_array of an ndarray):
    when no chunk needs merging, filterkit.dask reads every chunk twice (its
    edges for the neighbours, then the chunk with their edges around it).
    'computed': the same values out of a Dask operation: map_overlap cuts
    the halos from the neighbouring chunks.  The three paths must agree.
    """
    if source == "store":
        return da.from_array(CountedReads(image), chunks=chunks)
    if source == "chunked store":
        store = CountedReads(image)
        store.chunks = (11, 9, 9)[:image.ndim]
        return da.from_array(store, chunks=chunks)
    x = da.from_array(image, chunks=chunks)
    if source == "computed":
        x = x.map_blocks(np.copy, dtype=x.dtype)
    return x


SOURCES = ["store", "chunked store", "stored", "computed"]


def run(result, scheduler="sync"):
    """Compute a lazy result block by block, check every block against the
    declared chunks and dtype (Dask itself does not), and assemble them."""
    assert isinstance(result, da.Array)
    delayed = result.to_delayed()
    blocks = dask.compute(*delayed.ravel().tolist(), scheduler=scheduler)
    grid = np.empty(delayed.shape, dtype=object)
    for index, block in zip(np.ndindex(*delayed.shape), blocks):
        declared = tuple(result.chunks[axis][i] for axis, i in enumerate(index))
        assert block.shape == declared, f"block {index}: {block.shape}, declared {declared}"
        assert block.dtype == result.dtype, f"block {index}: {block.dtype}, declared {result.dtype}"
        grid[index] = block
    return np.block(grid.tolist())


def assert_same(got, want):
    """A lazy result (or pair) equals the in-memory one bit for bit, with
    the same dtype and shape, declared before computing and computed."""
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want):
            assert_same(g, w)
        return
    assert isinstance(got, da.Array)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(run(got), want, strict=True)


def spatial_methods(mask):
    """The spatial methods filterkit accepts for this mask."""
    methods = ["direct"]
    if np.linalg.matrix_rank(mask) == 1:
        methods.append("separable")
    if np.all(mask == mask.flat[0]):
        methods.append("box")
    return methods


def mean_tol(image, size, dtype, cval=0.0):
    """|filterkit.dask.mean - filterkit.mean| for a float image (documented:
    exact for integers, within the rounding of the float64 sums for floats).

    Both take float64 running sums (kh-row column sums updated once per
    output row, then kw-column row sums): every update rounds once, by at
    most u64 * kh * kw * M (M = max|image|, |cval|), and a sum runs over at
    most H + kh rows and W + kw columns before it is divided by kh * kw.  A
    chunk restarts its sums, so the two results carry different roundings,
    each within 2 (H + W + kh + kw) u64 M of the exact mean.  A float32
    result rounds each once more: the two can then be 1 ulp apart (<= 2**-23
    M).  For a 37x29 image of values ~100 this is ~1e-11 in float64 (1e-5
    in float32), while any seam bug is off by O(M).
    """
    h, w = size if isinstance(size, tuple) else (size, size)
    m = max(float(np.abs(image.astype(np.float64)).max()), abs(cval), 1.0)
    drift = 2 * 2 * (image.shape[0] + image.shape[1] + h + w) * U64 * m
    return drift + (2.0 ** -23 * m if np.dtype(dtype) != np.float64 else 0.0)


def box_tol(image, mask, dtype, cval=0.0):
    """method='box' is the running-sum mean times the mask's total: the
    mean's bound scaled by |total|, plus the rounding of that product in
    each result (1 ulp of |total| M in the result's type)."""
    total = abs(float(mask.flat[0])) * mask.size
    m = max(float(np.abs(image.astype(np.float64)).max()), abs(cval), 1.0)
    u = U64 if np.dtype(dtype) == np.float64 else U32
    return total * mean_tol(image, mask.shape, dtype, cval) + 2 * 2 * u * total * m


# ----------------------------------------------------------------------------
# convolve / correlate: modes x chunkings x masks x methods, bit for bit
# ----------------------------------------------------------------------------

def _masks():
    rng = np.random.default_rng(12345)
    return {
        "3x5": rng.standard_normal((3, 5)),           # odd, non-square, asymmetric
        "7x1": rng.standard_normal((7, 1)),           # a column: no horizontal halo
        "9x9": rng.standard_normal((9, 9)),           # halo 4: larger than the thin chunks
        "rank1_5x7": np.outer(rng.standard_normal(5), rng.standard_normal(7)),  # 'separable'
        "const_5x5": np.full((5, 5), 0.3),            # 'box' (and 'separable')
    }


MASKS = _masks()


# thin chunks are merged (rechunked) first, and so cut by map_overlap unless
# read from a store (its windows need no particular chunking)
GRID_CHUNKINGS = [(c, src) for c in CHUNKINGS for src in SOURCES if c != "thin" or src != "stored"]


@pytest.mark.parametrize("mask_name", list(MASKS))
@pytest.mark.parametrize("chunking,source", GRID_CHUNKINGS, ids=[f"{c}-{s}" for c, s in GRID_CHUNKINGS])
@pytest.mark.parametrize("mode", ALL_MODES)
def test_convolve_and_correlate_equal_in_memory(mode, chunking, source, mask_name):
    rng = np.random.default_rng(seed(mode, chunking, mask_name))
    image = random_image(rng, SHAPE, np.float32, scale=100)
    mask = MASKS[mask_name]
    x = lazy(image, CHUNKINGS[chunking], source)
    for method in spatial_methods(mask):
        for name in ("convolve", "correlate"):
            got = getattr(fkd, name)(x, mask, mode=mode, cval=CVAL, method=method)
            want = getattr(filterkit, name)(image, mask, mode=mode, cval=CVAL, method=method)
            if method == "box":  # running sums restarted per chunk: box_tol
                assert got.shape == want.shape and got.dtype == want.dtype
                np.testing.assert_allclose(run(got), want, rtol=0,
                                           atol=box_tol(image, mask, want.dtype, CVAL))
            else:
                assert_same(got, want)


@pytest.mark.parametrize("mode", ALL_MODES)
def test_uniform_chunks_smaller_than_the_halo(mode):
    # every chunk 1 x 2 px, the halo 4 x 3: all chunks merged, on both axes
    rng = np.random.default_rng(seed("tiny", mode))
    image = random_image(rng, (17, 13), np.float32, scale=100)
    mask = rng.standard_normal((9, 7))
    x = lazy(image, (1, 2))
    got = fkd.correlate(x, mask, mode=mode, cval=CVAL, method="direct")
    if mode != "valid":  # ('valid' crops the halo off the first and last chunks)
        assert all(min(c) >= r for c, r in zip(got.chunks, (4, 3)))
    assert_same(got, filterkit.correlate(image, mask, mode=mode, cval=CVAL, method="direct"))


@pytest.mark.parametrize("mask_name", list(MASKS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8])
def test_method_auto_resolves_once_to_the_spatial_method_for_the_chunk_shape(dtype, mask_name):
    # 'auto' is decided once on (largest chunk + 2 halo) among the spatial
    # methods, so every chunk runs the same method as filterkit with that method
    mask = MASKS[mask_name]
    rng = np.random.default_rng(seed("auto", np.dtype(dtype).str, mask_name))
    image = random_image(rng, SHAPE, dtype, scale=100)
    chunks = CHUNKINGS["uneven"]
    r = (mask.shape[0] // 2, mask.shape[1] // 2)
    block = tuple(min(n, max(c) + 2 * h) for n, c, h in zip(SHAPE, chunks, r))
    expected = filterkit.choose_method(block, mask=mask,
                                       dtype=np.float64 if dtype == np.float64 else np.float32).method
    assert expected in ("direct", "separable", "box")  # no FFT for chunks this small
    got = fkd.convolve(lazy(image, chunks), mask, mode="mirror")
    want = filterkit.convolve(image, mask, mode="mirror", method=expected)
    if expected == "box" and image.dtype.kind == "f":
        np.testing.assert_allclose(run(got), want, rtol=0, atol=box_tol(image, mask, want.dtype))
    else:
        assert_same(got, want)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int16])
def test_box_method_restarts_its_sums_per_chunk(dtype):
    # 'auto' picks 'box' for a 9x9 constant mask on both sides: exact for
    # integers, within box_tol for floats (documented: float64 differs in the
    # last bits here, 781 of 1200 pixels by up to 2.2e-16)
    image = random_image(np.random.default_rng(0), (40, 30), dtype, scale=100)
    mask = np.full((9, 9), 1 / 81)
    assert filterkit.choose_method((30, 30), mask=mask, dtype=np.float64).method == "box"
    for source in SOURCES:
        got = fkd.convolve(lazy(image, (10, 10), source), mask)
        want = filterkit.convolve(image, mask)
        if np.dtype(dtype).kind == "f":
            assert got.dtype == want.dtype
            np.testing.assert_allclose(run(got), want, rtol=0, atol=box_tol(image, mask, want.dtype))
        else:
            assert_same(got, want)


def test_fft_method_is_left_to_each_chunk_within_the_fft_promise():
    # an explicit FFT method runs per chunk: within filterkit's documented
    # FFT accuracy, 1e-4 sum|mask| max|image| in float32, of the direct result
    rng = np.random.default_rng(seed("fft"))
    image = random_image(rng, SHAPE, np.float32, scale=100)
    mask = rng.standard_normal((5, 7))
    want = filterkit.convolve(image, mask, mode="wrap", method="direct")
    tol = promise(mask, image, np.float32)
    for method in ("fft", "overlap_save"):
        got = run(fkd.convolve(lazy(image, CHUNKINGS["uneven"]), mask, mode="wrap", method=method))
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=0, atol=tol)


@pytest.mark.parametrize("alias", list(ALIASES))
def test_mode_aliases(alias):
    rng = np.random.default_rng(seed("alias", alias))
    image = random_image(rng, SHAPE, np.float32, scale=100)
    mask = rng.standard_normal((5, 3))
    x = lazy(image, CHUNKINGS["thin"])
    cval = 0.0 if alias == "zero" else CVAL
    got = fkd.convolve(x, mask, mode=alias, cval=cval, method="direct")
    canonical = filterkit.convolve(image, mask, mode=ALIASES[alias], cval=cval, method="direct")
    assert_same(got, canonical)
    assert_same(fkd.sobel(x, mode=alias, cval=cval), filterkit.sobel(image, mode=alias, cval=cval))


# ----------------------------------------------------------------------------
# the named filters: every dtype, every mode, output=
# ----------------------------------------------------------------------------

FILTERS = {
    "convolve": lambda m, x, **kw: m.convolve(x, MASKS["3x5"], method="direct", **kw),
    "gaussian": lambda m, x, **kw: m.gaussian(x, 1.5, **kw),
    "gaussian_yx": lambda m, x, **kw: m.gaussian(x, (0.7, 2.0), sampling="point", **kw),
    "gaussian_size": lambda m, x, **kw: m.gaussian(x, 3.0, size=(5, 9), **kw),
    "sobel_x": lambda m, x, **kw: m.sobel_x(x, **kw),
    "sobel_y": lambda m, x, **kw: m.sobel_y(x, **kw),
    "sobel": lambda m, x, **kw: m.sobel(x, **kw),
    "gradient": lambda m, x, **kw: m.gradient(x, **kw),
    "laplace4": lambda m, x, **kw: m.laplace(x, **kw),
    "laplace8": lambda m, x, **kw: m.laplace(x, neighbours=8, **kw),
}


@pytest.mark.parametrize("name", list(FILTERS))
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_filters_every_dtype(dtype, name):
    rng = np.random.default_rng(seed("dtype", np.dtype(dtype).str, name))
    image = random_image(rng, SHAPE, dtype, scale=100)
    index = DTYPES.index(dtype) + list(FILTERS).index(name)
    mode = ALL_MODES[index % len(ALL_MODES)]
    x = lazy(image, CHUNKINGS["regular"], SOURCES[index % len(SOURCES)])
    f = FILTERS[name]
    assert_same(f(fkd, x, mode=mode, cval=CVAL), f(filterkit, image, mode=mode, cval=CVAL))


@pytest.mark.parametrize("name", list(FILTERS))
@pytest.mark.parametrize("chunking,source", [("thin", "computed"), ("uneven", "stored")])
@pytest.mark.parametrize("mode", ALL_MODES)
def test_filters_every_mode(mode, chunking, source, name):
    rng = np.random.default_rng(seed("modes", mode, name))
    image = random_image(rng, SHAPE, np.float32, scale=100)
    f = FILTERS[name]
    got = f(fkd, lazy(image, CHUNKINGS[chunking], source), mode=mode, cval=CVAL)
    assert_same(got, f(filterkit, image, mode=mode, cval=CVAL))


@pytest.mark.parametrize("size", [3, (5, 7), (1, 11), 9])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_mean(dtype, size):
    rng = np.random.default_rng(seed("mean", np.dtype(dtype).str, size))
    image = random_image(rng, SHAPE, dtype, scale=100)
    for i, mode in enumerate(ALL_MODES):
        got = fkd.mean(lazy(image, CHUNKINGS["regular"], SOURCES[i % len(SOURCES)]), size, mode=mode, cval=CVAL)
        want = filterkit.mean(image, size, mode=mode, cval=CVAL)
        if np.dtype(dtype).kind in "ui":
            # integer images sum exactly in float64: bit for bit
            assert_same(got, want)
        else:
            assert got.shape == want.shape and got.dtype == want.dtype
            np.testing.assert_allclose(run(got), want, rtol=0,
                                       atol=mean_tol(image, size, want.dtype, CVAL))


@pytest.mark.parametrize("in_dtype,output", [
    (np.uint8, np.float64), (np.float32, np.uint8), (np.float64, np.int16),
    (np.int16, np.float32), (np.float16, np.uint16)])
def test_output_dtype(in_dtype, output):
    rng = np.random.default_rng(seed("output", np.dtype(in_dtype).str, np.dtype(output).str))
    image = random_image(rng, SHAPE, in_dtype, scale=100)
    x = lazy(image, CHUNKINGS["uneven"], "computed")
    for name in ("convolve", "gaussian", "sobel", "laplace8"):
        f = FILTERS[name]
        got = f(fkd, x, mode="reflect", output=output)
        assert got.dtype == np.dtype(output)
        assert_same(got, f(filterkit, image, mode="reflect", output=output))
    got = fkd.mean(x, 5, output=output)
    want = filterkit.mean(image, 5, output=output)
    assert got.dtype == want.dtype
    if np.dtype(in_dtype).kind in "ui":
        assert_same(got, want)  # integers sum exactly: bit for bit
    elif np.dtype(output).kind in "ui":
        # a last-bit difference of the float mean may round the other way
        np.testing.assert_allclose(run(got).astype(np.int64), want.astype(np.int64), rtol=0, atol=1)
    else:
        np.testing.assert_allclose(run(got), want, rtol=0, atol=mean_tol(image, 5, output))


@pytest.mark.parametrize("output", [(np.uint16, np.float64), (np.float32, np.float64),
                                    (np.int32, np.float32), np.float64])
def test_gradient_output_dtypes(output):
    rng = np.random.default_rng(seed("grad-out", str(output)))
    image = random_image(rng, SHAPE, np.float32, scale=100)
    got = fkd.gradient(lazy(image, CHUNKINGS["thin"]), mode="mirror", output=output)
    assert_same(got, filterkit.gradient(image, mode="mirror", output=output))


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("output", [(np.int64, np.float64), (np.uint64, np.float64), (np.int64, np.float32)])
def test_gradient_saturated_64_bit_strength(output, source):
    # strength and direction of different dtypes must not meet in a common
    # one: INT64_MAX (2**63 - 1) is 2**63 in float64 and came back as INT64_MIN
    # (UINT64_MAX as 0) when the pair was stacked in float64 (fixed)
    image = np.zeros((6, 6))
    image[:, 3:] = 1e20
    got = fkd.gradient(lazy(image, (3, 3), source), output=output)
    want = filterkit.gradient(image, output=output)
    assert want[0].max() == np.iinfo(output[0]).max
    assert_same(got, want)


def test_float_nan_is_kept_where_the_mask_reads_it():
    # a NaN spreads exactly as in memory (zero weights skip it), across seams
    rng = np.random.default_rng(seed("nan"))
    image = random_image(rng, SHAPE, np.float32, scale=100)
    image[4, 2] = image[25, 26] = np.nan
    mask = MASKS["3x5"].copy()
    mask[0, 0] = 0.0
    got = fkd.correlate(lazy(image, CHUNKINGS["uneven"]), mask, mode="wrap", method="direct")
    want = filterkit.correlate(image, mask, mode="wrap", method="direct")
    assert np.isnan(want).sum() == 2 * (np.count_nonzero(mask))
    assert_same(got, want)


# ----------------------------------------------------------------------------
# independent oracles: scipy.ndimage and the naive loop
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("mask_shape", [(3, 5), (9, 9), (7, 1)])
@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("dtype,chunking,source", [(np.float32, "thin", "computed"),
                                                   (np.float64, "regular", "stored"),
                                                   (np.uint8, "uneven", "computed")])
def test_scipy_ndimage_oracle(dtype, chunking, source, mode, mask_shape):
    rng = np.random.default_rng(seed("scipy", np.dtype(dtype).str, mode, mask_shape))
    image = random_image(rng, SHAPE, dtype, scale=100)
    mask = rng.standard_normal(mask_shape)
    x = lazy(image, CHUNKINGS[chunking], source)
    f64 = image.astype(np.float64)
    ry, rx = mask_shape[0] // 2, mask_shape[1] // 2
    for name, oracle in (("convolve", ndi.convolve), ("correlate", ndi.correlate)):
        got = run(getattr(fkd, name)(x, mask, mode=mode, cval=CVAL, method="direct"))
        if mode == "valid":
            want = oracle(f64, mask, mode="constant")[ry:SHAPE[0] - ry, rx:SHAPE[1] - rx]
        else:
            want = oracle(f64, mask, mode=SCIPY_MODE[mode], cval=CVAL)
        assert got.shape == want.shape
        # error_bound: (n + 1) u sum|mask| max|image| x 4, in the compute type
        # (float32 for all but float64 images); cval enters the constant mode
        scale_image = np.append(f64.ravel(), CVAL)
        np.testing.assert_allclose(got, want, rtol=0,
                                   atol=error_bound(mask, scale_image, dtype=got.dtype))


@pytest.mark.parametrize("chunks", [(2, 1), (5, 4)])
@pytest.mark.parametrize("mode", MODES)
def test_mask_larger_than_the_image_against_the_naive_oracle(mode, chunks):
    # a 5x4 image, an 11x9 mask: the border folds over the whole image
    # (numpy.pad 'symmetric'/'reflect'/'wrap' repeat their rule), the axis is
    # kept in one chunk and filtered with the real mode
    rng = np.random.default_rng(seed("naive", mode))
    image = rng.standard_normal((5, 4))
    mask = rng.standard_normal((11, 9))
    x = lazy(image, chunks)
    for name, oracle in (("convolve", naive_convolve), ("correlate", naive_correlate)):
        out = getattr(fkd, name)(x, mask, mode=mode, cval=CVAL, method="direct")
        assert out.chunks == ((5,), (4,))
        got = run(out)
        want = oracle(image, mask, mode=mode, cval=CVAL)
        scale_image = np.append(image.ravel(), CVAL)
        np.testing.assert_allclose(got, want, rtol=0, atol=error_bound(mask, scale_image, dtype=np.float64))
        assert_same(out, getattr(filterkit, name)(image, mask, mode=mode, cval=CVAL, method="direct"))


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("mode", ALL_MODES[:-1])
def test_image_side_shorter_than_the_mask_radius(mode, source):
    # found by the hypothesis test (a 1x1 image, a 1x5 mask): a halo of r > n
    # on an axis kept in one chunk made map_overlap refuse the graph and the
    # re-reading path index past the chunk in _edges (fixed)
    rng = np.random.default_rng(seed("short", mode))
    image = rng.standard_normal((3, 30))
    mask = rng.standard_normal((9, 5))  # radius 4 > 3 rows
    got = fkd.convolve(lazy(image, (3, 10), source), mask, mode=mode, cval=CVAL, method="direct")
    assert_same(got, filterkit.convolve(image, mask, mode=mode, cval=CVAL, method="direct"))


# ----------------------------------------------------------------------------
# 3-D images: channel_axis, space=, per_channel, colour gradient
# ----------------------------------------------------------------------------

def _colour_cases():
    """(name, call, low-pass): calls on filterkit or filterkit.dask."""
    return {
        "gaussian_lab": (lambda m, x, **kw: m.gaussian(x, 0.8, space="lab", **kw), True),
        # mean in 'rgb': the values (integers, or multiples of 2**-16) sum
        # exactly, so the running sums restarted per chunk cannot differ
        "mean_rgb": (lambda m, x, **kw: m.mean(x, (3, 5), space="rgb", **kw), True),
        "gaussian_luv": (lambda m, x, **kw: m.gaussian(x, 1.0, space="luv", **kw), True),
        "convolve_rgb": (lambda m, x, **kw: m.convolve(x, MASKS["3x5"], method="direct", space="rgb", **kw), True),
        "gaussian_none": (lambda m, x, **kw: m.gaussian(x, 1.2, **kw), False),
        "sobel_colour": (lambda m, x, **kw: m.sobel(x, **kw), False),
        "sobel_lab": (lambda m, x, **kw: m.sobel(x, space="lab", **kw), False),
        "sobel_per_channel": (lambda m, x, **kw: m.sobel(x, per_channel=True, **kw), False),
        "gradient_colour": (lambda m, x, **kw: m.gradient(x, space="rgb", **kw), False),
        "gradient_per_channel_luv": (lambda m, x, **kw: m.gradient(x, space="luv", per_channel=True, **kw), False),
        "sobel_x_gray": (lambda m, x, **kw: m.sobel_x(x, space="gray", **kw), False),
        "laplace_lab": (lambda m, x, **kw: m.laplace(x, space="lab", **kw), False),
        "sobel_y_none": (lambda m, x, **kw: m.sobel_y(x, **kw), False),
    }


COLOUR_CASES = _colour_cases()


@pytest.mark.parametrize("case", list(COLOUR_CASES))
@pytest.mark.parametrize("channel_axis", [-1, 0])
@pytest.mark.parametrize("channel_chunks", ["split", "whole"])
@pytest.mark.parametrize("channels", [3, 4], ids=["rgb", "rgba"])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_colour_filters(dtype, channels, channel_chunks, channel_axis, case):
    rng = np.random.default_rng(seed("colour", np.dtype(dtype).str, channels, channel_axis, case))
    # 'split': 1-channel chunks, merged into one first (then map_overlap);
    # 'whole': the channels in one chunk, read straight from storage
    c = 1 if channel_chunks == "split" else channels
    shape, chunks = ((23, 19, channels), (9, 8, c)) if channel_axis == -1 else \
        ((channels, 23, 19), (c, 9, 8))
    image = colour_image(rng, shape, dtype)
    f, lowpass = COLOUR_CASES[case]
    mode = ALL_MODES[list(COLOUR_CASES).index(case) % len(ALL_MODES)]
    kw = dict(channel_axis=channel_axis, mode=mode, cval=0.25)
    got = f(fkd, lazy(image, chunks), **kw)
    want = f(filterkit, image, **kw)
    if lowpass and case != "gaussian_none":
        assert want.dtype == image.dtype  # a space= low-pass keeps the input's dtype
    if case in ("sobel_colour", "sobel_lab", "gradient_colour", "sobel_x_gray"):
        assert all(w.ndim == 2 for w in (want if isinstance(want, tuple) else (want,)))
    assert_same(got, want)


@pytest.mark.parametrize("channel_axis", [-1, 0])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_lowpass_gray_of_rgb(dtype, channel_axis):
    rng = np.random.default_rng(seed("gray", np.dtype(dtype).str, channel_axis))
    shape, chunks = ((23, 19, 3), (9, 8, 2)) if channel_axis == -1 else ((3, 23, 19), (2, 9, 8))
    image = colour_image(rng, shape, dtype)
    got = fkd.gaussian(lazy(image, chunks), 1.0, channel_axis=channel_axis, space="gray", mode="nearest")
    want = filterkit.gaussian(image, 1.0, channel_axis=channel_axis, space="gray", mode="nearest")
    assert want.ndim == 2 and want.dtype == image.dtype
    assert got.chunks == ((9, 9, 5), (8, 8, 3))
    assert_same(got, want)


def test_multichannel_without_space_any_channel_count():
    # 5 channels, no colour space: every channel filtered as it is
    rng = np.random.default_rng(seed("5ch"))
    image = random_image(rng, (5, 23, 19), np.int16, scale=100)
    x = lazy(image, (2, 7, 6))
    assert_same(fkd.convolve(x, MASKS["9x9"], channel_axis=0, mode="wrap", method="direct"),
                filterkit.convolve(image, MASKS["9x9"], channel_axis=0, mode="wrap", method="direct"))
    assert_same(fkd.gradient(x, channel_axis=-3, mode="valid"),
                filterkit.gradient(image, channel_axis=-3, mode="valid"))
    assert_same(fkd.gradient(x, channel_axis=0, per_channel=True),
                filterkit.gradient(image, channel_axis=0, per_channel=True))


def test_colour_output_chunks():
    image = colour_image(np.random.default_rng(1), (23, 19, 4), np.uint8)
    x = lazy(image, (9, 8, 1))
    # the channel axis in one chunk, spatial chunks kept
    assert fkd.mean(x, 3, channel_axis=-1, space="lab").chunks == ((9, 9, 5), (8, 8, 3), (4,))
    # the colour gradient drops the channel axis
    assert fkd.sobel(x, channel_axis=-1).chunks == ((9, 9, 5), (8, 8, 3))
    # rgb drops alpha for high-pass filters
    assert fkd.sobel_x(x, channel_axis=-1, space="rgb").chunks == ((9, 9, 5), (8, 8, 3), (3,))
    s, d = fkd.gradient(x, channel_axis=-1, per_channel=True, mode="valid")
    assert s.chunks == d.chunks == ((8, 9, 4), (7, 8, 2), (4,))


@pytest.mark.parametrize("channel_axis", [-1, 0])
def test_rgba_gray_drops_alpha(channel_axis):
    # was a heap overflow in memory (the core stored alpha into the 1-channel
    # luma: wrong values from the 4th pixel on, then glibc aborts; fixed)
    rng = np.random.default_rng(seed("rgba-gray", channel_axis))
    rgba = colour_image(rng, (23, 19, 4), np.uint8)
    rgb = np.ascontiguousarray(rgba[..., :3])
    if channel_axis == 0:
        rgba, rgb = np.moveaxis(rgba, -1, 0).copy(), np.moveaxis(rgb, -1, 0).copy()
    chunks = (9, 8, 1) if channel_axis == -1 else (1, 9, 8)
    x = lazy(rgba, chunks)
    luma = fkc.rgb_to_gray(rgb, channel_axis=channel_axis)
    assert_same(fkd.rgb_to_gray(x, channel_axis=channel_axis), luma)
    assert_same(fkd.rgb_to_gray(x, channel_axis=channel_axis), fkc.rgb_to_gray(rgba, channel_axis=channel_axis))
    kw = dict(channel_axis=channel_axis, space="gray", mode="wrap")
    assert_same(fkd.mean(x, 3, **kw), filterkit.mean(rgb, 3, **kw))
    assert_same(fkd.gaussian(x, 1.0, **kw), filterkit.gaussian(rgba, 1.0, **kw))


# ----------------------------------------------------------------------------
# colour conversions
# ----------------------------------------------------------------------------

CONVERSIONS = ["rgb_to_xyz", "rgb_to_lab", "rgb_to_luv", "rgb_to_gray"]
INVERSES = {"xyz_to_rgb": "rgb_to_xyz", "lab_to_rgb": "rgb_to_lab", "luv_to_rgb": "rgb_to_luv"}


@pytest.mark.parametrize("name", CONVERSIONS)
@pytest.mark.parametrize("channel_axis", [-1, 0])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64])
def test_conversions_from_rgb(dtype, channel_axis, name):
    rng = np.random.default_rng(seed("conv", np.dtype(dtype).str, channel_axis, name))
    shape, chunks = ((23, 19, 3), (9, 8, 1)) if channel_axis == -1 else ((3, 23, 19), (1, 9, 8))
    image = colour_image(rng, shape, dtype)
    x = lazy(image, chunks)
    got = getattr(fkd, name)(x, channel_axis=channel_axis)
    want = getattr(fkc, name)(image, channel_axis=channel_axis)
    if name == "rgb_to_gray":
        assert want.ndim == 2 and got.chunks == ((9, 9, 5), (8, 8, 3))  # the channel axis dropped
    else:
        assert got.chunks[channel_axis] == (3,)
    assert_same(got, want)
    got64 = getattr(fkd, name)(x, channel_axis=channel_axis, output=np.float64)
    assert_same(got64, getattr(fkc, name)(image, channel_axis=channel_axis, output=np.float64))


@pytest.mark.parametrize("name", ["rgb_to_xyz", "rgb_to_lab", "rgb_to_luv"])
def test_conversions_keep_alpha(name):
    rng = np.random.default_rng(seed("alpha", name))
    image = colour_image(rng, (4, 23, 19), np.uint8)
    got = getattr(fkd, name)(lazy(image, (3, 9, 8)), channel_axis=0)
    assert got.chunks[0] == (4,)
    assert_same(got, getattr(fkc, name)(image, channel_axis=0))


@pytest.mark.parametrize("name", list(INVERSES))
@pytest.mark.parametrize("output", [None, np.uint8, np.float64])
def test_conversions_to_rgb(name, output):
    rng = np.random.default_rng(seed("inverse", name, str(output)))
    colours = getattr(fkc, INVERSES[name])(colour_image(rng, (23, 19, 3), np.float32))
    x = lazy(colours, (9, 8, 2))
    assert_same(getattr(fkd, name)(x, output=output), getattr(fkc, name)(colours, output=output))


@pytest.mark.parametrize("source,target", [("rgb", "lab"), ("lab", "luv"), ("xyz", "gray"),
                                           ("luv", "xyz"), ("rgb", "gray")])
def test_convert(source, target):
    rng = np.random.default_rng(seed("convert", source, target))
    rgb = colour_image(rng, (3, 23, 19), np.float64)
    colours = rgb if source == "rgb" else fkc.convert(rgb, "rgb", source, channel_axis=0)
    got = fkd.convert(lazy(colours, (2, 9, 8)), source, target, channel_axis=0)
    assert_same(got, fkc.convert(colours, source, target, channel_axis=0))


def test_rgb_to_lab_does_not_depend_on_the_column_chunks():
    # a dark pixel (X and Z below CIE epsilon: the linear branch of f) was
    # rounded differently in the vectorised body of the core's row loop
    # (FMA-contracted) and in its scalar remainder, so its a*, b* depended on
    # its column and on the chunking (a* 5.2980857 vs 5.298093; fixed).
    # 64 columns: every pixel in the vector body; the 33-column chunk ends in
    # a scalar remainder of one pixel for vectors of 4, 8 or 16 floats
    image = np.tile(np.array([16, 0, 6], np.uint8), (4, 64, 1))
    got = fkd.rgb_to_lab(lazy(image, (4, (33, 31), 3)))
    assert_same(got, fkc.rgb_to_lab(image))
    assert_same(fkd.gradient(lazy(image, (4, (33, 31), 3)), channel_axis=-1, space="lab"),
                filterkit.gradient(image, channel_axis=-1, space="lab"))


# ----------------------------------------------------------------------------
# gradient: a pair of lazy arrays sharing their chunks' work
# ----------------------------------------------------------------------------

def test_gradient_pair_computed_together(monkeypatch):
    rng = np.random.default_rng(seed("pair"))
    image = random_image(rng, SHAPE, np.float32, scale=100)
    x = lazy(image, CHUNKINGS["uneven"])
    calls = []
    original = filterkit._filters.gradient

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(filterkit._filters, "gradient", counting)
    strength, direction = fkd.gradient(x, mode="nearest")
    assert isinstance(strength, da.Array) and isinstance(direction, da.Array)
    calls.clear()  # the argument probe
    s, d = dask.compute(strength, direction, scheduler="sync")
    assert len(calls) == x.npartitions  # one filterkit call per chunk for both results
    want_s, want_d = filterkit.gradient(image, mode="nearest")
    np.testing.assert_array_equal(s, want_s, strict=True)
    np.testing.assert_array_equal(d, want_d, strict=True)


# ----------------------------------------------------------------------------
# laziness and the shape of the graph
# ----------------------------------------------------------------------------

class BlockSource:
    """A lazy 2-D input whose blocks are made on demand, counting each one."""

    def __init__(self, chunks, channels=None):
        self.calls = []
        self.lock = threading.Lock()
        chunks = tuple(chunks) + (((channels,),) if channels else ())
        self.array = da.map_blocks(self.make, chunks=chunks, dtype=np.float32,
                                   meta=np.empty((0,) * len(chunks), np.float32))

    def make(self, block_info=None):
        info = block_info[None]
        with self.lock:
            self.calls.append(tuple(info["chunk-location"][:2]))
        rng = np.random.default_rng(seed(info["chunk-location"]))
        return rng.random(info["chunk-shape"], dtype=np.float32)


def _every_builder(mode="reflect"):
    """Every filter of filterkit.dask, as ``build(x)`` with this border mode."""
    mask = MASKS["3x5"]
    return {
        "convolve": lambda x: fkd.convolve(x, mask, mode=mode),
        "correlate": lambda x: fkd.correlate(x, mask, mode=mode),
        "mean": lambda x: fkd.mean(x, 5, mode=mode),
        "gaussian": lambda x: fkd.gaussian(x, 1.0, mode=mode),
        "sobel_x": lambda x: fkd.sobel_x(x, mode=mode),
        "sobel_y": lambda x: fkd.sobel_y(x, mode=mode),
        "sobel": lambda x: fkd.sobel(x, mode=mode),
        "gradient": lambda x: fkd.gradient(x, mode=mode)[1],
        "laplace": lambda x: fkd.laplace(x, mode=mode),
    }


# the halo of each builder: (rows, columns)
RADIUS = {"convolve": (1, 2), "correlate": (1, 2), "mean": (2, 2), "gaussian": (3, 3)}


def _computed(x):
    """The same values out of one more Dask operation (the map_overlap path)."""
    return x.map_blocks(np.copy, dtype=x.dtype)


@pytest.mark.parametrize("path", SOURCES)
@pytest.mark.parametrize("mode", ALL_MODES)
def test_building_computes_nothing_and_keeps_the_chunks(mode, path):
    chunks = ((7, 9, 8, 6), (10, 5, 8))  # none smaller than a halo below (<= 3)
    source = BlockSource(chunks)
    x = source.array if path == "stored" else _computed(source.array)
    for name, build in _every_builder(mode).items():
        out = build(x)
        r = RADIUS.get(name, (1, 1))
        if mode == "valid":
            # the constant-mode result without the halo at both ends
            want = tuple((c[0] - h,) + c[1:-1] + (c[-1] - h,) for c, h in zip(chunks, r))
        else:
            want = chunks
        assert out.chunks == want, name
        assert out.shape == tuple(sum(c) for c in want)
    assert source.calls == []


def test_building_on_an_input_that_raises_computes_nothing():
    class Sentinel(Exception):
        pass

    def explode(block_info=None):
        raise Sentinel("computed")

    grey = da.map_blocks(explode, chunks=((8, 8), (8, 8)), dtype=np.float32,
                         meta=np.empty((0, 0), np.float32))
    rgb = da.map_blocks(explode, chunks=((8, 8), (8, 8), (3,)), dtype=np.float32,
                        meta=np.empty((0, 0, 0), np.float32))
    results = []
    for g, c in ((grey, rgb), (_computed(grey), _computed(rgb))):
        results += [build(g) for build in _every_builder().values()]
        results += [fkd.gradient(g)[1], fkd.mean(c, 3, channel_axis=-1, space="lab"),
                    fkd.sobel(c, channel_axis=-1), fkd.gradient(c, channel_axis=-1)[1]]
        results += [getattr(fkd, name)(c) for name in CONVERSIONS + list(INVERSES)]
        results.append(fkd.convert(c, "lab", "luv"))
    assert all(isinstance(r, da.Array) for r in results)
    for r in (results[0], results[-2]):
        with pytest.raises(Sentinel):
            r.compute(scheduler="sync")


def _neighbours(i, j, n_i, n_j, periodic):
    out = set()
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            a, b = i + di, j + dj
            if periodic:
                out.add((a % n_i, b % n_j))
            elif 0 <= a < n_i and 0 <= b < n_j:
                out.add((a, b))
    return out


@pytest.mark.parametrize("path", SOURCES)
@pytest.mark.parametrize("mode", ["reflect", "wrap", "valid", "constant"])
def test_an_output_block_reads_only_neighbouring_input_blocks(mode, path):
    chunks = ((6, 7, 6, 8, 6), (5, 6, 7, 6, 5))  # 5 x 5 blocks, all larger than the halo (2)
    source = BlockSource(chunks)
    x = source.array if path == "stored" else _computed(source.array)
    out = fkd.convolve(x, MASKS["rank1_5x7"][:, 1:6], mode=mode, method="direct")
    assert out.numblocks == (5, 5)
    for i, j in [(2, 2), (0, 0), (4, 1), (0, 3)]:
        source.calls.clear()
        out.blocks[i, j].compute(scheduler="sync")
        want = _neighbours(i, j, 5, 5, periodic=mode == "wrap")
        assert sorted(source.calls) == sorted(want), (i, j)  # each needed block made once
        assert len(source.calls) <= 9


def test_blocks_of_a_colour_result_read_only_neighbours():
    source = BlockSource(((6, 7, 6, 8), (5, 6, 7, 6)), channels=3)
    out = fkd.gradient(source.array, channel_axis=-1, space="lab")[1]
    source.calls.clear()
    out.blocks[1, 2].compute(scheduler="sync")
    assert sorted(source.calls) == sorted(_neighbours(1, 2, 4, 4, periodic=False))


class CountedReads:
    """An array-like store (as zarr or h5py would be) that counts the reads
    of every chunk: da.from_array reads it chunk by chunk."""

    def __init__(self, data):
        self.data, self.shape, self.dtype, self.ndim = data, data.shape, data.dtype, data.ndim
        self.reads = {}
        self.lock = threading.Lock()

    def __getitem__(self, key):
        if all(k.stop > k.start for k in key):  # not Dask's empty probe for meta
            with self.lock:
                where = tuple((k.start, k.stop) for k in key)
                self.reads[where] = self.reads.get(where, 0) + 1
        return self.data[key]


def _expected_windows(bounds, n, r, wrap):
    """The slices a block [a, b) of an axis of n reads with a halo of r: to
    the image's edge (none beyond it), or wrapped to the far side, as runs."""
    out = []
    for a, b in zip(bounds, bounds[1:]):
        if (a, b) == (0, n) or not wrap:
            out.append([(max(0, a - r), min(n, b + r))] if (a, b) != (0, n) else [(0, n)])
            continue
        idx = [i % n for i in range(a - r, b + r)]
        parts, start = [], idx[0]
        for prev, cur in zip(idx, idx[1:] + [None]):
            if cur != prev + 1:
                parts.append((start, prev + 1))
                start = cur
        out.append(parts)
    return out


@pytest.mark.parametrize("mode", ["wrap", "valid", "mirror"])
def test_a_store_is_read_once_per_block_with_its_halo(mode):
    # the documented path for a store: every output block reads its own
    # window (block + halo, to the image's edge, or wrapped for 'wrap')
    # straight from the store, once; nothing else, nothing while building
    data = random_image(np.random.default_rng(seed("reads", mode)), (40, 30), np.float32, scale=100)
    store = CountedReads(data)
    rows, cols = (0, 10, 20, 30, 40), (0, 8, 20, 30)
    x = da.from_array(store, chunks=(10, (8, 12, 10)))
    store.reads.clear()
    outs = [fkd.gaussian(x, 1.0, mode=mode), fkd.sobel(x, mode=mode)]
    assert store.reads == {}  # building reads nothing
    radii = (filterkit.masks.gaussian_size(1.0) // 2, 1)
    for out, r, want in zip(outs, radii, [filterkit.gaussian(data, 1.0, mode=mode),
                                          filterkit.sobel(data, mode=mode)]):
        assert any(n.startswith(fkd.PATH_LAYERS["store"]) for n in out.dask.layers)
        store.reads.clear()
        np.testing.assert_array_equal(out.compute(scheduler="threads", num_workers=2), want, strict=True)
        wrap = mode == "wrap"
        expected = {}
        for ry in _expected_windows(rows, 40, r, wrap):
            for rx in _expected_windows(cols, 30, r, wrap):
                for y in ry:
                    for xx in rx:
                        expected[(y, xx)] = expected.get((y, xx), 0) + 1
        assert store.reads == expected
    # a single chunk has no neighbours: read once, as it is
    store.reads.clear()
    fkd.sobel(da.from_array(store, chunks=(40, 30)), mode=mode).compute(scheduler="sync")
    assert store.reads == {((0, 40), (0, 30)): 1}


def _stored_chunks_touched(rows, cols, side):
    """The stored chunks (of `side`) that a window of row and column runs
    touches, as the (start, stop) pairs a whole-chunk read asks for."""
    def along(runs_, n, c):
        return {(k * c, min((k + 1) * c, n)) for a, b in runs_ for k in range(a // c, (b - 1) // c + 1)}
    return {(r, c) for r in along(rows, 40, side[0]) for c in along(cols, 30, side[1])}


@pytest.mark.parametrize("mode", ["reflect", "wrap"])
def test_a_chunked_store_is_read_a_stored_chunk_at_a_time(mode):
    # a window across a few large stored chunks is read a whole stored chunk
    # at a time (the store decodes each whole anyway: one at a time bounds
    # memory), each chunk the window touches once, nothing else
    data = random_image(np.random.default_rng(seed("stored-chunks", mode)), (40, 30), np.float32,
                        scale=100)
    store = CountedReads(data)
    store.chunks = (7, 9)  # a window (at most 16 x 18) spans at most 4 of them: one at a time
    x = da.from_array(store, chunks=(10, (8, 12, 10)))
    out = fkd.gaussian(x, 1.0, mode=mode)
    r = filterkit.masks.gaussian_size(1.0) // 2
    want = filterkit.gaussian(data, 1.0, mode=mode)
    bounds_r, bounds_c = (0, 10, 20, 30, 40), (0, 8, 20, 30)
    for i, j in [(0, 0), (1, 1), (3, 2)]:
        store.reads.clear()
        block = out.blocks[i, j].compute(scheduler="sync")
        rows = _expected_windows(bounds_r, 40, r, mode == "wrap")[i]
        cols = _expected_windows(bounds_c, 30, r, mode == "wrap")[j]
        assert store.reads == {k: 1 for k in _stored_chunks_touched(rows, cols, (7, 9))}
        np.testing.assert_array_equal(block, want[bounds_r[i]:bounds_r[i + 1],
                                                  bounds_c[j]:bounds_c[j + 1]], strict=True)


@pytest.mark.parametrize("mode", ["reflect", "wrap", "valid", "constant", "mirror"])
@pytest.mark.parametrize("stored", [(10, 10), (7, 9), (20, 15), (40, 30)])
def test_each_stored_chunk_is_decoded_once_per_compute(mode, stored):
    # the halo pieces of a decoded chunk are left on the process's shelf for
    # the blocks that follow: one process (the synchronous scheduler) decodes
    # every stored chunk once, whether the stored chunks match the blocks, cut
    # across them, or hold several blocks each, and the result is exact
    data = random_image(np.random.default_rng(seed("decoded-once", mode)), (40, 30), np.float32,
                        scale=100)
    store = CountedReads(data)
    store.chunks = stored
    out = fkd.sobel(da.from_array(store, chunks=(10, 10)), mode=mode)
    store.reads.clear()
    np.testing.assert_array_equal(out.compute(scheduler="sync"), filterkit.sobel(data, mode=mode),
                                  strict=True)
    every = {((a, min(a + stored[0], 40)), (b, min(b + stored[1], 30)))
             for a in range(0, 40, stored[0]) for b in range(0, 30, stored[1])}
    assert store.reads == {k: 1 for k in every}
    layer = next(n for n in out.dask.layers if n.startswith(fkd.PATH_LAYERS["store"]))
    assert not [key for key in _chunkcache.SHELF.items if key[1] == layer]  # every piece taken
    # the threaded scheduler may decode a chunk in two threads at once: exact all the same
    np.testing.assert_array_equal(out.compute(scheduler="threads", num_workers=2),
                                  filterkit.sobel(data, mode=mode), strict=True)


def test_a_tiled_tiff_is_read_a_tile_at_a_time_each_tile_once(tmp_path):
    # issue 19's other chunked store: a tiled TIFF read through tifffile's
    # zarr store takes the store path, and one process decodes every tile
    # once (the last column of tiles is only 4 pixels wide, under the halo
    # of 2 on the far side: the window reaches across it)
    tifffile = pytest.importorskip("tifffile")
    zarr = pytest.importorskip("zarr")
    image = random_image(np.random.default_rng(seed("tiled-tiff")), (300, 260), np.float32, scale=100)
    path = tmp_path / "tiled.tif"
    tifffile.imwrite(path, image, tile=(64, 64))
    with tifffile.imread(path, aszarr=True) as store:
        x = da.from_zarr(zarr.open(store, mode="r"))
        y = fkd.convolve(x, MASKS["const_5x5"], mode="mirror")
        assert any(n.startswith(fkd.PATH_LAYERS["store"]) for n in y.dask.layers)
        before = _chunkcache.SHELF.counts["decoded"]
        got = y.compute(scheduler="sync")
        assert _chunkcache.SHELF.counts["decoded"] - before == 5 * 5
    np.testing.assert_array_equal(got, filterkit.convolve(image, MASKS["const_5x5"], mode="mirror"),
                                  strict=True)


def test_a_store_changed_between_two_computes_is_read_again():
    # the shelf is scoped to one compute (its epoch is made when the compute
    # runs): pieces left by a compute of one block are not taken by the next
    # compute of the same graph after the store changed
    data = random_image(np.random.default_rng(seed("stale")), (40, 30), np.float32, scale=100)
    store = CountedReads(data.copy())
    store.chunks = (10, 10)
    out = fkd.sobel(da.from_array(store, chunks=(10, 10)))
    out.blocks[1, 1].compute(scheduler="sync")  # leaves its neighbours' pieces
    layer = next(n for n in out.dask.layers if n.startswith(fkd.PATH_LAYERS["store"]))
    assert [key for key in _chunkcache.SHELF.items if key[1] == layer]
    store.data[:] = data[::-1]
    np.testing.assert_array_equal(out.compute(scheduler="sync"), filterkit.sobel(data[::-1]),
                                  strict=True)


def test_the_shelf_is_bounded_and_the_result_does_not_depend_on_it(monkeypatch):
    # pieces that do not fit are dropped and read again by their block:
    # the same result, more decodes
    data = random_image(np.random.default_rng(seed("shelf-budget")), (40, 30), np.float32, scale=100)
    store = CountedReads(data)
    store.chunks = (10, 10)
    want = filterkit.convolve(data, MASKS["9x9"], mode="wrap")
    decoded = {}
    for budget in (1 << 20, 2000, 0):
        monkeypatch.setattr(_chunkcache, "SHELF", _chunkcache.Shelf({"strips": budget,
                                                                     "bulk": budget}))
        out = fkd.convolve(da.from_array(store, chunks=(10, 10)), MASKS["9x9"], mode="wrap")
        store.reads.clear()
        np.testing.assert_array_equal(out.compute(scheduler="sync"), want, strict=True)
        decoded[budget] = sum(store.reads.values())
        assert all(_chunkcache.SHELF.used[k] <= budget for k in ("strips", "bulk"))
    assert decoded[1 << 20] == 12 < decoded[2000] < decoded[0] == 12 * 9


def test_pieces_no_block_takes_expire():
    # a piece left for a block that ran on another worker is never taken:
    # it goes after PIECE_SECONDS, so an idle worker holds none
    shelf = _chunkcache.Shelf({"strips": 1000, "bulk": 1000}, seconds=0.05)
    shelf.put(("e1", "layer", (0, 1), (0, 0)), [np.zeros(4, np.float32)], "strips")
    time.sleep(0.03)
    shelf.put(("e1", "layer", (0, 2), (0, 0)), [np.zeros(8, np.float32)], "strips")
    deadline = time.monotonic() + 10
    while shelf.items and time.monotonic() < deadline:
        time.sleep(0.01)
        if len(shelf.items) == 1:  # the older one went first
            assert list(shelf.items)[0][2] == (0, 2)
    assert not shelf.items and shelf.used == {"strips": 0, "bulk": 0} and shelf.timer is None


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_a_forked_child_starts_with_an_empty_shelf():
    # a child made by fork while another thread holds the shelf's lock must
    # not deadlock on it, nor carry its parent's pieces
    key = ("fork-epoch", "layer", (0, 1), (0, 0))
    _chunkcache.SHELF.put(key, [np.zeros(4, np.float32)], "strips")
    held, release = threading.Event(), threading.Event()

    def hold():
        with _chunkcache.SHELF.lock:
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    try:
        pid = os.fork()
        if pid == 0:  # the child: only this thread, the lock copied as held
            ok = False
            try:
                ok = _chunkcache.SHELF.lock.acquire(timeout=5) and not _chunkcache.SHELF.items
            finally:
                os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
    finally:
        release.set()
        holder.join()
    assert os.waitstatus_to_exitcode(status) == 0
    assert _chunkcache.SHELF.take(key) is not None  # the parent keeps its own


def test_shelf_pieces_are_taken_once_and_not_kept_for_finished_blocks():
    shelf = _chunkcache.Shelf({"strips": 100, "bulk": 1000})
    piece = [np.zeros(4, np.float32)]
    shelf.put(("e1", "layer", (0, 1), (0, 0)), piece, "strips")
    assert shelf.take(("e1", "layer", (0, 1), (0, 0))) is piece
    assert shelf.take(("e1", "layer", (0, 1), (0, 0))) is None
    shelf.done("e1", "layer", (0, 2))
    shelf.put(("e1", "layer", (0, 2), (0, 0)), piece, "strips")  # finished: not kept
    assert shelf.used["strips"] == 0
    shelf.put(("e1", "layer", (0, 3), (0, 0)), [np.zeros(30, np.float32)], "strips")  # too large
    assert shelf.used["strips"] == 0
    shelf.put(("e1", "layer", (0, 3), (0, 0)), [np.zeros(20, np.float32)], "strips")
    shelf.put(("e2", "other", (0, 3), (0, 0)), [np.zeros(20, np.float32)], "strips")
    assert shelf.used["strips"] == 80  # the other compute's strip made room
    shelf.done("e3", "other", (1, 1))  # the other layer computed again: its old pieces go
    assert shelf.used["strips"] == 0 and not shelf.items


def _address(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def test_a_lent_buffer_comes_back_when_its_last_view_is_gone():
    shelf = _chunkcache.Shelf({"strips": 100, "bulk": 100}, seconds=0.05)
    first = shelf.lend((12, 12), np.float32)
    at = _address(first)
    kept = first[2:4, 1:]  # as a piece the shelf keeps for another block
    del first
    other = shelf.lend((12, 12), np.float32)
    assert not np.shares_memory(other, kept)  # a view of it lives: not lent again
    kept[...] = 7
    del kept
    again = shelf.lend((12, 12), np.float32)
    assert _address(again) == at  # back once its last view went
    inside = shelf.lend((12, 12), np.float32)
    assert not np.shares_memory(inside, again) and not np.shares_memory(inside, other)
    del again, other, inside
    wide, long = shelf.lend((12, 12), np.float64), shelf.lend((12, 14), np.float32)
    assert wide.dtype == np.float64 and long.shape == (12, 14)  # neither fits a kept one
    assert len(shelf.returned) + len(shelf.windows) == 3  # the three 144-element ones kept
    long_at = _address(long)
    del wide, long
    # an edge block's smaller window: the start of the smallest kept buffer
    # that is large enough, whatever its shape
    edge = shelf.lend((11, 10), np.float32)
    assert edge.shape == (11, 10) and edge.flags.c_contiguous and edge.base is not None
    assert _address(edge) != long_at  # 110 elements: a 144 one fits before the 168
    between = shelf.lend((12, 13), np.float32)
    assert _address(between) == long_at  # 156 elements: only the 168 fits
    del edge, between
    lent = [shelf.lend((5, 5), np.float32) for _ in range(_chunkcache._WINDOWS_KEPT + 2)]
    del lent
    shelf.lend((1,), np.uint8)  # collects what came back, newest kept
    assert len(shelf.windows) == _chunkcache._WINDOWS_KEPT
    deadline = time.monotonic() + 10
    while (shelf.windows or shelf.returned) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not shelf.windows and not shelf.returned  # an idle process keeps none
    while shelf.timer is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert shelf.timer is None
    assert shelf.lend((0, 4), np.float32).shape == (0, 4)
    shelf.lend((3, 3), np.float32)
    shelf.reset()
    assert not shelf.windows and not shelf.returned


def test_a_buffer_given_back_while_the_shelf_is_locked_does_not_wait():
    # the garbage collector may free a lent buffer's last view in a thread
    # that holds the shelf's lock (dropping pieces): giving it back must not
    # take that lock
    shelf = _chunkcache.Shelf({"strips": 100, "bulk": 1 << 20}, seconds=5)
    piece = shelf.lend((8, 8), np.float32)[:4]
    shelf.put(("e", "l", (0,), (0,)), [piece], "bulk", 256)
    del piece
    done = threading.Event()

    def expire():
        with shelf.lock:
            shelf._drop(("e", "l", (0,), (0,)))  # the last view goes here
        done.set()

    t = threading.Thread(target=expire, daemon=True)
    t.start()
    assert done.wait(10), "giving a buffer back waited for the lock its thread holds"
    assert len(shelf.returned) == 1
    shelf.reset()


@pytest.mark.parametrize("viewed", ["window", "filtered window"])
def test_a_result_never_shares_a_reused_buffer(monkeypatch, viewed):
    # each process's next block reuses the window buffer and the buffer the
    # filter writes into: a result that is a view of either (none of
    # filterkit's filters returns a view of its input) must still leave
    # every block its own pixels.  Blocks as wide as the image with a halo
    # in rows only: the cut is then contiguous, a view.
    data = random_image(np.random.default_rng(seed("window-view")), (40, 30), np.float32, scale=100)
    store = CountedReads(data)
    store.chunks = (10, 30)
    mask = np.array([[0.0], [1.0], [0.0]], np.float32)  # the identity: the result is the image

    def viewing(block, fn, kwargs, crops, pick, where, count):
        lo = 1 if where[0] > 0 else 0
        hi = 1 if where[0] < count[0] - 1 else 0
        if viewed == "filtered window":
            assert isinstance(kwargs["output"], np.ndarray)  # the reused buffer
            block = fn(block, **kwargs)
            assert block is kwargs["output"]
        return block[lo:block.shape[0] - hi]

    monkeypatch.setattr(fkd, "_filtered", viewing)
    out = fkd.convolve(da.from_array(store, chunks=(10, 30)), mask)
    assert any(n.startswith(fkd.PATH_LAYERS["store"]) for n in out.dask.layers)
    np.testing.assert_array_equal(out.compute(scheduler="sync"), data, strict=True)


@pytest.mark.parametrize("output", [None, np.float64, np.uint8])
def test_a_filter_writes_into_a_reused_buffer_when_it_can(monkeypatch, output):
    # float32 and float64 results go to a buffer the next block reuses (no
    # new pages for each block in a Dask worker); other dtypes as before
    data = random_image(np.random.default_rng(seed("into", str(output))), (40, 30), np.float32,
                        scale=100)
    store = CountedReads(data)
    store.chunks = (10, 10)
    seen = []
    real = fkd._filtered

    def watched(block, fn, kwargs, *rest):
        seen.append(type(kwargs.get("output")))
        return real(block, fn, kwargs, *rest)

    monkeypatch.setattr(fkd, "_filtered", watched)
    out = fkd.convolve(da.from_array(store, chunks=(10, 10)), MASKS["3x5"], output=output)
    np.testing.assert_array_equal(out.compute(scheduler="sync"),
                                  filterkit.convolve(data, MASKS["3x5"], output=output), strict=True)
    assert set(seen) == ({type(np.dtype(np.uint8))} if output is np.uint8 else {np.ndarray})


def test_a_zarr_block_decodes_its_own_chunk_into_its_window(tmp_path, monkeypatch):
    # zarr fills the window's own part directly (no array of zarr's own to
    # allocate and copy); the result and the count of decodes are unchanged
    zarr = pytest.importorskip("zarr")
    from dask.array.core import getter
    data = random_image(np.random.default_rng(seed("decode-into")), (40, 30), np.float32, scale=100)
    z = zarr.open_array(str(tmp_path / "in.zarr"), mode="w", shape=data.shape, chunks=(10, 10),
                        dtype="float32")
    z[:] = data
    straight = []
    real = _chunkcache._decode_into

    def counted(*args):
        done = real(*args)
        straight.append(done)
        return done

    monkeypatch.setattr(_chunkcache, "_decode_into", counted)
    # zarr's decode, not the chunk files' (test_compressed_zarr_chunks_...)
    monkeypatch.setattr(_chunkcache, "chunk_files", lambda *args: None)
    out = fkd.convolve(da.from_zarr(str(tmp_path / "in.zarr")), MASKS["9x9"], mode="wrap")
    before = _chunkcache.SHELF.counts["decoded"]
    np.testing.assert_array_equal(out.compute(scheduler="sync"),
                                  filterkit.convolve(data, MASKS["9x9"], mode="wrap"), strict=True)
    assert _chunkcache.SHELF.counts["decoded"] - before == 12
    if int(zarr.__version__.split(".")[0]) >= 3:
        assert any(straight)
    # not for a lock, another getter's options, another store or dtype
    region = (slice(0, 10), slice(0, 10))
    target = np.empty((10, 10), np.float32)
    assert not real(z, region, target, getter, (), {"lock": threading.Lock()})
    assert not real(z, region, target, getter, (False,), {})
    assert not real(CountedReads(data), region, target, getter, (), {})
    assert not real(z, region, np.empty((10, 10), np.float64), getter, (), {})


def _zarr3():
    zarr = pytest.importorskip("zarr")
    if int(zarr.__version__.split(".")[0]) < 3:
        pytest.skip("byte-range reads are for zarr 3's arrays")
    return zarr


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("stored, blocks", [((10, 10), (10, 10)), ((7, 13), (16, 11)),
                                            ((4, 5), (20, 15))])
def test_raw_zarr_chunks_are_read_by_the_rows_a_window_needs(tmp_path, monkeypatch, dtype,
                                                            stored, blocks):
    # an uncompressed zarr 3 array on disk: each block reads the rows of each
    # stored chunk its window needs from the chunk's file (no chunk decoded
    # whole for a halo), edge chunks and chunks never written (the fill
    # value) included; the oracle is zarr's own read, filtered in memory
    zarr = _zarr3()
    rng = np.random.default_rng(seed("raw-zarr", np.dtype(dtype).name, *stored))
    data = random_image(rng, (37, 41), dtype, scale=100)
    group = zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    z = group.create_array("sub/in", shape=data.shape, chunks=stored, dtype=dtype,
                           compressors=None, fill_value=7)
    z[:20] = data[:20]  # the lower rows' chunks are never written: the fill value
    stored_data = z[:]
    assert (stored_data[-1] == 7).all()
    seen = []
    real = _chunkcache.read_raw

    def spied(raw, chunk, local, target, shelf):
        seen.append(local[0].stop - local[0].start)
        return real(raw, chunk, local, target, shelf)

    monkeypatch.setattr(_chunkcache, "read_raw", spied)
    x = da.from_zarr(str(tmp_path / "g.zarr"), component="sub/in", chunks=blocks)
    for mode in ("wrap", "reflect", "constant"):
        before = dict(_chunkcache.SHELF.counts)
        out = fkd.convolve(x, MASKS["9x9"], mode=mode)
        assert any(n.startswith(fkd.PATH_LAYERS["store"]) for n in out.dask.layers)
        np.testing.assert_array_equal(out.compute(scheduler="threads"),
                                      filterkit.convolve(stored_data, MASKS["9x9"], mode=mode),
                                      strict=True)
        assert _chunkcache.SHELF.counts["decoded"] == before["decoded"]  # none whole
        assert _chunkcache.SHELF.counts["ranged"] > before["ranged"]
    assert max(seen) == stored[0]  # a chunk inside a window: all its rows
    if stored[0] > 4:
        assert min(seen) < stored[0]  # a halo's few rows alone


def test_raw_chunk_reads_are_only_for_raw_local_chunk_files(tmp_path):
    zarr = _zarr3()
    from dask.array.core import getter
    from zarr.codecs import BytesCodec

    def made(name, **kw):
        z = zarr.create_array(str(tmp_path / name), shape=(20, 30), chunks=(10, 10),
                              dtype=kw.pop("dtype", "float32"), overwrite=True, **kw)
        z[:] = np.arange(600).reshape(20, 30)
        return z

    raw = made("raw.zarr", compressors=None)
    found = _chunkcache.chunk_files(raw, getter, (), {})
    assert found is not None and found.chunk == (10, 10) and found.directory.startswith(
        str(tmp_path))
    # dask.array.from_zarr opens a path through fsspec's local file system
    x = da.from_zarr(str(tmp_path / "raw.zarr"))
    opened = next(v for v in dict(x.dask).values() if type(v).__module__.startswith("zarr."))
    again = _chunkcache.chunk_files(opened, getter, (), {})
    assert again is not None and again[:3] == found[:3]  # (directory, chunk, dtype)
    assert _chunkcache.chunk_files(raw, getter, (), {"asarray": True}) is not None
    packed = _chunkcache.chunk_files(made("zstd.zarr"), getter, (), {})
    assert packed is not None and type(packed.codec).__name__ == "Zstd"
    assert found.codec is None
    refused = {
        "checksummed": (made("crc.zarr", compressors=zarr.codecs.Crc32cCodec()), getter, (), {}),
        "two compressors": (made("two.zarr", compressors=[zarr.codecs.ZstdCodec(),
                                                          zarr.codecs.Crc32cCodec()]),
                            getter, (), {}),
        "transposed": (made("t.zarr", compressors=None,
                            filters=[zarr.codecs.TransposeCodec(order=(1, 0))]), getter, (), {}),
        "big-endian": (made("big.zarr", compressors=None, serializer=BytesCodec(endian="big")),
                       getter, (), {}),
        "sharded": (made("shard.zarr", compressors=None, shards=(20, 30)), getter, (), {}),
        "in memory": (zarr.create_array(zarr.storage.MemoryStore(), shape=(4, 4), chunks=(2, 2),
                                        dtype="float32", compressors=None), getter, (), {}),
        # fsspec, but not this machine's files
        "fsspec memory": (zarr.create_array(f"memory://{tmp_path.name}.zarr", shape=(4, 4),
                                            chunks=(2, 2), dtype="float32", compressors=None),
                          getter, (), {}),
        "a lock": (raw, getter, (), {"lock": threading.Lock()}),
        "an argument": (raw, getter, (False,), {}),
        "another getter": (raw, lambda a, b: a[b], (), {}),
        "not zarr": (np.zeros((20, 30), np.float32), getter, (), {}),
    }
    for why, args in refused.items():
        assert _chunkcache.chunk_files(*args) is None, why
    # zarr's own read of the refused ones: the store path's result is unchanged
    for name in ("big.zarr", "shard.zarr", "crc.zarr", "two.zarr", "t.zarr"):
        y = da.from_zarr(str(tmp_path / name), chunks=(7, 11))
        np.testing.assert_array_equal(fkd.convolve(y, MASKS["3x5"]).compute(scheduler="sync"),
                                      filterkit.convolve(y.compute(), MASKS["3x5"]), strict=True)


@pytest.mark.parametrize("compressor", ["ZstdCodec", "BloscCodec", "GzipCodec"])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_compressed_zarr_chunks_are_decoded_from_their_files(tmp_path, monkeypatch, compressor,
                                                             dtype):
    # zstd, blosc and gzip chunks decoded from their files by numcodecs
    # (through reused buffers), each once per compute as zarr's would be;
    # edge chunks and chunks never written (the fill value) included; the
    # oracle is zarr's own read, filtered in memory
    zarr = _zarr3()
    rng = np.random.default_rng(seed("packed-zarr", compressor, np.dtype(dtype).name))
    data = random_image(rng, (45, 38), dtype, scale=100)
    z = zarr.create_array(str(tmp_path / "in.zarr"), shape=data.shape, chunks=(10, 10),
                          dtype=dtype, compressors=getattr(zarr.codecs, compressor)(),
                          fill_value=3)
    z[:30] = data[:30]
    stored_data = z[:]
    assert (stored_data[-1] == 3).all()
    outcomes = []
    real = _chunkcache.decode_chunk

    def spied(*args):
        done = real(*args)
        outcomes.append(done is True)
        return done

    monkeypatch.setattr(_chunkcache, "decode_chunk", spied)
    x = da.from_zarr(str(tmp_path / "in.zarr"))
    for mode in ("wrap", "reflect"):
        before = _chunkcache.SHELF.counts["decoded"]
        out = fkd.convolve(x, MASKS["9x9"], mode=mode)
        np.testing.assert_array_equal(out.compute(scheduler="threads"),
                                      filterkit.convolve(stored_data, MASKS["9x9"], mode=mode),
                                      strict=True)
        assert _chunkcache.SHELF.counts["decoded"] - before >= 20  # every chunk, once or more
    assert outcomes and all(outcomes)


def test_a_damaged_compressed_chunk_is_left_to_zarr_to_report(tmp_path):
    zarr = _zarr3()
    z = zarr.create_array(str(tmp_path / "in.zarr"), shape=(20, 20), chunks=(10, 10),
                          dtype="float32")
    z[:] = np.arange(400, dtype=np.float32).reshape(20, 20)
    (tmp_path / "in.zarr" / "c" / "1" / "0").write_bytes(b"not zstd at all")
    # not decoded into a result: zarr reads it and says what is wrong
    with pytest.raises(RuntimeError, match="Zstd decompression error"):
        z[:]
    out = fkd.convolve(da.from_zarr(str(tmp_path / "in.zarr")), MASKS["3x5"])
    with pytest.raises(RuntimeError, match="Zstd decompression error"):
        out.compute(scheduler="sync")


@pytest.mark.parametrize("damage", ["shortened", "a directory"])
def test_a_damaged_raw_chunk_is_left_to_zarr_to_report(tmp_path, damage):
    # a chunk file of the wrong size, or no file, is not read as pixels:
    # zarr reads it and says what is wrong (never a result made of a
    # partial chunk), or what it holds
    zarr = _zarr3()
    z = zarr.create_array(str(tmp_path / "in.zarr"), shape=(20, 20), chunks=(10, 10),
                          dtype="float32", compressors=None)
    z[:] = 1.0
    chunk = tmp_path / "in.zarr" / "c" / "1" / "1"
    if damage == "shortened":
        os.truncate(chunk, 100)
    else:
        chunk.unlink()
        chunk.mkdir()
    x = da.from_zarr(str(tmp_path / "in.zarr"), chunks=(10, 10))
    out = fkd.convolve(x, MASKS["3x5"])
    if damage == "shortened":
        with pytest.raises(ValueError, match="cannot reshape"):
            out.compute(scheduler="sync")
    else:  # zarr reads no chunk there: the fill value, as zarr's own read says
        zarrs = x.compute(scheduler="sync")
        assert (zarrs[10:, 10:] == 0).all()
        np.testing.assert_array_equal(out.compute(scheduler="sync"),
                                      filterkit.convolve(zarrs, MASKS["3x5"]), strict=True)


def test_small_stored_chunks_are_read_in_one_call():
    data = np.arange(40 * 30, dtype=np.float32).reshape(40, 30)
    store = CountedReads(data)
    store.chunks = (2, 2)  # many across every window (11 or 12 wide): one read per block
    out = fkd.sobel(da.from_array(store, chunks=(10, 10)))
    store.reads.clear()
    np.testing.assert_array_equal(out.compute(scheduler="sync"), filterkit.sobel(data), strict=True)
    assert len(store.reads) == 12 and set(store.reads.values()) == {1}


def test_store_blocks_depend_on_nothing_but_the_store():
    # what keeps image data from crossing between workers: an output block's
    # task needs the store object only, never another task's pixels
    data = np.zeros((40, 30), np.float32)
    out = fkd.convolve(da.from_array(CountedReads(data), chunks=(10, 10)), MASKS["3x5"])
    layer = next(n for n in out.dask.layers if n.startswith(fkd.PATH_LAYERS["store"]))
    original = next(n for n in out.dask.layers if n.startswith("original-"))
    assert set(out.dask.layers) == {layer, original}
    assert out.dask.dependencies[layer] == {original}
    graph = dict(out.__dask_graph__())
    for key in dask.core.flatten(out.__dask_keys__()):
        assert dask.core.get_dependencies(graph, key) == {original}



@pytest.mark.parametrize("chunked", [False, True])
def test_a_write_fuses_into_the_store_paths_tasks(chunked):
    # da.store / da.to_zarr's write joins each block's task: one task per
    # block.  A layer of plain tasks would fuse too but leave an alias task
    # per block, and on distributed's queue those idle the workers.
    data = np.random.default_rng(seed("fuse")).random((40, 30)).astype(np.float32)
    source = CountedReads(data)
    if chunked:
        source.chunks = (10, 10)  # the shelf's path: an epoch task besides
    out = fkd.convolve(da.from_array(source, chunks=(10, 10)), MASKS["3x5"])
    assert any(n.startswith(fkd.PATH_LAYERS["store"]) for n in out.dask.layers)
    target = np.zeros(data.shape, np.float32)
    (stored,) = dask.optimize(da.store(out, target, lock=False, compute=False))
    graph = dict(stored.__dask_graph__())
    # Dask before its task spec (2024.12; the newest on Python 3.9 is
    # 2024.8) fuses no write into any source, da.from_array's included
    if tuple(int(p) for p in dask.__version__.split(".")[:2]) >= (2024, 12):
        blocks = [k for k in graph if isinstance(k, tuple)]
        assert len(blocks) == 12
        assert len({k[0] for k in blocks}) == 1
        small = [k for k in graph if not isinstance(k, tuple)]
        assert len(small) <= 3  # the store object, the epoch, the final task
    dask.compute(stored, scheduler="sync")
    np.testing.assert_array_equal(target, filterkit.convolve(data, MASKS["3x5"]), strict=True)

@pytest.mark.parametrize("mode", ["wrap", "valid", "mirror"])
def test_stored_chunks_are_read_twice_and_only_when_computed(mode):
    # NumPy chunks held in the graph (map_blocks without inputs here, so each
    # read is counted): every chunk is read twice (its edges for the
    # neighbours, then itself with their edges around it), instead of being
    # kept in memory until its last neighbour is filtered
    chunks = (10, (8, 12, 10))
    source = BlockSource(((10, 10, 10, 10), (8, 12, 10)))
    data = source.array.compute(scheduler="sync")
    source.calls.clear()
    out = fkd.sobel(source.array, mode=mode)
    assert any(n.startswith(fkd.PATH_LAYERS["reread"]) for n in out.dask.layers), chunks
    assert source.calls == []  # building reads nothing
    np.testing.assert_array_equal(out.compute(scheduler="threads", num_workers=2),
                                  filterkit.sobel(data, mode=mode), strict=True)
    counts = {c: source.calls.count(c) for c in set(source.calls)}
    assert len(counts) == 12 and set(counts.values()) == {2}


def test_every_halo_path_is_exercised_and_named():
    # what the 'store'/'stored'/'computed' parametrisations rely on, and how
    # a result tells the path it took: the name of its layer
    image = np.zeros(SHAPE, np.float32)

    def path(x):  # a 5x5 mask: the thin chunks of 1 px need merging but for a store
        names = list(fkd.convolve(x, MASKS["const_5x5"]).dask.layers)
        found = [p for p, prefix in fkd.PATH_LAYERS.items() if any(n.startswith(prefix) for n in names)]
        assert len(found) == 1, names
        return found[0]

    assert path(lazy(image, CHUNKINGS["uneven"], "store")) == "store"
    assert path(lazy(image, CHUNKINGS["thin"], "store")) == "store"
    assert path(lazy(image, CHUNKINGS["uneven"], "stored")) == "reread"
    assert path(lazy(image, CHUNKINGS["uneven"], "computed")) == "overlap"
    assert path(lazy(image, CHUNKINGS["thin"], "stored")) == "overlap"  # merged first
    assert path(lazy(image, CHUNKINGS["uneven"], "store")[2:, :]) == "overlap"  # a sliced store


# ----------------------------------------------------------------------------
# schedulers and threads
# ----------------------------------------------------------------------------

def test_thread_per_chunk_is_one():
    assert fkd.THREADS_PER_CHUNK == 1


@pytest.fixture
def global_threads():
    filterkit.set_num_threads(3)
    try:
        yield 3
    finally:
        filterkit.set_num_threads(None)


def _thread_spy(monkeypatch):
    """Record (thread, filterkit.get_num_threads()) inside every sobel call."""
    seen = []
    original = filterkit._filters.sobel

    def spy(*args, **kwargs):
        seen.append((threading.get_ident(), filterkit.get_num_threads()))
        return original(*args, **kwargs)

    monkeypatch.setattr(filterkit._filters, "sobel", spy)
    return seen


def test_chunks_run_on_one_filterkit_thread_scoped_to_the_chunk(monkeypatch, global_threads):
    seen = _thread_spy(monkeypatch)
    image = random_image(np.random.default_rng(3), SHAPE, np.float32, scale=100)
    out = fkd.sobel(lazy(image, CHUNKINGS["uneven"]))
    assert seen and seen[-1][1] == global_threads  # the argument probe: not limited
    seen.clear()
    np.testing.assert_array_equal(out.compute(scheduler="sync"), filterkit.sobel(image))
    # the synchronous scheduler runs the chunks in this very thread
    assert {t for t, _ in seen} == {threading.get_ident()}
    assert [n for _, n in seen] == [1] * out.npartitions
    assert filterkit.get_num_threads() == global_threads  # restored after every chunk


@pytest.mark.parametrize("path", SOURCES)
def test_thread_limit_is_restored_when_a_chunk_fails(global_threads, path):
    def complex_block(block_info=None):  # declared float32, is complex: the chunk's filter raises
        return np.zeros(block_info[None]["chunk-shape"], np.complex64)

    x = da.map_blocks(complex_block, chunks=((8, 8), (8, 8)), dtype=np.float32,
                      meta=np.empty((0, 0), np.float32))
    x = x if path == "stored" else _computed(x)
    with pytest.raises(TypeError, match="`image` must be"):
        fkd.sobel(x).compute(scheduler="sync")
    assert filterkit.get_num_threads() == global_threads


def test_threaded_scheduler(monkeypatch, global_threads):
    seen = _thread_spy(monkeypatch)
    rng = np.random.default_rng(seed("threads"))
    image = random_image(rng, (64, 48), np.float32, scale=100)
    rgb = colour_image(rng, (40, 30, 3), np.float32)
    x = lazy(image, (16, 12))  # stored: chunks read twice
    out = fkd.sobel(x, mode="wrap")
    seen.clear()
    got = out.compute(scheduler="threads", num_workers=2)
    np.testing.assert_array_equal(got, filterkit.sobel(image, mode="wrap"), strict=True)
    assert len(seen) == out.npartitions and all(n == 1 for _, n in seen)
    # the pool's threads are back to the global setting afterwards
    after = x.map_blocks(lambda b: np.full(b.shape, filterkit.get_num_threads(), np.float32))
    assert set(np.unique(after.compute(scheduler="threads", num_workers=2))) == {global_threads}
    # the channels split: merged, then map_overlap
    s, d = dask.compute(*fkd.gradient(lazy(rgb, (10, 10, 1)), channel_axis=-1, mode="reflect"),
                        scheduler="threads", num_workers=2)
    want_s, want_d = filterkit.gradient(rgb, channel_axis=-1, mode="reflect")
    np.testing.assert_array_equal(s, want_s, strict=True)
    np.testing.assert_array_equal(d, want_d, strict=True)
    got = fkd.gaussian(x, 2.0, mode="mirror").compute(scheduler="threads", num_workers=2)
    np.testing.assert_array_equal(got, filterkit.gaussian(image, 2.0, mode="mirror"), strict=True)


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip(
        "distributed", reason="dask.distributed is not installed (pip install 'filterkit[dask]')")
    # the workers are spawned processes: they import filterkit from PYTHONPATH,
    # which must hold the very build under test
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = PKG_ROOT + (os.pathsep + old if old else "")
    try:
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None, silence_logs=logging.ERROR)
        c = distributed.Client(cluster, set_as_default=False)
    finally:
        if old is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = old
    try:
        yield c
    finally:
        c.close()
        cluster.close()


def test_distributed_processes(client):
    rng = np.random.default_rng(seed("distributed"))
    image = random_image(rng, SHAPE, np.uint16, scale=100)
    rgba = colour_image(rng, (23, 19, 4), np.uint8)
    x = lazy(image, CHUNKINGS["thin"])
    mask = MASKS["9x9"]
    out = fkd.convolve(x, mask, mode="wrap", method="direct")
    np.testing.assert_array_equal(client.compute(out).result(),
                                  filterkit.convolve(image, mask, mode="wrap", method="direct"), strict=True)
    s, d = client.compute(list(fkd.gradient(lazy(image, CHUNKINGS["regular"]), mode="valid")), sync=True)
    want_s, want_d = filterkit.gradient(image, mode="valid")
    np.testing.assert_array_equal(s, want_s, strict=True)
    np.testing.assert_array_equal(d, want_d, strict=True)
    colour = lazy(rgba, (9, 8, 4))
    got = client.compute(fkd.gaussian(colour, 1.0, channel_axis=-1, space="lab", mode="mirror")).result()
    np.testing.assert_array_equal(got, filterkit.gaussian(rgba, 1.0, channel_axis=-1, space="lab", mode="mirror"),
                                  strict=True)
    got = client.compute(fkd.rgb_to_luv(colour)).result()
    np.testing.assert_array_equal(got, fkc.rgb_to_luv(rgba), strict=True)
    # the workers run the build under test
    where = client.run(lambda: os.path.dirname(os.path.dirname(os.path.abspath(filterkit.__file__))))
    assert set(where.values()) == {PKG_ROOT}


# ----------------------------------------------------------------------------
# zarr round trip
# ----------------------------------------------------------------------------

# the gaussian's last 4-px column chunk was merged into its neighbour
# (smaller than the 6-px halo), leaving irregular chunks
def test_zarr_round_trip(tmp_path):
    zarr = pytest.importorskip("zarr")
    data = np.random.default_rng(seed("zarr")).random((300, 260), dtype=np.float32)
    # open_array: the same call in zarr 2 (Python 3.9, 3.10) and zarr 3
    store = zarr.open_array(str(tmp_path / "in.zarr"), mode="w", shape=data.shape, chunks=(64, 64),
                            dtype="float32")
    store[:] = data
    x = da.from_zarr(str(tmp_path / "in.zarr"))
    assert x.chunks == ((64,) * 4 + (44,), (64,) * 4 + (4,))
    mask = MASKS["3x5"]
    cases = {
        "gaussian": lambda m, a: m.gaussian(a, 2.0),
        "sobel": lambda m, a: m.sobel(a),
        "convolve": lambda m, a: m.convolve(a, mask, mode="mirror", method="direct"),
    }
    for name, f in cases.items():
        path = str(tmp_path / f"{name}.zarr")
        # regular chunks first: dask before 2024.8 (the newest on Python 3.9)
        # refuses to write irregular ones, later versions rechunk them
        da.to_zarr(f(fkd, x).rechunk((64, 64)), path, compute=True)
        back = zarr.open_array(path, mode="r")[:]
        # the in-memory call runs on all threads (the image is large enough):
        # the result does not depend on it
        np.testing.assert_array_equal(back, f(filterkit, data), strict=True)


# ----------------------------------------------------------------------------
# property: any shape, any chunking, any odd mask, any mode
# ----------------------------------------------------------------------------

@st.composite
def chunked_cases(draw):
    shape = (draw(st.integers(1, 40)), draw(st.integers(1, 40)))

    def chunking(n):
        cuts = draw(st.lists(st.integers(1, max(n - 1, 1)), max_size=min(4, n - 1), unique=True))
        edges = [0] + sorted(c for c in cuts if c < n) + [n]
        return tuple(b - a for a, b in zip(edges, edges[1:]))

    chunks = (chunking(shape[0]), chunking(shape[1]))
    mask_shape = (draw(st.sampled_from([1, 3, 5, 7, 9])), draw(st.sampled_from([1, 3, 5, 7, 9])))
    mode = draw(st.sampled_from(ALL_MODES))
    assume(mode != "valid" or (shape[0] >= mask_shape[0] and shape[1] >= mask_shape[1]))
    dtype = draw(st.sampled_from([np.uint8, np.int16, np.float32, np.float64]))
    name = draw(st.sampled_from(["convolve", "correlate"]))
    source = draw(st.sampled_from(SOURCES))
    return shape, chunks, mask_shape, mode, dtype, name, source, draw(st.integers(0, 2 ** 32 - 1))


@settings(max_examples=40, deadline=None)
@given(chunked_cases())
def test_property_any_chunking_equals_in_memory(case):
    shape, chunks, mask_shape, mode, dtype, name, source, rng_seed = case
    rng = np.random.default_rng(rng_seed)
    image = random_image(rng, shape, dtype, scale=100)
    mask = rng.standard_normal(mask_shape)
    got = getattr(fkd, name)(lazy(image, chunks, source), mask, mode=mode, cval=CVAL, method="direct")
    assert_same(got, getattr(filterkit, name)(image, mask, mode=mode, cval=CVAL, method="direct"))


# ----------------------------------------------------------------------------
# argument errors: "`name` must be ...; got ..."
# ----------------------------------------------------------------------------

X2 = da.from_array(np.random.default_rng(0).random((20, 16), dtype=np.float32), chunks=(8, 8))
X3 = da.from_array(np.random.default_rng(0).random((20, 16, 3), dtype=np.float32), chunks=(8, 8, 3))
M3 = np.ones((3, 3))

ERRORS = {
    "numpy image": (lambda: fkd.convolve(np.zeros((5, 5)), M3), TypeError, r"`image` must be a dask\.array\.Array"),
    "list image": (lambda: fkd.sobel([[1.0]]), TypeError, r"`image` must be a dask\.array\.Array"),
    "numpy to colour": (lambda: fkd.rgb_to_lab(np.zeros((5, 5, 3))), TypeError, r"`image` must be a dask"),
    "1-D image": (lambda: fkd.convolve(da.zeros(5, chunks=2), M3), ValueError, r"`image` must be 2-D.*got 1-D"),
    "3-D without channel_axis": (lambda: fkd.mean(X3), ValueError, r"`image` must be 2-D when channel_axis is None"),
    "4-D image": (lambda: fkd.sobel(da.zeros((3, 3, 3, 3), chunks=2), channel_axis=0), ValueError,
                  r"`image` must be 3-D when channel_axis is given; got 4-D"),
    "channel_axis with 2-D": (lambda: fkd.convolve(X2, M3, channel_axis=-1), ValueError,
                              r"`image` must be 3-D when channel_axis is given; got 2-D"),
    "channel_axis float": (lambda: fkd.convolve(X3, M3, channel_axis=1.0), TypeError,
                           r"`channel_axis` must be None or an integer; got 1\.0"),
    "channel_axis bool": (lambda: fkd.gaussian(X3, channel_axis=True), TypeError, r"`channel_axis` must be"),
    "channel_axis 3": (lambda: fkd.convolve(X3, M3, channel_axis=3), ValueError,
                       r"`channel_axis` must be an axis of a 3-D image \(-3 to 2\); got 3"),
    "channel_axis -4": (lambda: fkd.laplace(X3, channel_axis=-4), ValueError, r"`channel_axis` must be an axis"),
    "colour channel_axis": (lambda: fkd.rgb_to_lab(X3, channel_axis=3), ValueError, r"`channel_axis` must be an axis"),
    "colour channel_axis None": (lambda: fkd.rgb_to_gray(X3, channel_axis=None), TypeError,
                                 r"`channel_axis` must be an integer"),
    "unknown chunks": (lambda: fkd.convolve(X2[X2[:, 0] > 0.5], M3), ValueError,
                       r"`image` must be an array of known chunk sizes.*got shape \(nan, 16\)"),
    "unknown chunks colour": (lambda: fkd.rgb_to_xyz(X3[X3[:, 0, 0] > 0.5]), ValueError,
                              r"`image` must be an array of known chunk sizes"),
    "empty": (lambda: fkd.convolve(da.zeros((0, 5), chunks=2), M3), ValueError,
              r"`image` must be non-empty; got shape \(0, 5\)"),
    "empty colour": (lambda: fkd.rgb_to_gray(da.zeros((4, 0, 3), chunks=2)), ValueError, r"`image` must be non-empty"),
    "complex image": (lambda: fkd.convolve(da.zeros((5, 5), dtype=complex, chunks=3), M3), TypeError,
                      r"`image` must be an array of real numbers.*complex128"),
    "bool image": (lambda: fkd.sobel(da.zeros((5, 5), dtype=bool, chunks=3)), TypeError,
                   r"`image` must be an array of real numbers"),
    "bad mode": (lambda: fkd.convolve(X2, M3, mode="bogus"), ValueError, r"`mode` must be one of .*got 'bogus'"),
    "mode not str": (lambda: fkd.sobel(X2, mode=3), TypeError, r"`mode` must be a string"),
    "bad cval": (lambda: fkd.convolve(X2, M3, mode="constant", cval="a"), TypeError, r"`cval` must be a real number"),
    "bool cval": (lambda: fkd.mean(X2, cval=True), TypeError, r"`cval` must be a real number"),
    "zero alias with cval": (lambda: fkd.convolve(X2, M3, mode="zero", cval=1.0), ValueError,
                             r"`cval` must be 0 with mode='zero'"),
    "even mask": (lambda: fkd.convolve(X2, np.ones((2, 3))), ValueError, r"`mask` must be odd.*got shape \(2, 3\)"),
    "NaN mask": (lambda: fkd.correlate(X2, np.array([[np.nan]])), ValueError, r"`mask` must be finite"),
    "1-D mask": (lambda: fkd.convolve(X2, np.ones(3)), ValueError, r"`mask` must be 2-D"),
    "output array": (lambda: fkd.convolve(X2, M3, output=np.zeros((20, 16))), TypeError,
                     r"`output` must be None or a dtype for a Dask array"),
    "output arrays pair": (lambda: fkd.gradient(X2, output=(np.zeros((20, 16)), np.zeros((20, 16)))), TypeError,
                           r"`output` must be None or a dtype for a Dask array"),
    "colour output array": (lambda: fkd.rgb_to_lab(X3, output=np.zeros((20, 16, 3))), TypeError,
                            r"`output` must be None or a dtype"),
    "output complex": (lambda: fkd.convolve(X2, M3, output=np.complex64), TypeError,
                       r"`output` must be an array or a dtype of .*got dtype complex64"),
    "output bool": (lambda: fkd.mean(X2, output=bool), TypeError, r"`output` must be .*got dtype bool"),
    "output name": (lambda: fkd.sobel(X2, output="bogus"), TypeError, r"`output` must be None, an array or a dtype"),
    "integer direction": (lambda: fkd.gradient(X2, output=np.uint8), TypeError,
                          r"`output` must be a float dtype for the direction"),
    "Lab as integers": (lambda: fkd.rgb_to_lab(X3, output=np.uint8), TypeError, r"`output` must be a float dtype"),
    "valid smaller than mask": (lambda: fkd.convolve(X2, np.ones((21, 3)), mode="valid"), ValueError,
                                r"`image` must be at least 21x3 \(the mask\) with mode='valid'; got 20x16"),
    "valid gaussian": (lambda: fkd.gaussian(X2, 5.0, mode="valid"), ValueError, r"`image` must be at least 31x31"),
    "separable rank 2": (lambda: fkd.convolve(X2, np.eye(3), method="separable"), ValueError,
                         r"`mask` must be rank 1 .*with method='separable'"),
    "box unequal": (lambda: fkd.correlate(X2, np.eye(3), method="box"), ValueError, r"`method` must be 'box' only"),
    "bad method": (lambda: fkd.convolve(X2, M3, method="magic"), ValueError, r"`method` must be one of"),
    "bad space": (lambda: fkd.mean(X3, channel_axis=-1, space="hsv"), ValueError,
                  r"`space` must be None or one of 'rgb', 'lab', 'luv', 'gray'; got 'hsv'"),
    "space not str": (lambda: fkd.sobel(X3, channel_axis=-1, space=1), TypeError, r"`space` must be None or one of"),
    "space on 2-D": (lambda: fkd.gaussian(X2, space="lab"), ValueError, r"`space` must be None for an image without"),
    "space on 5 channels": (lambda: fkd.mean(da.zeros((9, 9, 5), chunks=4), channel_axis=-1, space="lab"),
                            ValueError, r"`image` must be 3 \(RGB\) or 4 \(RGBA\) channels"),
    "negative sigma": (lambda: fkd.gaussian(X2, -1.0), ValueError, r"`sigma` must be positive and finite; got -1\.0"),
    "sigma str": (lambda: fkd.gaussian(X2, "a"), TypeError, r"`sigma` must be a positive number"),
    "bad sampling": (lambda: fkd.gaussian(X2, 1.0, sampling="bogus"), ValueError, r"`sampling` must be"),
    "even size": (lambda: fkd.mean(X2, 4), ValueError, r"`size` must be odd and positive.*got 4"),
    "zero size": (lambda: fkd.mean(X2, 0), ValueError, r"`size` must be odd and positive"),
    "gaussian even size": (lambda: fkd.gaussian(X2, 1.0, size=6), ValueError, r"`size` must be odd"),
    "neighbours 6": (lambda: fkd.laplace(X2, neighbours=6), ValueError, r"`neighbours` must be 4 or 8; got 6"),
    "per_channel str": (lambda: fkd.gradient(X3, channel_axis=-1, per_channel="yes"), TypeError,
                        r"`per_channel` must be True or False"),
    "convert target": (lambda: fkd.convert(X3, "rgb", "hsv"), ValueError, r"`target` must be one of"),
    "colour of 2-D": (lambda: fkd.rgb_to_lab(X2), ValueError, r"`image` must be 3 \(RGB\) or 4 \(RGBA\) channels"),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_errors(case):
    call, exc, match = ERRORS[case]
    with pytest.raises(exc, match=match):
        call()


def test_probe_errors_name_the_callers_shape():
    # errors found on the small zero image that checks the arguments named
    # its shape and the normalised axis ('channel_axis=1; got 16 in shape
    # (1, 16)'), not the caller's (fixed)
    with pytest.raises(ValueError, match=r"channel_axis=-1; got 16 in shape \(20, 16\)"):
        fkd.rgb_to_lab(X2)
    with pytest.raises(ValueError, match=r"got 5 in shape \(9, 9, 5\)"):
        fkd.mean(da.zeros((9, 9, 5), chunks=4), channel_axis=-1, space="lab")


def test_public_api_mirrors_filterkit():
    filters = {"convolve", "correlate", "mean", "gaussian", "sobel_x", "sobel_y", "sobel", "gradient",
               "laplace"}
    conversions = {"rgb_to_xyz", "xyz_to_rgb", "rgb_to_lab", "lab_to_rgb", "rgb_to_luv", "luv_to_rgb",
                   "rgb_to_gray", "convert"}
    assert set(fkd.__all__) == filters | conversions | {"THREADS_PER_CHUNK", "PATH_LAYERS"}
    assert filters <= set(filterkit.__all__) and conversions <= set(fkc.__all__)
    for name in filters | conversions:
        assert callable(getattr(fkd, name)) and getattr(fkd, name).__doc__


# ----------------------------------------------------------------------------
# byte-swapped input
# ----------------------------------------------------------------------------

MASK5 = np.random.default_rng(5).random((5, 5))


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

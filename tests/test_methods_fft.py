"""The FFT methods: method="fft" (one transform of the extended image) and
method="overlap_save" (blocks, through pocketfft or FFTW), and the block
sums that show a NaN or inf (methods/fft.py, methods/overlap_save.py,
methods/_fftlib.py).

Oracles: the naive numpy.pad oracle of oracle.py (float64, independent of
filterkit) and, for the documented accuracy, filterkit's own
method="direct" (itself tested against scipy and the oracle in
test_convolve.py).

Tolerances (oracle.py):

- ``promise``: method="fft"/"overlap_save" equals method="direct" within
  ``1e-4 * sum|mask| * max|image|`` computing in float32 and ``1e-10 * ...``
  in float64, as documented.  It is asserted as stated, without slack.
- against the float64 oracle the direct method itself may be off by
  oracle.error_bound (the rounding bound of an n-term dot product), so the
  triangle inequality gives ``oracle_tol = promise + error_bound``.
- a real bug (a missing mirror, a shifted origin, a wrong border) is off by a
  sizeable fraction of ``sum|mask| * max|image|``: several orders of magnitude
  above either bound, so the bounds cannot hide one.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

import filterkit
from filterkit import _border
from filterkit.methods import _fftlib as _fft
from helpers import FFT_BACKENDS, PEAK_FROM_HERE, same_for_every_thread_count
from oracle import (ALL_MODES, MODES, NONFINITE, compute_dtype, naive_convolve, naive_correlate,
                    oracle_tol, promise, random_image, seed)

SPECTRAL = ["fft", "overlap_save"]
# odd, non-square, 1-D and large masks
MASK_SHAPES = [(5, 3), (1, 9), (15, 7), (31, 31)]
CVAL = 1.5


# ----------------------------------------------------------------------------
# fft and overlap_save against direct and the naive oracle
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", MASK_SHAPES)
@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("method", SPECTRAL)
def test_spectral_equals_direct_and_the_oracle(method, mode, shape, dtype):
    rng = np.random.default_rng(seed(method, mode, shape, np.dtype(dtype).str))
    image = random_image(rng, (45, 67), dtype)  # odd sizes: no accidental alignment
    mask = rng.standard_normal(shape)           # asymmetric: a missing mirror cannot pass
    got = filterkit.convolve(image, mask, mode=mode, cval=CVAL, method=method)
    direct = filterkit.convolve(image, mask, mode=mode, cval=CVAL, method="direct")
    want = naive_convolve(image, mask, mode=mode, cval=CVAL)
    cdt = compute_dtype(dtype)
    assert got.dtype == cdt
    assert got.shape == want.shape == direct.shape
    if mode == "valid":
        assert got.shape == (45 - shape[0] + 1, 67 - shape[1] + 1)
    np.testing.assert_allclose(got, direct, rtol=0, atol=promise(mask, image, cdt, CVAL))
    np.testing.assert_allclose(got, want, rtol=0, atol=oracle_tol(mask, image, cdt, CVAL))

    # correlate does not mirror the mask: correlate(f, g) == convolve(f, g[::-1, ::-1])
    # (both within the promise of the same direct result, hence 2 x promise)
    corr = filterkit.correlate(image, mask, mode=mode, cval=CVAL, method=method)
    np.testing.assert_allclose(corr, naive_correlate(image, mask, mode=mode, cval=CVAL), rtol=0,
                               atol=oracle_tol(mask, image, cdt, CVAL))
    flipped = filterkit.convolve(image, mask[::-1, ::-1], mode=mode, cval=CVAL, method=method)
    np.testing.assert_allclose(corr, flipped, rtol=0, atol=2 * promise(mask, image, cdt, CVAL))
    if shape != (1, 1):
        # the check above is discriminating: with an asymmetric mask the two differ a lot
        assert np.abs(corr - got).max() > 100 * promise(mask, image, cdt, CVAL)


@pytest.mark.parametrize("mask_shape", [(15, 7), (31, 31)])
@pytest.mark.parametrize("image_shape", [(1, 5), (4, 1), (6, 9)])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", SPECTRAL)
def test_spectral_with_a_mask_larger_than_the_image(method, mode, image_shape, mask_shape):
    # numpy.pad repeats the border rule for pads wider than the array, which
    # is what the direct method does (test_convolve.py checks that)
    rng = np.random.default_rng(seed(method, mode, image_shape, mask_shape))
    image = rng.standard_normal(image_shape) * 3
    mask = rng.standard_normal(mask_shape)
    got = filterkit.convolve(image, mask, mode=mode, cval=0.5, method=method)
    direct = filterkit.convolve(image, mask, mode=mode, cval=0.5, method="direct")
    want = naive_convolve(image, mask, mode=mode, cval=0.5)
    assert got.shape == image_shape
    np.testing.assert_allclose(got, direct, rtol=0, atol=promise(mask, image, np.float64, 0.5))
    np.testing.assert_allclose(got, want, rtol=0, atol=oracle_tol(mask, image, np.float64, 0.5))


@pytest.mark.parametrize("method", SPECTRAL)
def test_valid_mode_with_a_mask_larger_than_the_image_fails_like_direct(method):
    # "results equal the direct method": direct refuses this, so must fft/oa
    image, mask = np.ones((6, 9)), np.ones((15, 7))
    with pytest.raises(ValueError) as direct_error:
        filterkit.convolve(image, mask, mode="valid", method="direct")
    with pytest.raises(ValueError, match=re.escape(str(direct_error.value))):
        filterkit.convolve(image, mask, mode="valid", method=method)


@pytest.mark.parametrize("mode", ["reflect", "constant", "valid"])
@pytest.mark.parametrize("axis", [-1, 0])
@pytest.mark.parametrize("method", SPECTRAL)
def test_spectral_multichannel(method, axis, mode):
    rng = np.random.default_rng(seed(method, axis, mode))
    planes = [random_image(rng, (38, 53), np.float32) for _ in range(3)]
    image = np.stack(planes, axis=axis)
    mask = rng.standard_normal((7, 5))
    got = filterkit.convolve(image, mask, mode=mode, cval=CVAL, method=method, channel_axis=axis)
    direct = filterkit.convolve(image, mask, mode=mode, cval=CVAL, method="direct", channel_axis=axis)
    assert got.shape == direct.shape
    assert got.dtype == np.float32
    for c, plane in enumerate(planes):
        g = np.take(got, c, axis=axis)
        np.testing.assert_allclose(g, np.take(direct, c, axis=axis), rtol=0,
                                   atol=promise(mask, plane, np.float32, CVAL))
        np.testing.assert_allclose(g, naive_convolve(plane, mask, mode=mode, cval=CVAL), rtol=0,
                                   atol=oracle_tol(mask, plane, np.float32, CVAL))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("method", SPECTRAL)
def test_spectral_compute_dtype(method, dtype):
    # integer and float32 inputs compute in float32, float64 in float64
    rng = np.random.default_rng(seed(method, np.dtype(dtype).str))
    image = random_image(rng, (33, 47), dtype)
    mask = rng.standard_normal((9, 5))
    got = filterkit.convolve(image, mask, mode="mirror", method=method)
    cdt = compute_dtype(dtype)
    assert got.dtype == cdt
    np.testing.assert_allclose(got, naive_convolve(image, mask, mode="mirror"), rtol=0,
                               atol=oracle_tol(mask, image, cdt))


@pytest.mark.parametrize("method", SPECTRAL)
def test_float64_output_computes_in_float64(method):
    # 2**24 + 1 is not a float32: a float32 computation is off by 1, far above
    # the float64 promise (1e-10 * 1 * 2**24 = 1.7e-3)
    image = np.full((9, 11), 16777217, dtype=np.int32)
    mask = np.zeros((3, 3))
    mask[1, 1] = 1.0
    got = filterkit.convolve(image, mask, method=method, output=np.float64)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, 16777217.0, rtol=0, atol=promise(mask, image, np.float64))


@pytest.mark.parametrize("mode", ["reflect", "constant", "valid"])
@pytest.mark.parametrize("method", SPECTRAL)
def test_uint8_in_uint8_out(method, mode):
    rng = np.random.default_rng(seed("u8", method, mode))
    image = rng.integers(0, 256, size=(41, 59), dtype=np.uint8)
    # a sharpening-like mask: centre 1.2 plus small weights of both signs,
    # so results run past both 0 and 255 (saturation is exercised)
    mask = 0.1 * (rng.random((5, 7)) - 0.5)
    mask[2, 3] += 1.2
    got = filterkit.convolve(image, mask, mode=mode, cval=200.0, method=method, output=np.uint8)
    direct = filterkit.convolve(image, mask, mode=mode, cval=200.0, method="direct", output=np.uint8)
    exact = naive_convolve(image, mask, mode=mode, cval=200.0)
    want = np.clip(np.rint(exact), 0, 255)
    assert got.dtype == np.uint8
    assert got.shape == exact.shape
    # Rounding half to even is a step function: where the exact value is
    # within the computation's error (float32 FFT: promise + error_bound) of a
    # .5 tie, a correct float32 result may land on either side and round one
    # level apart.  Everywhere else the level is determined; saturation is
    # monotone so it keeps that.
    tol = oracle_tol(mask, image, np.float32, 200.0)
    frac = exact - np.floor(exact)
    decided = np.abs(frac - 0.5) > tol
    assert decided.mean() > 0.8  # the exact check below covers most pixels
    np.testing.assert_array_equal(got[decided], want[decided])
    np.testing.assert_array_equal(direct[decided], want[decided])
    assert np.abs(got.astype(int) - want).max() <= 1
    assert (got == 0).any() and (got == 255).any()  # saturation was exercised


@pytest.mark.parametrize("alias, canonical, cval", [
    ("replicate", "nearest", 0.0), ("edge", "nearest", 0.0), ("symmetric", "reflect", 0.0),
    ("reflect101", "mirror", 0.0), ("circular", "wrap", 0.0), ("zeros", "constant", 0.0),
    ("border_constant", "constant", 2.5),
])
@pytest.mark.parametrize("method", SPECTRAL)
def test_spectral_mode_aliases(method, alias, canonical, cval):
    rng = np.random.default_rng(seed(alias, method))
    image = rng.standard_normal((20, 27))
    mask = rng.standard_normal((7, 3))
    got = filterkit.convolve(image, mask, mode=alias, cval=cval, method=method)
    want = naive_convolve(image, mask, mode=canonical, cval=cval)
    np.testing.assert_allclose(got, want, rtol=0, atol=oracle_tol(mask, image, np.float64, cval))


@pytest.mark.parametrize("method", SPECTRAL)
def test_spectral_results_for_any_thread_count(method):
    rng = np.random.default_rng(33)
    image = random_image(rng, (130, 170), np.float32)
    mask = rng.standard_normal((13, 11))
    direct = filterkit.convolve(image, mask, method="direct")
    old = filterkit.get_num_threads()
    try:
        for n in (1, 2, 3):
            filterkit.set_num_threads(n)
            got = filterkit.convolve(image, mask, method=method)
            np.testing.assert_allclose(got, direct, rtol=0, atol=promise(mask, image, np.float32))
    finally:
        filterkit.set_num_threads(old)


# ----------------------------------------------------------------------------
# overlap_save in blocks, through pocketfft and FFTW
# ----------------------------------------------------------------------------

@pytest.mark.usefixtures("fft_backend")
class TestTiledOverlapSave:
    """'overlap_save' on an image much larger than the mask: several tiles (from
    512 x 512 on, through FFTW when installed)."""

    @pytest.mark.parametrize("dtype, mode", [
        (np.float32, "reflect"), (np.float32, "constant"), (np.float32, "wrap"),
        (np.float32, "valid"), (np.float64, "mirror"), (np.float64, "nearest"),
    ])
    def test_oa_equals_fft_direct_and_oracle(self, dtype, mode):
        rng = np.random.default_rng(seed("overlap_save", np.dtype(dtype).str, mode))
        image = random_image(rng, (700, 900), dtype)
        mask = rng.standard_normal((21, 21))
        oa = filterkit.convolve(image, mask, mode=mode, cval=-CVAL, method="overlap_save")
        fft = filterkit.convolve(image, mask, mode=mode, cval=-CVAL, method="fft")
        direct = filterkit.convolve(image, mask, mode=mode, cval=-CVAL, method="direct")
        want = naive_convolve(image, mask, mode=mode, cval=-CVAL)
        p = promise(mask, image, dtype, CVAL)
        assert oa.shape == want.shape and oa.dtype == compute_dtype(dtype)
        np.testing.assert_allclose(oa, direct, rtol=0, atol=p)
        np.testing.assert_allclose(fft, direct, rtol=0, atol=p)
        np.testing.assert_allclose(oa, fft, rtol=0, atol=2 * p)
        np.testing.assert_allclose(oa, want, rtol=0, atol=oracle_tol(mask, image, dtype, CVAL))

    def test_oa_into_a_strided_output_with_channels(self):
        rng = np.random.default_rng(31)
        image = random_image(rng, (300, 420, 2), np.float32)
        mask = rng.standard_normal((11, 9))
        out = np.full((300, 420, 2), np.nan, dtype=np.float32)
        result = filterkit.convolve(image, mask, method="overlap_save", channel_axis=-1, output=out)
        assert result is out
        for c in range(2):
            plane = image[..., c]
            np.testing.assert_allclose(out[..., c], naive_convolve(plane, mask), rtol=0,
                                       atol=oracle_tol(mask, plane, np.float32))

    def test_oa_needs_less_memory_than_the_whole_image_fft(self):
        # "bounded memory": the whole-image FFT holds the extended image, its
        # spectrum and the inverse transform (each about the image size) at
        # once; overlap-save holds only a band of tiles besides the extended
        # image and the output.  numpy arrays are traced by tracemalloc.
        rng = np.random.default_rng(32)
        image = random_image(rng, (700, 900), np.float64)
        mask = rng.standard_normal((21, 21))
        peaks = {}
        for method in ("fft", "overlap_save"):
            filterkit.convolve(image, mask, method=method)  # warm up (plans, imports)
            tracemalloc.start()
            try:
                filterkit.convolve(image, mask, method=method)
                peaks[method] = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
        assert peaks["overlap_save"] < peaks["fft"], peaks


@pytest.mark.skipif("fftw" not in FFT_BACKENDS, reason="pyFFTW is not installed")
class TestFFTWBackend:
    def test_fftw_is_used_and_its_plans_are_kept(self, monkeypatch, tmp_path, private_cache):
        monkeypatch.setenv("FILTERKIT_FFT", "fftw")
        rng = np.random.default_rng(5)
        image = random_image(rng, (600, 530), np.float32)
        mask = rng.standard_normal((25, 19))
        got = filterkit.convolve(image, mask, method="overlap_save")
        # the wisdom file appears only when FFTW planned the blocks
        path = tmp_path / "fftw-wisdom.json"
        assert path.is_file()
        parts = json.loads(path.read_text())["wisdom"]
        assert len(parts) == 3 and "fftw" in "".join(parts)
        monkeypatch.setenv("FILTERKIT_FFT", "scipy")
        want = filterkit.convolve(image, mask, method="overlap_save")
        # two FFT libraries, one promise each against the exact result
        np.testing.assert_allclose(got, want, rtol=0, atol=2 * promise(mask, image, np.float32))

    def test_bands_on_several_threads_give_the_same_result(self, monkeypatch, private_cache):
        # the FFTW bands are shared among threads, each block through the
        # same one-thread plan: bit-identical for any thread count
        monkeypatch.setenv("FILTERKIT_FFT", "fftw")
        rng = np.random.default_rng(8)
        image = random_image(rng, (700, 530), np.float32)
        mask = rng.standard_normal((21, 17))
        got = same_for_every_thread_count(
            lambda: filterkit.convolve(image, mask, method="overlap_save", mode="wrap"))
        want = naive_convolve(image, mask, mode="wrap")
        np.testing.assert_allclose(got, want, rtol=0,
                                   atol=oracle_tol(mask, image, np.float32))

    def test_a_corrupt_wisdom_file_warns_and_plans_again(self, monkeypatch, tmp_path,
                                                         private_cache):
        monkeypatch.setenv("FILTERKIT_FFT", "fftw")
        (tmp_path / "fftw-wisdom.json").write_text("{not json")
        monkeypatch.setitem(_fft._fftw_state, "wisdom_from", None)
        rng = np.random.default_rng(6)
        image = random_image(rng, (520, 520), np.float64)
        mask = rng.standard_normal((9, 9))
        with pytest.warns(RuntimeWarning, match="ignoring the FFTW wisdom file"):
            got = filterkit.convolve(image, mask, method="overlap_save")
        np.testing.assert_allclose(got, filterkit.convolve(image, mask, method="direct"), rtol=0,
                                   atol=promise(mask, image, np.float64))


def test_fft_backend_environment_errors(monkeypatch):
    image = np.zeros((600, 600), np.float32)
    monkeypatch.setenv("FILTERKIT_FFT", "mkl")
    with pytest.raises(ValueError, match=r"FILTERKIT_FFT.*'auto', 'native', 'scipy', 'fftw'.*'mkl'"):
        filterkit.convolve(image, np.ones((21, 21)), method="overlap_save")
    monkeypatch.setenv("FILTERKIT_FFT", "fftw")
    monkeypatch.setitem(_fft._fftw_state, "module", None)  # as if pyFFTW were missing
    with pytest.raises(ImportError, match=r"FILTERKIT_FFT.*pyFFTW is not installed"):
        filterkit.convolve(image, np.ones((21, 3)) * np.arange(3), method="overlap_save")
    monkeypatch.setenv("FILTERKIT_FFT", "auto")  # the core's blocks: no library needed
    out = filterkit.convolve(image, np.ones((21, 3)) * np.arange(3), method="overlap_save")
    assert out.shape == image.shape and not out.any()


# ----------------------------------------------------------------------------
# pocketfft's pruned band transform, the block sizes, the blocks' library
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bh, bw, kh, rows", [(32, 40, 5, 28), (30, 24, 7, 10), (16, 16, 1, 16)])
def test_the_pocketfft_band_is_the_kept_rows_of_the_circular_convolution(dtype, bh, bw, kh, rows):
    # oracle: numpy's own 2-D transforms in double precision, every row
    rng = np.random.default_rng(seed("band", bh, bw, kh))
    blocks = rng.standard_normal((3, bh, bw)).astype(dtype)
    g = np.fft.rfft2(rng.standard_normal((bh, bw)))
    full = np.fft.irfft2(np.fft.rfft2(blocks.astype(np.float64)) * g, s=(bh, bw))
    sums = []
    got = _fft._pocketfft_band(_fft._fft(), blocks, g.astype(np.result_type(dtype, np.complex64)),
                               kh - 1, rows, lambda x: sums.append(np.array(x)))
    assert got.shape == (3, rows, bw) and got.dtype == dtype
    tol = (1e-4 if dtype == np.float32 else 1e-11) * np.abs(full).max()
    np.testing.assert_allclose(got, full[:, kh - 1:kh - 1 + rows], rtol=0, atol=tol)
    # the check sees each block's sum (its spectrum at 0)
    np.testing.assert_allclose(np.asarray(sums[0]).real, blocks.astype(np.float64).sum(axis=(1, 2)),
                               rtol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("k, image, block", [
    (3, 2048, 128), (15, 2048, 128), (27, 2048, 160), (31, 2048, 160), (63, 2048, 320),
    (3, 40, 48),      # no larger than the image needs: fast_len(42) = 48
    (63, 256, 320),   # fast_len(318) = 320
])
def test_block_sizes(k, image, block):
    assert _fft.tile_shape(k, k, image, image) == (block, block)
    assert _fft.tile_shape(k, 3, image, 2 * image)[0] == block


def test_the_blocks_library_follows_the_backend_and_the_size(monkeypatch):
    monkeypatch.setenv("FILTERKIT_FFT", "scipy")
    assert _fft.blocks_library(2048, 2048) == "scipy"
    monkeypatch.setitem(_fft._fftw_state, "module", None)  # as if pyFFTW were missing
    monkeypatch.setenv("FILTERKIT_FFT", "auto")
    assert _fft.blocks_library(2048, 2048) == "native"
    monkeypatch.setitem(_fft._fftw_state, "module", object())  # as if it were installed
    assert _fft.blocks_library(2048, 2048) == "native"  # the core's blocks are faster
    monkeypatch.setenv("FILTERKIT_FFT", "fftw")
    assert _fft.blocks_library(2048, 2048) == "fftw"
    assert _fft.blocks_library(500, 500) == "scipy"   # below FFTW_MIN_VALUES: not worth a plan
    monkeypatch.setenv("FILTERKIT_FFT", "scipy")
    assert _fft.blocks_library(2048, 2048) == "scipy"


# ----------------------------------------------------------------------------
# the block sums show a NaN or inf wherever it is: the FFT methods check
# each transformed block's sum (its spectrum at 0), so that auto can filter
# spatially when one is not finite (test_choose.py)
# ----------------------------------------------------------------------------

def spectral_call(method, image, mask, **kw):
    """The FFT method's own entry point (no auto around it), asked to check."""
    w = np.ascontiguousarray(mask[::-1, ::-1])  # correlation with the mirrored mask
    kh, kw_ = mask.shape
    if method == "overlap_save":
        return _fft.correlate_tiled(image, w, 1, mode="reflect", cval=0.0, oy=kh // 2,
                                    ox=kw_ // 2, finite=True, **kw)
    padded = _border.extend(image, "reflect", 0.0, kh, kw_, kh // 2, kw_ // 2, image.dtype)
    return _fft.correlate_valid(padded, w, 1, finite=True)


@pytest.mark.parametrize("kind", list(NONFINITE))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_block_sum_shows_a_nan_or_inf_wherever_it_is(kind, dtype, fft_backend):
    # a 37 x 45 image in 16 x 16 blocks (or one whole transform): the values
    # placed at every pixel in turn, corners and edges included; the check
    # must fire for each (a block without it would spread NaN unseen)
    rng = np.random.default_rng(seed("block sums", kind, np.dtype(dtype).str))
    image = random_image(rng, (37, 45), dtype)
    mask = rng.standard_normal((5, 7)).astype(dtype)
    spectral_call("overlap_save", image, mask, block=(16, 16))  # finite: no complaint
    spectral_call("fft", image, mask)
    values = NONFINITE[kind]
    for y in range(image.shape[0]):
        for x in range(image.shape[1] - len(values) + 1):
            bad = image.copy()
            bad[y, x:x + len(values)] = values
            for method in SPECTRAL:
                with pytest.raises(_fft.NonFinite):
                    spectral_call(method, bad, mask, **({"block": (16, 16)} if method == "overlap_save" else {}))


@pytest.mark.parametrize("kind", list(NONFINITE))
def test_fftw_blocks_show_a_nan_or_inf_on_every_thread_count(kind, monkeypatch, private_cache):
    # FFTW transforms blocks from 512 x 512 on, on several threads at once:
    # a value in the first, a middle or the last band stops every thread
    pytest.importorskip("pyfftw")
    monkeypatch.setenv("FILTERKIT_FFT", "fftw")
    rng = np.random.default_rng(seed("fftw sums", kind))
    image = random_image(rng, (600, 530), np.float32)
    mask = rng.standard_normal((21, 17)).astype(np.float32)
    w = np.ascontiguousarray(mask[::-1, ::-1])
    for y, x in [(0, 0), (599, 528), (300, 0), (311, 261), (0, 528), (599, 0)]:
        bad = image.copy()
        bad[y, x:x + len(NONFINITE[kind])] = NONFINITE[kind]
        for workers in (1, 2, 3):
            with pytest.raises(_fft.NonFinite):
                _fft.correlate_tiled(bad, w, workers, mode="wrap", cval=0.0, oy=10, ox=8,
                                     finite=True)
    # plans are handed back after a stop: the next call reuses them
    assert _fft._spare_plans



# ----------------------------------------------------------------------------
# the whole-image transform in bands (_fftlib._correlate_bands): any band
# size gives the same result, a NaN or inf stops every thread before the
# output is written, and the peak memory is the spectrum and the output
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_whole_fft_bands_of_any_size_give_the_same_result(dtype, monkeypatch):
    # one band per pass (the default, on this small image) against bands of
    # a few rows and 8 spectrum columns on 1-3 threads: the same transforms
    # of the same lines, so the same bits
    from filterkit._job import store

    rng = np.random.default_rng(seed("whole bands", np.dtype(dtype).str))
    image = random_image(rng, (203, 177), dtype)
    mask = rng.standard_normal((15, 9))
    want = filterkit.convolve(image, mask, method="fft", mode="wrap")
    # an integer output is stored band by band with the core's rounding and
    # saturation, as the whole float result would be
    want_u8 = store(filterkit.convolve(image * 300, mask, method="fft"),
                    np.empty(image.shape, np.uint8))
    monkeypatch.setattr(_fft, "WHOLE_BAND_VALUES", 700)
    old = filterkit.get_num_threads()
    try:
        for n in (1, 2, 3):
            filterkit.set_num_threads(n)
            np.testing.assert_array_equal(
                filterkit.convolve(image, mask, method="fft", mode="wrap"), want)
            np.testing.assert_array_equal(
                filterkit.convolve(image * 300, mask, method="fft", output=np.uint8), want_u8)
    finally:
        filterkit.set_num_threads(old)


@pytest.mark.parametrize("kind", list(NONFINITE))
def test_whole_fft_bands_show_a_nan_or_inf_on_every_thread_count(kind, monkeypatch):
    # bands of 2 rows shared among 1-3 threads: a value in the first, a
    # middle or the last band is found, and the output is left untouched
    monkeypatch.setattr(_fft, "WHOLE_BAND_VALUES", 2 * 256)
    rng = np.random.default_rng(seed("whole sums", kind))
    image = random_image(rng, (90, 230), np.float32)
    w = rng.standard_normal((7, 5)).astype(np.float32)
    for y, x in [(0, 0), (89, 228), (45, 0), (51, 117)]:
        bad = image.copy()
        bad[y, x:x + len(NONFINITE[kind])] = NONFINITE[kind]
        for workers in (1, 2, 3):
            out = np.full(image.shape, 7.0, np.float32)
            with pytest.raises(_fft.NonFinite):
                _fft.correlate_whole(bad, w, workers, mode="reflect", cval=0.0, oy=3, ox=2,
                                     finite=True, out=out)
            assert (out == 7.0).all()


def test_whole_fft_shows_a_sum_that_overflows():
    # every row's sum is finite, the image's is not (float32): the spectrum
    # at (0, 0) is checked as well as the rows'
    image = np.zeros((64, 64), np.float32)
    image[::8, 5] = 3e38
    w = np.ones((3, 3), np.float32)
    with pytest.raises(_fft.NonFinite):
        _fft.correlate_whole(image, w, 1, mode="constant", cval=0.0, oy=1, ox=1, finite=True)


WHOLE_FFT_PEAK = r"""
import json, sys
import numpy as np
import filterkit
n, dtype, k = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
rng = np.random.default_rng(0)
image = rng.random((n, n), dtype=np.dtype(dtype))
mask = rng.standard_normal((k, k))
filterkit.convolve(image[:256, :256], mask, method="fft")  # modules and caches loaded

""" + PEAK_FROM_HERE + r"""out = filterkit.convolve(image, mask, method="fft")
print(json.dumps({"extra": status("VmHWM:") - before, "image": image.nbytes}))
"""

#: what the whole-image FFT may hold beyond its spectrum and output: each
#: thread's band temporaries (a few MiB) and the allocator's slack
WHOLE_FFT_SLACK = 8 * 2 ** 20


@pytest.mark.skipif(not os.access("/proc/self/clear_refs", os.W_OK),
                    reason="needs Linux's /proc/self/clear_refs to reset the peak RSS")
@pytest.mark.parametrize("dtype, n, k", [("float32", 4096, 9), ("float32", 4096, 63),
                                         ("float64", 3072, 31)])
def test_whole_fft_peak_memory_is_the_spectrum_and_the_output(dtype, n, k):
    # measured in a fresh process by the kernel (VmHWM: numpy's and
    # pocketfft's C allocations, which tracemalloc does not see): the
    # spectrum (1.1x the image here, of the transform's padded size) and the
    # new output (1x), about 2.2x; the bound is 2.5x plus the slack.  The
    # 2-D transform of the extended image took 3.35x (the extended image,
    # its spectrum, the mask's spectrum and the result), overlap_save 1x
    res = subprocess.run([sys.executable, "-c", WHOLE_FFT_PEAK, str(n), dtype, str(k)],
                         capture_output=True, text=True, timeout=300, cwd=os.path.dirname(__file__),
                         env=dict(os.environ, FILTERKIT_NUM_THREADS="2"))
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert got["extra"] <= 2.5 * got["image"] + WHOLE_FFT_SLACK, \
        f"{got['extra'] / got['image']:.2f} x the image"

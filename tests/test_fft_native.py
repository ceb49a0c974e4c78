"""The overlap-save blocks transformed in filterkit's core (src_c/fk_fft.h;
``$FILTERKIT_FFT`` = ``auto`` or ``native``, the default).

Oracle: the naive float64 numpy.pad oracle of oracle.py.  Tolerance: the
documented accuracy of the FFT methods against the direct sum (``promise``:
``1e-4 * sum|mask| * max|image|`` in float32, ``1e-10 * ...`` in float64)
plus the direct sum's own rounding bound (``oracle_tol``).  A float32
transform of n values loses about log2(n) * 2^-24 relative to the
transform's scale, under 1e-6 for the blocks used here: the promise is two
orders of magnitude wider, and a wrong origin, border, mirror or a lost
block is off by a sizeable fraction of ``sum|mask| * max|image|``.
"""

from __future__ import annotations

import numpy as np
import pytest

import filterkit
from filterkit import _native
from filterkit._validate import MODE_CODES
from filterkit.methods import _fftlib as _fft
from helpers import same_for_every_thread_count
from oracle import (ALL_MODES, NONFINITE, compute_dtype, naive_correlate, oracle_tol,
                    random_image, seed)

CVAL = -2.5


def native_call(image, mask, block, mode="reflect", cval=CVAL, out=None, cpu=0, threads=1,
                check=False):
    """The core's blocked correlation of a 2-D image, straight."""
    kh, kw = mask.shape
    double = image.dtype == np.float64 or (out is not None and out.dtype == np.float64)
    w = np.ascontiguousarray(mask, dtype=np.float64 if double else np.float32)
    if mode == "valid":
        border = _native.Border(0, 0, 0, 0.0)
        shape = (image.shape[0] - kh + 1, image.shape[1] - kw + 1)
    else:
        border = _native.Border(kh // 2, kw // 2, MODE_CODES[mode], cval)
        shape = image.shape
    if out is None:
        out = np.empty(shape, np.float64 if double else np.float32)
    stopped = _native.correlate_fft(image, out, w, block, border, _native.Run(double, threads, cpu),
                                    check)
    return out, stopped


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("mask_shape, block", [
    ((5, 3), (16, 16)), ((1, 9), (16, 32)), ((15, 7), (64, 32)), ((31, 31), (128, 64)),
    ((3, 21), (32, 128)), ((63, 63), (256, 256)),
])
def test_blocks_equal_the_oracle(mask_shape, block, mode, dtype):
    # odd image sizes that no block divides, an asymmetric mask
    rng = np.random.default_rng(seed("native", mask_shape, block, mode, np.dtype(dtype).str))
    image = random_image(rng, (83, 101), dtype)
    mask = rng.standard_normal(mask_shape)
    if mode == "valid" and (mask_shape[0] > 83 or mask_shape[1] > 101):
        return
    got, stopped = native_call(image, mask, block, mode)
    assert not stopped
    want = naive_correlate(image, mask, mode=mode, cval=CVAL)
    np.testing.assert_allclose(got, want, rtol=0,
                               atol=oracle_tol(mask, image, compute_dtype(dtype), CVAL))


@pytest.mark.parametrize("cpu", ["portable", "avx2", "auto"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_kernel_level_through_the_public_api(cpu, dtype, monkeypatch):
    # FILTERKIT_CPU picks the portable, AVX2 or best table: each has its own
    # copy of the transforms (vectors of 4 to 16 lanes) and of the transposes
    monkeypatch.setenv("FILTERKIT_CPU", cpu)
    rng = np.random.default_rng(seed("native cpu", cpu, np.dtype(dtype).str))
    image = random_image(rng, (300, 257), dtype)
    mask = rng.standard_normal((21, 17))
    for mode in ("reflect", "wrap", "constant"):
        got = filterkit.correlate(image, mask, mode=mode, cval=CVAL, method="overlap_save")
        want = naive_correlate(image, mask, mode=mode, cval=CVAL)
        np.testing.assert_allclose(got, want, rtol=0,
                                   atol=oracle_tol(mask, image, compute_dtype(dtype), CVAL))


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.uint16, np.int16, np.int32, np.uint64,
                                   np.float32, np.float64])
def test_any_source_dtype_is_read_as_the_direct_sum_reads_it(dtype):
    # the blocks load the image through the core's converters: no float copy
    rng = np.random.default_rng(seed("native src", np.dtype(dtype).str))
    image = random_image(rng, (70, 90), dtype)
    mask = rng.standard_normal((9, 11))
    got = filterkit.correlate(image, mask, method="overlap_save")
    cdt = compute_dtype(dtype)
    assert got.dtype == cdt
    np.testing.assert_allclose(got, naive_correlate(image, mask), rtol=0,
                               atol=oracle_tol(mask, image, cdt))


@pytest.mark.parametrize("out_dtype", [np.uint8, np.int16, np.uint16])
def test_integer_targets_are_rounded_and_saturated(out_dtype):
    # the result is stored by the direct sum's storers: round half to even,
    # saturate; values land within the FFT's error of the oracle's, so a
    # pixel may differ by one where the exact value is that close to a
    # rounding boundary, and by no more
    rng = np.random.default_rng(seed("native out", np.dtype(out_dtype).str))
    image = rng.integers(0, 256, size=(120, 140)).astype(np.uint8)
    mask = rng.standard_normal((15, 15)) * 0.1
    mask += (1.0 - mask.sum()) / mask.size  # sums 128 +- 110: below 0 and above 255
    out = np.empty(image.shape, out_dtype)
    filterkit.correlate(image, mask, method="overlap_save", output=out)
    exact = naive_correlate(image, mask)
    info = np.iinfo(out_dtype)
    want = np.clip(np.rint(exact), info.min, info.max)
    diff = np.abs(out.astype(np.float64) - want)
    assert diff.max() <= 1
    near = np.abs(np.abs(exact - np.floor(exact)) - 0.5) < oracle_tol(mask, image, np.float32)
    assert np.all((diff == 0) | near)
    assert (exact < 0).any() and (exact > 255).any()  # saturation is tested (uint8, uint16)


def test_the_same_bits_on_every_thread_count():
    # bands start at multiples of bh - kh + 1 rows whatever the split
    rng = np.random.default_rng(seed("native threads"))
    image = random_image(rng, (1000, 300), np.float32)
    mask = rng.standard_normal((25, 9))
    got = same_for_every_thread_count(
        lambda: filterkit.correlate(image, mask, method="overlap_save"))
    np.testing.assert_allclose(got, naive_correlate(image, mask), rtol=0,
                               atol=oracle_tol(mask, image, np.float32))


@pytest.mark.parametrize("kind", list(NONFINITE))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_nan_or_inf_anywhere_stops_the_blocks(kind, dtype):
    # a 37 x 45 image in 16 x 16 blocks (pairs of them in one transform):
    # the values at every pixel in turn, corners and edges included
    rng = np.random.default_rng(seed("native sums", kind, np.dtype(dtype).str))
    image = random_image(rng, (37, 45), dtype)
    mask = rng.standard_normal((5, 7))
    assert not native_call(image, mask, (16, 16), check=True)[1]
    values = NONFINITE[kind]
    for y in range(image.shape[0]):
        for x in range(image.shape[1] - len(values) + 1):
            bad = image.copy()
            bad[y, x:x + len(values)] = values
            assert native_call(bad, mask, (16, 16), check=True)[1], (y, x)
            for threads in (2, 3):
                assert native_call(bad, mask, (16, 16), threads=threads, check=True)[1]
    # unchecked, the call runs through
    assert not native_call(bad, mask, (16, 16), check=False)[1]


def test_auto_filters_an_image_with_nan_spatially():
    # auto tries the blocks with the check; a NaN sends it to the direct sum,
    # which keeps the NaN where the mask reaches it and nowhere else
    rng = np.random.default_rng(seed("native auto nan"))
    image = random_image(rng, (400, 400), np.float32)
    image[200, 200] = np.nan
    mask = rng.standard_normal((31, 31))
    assert filterkit.choose_method(image.shape, mask.shape).method == "overlap_save"
    got = filterkit.correlate(image, mask)
    assert np.isnan(got[185:216, 185:216]).all()
    assert np.isfinite(got[:185]).all() and np.isfinite(got[216:]).all()


@pytest.mark.parametrize("k", [1, 3, 7, 9, 15, 31, 63, 101])
@pytest.mark.parametrize("n", [1, 40, 256, 2048])
def test_block_sizes_are_powers_of_two_larger_than_the_mask(k, n):
    bh, bw = _fft.native_tile_shape(k, k, n, n)
    assert bh >= _fft.NATIVE_MIN_BLOCK and bw >= _fft.NATIVE_MIN_WIDTH
    for b in (bh, bw):
        assert b & (b - 1) == 0 and b > k
        # NATIVE_SPAN times the mask, or half that where it costs fewer values
        assert b >= _fft.NATIVE_SPAN * k or 2 * b >= _fft.NATIVE_SPAN * k
    assert bw == max(bh, _fft.NATIVE_MIN_WIDTH) or n < 256
    assert _fft.native_tile_shape(k, 3, n, n)[0] == bh
    assert _fft.native_tile_shape(3, k, n, n)[1] == bw


def test_the_blocks_follow_the_backend_setting(monkeypatch):
    for setting in ("", "auto", "native", "NATIVE"):
        monkeypatch.setenv("FILTERKIT_FFT", setting)
        assert _fft.fft_backend() == "native"
        assert _fft.blocks_library(2048, 2048) == "native"
    monkeypatch.setenv("FILTERKIT_FFT", "scipy")
    assert _fft.blocks_library(2048, 2048) == "scipy"
    monkeypatch.setenv("FILTERKIT_FFT", "numpy")
    with pytest.raises(ValueError, match=r"`\$FILTERKIT_FFT` must be one of 'auto', 'native', "
                                         r"'scipy', 'fftw'; got 'numpy'"):
        _fft.fft_backend()


def test_channels_and_an_output_that_is_the_image():
    # planes one by one (the blocks read single-channel rows); an output that
    # is the image itself is computed aside and copied at the end
    rng = np.random.default_rng(seed("native rgb"))
    image = random_image(rng, (64, 80, 3), np.float32)
    mask = rng.standard_normal((11, 13))
    want = np.stack([naive_correlate(image[..., c], mask) for c in range(3)], axis=-1)
    got = filterkit.correlate(image, mask, method="overlap_save", channel_axis=-1)
    tol = oracle_tol(mask, image, np.float32)
    np.testing.assert_allclose(got, want, rtol=0, atol=tol)
    same = image.copy()
    filterkit.correlate(same, mask, method="overlap_save", channel_axis=-1, output=same)
    np.testing.assert_allclose(same, want, rtol=0, atol=tol)


def test_masks_larger_than_the_image():
    rng = np.random.default_rng(seed("native big mask"))
    for shape in [(1, 1), (3, 50), (7, 7)]:
        image = random_image(rng, shape, np.float64)
        mask = rng.standard_normal((41, 15))
        for mode in ("reflect", "mirror", "wrap", "nearest", "constant"):
            got = filterkit.correlate(image, mask, mode=mode, cval=CVAL, method="overlap_save")
            np.testing.assert_allclose(got, naive_correlate(image, mask, mode=mode, cval=CVAL),
                                       rtol=0, atol=oracle_tol(mask, image, np.float64, CVAL))

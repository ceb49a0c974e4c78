"""method="auto" and choose_method (_choose.py, _costs.py): the cost model,
its constants (shipped or read from a calibration file), the methods it
considers for a mask, auto's result whatever it picks, the spatial
fallback of auto when an FFT block sum is not finite (_convolve.py), and a
choice that does not depend on the thread count.

Oracles: filterkit's own method="direct" (tested in test_convolve.py),
the naive numpy.pad oracle of oracle.py, and the cost formulas written out
from the shipped constants (_costs.DEFAULTS).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.ndimage as ndi

import filterkit
from filterkit import _choose, _costs, _maskinfo, methods
from filterkit._choose import AUTO_THREADS  # choose_method costs assume one thread
from filterkit._maskinfo import MaskInfo
from filterkit.methods import _fftlib as _fft
from helpers import check_choice, same_for_every_thread_count
from oracle import (NONFINITE, compute_dtype, error_bound, naive_convolve, promise, random_image,
                    seed)

SPECTRAL = ["fft", "overlap_save"]


# ----------------------------------------------------------------------------
# auto equals direct whatever it picks
# ----------------------------------------------------------------------------

def gaussian_mask(size, sigma):
    x = np.arange(size) - size // 2
    g = np.exp(-x**2 / (2 * sigma**2))
    return np.outer(g, g) / g.sum() ** 2


AUTO_CASES = {
    "small mask": ((64, 80), lambda rng: rng.standard_normal((3, 3))),
    "31x31 on 512x512": ((512, 512), lambda rng: rng.standard_normal((31, 31))),
    "constant 15x15": ((200, 260), lambda rng: np.full((15, 15), 2.0)),
    "gaussian 9x9": ((150, 170), lambda rng: gaussian_mask(9, 1.7)),
    "gaussian 41x41": ((300, 300), lambda rng: gaussian_mask(41, 7.0)),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", list(AUTO_CASES))
def test_auto_equals_direct(case, dtype):
    shape, make = AUTO_CASES[case]
    rng = np.random.default_rng(seed("auto", case, np.dtype(dtype).str))
    image = random_image(rng, shape, dtype)
    mask = make(rng)
    cdt = compute_dtype(dtype)
    auto = filterkit.convolve(image, mask, mode="reflect")  # method="auto" is the default
    direct = filterkit.convolve(image, mask, mode="reflect", method="direct")
    assert auto.dtype == cdt and auto.shape == image.shape
    # whatever auto picks is within (its own bound vs the oracle) + (direct's
    # bound vs the oracle): the FFT promise or, for the spatial methods,
    # error_bound with n = h w taps (>= the h + w of the separable passes)
    tol = promise(mask, image, cdt) + 2 * error_bound(mask, image, dtype=cdt)
    np.testing.assert_allclose(auto, direct, rtol=0, atol=tol)


@pytest.mark.parametrize("case", ["small mask", "constant 15x15", "gaussian 9x9", "31x31 on 512x512"])
def test_auto_takes_the_method_choose_method_names(case):
    # choose_method is "the cost model auto uses": the same deterministic
    # method on the same input gives the same bits
    shape, make = AUTO_CASES[case]
    rng = np.random.default_rng(seed("auto-choice", case))
    image = random_image(rng, shape, np.float32)
    mask = make(rng)
    choice = filterkit.choose_method(image.shape, mask=mask, dtype=np.float32)
    auto = filterkit.convolve(image, mask, method="auto")
    np.testing.assert_array_equal(auto, filterkit.convolve(image, mask, method=choice.method))


def test_auto_picks_separable_for_a_rank_one_mask():
    # an integer image and an integer rank-1 mask: both methods are exact
    rng = np.random.default_rng(12)
    image = rng.integers(0, 256, size=(30, 40)).astype(np.float64)
    mask = np.outer([1, 4, 6, 4, 1], [1, 2, 1])
    auto = filterkit.convolve(image, mask)
    np.testing.assert_array_equal(auto, filterkit.convolve(image, mask, method="separable"))
    np.testing.assert_array_equal(auto, ndi.convolve(image, mask.astype(float)))


# ----------------------------------------------------------------------------
# auto and NaN / inf: the FFT stops at a non-finite block sum, auto filters spatially
# ----------------------------------------------------------------------------

AUTO_SPECTRAL = {  # image shape, mask shape -> what auto takes (asserted below)
    "fft": ((64, 64), (41, 41)),
    "overlap_save": ((700, 530), (51, 41)),
}


# auto's attempt must not show: no warning from the FFT's arithmetic on NaN
@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("kind", list(NONFINITE))
@pytest.mark.parametrize("method", SPECTRAL)
def test_auto_stays_spatial_for_an_image_with_nan_or_inf(method, kind, fft_backend, default_costs):
    # auto starts the FFT method it picked, which stops at the first block
    # with a NaN or inf; auto then filters spatially into the same output,
    # every channel again: NaN and inf exactly where the direct sum has them
    shape, mshape = AUTO_SPECTRAL[method]
    rng = np.random.default_rng(seed("auto nonfinite", method, kind))
    image = random_image(rng, shape + (2,), np.float32)
    mask = rng.standard_normal(mshape)
    assert filterkit.choose_method(shape, mask=mask).method == method
    image[shape[0] - 3, 7:7 + len(NONFINITE[kind]), 1] = NONFINITE[kind]  # channel 1 only
    out = np.full(image.shape, 7.0, np.float32)
    got = same_for_every_thread_count(
        lambda: filterkit.convolve(image, mask, output=out, channel_axis=-1).copy())
    want = filterkit.convolve(image, mask, method="direct", channel_axis=-1)
    np.testing.assert_array_equal(got, want)  # the direct method itself: the same bits
    assert np.isfinite(got[..., 0]).all() and not np.isfinite(got[..., 1]).all()
    # in place: channel 0 went through the FFT before channel 1 stopped it,
    # and the spatial pass still reads channel 0 as it was
    inplace = image.copy()
    assert filterkit.convolve(inplace, mask, output=inplace, channel_axis=-1) is inplace
    np.testing.assert_array_equal(inplace, want)


def test_auto_on_a_finite_image_takes_the_fft_without_a_pass_over_it(default_costs):
    # a finite image goes through the FFT method auto picked (no spatial
    # fallback): the same bits as method="overlap_save"
    shape, mshape = AUTO_SPECTRAL["overlap_save"]
    rng = np.random.default_rng(seed("auto finite oa"))
    image = random_image(rng, shape, np.float64)
    mask = rng.standard_normal(mshape)
    np.testing.assert_array_equal(filterkit.convolve(image, mask),
                                  filterkit.convolve(image, mask, method="overlap_save"))


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_auto_filters_spatially_when_block_sums_overflow(default_costs):
    # finite float32 values whose block sum overflows (inf): the FFT result
    # would be inf or NaN there, the spatial sum of 51 x 41 weights of 1e-3
    # around 1e36 values is about 2e36, finite
    shape, mshape = AUTO_SPECTRAL["overlap_save"]
    image = np.full(shape, 3e36, np.float32)
    mask = np.full(mshape, 1e-3)
    mask[0, 0] = 2e-3  # not constant: no box
    assert filterkit.choose_method(shape, mask=mask).method == "overlap_save"
    got = filterkit.convolve(image, mask)
    want = naive_convolve(image, mask)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, want, rtol=0, atol=error_bound(mask, image, dtype=np.float32))


# ----------------------------------------------------------------------------
# choose_method: the methods considered and the cheapest
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_choose_method_small_mask_is_spatial(dtype):
    choice = filterkit.choose_method((64, 64), (3, 3), dtype=dtype)
    check_choice(choice)
    assert choice.method in ("direct", "separable", "box")
    # only mask_shape: a general mask, neither separable nor constant
    assert "separable" not in choice.costs and "box" not in choice.costs
    assert {"direct", "fft"} <= set(choice.costs)
    with_mask = filterkit.choose_method((64, 64), mask=np.ones((3, 3)), dtype=dtype)
    check_choice(with_mask)
    assert with_mask.method in ("direct", "separable", "box")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_choose_method_large_mask_is_spectral(dtype):
    choice = filterkit.choose_method((2048, 2048), (63, 63), dtype=dtype)
    check_choice(choice)
    assert choice.method in ("fft", "overlap_save")
    assert "separable" not in choice.costs and "box" not in choice.costs


def test_choose_method_constant_mask_makes_box_available():
    mask = np.full((31, 31), 1.0 / 961)
    choice = filterkit.choose_method((1024, 1024), mask=mask)
    check_choice(choice)
    assert "box" in choice.costs
    assert choice.method == "box"
    # the same shape without the mask: box is not considered
    assert "box" not in filterkit.choose_method((1024, 1024), (31, 31)).costs


@pytest.mark.parametrize("shape", [(3, 3), (5, 5), (3, 9), (9, 3), (15, 15)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_auto_runs_a_constant_mask_as_box_and_agrees_with_choose_method(shape, dtype, monkeypatch,
                                                                        default_costs):
    # with the shipped constants: running sums cost ~0.5-1 ns per output
    # here against 0.6 (3x3) to 1.2 (5x5) for the direct sum (see the grid),
    # and convolve considers the same methods as choose_method(mask=...);
    # a float64 3x3 mean is the exception, its three-row box slower than
    # the dedicated 3x3 direct sum (test_three_row_box_has_its_own_cost)
    want = "direct" if shape == (3, 3) and dtype == np.float64 else "box"
    mask = np.full(shape, 1.0 / (shape[0] * shape[1]))
    image = np.random.default_rng(seed("auto box", shape)).random((1024, 1024)).astype(dtype)
    choice = filterkit.choose_method(image.shape, mask=mask, dtype=dtype)
    assert choice.method == want and "separable" in choice.costs and "box" in choice.costs
    ran = []
    real = methods.REGISTRY[want].run
    monkeypatch.setattr(methods.REGISTRY[want], "run", lambda *a, **k: ran.append(want) or real(*a, **k))
    got = filterkit.convolve(image, mask, method="auto")
    assert ran == [want]
    np.testing.assert_allclose(got, naive_convolve(image, mask), rtol=0,
                               atol=error_bound(mask, image, dtype=dtype))


def test_choose_method_separable_only_for_rank_one():
    rng = np.random.default_rng(40)
    gauss = filterkit.choose_method((300, 400), mask=gaussian_mask(9, 1.5))
    check_choice(gauss)
    assert "separable" in gauss.costs and "box" not in gauss.costs
    general = filterkit.choose_method((300, 400), mask=rng.standard_normal((5, 5)))
    check_choice(general)
    assert "separable" not in general.costs and "box" not in general.costs
    assert general.method != "separable"


# ----------------------------------------------------------------------------
# the cost constants: shipped, and calibration files of earlier versions
# ----------------------------------------------------------------------------

def test_a_calibration_without_b1_keeps_its_flat_box_cost(monkeypatch, tmp_path, default_costs):
    # a calibration file without b1 (a version whose box cost did not grow
    # with the mask width) holds one b0, a 9x9 box per pixel: it stays the
    # whole cost, whatever the width
    stored = {p: dict(v) for p, v in _costs.DEFAULTS.items()}
    for p in stored:
        del stored[p]["b1"]
        stored[p]["b0"] = 0.9
    (tmp_path / "calibration.json").write_text(json.dumps({"version": 1, "constants": stored}))
    for w in (3, 31):
        choice = filterkit.choose_method((1000, 1000), mask=np.ones((5, w)))
        assert choice.costs["box"] == pytest.approx(1e6 * 0.9e-9 / AUTO_THREADS ** 0.9)
    monkeypatch.setattr(_costs, "_loaded", None)


def test_a_calibration_without_d3_costs_3x3_masks_as_the_general_kernel(monkeypatch, tmp_path,
                                                                        default_costs):
    # a calibration file without d3 (a version without the fixed 3x3
    # kernels): its d0 + 9 d1 stays the 3x3 cost (what that version
    # estimated), as the b1 case above
    stored = {p: dict(v) for p, v in _costs.DEFAULTS.items()}
    for p in stored:
        del stored[p]["d3"]
        stored[p]["d0"], stored[p]["d1"] = 0.5, 0.1
    (tmp_path / "calibration.json").write_text(json.dumps({"version": 1, "constants": stored}))
    choice = filterkit.choose_method((1000, 1000), mask=np.arange(1.0, 10.0).reshape(3, 3))
    assert choice.costs["direct"] == pytest.approx(1e6 * 1.4e-9 / AUTO_THREADS ** 0.9)
    monkeypatch.setattr(_costs, "_loaded", None)


# ----------------------------------------------------------------------------
# the FFT constants: a set per FFT library, the set of the library in use
# ----------------------------------------------------------------------------

def write_constants(path, **changes):
    """A calibration file of the shipped constants with `changes` (names
    such as ``scipy_f1`` for ``scipy.f1``) in both precisions."""
    stored = {p: dict(v) for p, v in _costs.DEFAULTS.items()}
    for p in stored:
        for name, value in changes.items():
            stored[p][name.replace("_", ".", 1) if "_" in name else name] = value
    (path / "calibration.json").write_text(json.dumps({"version": 2, "constants": stored}))


def overlap_save_2048_31(c, library):
    """The overlap-save estimate for a 31x31 mask on 2048^2, written out:
    blocks of 160 (the first fast length of at least 5 x 31), 130 output
    rows and columns each, so 16 x 16 blocks in 16 bands."""
    k = {name: c[f"{library}.{name}"] for name in ("f0", "f1", "tb", "t0", "oc")}
    B = 160.0 * 160.0
    return (256 * (k["f0"] * B + k["f1"] * B * np.log2(B) + k["tb"]) + 16 * k["t0"] + k["oc"]) \
        * 1e-9 / AUTO_THREADS ** 0.6


SETS = dict(scipy_f0=0.7, scipy_f1=0.5, scipy_tb=900.0, scipy_t0=3000.0, scipy_oc=2e5,
            fftw_f0=0.3, fftw_f1=0.2, fftw_tb=100.0, fftw_t0=500.0, fftw_oc=1e5)


@pytest.mark.parametrize("backend", ["scipy", "fftw"])
def test_overlap_save_costs_with_the_constants_of_the_library_in_use(backend, monkeypatch, tmp_path,
                                                                      default_costs):
    if backend == "fftw" and _fft.pyfftw_module() is None:
        pytest.skip("pyFFTW is not installed")
    monkeypatch.setenv("FILTERKIT_FFT", backend)
    write_constants(tmp_path, **SETS)
    assert _fft.tile_shape(31, 31, 2048, 2048) == (160, 160)
    for dtype in (np.float32, np.float64):
        costs = filterkit.choose_method((2048, 2048), (31, 31), dtype).costs
        c = _costs.constants()[np.dtype(dtype).name]
        assert costs["overlap_save"] == pytest.approx(overlap_save_2048_31(c, backend))
        other = "fftw" if backend == "scipy" else "scipy"
        assert costs["overlap_save"] != pytest.approx(overlap_save_2048_31(c, other))
    monkeypatch.setattr(_costs, "_loaded", None)


def test_the_default_install_costs_the_blocks_with_the_native_constants(monkeypatch, tmp_path,
                                                                         default_costs):
    # FILTERKIT_FFT unset (auto), with or without pyFFTW: the core's blocks,
    # powers of two (128 for a 31 x 31 mask: 4 x 31 rounded up), 98 output
    # rows and columns each, so 21 x 21 blocks in 21 bands
    monkeypatch.delenv("FILTERKIT_FFT", raising=False)
    write_constants(tmp_path, native_f0=0.6, native_f1=0.25, native_tb=700.0, native_t0=2000.0,
                    native_oc=5e4, **SETS)
    for fftw in (None, object()):
        monkeypatch.setattr(_fft, "pyfftw_module", lambda: fftw)
        assert _fft.fft_backend() == "native"
        assert _fft.native_tile_shape(31, 31, 2048, 2048) == (128, 128)
        costs = filterkit.choose_method((2048, 2048), (31, 31)).costs
        B = 128.0 * 128.0
        want = (441 * (0.6 * B + 0.25 * B * np.log2(B) + 700.0) + 21 * 2000.0 + 5e4) * 1e-9
        assert costs["overlap_save"] == pytest.approx(want / AUTO_THREADS ** 0.6)
    monkeypatch.setattr(_costs, "_loaded", None)


def test_the_cores_large_blocks_cost_fc_times_as_much_per_value(monkeypatch, tmp_path,
                                                                 default_costs):
    # 2048^2 with a 63 x 63 mask: blocks of 256 x 256 = 65536 values, above
    # fb in float64 (its workspace outgrows the L2 cache), not in float32
    monkeypatch.delenv("FILTERKIT_FFT", raising=False)
    assert _fft.native_tile_shape(63, 63, 2048, 2048) == (256, 256)
    got = {}
    for fc in (1.0, 3.0):
        write_constants(tmp_path, native_f0=0.0, native_tb=0.0, native_t0=0.0, native_oc=0.0,
                        native_fc=fc)
        monkeypatch.setattr(_costs, "_loaded", None)
        got[fc] = {dt: filterkit.choose_method((2048, 2048), (63, 63), dt).costs["overlap_save"]
                   for dt in (np.float32, np.float64)}
    assert _costs.constants()["float64"]["native.fb"] < 65536 <= _costs.constants()["float32"]["native.fb"]
    assert got[3.0][np.float64] == pytest.approx(3 * got[1.0][np.float64])
    assert got[3.0][np.float32] == pytest.approx(got[1.0][np.float32])
    monkeypatch.setattr(_costs, "_loaded", None)


def test_the_whole_image_fft_costs_with_pocketfft_constants_on_either_backend(monkeypatch, tmp_path,
                                                                                default_costs):
    # method="fft" goes through scipy.fft whatever the backend: its estimate
    # is pocketfft's, written out for 500^2 and a 13x13 mask (512^2 transform)
    write_constants(tmp_path, scipy_f0=0.7, scipy_f2s=0.5, scipy_f2=0.9, scipy_fa=4.0)
    P, F = 512.0 * 512.0, 512.0 * 512.0
    blend = (np.log2(F) - 18.0) / 4.0  # 2^18 values: f2s exactly
    expected = (0.7 * P + (0.5 + 0.4 * blend) * F * np.log2(F) + 4.0 * 2.0 ** 18) * 1e-9
    for backend in ["scipy"] + (["fftw"] if _fft.pyfftw_module() is not None else []):
        monkeypatch.setenv("FILTERKIT_FFT", backend)
        costs = filterkit.choose_method((500, 500), (13, 13)).costs
        assert costs["fft"] == pytest.approx(expected / AUTO_THREADS ** 0.6)
    monkeypatch.setattr(_costs, "_loaded", None)


# the issue's machine (no pyFFTW), 2048^2 float32 with a 15x15 random mask:
# direct 26.9 ms, the tiled FFT on pocketfft 34.6 ms
ISSUE_DIRECT_S, ISSUE_POCKETFFT_S = 26.9e-3, 34.6e-3


@pytest.mark.parametrize("backend", ["scipy", "fftw"])
def test_the_issue_case_is_not_overlap_save_where_direct_is_faster(backend, monkeypatch, tmp_path,
                                                                    default_costs):
    # constants that reproduce the issue's figures on pocketfft, with FFTW
    # blocks twice as fast: auto must sum directly on pocketfft (the issue:
    # it took the tiled FFT, 1.3 times slower), and take FFTW's blocks
    if backend == "fftw" and _fft.pyfftw_module() is None:
        pytest.skip("pyFFTW is not installed")
    monkeypatch.setenv("FILTERKIT_FFT", backend)
    n = 2048.0 * 2048.0
    d1 = 0.02
    d0 = ISSUE_DIRECT_S * 1e9 / n - 225 * d1
    # 15x15: blocks of 128, 114 outputs each: 18 x 18 blocks in 18 bands
    B = 128.0 * 128.0
    f1 = ISSUE_POCKETFFT_S * 1e9 / (324 * B * np.log2(B))
    write_constants(tmp_path, d0=d0, d1=d1, scipy_f0=0.0, scipy_f1=f1, scipy_tb=0.0,
                    scipy_t0=0.0, scipy_oc=0.0, fftw_f0=0.0, fftw_f1=f1 / 2, fftw_tb=0.0,
                    fftw_t0=0.0, fftw_oc=0.0)
    assert _fft.tile_shape(15, 15, 2048, 2048) == (128, 128)
    choice = filterkit.choose_method((2048, 2048), (15, 15), np.float32)
    assert choice.costs["direct"] == pytest.approx(ISSUE_DIRECT_S / AUTO_THREADS ** 0.9)
    if backend == "scipy":
        assert choice.costs["overlap_save"] == pytest.approx(ISSUE_POCKETFFT_S / AUTO_THREADS ** 0.6)
        assert choice.method == "direct"
    else:
        assert choice.method == "overlap_save"
    # and auto itself, on a mask it has not decided for yet
    info = _maskinfo.describe_mask(np.random.default_rng(seed("issue", backend)).standard_normal((15, 15)))
    assert _choose.choose(info, (2048, 2048), False)[0] == choice.method
    monkeypatch.setattr(_costs, "_loaded", None)


def test_the_shipped_pocketfft_constants_keep_small_masks_spatial(default_costs, monkeypatch):
    # on pocketfft the tiled FFT is no cheaper than the direct sum at 11x11
    # on 2048^2 (measured 1.1-1.3 times slower on the benchmark machines)
    monkeypatch.setenv("FILTERKIT_FFT", "scipy")
    for dtype in (np.float32, np.float64):
        assert filterkit.choose_method((2048, 2048), (11, 11), dtype).method == "direct"


@pytest.mark.parametrize("mask, fixed", [
    (np.arange(1.0, 10.0).reshape(3, 3), True),                 # every weight
    ([[0, 1, 0], [1, -4, 1], [0, 1, 0]], True),                  # the cross (Laplace)
    ([[1, 0, 1], [0, 1, 0], [1, 0, 1]], False),                  # the X: the general kernel
    ([[0, 0, 0], [1, 2, 1], [0, 0, 0]], False),                  # one row
    (np.ones((3, 5)), False),
    (np.ones((5, 5)), False),
])
def test_the_fixed_3x3_kernels_have_their_own_cost(mask, fixed, default_costs):
    # the core's fixed kernels (every weight, or the cross) cost d3 per pixel;
    # any other mask d0 + d1 taps (the general kernel, which skips zeros)
    w = np.asarray(mask, float)
    assert _maskinfo.is_fixed_3x3(w) is fixed
    c = _costs.DEFAULTS["float64"]
    per_pixel = c["d3"] if fixed else c["d0"] + c["d1"] * np.count_nonzero(w)
    cost = filterkit.choose_method((1000, 1000), mask=w, dtype=np.float64).costs["direct"]
    assert cost == pytest.approx(1e6 * per_pixel * 1e-9 / AUTO_THREADS ** 0.9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_3x3_rank_one_mask_is_summed_directly(dtype, default_costs):
    # measured on the grid's machine: the fixed 3x3 kernel is 1.07-1.2 times
    # faster than two 3-tap passes at every image size, so auto takes it
    # (the general kernel's cost made separable look cheaper in float64)
    g = np.outer([1, 2, 1], [1, 2, 1]) / 16.0
    for size in (256, 2048):
        assert filterkit.choose_method((size, size), mask=g, dtype=dtype).method == "direct"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_overlap_save_in_one_block_costs_more_than_the_whole_transform(dtype, default_costs,
                                                                        monkeypatch):
    # pocketfft's blocks (the native ones are powers of two, never one block
    # here): 256^2 with a 63x63 mask: the 320^2 block is the whole extended image,
    # the same transforms as method='fft' plus the tiling's overhead (the
    # grid measured fft 1.17-1.26 times faster than that one block)
    monkeypatch.setenv("FILTERKIT_FFT", "scipy")
    assert _fft.tile_shape(63, 63, 256, 256) == (320, 320) == (_fft.fast_len(318),) * 2
    costs = filterkit.choose_method((256, 256), (63, 63), dtype=dtype).costs
    c = _costs.DEFAULTS[np.dtype(dtype).name]
    # (a 318^2 extended image is below FFTW_MIN_VALUES: pocketfft on either backend)
    assert costs["overlap_save"] == pytest.approx(costs["fft"] + c["scipy.oc"] * 1e-9 / AUTO_THREADS ** 0.6)
    assert filterkit.choose_method((256, 256), (63, 63), dtype=dtype).method == "fft"


# ----------------------------------------------------------------------------
# auto's choice does not depend on the thread count
# ----------------------------------------------------------------------------

def _cells_where_threads_changed_the_model():
    """(shape, mask shape, dtype) cells where the cost model, were it given
    the actual thread count, would rank methods differently for 1 and 2
    threads: the crossover cells of the grid, shrunk to test sizes, where
    a thread-dependent choice would change auto's bits."""
    cells = [((288, 284), (21, 21), np.float64)]  # such a cell, found on the grid
    for n in (96, 128, 192, 256, 320):
        for k in (9, 13, 17, 21, 25, 31):
            for dt in (np.float32, np.float64):
                info = MaskInfo.of_shape((k, k))
                one = _choose.estimate(info, (n, n), dt == np.float64, threads=1)
                two = _choose.estimate(info, (n, n), dt == np.float64, threads=2)
                if min(one, key=one.get) != min(two, key=two.get):
                    cells.append(((n, n), (k, k), dt))
    return cells[:6]


def test_auto_gives_the_same_bits_for_every_thread_count(default_costs):
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


# ----------------------------------------------------------------------------
# choose_method's arguments
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("image_shape", [(0, 10), (10, -3), (10,), (10, 10, 3), (10.5, 10), "ab", None, 64])
def test_choose_method_bad_image_shape(image_shape):
    with pytest.raises((ValueError, TypeError), match=r"`image_shape` must be"):
        filterkit.choose_method(image_shape, (3, 3))


@pytest.mark.parametrize("mask_shape", [(4, 3), (3, 2), (0, 3), (-3, 3), (3,), (3.0, 3)])
def test_choose_method_bad_mask_shape(mask_shape):
    with pytest.raises((ValueError, TypeError), match=r"`mask_shape` must be"):
        filterkit.choose_method((64, 64), mask_shape)


def test_choose_method_takes_dtype_as_the_third_positional_argument():
    # choose_method(image_shape, mask_shape, dtype=np.float32): dtype may be
    # given by position; float64 costs more than float32 for the same shape
    for shape in [(3, 3), (15, 15), (41, 41)]:
        assert (filterkit.choose_method((512, 512), shape, np.float64)
                == filterkit.choose_method((512, 512), shape, dtype=np.float64))
    assert (filterkit.choose_method((512, 512), (15, 15), np.float64).costs["direct"]
            > filterkit.choose_method((512, 512), (15, 15), np.float32).costs["direct"])


def test_choose_method_says_where_a_mask_array_goes():
    with pytest.raises(TypeError, match=r"`mask_shape` must be .*pass the mask itself as mask="):
        filterkit.choose_method((64, 64), np.ones((3, 3)))


def test_choose_method_needs_a_mask_or_its_shape():
    with pytest.raises((ValueError, TypeError), match=r"`mask(_shape)?` must be"):
        filterkit.choose_method((64, 64))


@pytest.mark.parametrize("dtype", [np.complex128, "banana", object])
def test_choose_method_bad_dtype(dtype):
    with pytest.raises((ValueError, TypeError), match=r"`dtype` must be"):
        filterkit.choose_method((64, 64), (3, 3), dtype=dtype)


@pytest.mark.parametrize("dtype, method", [(np.float32, "box"), (np.float64, "direct")])
def test_three_row_box_has_its_own_cost(default_costs, dtype, method):
    # a 3 x 3 mean: the box's three-row path is faster than the dedicated
    # 3 x 3 direct sum in float32 but slower in float64 (measured 1.1-1.8x
    # at 512^2 and 2048^2), which the flat box cost did not see; the
    # 5 x 5 mean stays with the box in both
    mean3 = np.full((3, 3), 1 / 9)
    assert filterkit.choose_method((2048, 2048), dtype=dtype, mask=mean3).method == method
    mean5 = np.full((5, 5), 1 / 25)
    assert filterkit.choose_method((2048, 2048), dtype=dtype, mask=mean5).method == "box"


def test_a_calibration_without_b3_scales_the_default(monkeypatch, tmp_path, default_costs):
    # an earlier calibration has no three-row box cost: the default's,
    # scaled as the file's own 3 x 3 direct cost is to the default's
    stored = {p: {k: v for k, v in _costs.DEFAULTS[p].items() if k != "b3"}
              for p in _costs.DEFAULTS}
    for p in stored:
        stored[p]["d3"] = 2 * _costs.DEFAULTS[p]["d3"]
    (tmp_path / "calibration.json").write_text(json.dumps({"version": 1, "constants": stored}))
    got = _costs.constants()
    for p in stored:
        assert got[p]["b3"] == pytest.approx(2 * _costs.DEFAULTS[p]["b3"])
    monkeypatch.setattr(_costs, "_loaded", None)

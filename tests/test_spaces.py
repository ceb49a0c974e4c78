"""Filtering colour images: ``space=`` and the Di Zenzo colour gradient.

Oracles: a numpy structure tensor with numpy's eigh on the naive Sobel
derivatives of oracle.py (the eigenvector's sign fixed by the summed
gradient, as documented); the grey gradient of the same image (equal
channels); scipy.ndimage's uniform filter run on the channels of the colour
space (the conversions themselves are tested against an independent
reference in test_color.py); closed-form ramps.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi

import filterkit
from filterkit import color
from oracle import SOBEL_X, SOBEL_Y, angle_error, naive_convolve

def tensor_oracle(channels: np.ndarray, mode: str = "reflect"):
    """strength, direction of the colour gradient of (H, W, C) float64."""
    fx = np.stack([naive_convolve(channels[..., c], SOBEL_X, mode=mode) for c in range(channels.shape[-1])], -1)
    fy = np.stack([naive_convolve(channels[..., c], SOBEL_Y, mode=mode) for c in range(channels.shape[-1])], -1)
    g = np.empty(fx.shape[:2] + (2, 2))
    g[..., 0, 0] = (fx * fx).sum(-1)
    g[..., 1, 1] = (fy * fy).sum(-1)
    g[..., 0, 1] = g[..., 1, 0] = (fx * fy).sum(-1)
    w, v = np.linalg.eigh(g)
    lam, vec = w[..., 1], v[..., :, 1]
    flip = (vec[..., 0] * fx.sum(-1) + vec[..., 1] * fy.sum(-1)) < 0
    vec = np.where(flip[..., None], -vec, vec)
    strength = np.sqrt(np.maximum(lam, 0) / channels.shape[-1])
    direction = np.arctan2(vec[..., 1], vec[..., 0])
    return strength, direction, fx, fy


class TestColourGradient:
    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    @pytest.mark.parametrize("mode", ["reflect", "wrap", "constant"])
    def test_matches_the_eigen_decomposition(self, dtype, mode):
        rng = np.random.default_rng(1)
        image = rng.random((30, 41, 3)).astype(dtype)
        s, d = filterkit.gradient(image, channel_axis=-1, mode=mode)
        want_s, want_d, fx, fy = tensor_oracle(image.astype(np.float64), mode)
        assert s.dtype == dtype and d.dtype == dtype and s.shape == (30, 41)
        # float32: the derivatives carry ~1e-7 relative error and the
        # tensor is formed in float32 (scaled by the largest |f|): 2e-5 of
        # the largest strength (|f| <= 4 sqrt(2) here) covers it; float64 1e-12
        tol = 2e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(s, want_s, rtol=0, atol=tol * want_s.max())
        # the direction is ill-conditioned where the two eigenvalues are
        # close (a corner-like tensor): compare where they are well apart
        g_xx, g_yy = (fx * fx).sum(-1), (fy * fy).sum(-1)
        g_xy = (fx * fy).sum(-1)
        gap = np.sqrt((g_xx - g_yy) ** 2 + 4 * g_xy ** 2)
        ok = gap > 1e-2 * (g_xx + g_yy + 1e-30)
        assert ok.mean() > 0.9
        dir_tol = 5e-4 if dtype == np.float32 else 1e-9
        assert angle_error(d[ok], want_d[ok]).max() < dir_tol

    @pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
    def test_equal_channels_give_the_grey_gradient(self, dtype):
        rng = np.random.default_rng(2)
        grey = rng.integers(0, 256, (40, 50)).astype(dtype)
        rgb = np.stack([grey] * 3, axis=-1)
        s1, d1 = filterkit.gradient(grey)
        s3, d3 = filterkit.gradient(rgb, channel_axis=-1)
        # same values up to rounding: the grey path takes max*sqrt(1+t^2),
        # the tensor sqrt(lambda/3); float32 (integer inputs give exact
        # derivatives) ~4 ulp of the strength, direction within the
        # float32 atan2 polynomial (5e-7) plus the eigenvector's rounding
        eps = np.finfo(s1.dtype).eps
        np.testing.assert_allclose(s3, s1, rtol=8 * eps, atol=0)
        nz = s1 > 0
        assert angle_error(d3[nz], d1[nz]).max() < (2e-6 if s1.dtype == np.float32 else 1e-12)
        assert np.all(d3[~nz] == 0)

    @pytest.mark.parametrize("angle", np.linspace(-np.pi, np.pi, 17)[1:])
    def test_ramps_in_every_direction(self, angle):
        # a colour ramp: every channel grows along (cos, sin) at its own rate
        # (one channel falls), f_x = 8 k cos, f_y = 8 k sin exactly away from
        # the border; the summed gradient decides the sign
        y, x = np.mgrid[0:9, 0:9].astype(np.float64)
        t = x * np.cos(angle) + y * np.sin(angle)
        rates = np.array([1.0, 2.0, -0.5])
        image = np.stack([k * t for k in rates], axis=-1)
        s, d = filterkit.gradient(image, channel_axis=-1, mode="valid")
        np.testing.assert_allclose(s, 8 * np.sqrt((rates ** 2).mean()), rtol=1e-12)
        assert angle_error(d, angle).max() < 1e-12

    def test_flat_colour_image_gives_exactly_zero(self):
        image = np.full((10, 12, 3), 0.3, dtype=np.float32)
        image[..., 1] = 0.7
        s, d = filterkit.gradient(image, channel_axis=-1)
        assert np.all(s == 0) and np.all(d == 0)
        assert np.all(filterkit.sobel(image, channel_axis=-1) == 0)

    def test_huge_and_tiny_values_do_not_overflow(self):
        rng = np.random.default_rng(3)
        base = rng.random((12, 14, 2))
        for scale in (1e300, 1e-300):
            s = filterkit.sobel(base * scale, channel_axis=-1)
            want = tensor_oracle(base)[0] * scale
            assert np.all(np.isfinite(s))
            np.testing.assert_allclose(s, want, rtol=1e-12, atol=0)

    def test_any_number_of_channels(self):
        rng = np.random.default_rng(4)
        for c in (1, 2, 5):
            image = rng.random((15, 16, c))
            s, d = filterkit.gradient(image, channel_axis=2)
            want_s, _, _, _ = tensor_oracle(image)
            np.testing.assert_allclose(s, want_s, rtol=0, atol=1e-12 * want_s.max())
        # one channel is the grey gradient
        np.testing.assert_allclose(filterkit.sobel(image[..., :1], channel_axis=-1),
                                   filterkit.sobel(image[..., 0]), rtol=1e-14)

    def test_channel_axis_first_and_outputs(self):
        rng = np.random.default_rng(5)
        image = rng.random((3, 20, 22)).astype(np.float32)
        s0, d0 = filterkit.gradient(np.moveaxis(image, 0, -1), channel_axis=-1)
        s = np.empty((20, 22), np.float64)
        d = np.empty((20, 22), np.float64)
        got = filterkit.gradient(image, channel_axis=0, output=(s, d))
        assert got[0] is s and got[1] is d
        np.testing.assert_allclose(s, s0, rtol=1e-5)
        s8 = filterkit.sobel(image * 100, channel_axis=0, output=np.uint8)
        assert s8.dtype == np.uint8
        np.testing.assert_array_equal(s8, np.clip(np.rint(filterkit.sobel(image * 100, channel_axis=0)), 0, 255))

    def test_valid_mode_shrinks(self):
        image = np.random.default_rng(6).random((10, 12, 3))
        s, d = filterkit.gradient(image, channel_axis=-1, mode="valid")
        full = filterkit.gradient(image, channel_axis=-1)[0]
        assert s.shape == (8, 10)
        np.testing.assert_allclose(s, full[1:-1, 1:-1], rtol=1e-12)

    def test_per_channel_keeps_the_channel_axis(self):
        image = np.random.default_rng(7).random((10, 12, 3))
        s, d = filterkit.gradient(image, channel_axis=-1, per_channel=True)
        assert s.shape == (10, 12, 3)
        np.testing.assert_array_equal(s[..., 1], filterkit.gradient(image[..., 1])[0])

    def test_input_is_not_modified(self):
        image = np.random.default_rng(8).random((10, 12, 3)).astype(np.float32)
        copy = image.copy()
        filterkit.gradient(image, channel_axis=-1, space="lab")
        np.testing.assert_array_equal(image, copy)


class TestSpaces:
    @pytest.mark.parametrize("space, to, back", [
        ("lab", color.rgb_to_lab, color.lab_to_rgb),
        ("luv", color.rgb_to_luv, color.luv_to_rgb),
    ])
    def test_lowpass_runs_in_the_space_and_comes_back(self, space, to, back):
        rng = np.random.default_rng(10)
        image = rng.random((20, 24, 3))
        got = filterkit.mean(image, 5, channel_axis=-1, space=space)
        converted = to(image)
        filtered = np.stack([ndi.uniform_filter(converted[..., c], 5, mode="reflect") for c in range(3)], -1)
        want = back(filtered)
        assert got.dtype == np.float64 and got.shape == image.shape
        # two conversions and a 25-term float64 mean: 1e-9 is generous
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
        # and it is not the RGB result
        assert np.abs(got - filterkit.mean(image, 5, channel_axis=-1)).max() > 1e-3

    def test_uint8_comes_back_as_uint8(self):
        rng = np.random.default_rng(11)
        image = rng.integers(0, 256, (20, 24, 3)).astype(np.uint8)
        got = filterkit.gaussian(image, 2.0, channel_axis=-1, space="lab")
        assert got.dtype == np.uint8
        converted = color.rgb_to_lab(image.astype(np.float64) / 255)
        filtered = filterkit.gaussian(converted, 2.0, channel_axis=-1)
        want = np.clip(np.rint(color.lab_to_rgb(filtered) * 255), 0, 255)
        # float32 conversions inside: values within 1 of the float64 pipeline
        assert np.abs(got.astype(int) - want).max() <= 1

    def test_rgb_space_is_per_channel_in_the_input_dtype(self):
        rng = np.random.default_rng(12)
        image = rng.integers(0, 256, (20, 24, 3)).astype(np.uint8)
        got = filterkit.mean(image, 3, channel_axis=-1, space="rgb")
        want = np.clip(np.rint(filterkit.mean(image, 3, channel_axis=-1)), 0, 255)
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, want)

    @pytest.mark.parametrize("space", ["rgb", "lab", "luv"])
    def test_alpha_passes_through(self, space):
        rng = np.random.default_rng(13)
        rgba = rng.integers(0, 256, (16, 18, 4)).astype(np.uint8)
        got = filterkit.mean(rgba, 5, channel_axis=-1, space=space)
        assert got.shape == rgba.shape
        np.testing.assert_array_equal(got[..., 3], rgba[..., 3])
        np.testing.assert_array_equal(got[..., :3], filterkit.mean(rgba[..., :3], 5, channel_axis=-1, space=space))
        valid = filterkit.mean(rgba, 5, channel_axis=-1, space=space, mode="valid")
        np.testing.assert_array_equal(valid[..., 3], rgba[2:-2, 2:-2, 3])

    def test_gray_filters_the_luma_in_the_input_units(self):
        rng = np.random.default_rng(14)
        image = rng.integers(0, 256, (20, 24, 3)).astype(np.uint8)
        luma = image.astype(np.float64) @ np.array(color.LUMA)   # in 0..255
        got = filterkit.mean(image, 3, channel_axis=-1, space="gray")
        assert got.dtype == np.uint8 and got.shape == (20, 24)
        want = np.clip(np.rint(ndi.uniform_filter(luma, 3)), 0, 255)
        assert np.abs(got.astype(int) - want).max() <= 1   # float32 luma: ties may round either way
        s = filterkit.sobel(image, channel_axis=-1, space="gray")
        np.testing.assert_allclose(s, filterkit.sobel(luma), rtol=1e-5, atol=1e-3)

    def test_highpass_per_channel_in_lab(self):
        rng = np.random.default_rng(15)
        image = rng.random((14, 16, 3)).astype(np.float32)
        got = filterkit.sobel_x(image, channel_axis=-1, space="lab")
        lab = color.rgb_to_lab(image)
        np.testing.assert_array_equal(got, filterkit.sobel_x(lab, channel_axis=-1))
        s = filterkit.sobel(image, channel_axis=-1, space="lab")
        np.testing.assert_array_equal(s, filterkit.sobel(lab, channel_axis=-1))
        lap = filterkit.laplace(image, channel_axis=-1, space="luv")
        np.testing.assert_array_equal(lap, filterkit.laplace(color.rgb_to_luv(image), channel_axis=-1))

    def test_rgb_space_drops_alpha_for_the_gradient(self):
        rng = np.random.default_rng(16)
        rgba = rng.random((14, 16, 4))
        np.testing.assert_array_equal(filterkit.sobel(rgba, channel_axis=-1, space="rgb"),
                                      filterkit.sobel(rgba[..., :3], channel_axis=-1))

    @pytest.mark.parametrize("call, exc, match", [
        (lambda: filterkit.mean(np.ones((8, 8)), space="lab"), ValueError,
         r"`space` must be None for an image without channel_axis"),
        (lambda: filterkit.mean(np.ones((8, 8, 3)), channel_axis=-1, space="hsv"), ValueError,
         r"`space` must be None or one of 'rgb', 'lab', 'luv', 'gray'; got 'hsv'"),
        (lambda: filterkit.sobel(np.ones((8, 8, 3)), channel_axis=-1, space=3), TypeError,
         r"`space` must be None or one of"),
        (lambda: filterkit.gaussian(np.ones((8, 8, 2)), channel_axis=-1, space="lab"), ValueError,
         r"`image` must be 3 \(RGB\) or 4 \(RGBA\) channels"),
        (lambda: filterkit.gradient(np.ones((8, 8, 3)), channel_axis=-1, per_channel="yes"), TypeError,
         r"`per_channel` must be True or False"),
        (lambda: filterkit.gradient(np.ones((8, 8, 3)), channel_axis=-1, output=np.int16), TypeError,
         r"`output` must be a float dtype for the direction"),
        (lambda: filterkit.sobel(np.ones((2, 8, 3)), channel_axis=-1, mode="valid"), ValueError,
         r"`mask` must be no larger than the image"),
    ])
    def test_errors(self, call, exc, match):
        with pytest.raises(exc, match=match):
            call()


@pytest.mark.parametrize("mode", ["reflect", "constant", "nearest", "mirror", "wrap", "valid"])
@pytest.mark.parametrize("space", [None, "lab"])
def test_colour_gradient_in_blocks_of_rows_is_the_same(monkeypatch, mode, space):
    # the colour gradient runs in blocks of rows with a row of context:
    # blocks of 8 rows must give bit for bit the one-block result, border
    # rows (the mode) and 'valid' included
    import filterkit._colour_gradient as spaces

    rng = np.random.default_rng(20)
    image = rng.random((45, 37, 3)).astype(np.float32)
    whole = filterkit.gradient(image, channel_axis=-1, mode=mode, cval=0.5, space=space)
    monkeypatch.setattr(spaces, "_STRIP_PIXELS", 1)
    blocks = filterkit.gradient(image, channel_axis=-1, mode=mode, cval=0.5, space=space)
    for a, b in zip(whole, blocks):
        np.testing.assert_array_equal(a, b)
    # and against the oracle, the border rows included
    if space is None and mode != "valid":
        want = tensor_oracle(image.astype(np.float64), mode if mode != "constant" else "constant")[0]
        if mode != "constant":
            np.testing.assert_allclose(blocks[0], want, rtol=0, atol=2e-5 * want.max())


# ----------------------------------------------------------------------------
# integer results of a colour space: saturated, rounded half to even
# ----------------------------------------------------------------------------

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

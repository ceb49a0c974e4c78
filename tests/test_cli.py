"""The ``filterkit`` command line, run as a subprocess on real photographs.

The oracle is filterkit's own public API (tested against scipy elsewhere):
the CLI must give exactly what the documented call and scaling give.
The subprocesses run in a temporary folder so that the source tree never
shadows the installed package.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

import filterkit

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

skdata = pytest.importorskip("skimage.data")

COMMANDS = ["sobel", "sobel-x", "sobel-y", "gradient", "laplace", "mean", "gaussian", "convolve"]


def run(args, cwd):
    """Run the CLI; return (exit code, stdout, stderr)."""
    res = subprocess.run([sys.executable, "-m", "filterkit", *map(str, args)], cwd=cwd,
                         capture_output=True, text=True, timeout=120)
    return res.returncode, res.stdout, res.stderr


def save(path, array):
    Image.fromarray(array).save(path)
    return path


def load(path):
    with Image.open(path) as im:
        return np.asarray(im)


def digest(path):
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


@pytest.fixture(scope="module")
def camera():
    return skdata.camera()[:128, :160]  # a real photograph, cropped to keep the run short


@pytest.fixture(scope="module")
def astronaut():
    return skdata.astronaut()[:96, :128]


def assert_one_error_line(code, err):
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("filterkit: error: ")
    assert "Traceback" not in err


def expected_positive(values, full=255):
    unit = values / values.max()
    return np.clip(np.rint(unit * full), 0, full)


def expected_signed(values, full=255):
    unit = 0.5 + values / (2 * np.abs(values).max())
    return np.clip(np.rint(unit * full), 0, full)


class TestResults:
    def test_mean_keeps_8_bit_and_equals_the_api(self, tmp_path, camera):
        src = save(tmp_path / "camera.png", camera)
        code, _, err = run(["mean", "--size", "5", src, "out.png"], tmp_path)
        assert code == 0, err
        got = load(tmp_path / "out.png")
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, filterkit.mean(camera, 5, output=np.uint8))

    def test_mean_on_rgb_filters_each_channel(self, tmp_path, astronaut):
        src = save(tmp_path / "astronaut.png", astronaut)
        code, _, err = run(["mean", "--size", "3x7", src, "out.png"], tmp_path)
        assert code == 0, err
        want = filterkit.mean(astronaut, (3, 7), output=np.uint8, channel_axis=-1)
        np.testing.assert_array_equal(load(tmp_path / "out.png"), want)

    def test_rgba_alpha_is_unchanged(self, tmp_path, astronaut):
        alpha = np.tile(np.arange(astronaut.shape[1], dtype=np.uint8), (astronaut.shape[0], 1))
        rgba = np.dstack([astronaut, alpha])
        src = save(tmp_path / "rgba.png", rgba)
        code, _, err = run(["gaussian", "--sigma", "2", src, "out.png"], tmp_path)
        assert code == 0, err
        got = load(tmp_path / "out.png")
        np.testing.assert_array_equal(got[..., 3], alpha)
        want = filterkit.gaussian(astronaut, 2.0, output=np.uint8, channel_axis=-1)
        np.testing.assert_array_equal(got[..., :3], want)

    def test_16_bit_png_stays_16_bit(self, tmp_path, camera):
        deep = camera.astype(np.uint16) * 257
        src = tmp_path / "deep.png"
        Image.fromarray(deep).save(src)
        code, _, err = run(["gaussian", "--sigma", "1.5", src, "out.png"], tmp_path)
        assert code == 0, err
        got = load(tmp_path / "out.png").astype(np.uint16)
        np.testing.assert_array_equal(got, filterkit.gaussian(deep, 1.5, output=np.uint16))
        code, _, err = run(["sobel", src, "edges.png"], tmp_path)
        assert code == 0, err
        edges = load(tmp_path / "edges.png").astype(np.int64)
        want = expected_positive(filterkit.sobel(deep).astype(np.float64), 65535)
        assert np.abs(edges - want).max() <= 1  # float32 result vs float64 scaling: 1 level

    def test_sobel_is_scaled_to_the_full_range(self, tmp_path, camera):
        src = save(tmp_path / "camera.png", camera)
        code, _, err = run(["sobel", src, "edges.png"], tmp_path)
        assert code == 0, err
        got = load(tmp_path / "edges.png").astype(np.int64)
        want = expected_positive(filterkit.sobel(camera).astype(np.float64))
        assert np.abs(got - want).max() <= 1  # rounding of the float32 result: 1 level
        assert got.max() == 255

    @pytest.mark.parametrize("command, api", [("sobel-x", filterkit.sobel_x),
                                              ("sobel-y", filterkit.sobel_y),
                                              ("laplace", filterkit.laplace)])
    def test_signed_results_put_zero_at_mid_grey(self, tmp_path, camera, command, api):
        src = save(tmp_path / "camera.png", camera)
        code, _, err = run([command, src, "out.png"], tmp_path)
        assert code == 0, err
        got = load(tmp_path / "out.png").astype(np.int64)
        want = expected_signed(api(camera).astype(np.float64))
        assert np.abs(got - want).max() <= 1

    def test_colour_input_to_sobel_gives_the_colour_gradient_in_lab(self, tmp_path, astronaut):
        src = save(tmp_path / "astronaut.png", astronaut)
        code, _, err = run(["sobel", "--raw", src, "edges.npy"], tmp_path)
        assert code == 0, err
        np.testing.assert_array_equal(np.load(tmp_path / "edges.npy"),
                                      filterkit.sobel(astronaut, channel_axis=-1, space="lab"))
        for space in ("rgb", "luv", "gray"):
            code, _, err = run(["gradient", "--raw", "--space", space, src, f"{space}.npy"], tmp_path)
            assert code == 0, err
            np.testing.assert_array_equal(np.load(tmp_path / f"{space}.npy"),
                                          filterkit.gradient(astronaut, channel_axis=-1, space=space)[0])

    def test_colour_input_to_sobel_x_is_luma_unless_a_space_is_given(self, tmp_path, astronaut):
        src = save(tmp_path / "astronaut.png", astronaut)
        code, _, err = run(["sobel-x", "--raw", src, "fx.npy"], tmp_path)
        assert code == 0, err
        # the luma 0.2126 R + 0.7152 G + 0.0722 B, in the input's units
        luma = (astronaut.astype(np.float64) @ np.array([0.2126, 0.7152, 0.0722])).astype(np.float32)
        np.testing.assert_allclose(np.load(tmp_path / "fx.npy"), filterkit.sobel_x(luma), rtol=0, atol=1e-3)
        code, _, err = run(["laplace", "--space", "lab", src, "lab.png"], tmp_path)
        assert code == 0, err
        got = load(tmp_path / "lab.png").astype(np.int64)
        assert got.shape == astronaut.shape
        want = expected_signed(filterkit.laplace(astronaut, channel_axis=-1, space="lab").astype(np.float64))
        assert np.abs(got - want).max() <= 1

    @pytest.mark.parametrize("space", ["lab", "luv", "gray"])
    def test_low_pass_in_a_colour_space(self, tmp_path, astronaut, space):
        src = save(tmp_path / "astronaut.png", astronaut)
        code, _, err = run(["gaussian", "--sigma", "2", "--space", space, src, "out.png"], tmp_path)
        assert code == 0, err
        np.testing.assert_array_equal(load(tmp_path / "out.png"),
                                      filterkit.gaussian(astronaut, 2.0, channel_axis=-1, space=space))

    def test_space_is_ignored_for_grey_input(self, tmp_path, camera):
        src = save(tmp_path / "camera.png", camera)
        code, _, err = run(["mean", "--space", "lab", src, "a.png"], tmp_path)
        assert code == 0, err
        np.testing.assert_array_equal(load(tmp_path / "a.png"), filterkit.mean(camera, 3, output=np.uint8))

    def test_bad_space_is_one_line(self, tmp_path, camera):
        src = save(tmp_path / "camera.png", camera)
        code, _, err = run(["mean", "--space", "hsv", src, "a.png"], tmp_path)
        assert code == 2
        assert err.startswith("filterkit: error:") and "--space" in err and err.count("\n") == 1
        assert "Traceback" not in err

    def test_raw_writes_the_float_result_unchanged(self, tmp_path, camera):
        src = save(tmp_path / "camera.png", camera)
        code, _, err = run(["sobel", "--raw", src, "edges.npy"], tmp_path)
        assert code == 0, err
        np.testing.assert_array_equal(np.load(tmp_path / "edges.npy"), filterkit.sobel(camera))
        code, _, err = run(["sobel-x", "--raw", "--mode", "wrap", src, "fx.tif"], tmp_path)
        assert code == 0, err
        tifffile = pytest.importorskip("tifffile")
        np.testing.assert_array_equal(tifffile.imread(tmp_path / "fx.tif"),
                                      filterkit.sobel_x(camera, mode="wrap"))

    def test_invert_gives_edges_dark_on_white(self, tmp_path, camera):
        src = save(tmp_path / "camera.png", camera)
        run(["sobel", src, "edges.png"], tmp_path)
        code, _, err = run(["sobel", "--invert", src, "inverted.png"], tmp_path)
        assert code == 0, err
        plain = load(tmp_path / "edges.png").astype(np.int64)
        inverted = load(tmp_path / "inverted.png").astype(np.int64)
        assert np.abs((255 - plain) - inverted).max() <= 1

    def test_gradient_writes_strength_and_a_direction_picture(self, tmp_path, camera):
        src = save(tmp_path / "camera.png", camera)
        code, _, err = run(["gradient", src, "strength.png", "--direction", "direction.png"], tmp_path)
        assert code == 0, err
        strength = load(tmp_path / "strength.png").astype(np.int64)
        want = expected_positive(filterkit.gradient(camera)[0].astype(np.float64))
        assert np.abs(strength - want).max() <= 1
        direction = load(tmp_path / "direction.png")
        assert direction.shape == camera.shape + (3,)
        # brightness (the largest of R, G, B) is the strength
        assert np.abs(direction.max(axis=-1).astype(np.int64) - want).max() <= 1

    def test_convolve_with_a_text_mask(self, tmp_path, camera):
        src = save(tmp_path / "camera.png", camera)
        (tmp_path / "mask.txt").write_text("# a blur\n1 2 1\n2 4 2\n1, 2, 1\n")
        code, _, err = run(["convolve", "--mask", "mask.txt", src, "out.png"], tmp_path)
        assert code == 0, err
        mask = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=float)
        np.testing.assert_array_equal(load(tmp_path / "out.png"),
                                      filterkit.convolve(camera, mask, output=np.uint8))

    def test_convolve_with_a_signed_npy_mask_is_high_pass(self, tmp_path, camera):
        src = save(tmp_path / "camera.png", camera)
        np.save(tmp_path / "m.npy", filterkit.masks.sobel_x())
        code, _, err = run(["convolve", "--mask", "m.npy", src, "out.png"], tmp_path)
        assert code == 0, err
        want = expected_signed(filterkit.sobel_x(camera).astype(np.float64))
        assert np.abs(load(tmp_path / "out.png").astype(np.int64) - want).max() <= 1

    def test_valid_mode_shrinks_the_picture(self, tmp_path, camera):
        src = save(tmp_path / "camera.png", camera)
        code, _, err = run(["mean", "--size", "5", "--mode", "valid", src, "out.png"], tmp_path)
        assert code == 0, err
        assert load(tmp_path / "out.png").shape == (camera.shape[0] - 4, camera.shape[1] - 4)

    def test_output_file_gets_the_usual_permissions(self, tmp_path, camera):
        src = save(tmp_path / "camera.png", camera)
        code, _, err = run(["mean", src, "out.png"], tmp_path)
        assert code == 0, err
        umask = os.umask(0)
        os.umask(umask)
        assert os.stat(tmp_path / "out.png").st_mode & 0o777 == 0o666 & ~umask

    def test_sample_images_need_no_file(self, tmp_path):
        code, _, err = run(["sobel", "sample:camera", "edges.png"], tmp_path)
        assert code == 0, err
        assert load(tmp_path / "edges.png").shape == skdata.camera().shape
        code, out, _ = run(["samples"], tmp_path)
        assert code == 0 and "sample:camera" in out.split()

    def test_jpeg_and_bmp_outputs(self, tmp_path, camera):
        src = save(tmp_path / "camera.png", camera)
        for name in ("out.jpg", "out.bmp", "out.tiff"):
            code, _, err = run(["mean", src, name], tmp_path)
            assert code == 0, err
            assert load(tmp_path / name).shape == camera.shape

    def test_threads_option_gives_the_same_result(self, tmp_path, camera):
        src = save(tmp_path / "camera.png", camera)
        run(["gaussian", "--threads", "1", src, "one.png"], tmp_path)
        run(["gaussian", "--threads", "2", src, "two.png"], tmp_path)
        np.testing.assert_array_equal(load(tmp_path / "one.png"), load(tmp_path / "two.png"))


class TestBatch:
    def test_folder_with_a_corrupt_file(self, tmp_path, camera):
        folder = tmp_path / "in"
        folder.mkdir()
        save(folder / "a.png", camera)
        save(folder / "b.png", camera[::-1])
        (folder / "x.png").write_bytes(b"this is not a png at all")
        code, _, err = run(["sobel", "in", "-o", "out"], tmp_path)
        assert code == 2
        assert "Traceback" not in err
        errors = [line for line in err.splitlines() if line.startswith("filterkit: error:")]
        assert len(errors) == 1 and "x.png" in errors[0]
        assert sorted(os.listdir(tmp_path / "out")) == ["a.png", "b.png"]

    def test_several_inputs_and_an_extension(self, tmp_path, camera):
        save(tmp_path / "a.png", camera)
        save(tmp_path / "b.png", camera)
        code, _, err = run(["mean", "a.png", "b.png", "-o", "out", "--ext", "tif"], tmp_path)
        assert code == 0, err
        assert sorted(os.listdir(tmp_path / "out")) == ["a.tif", "b.tif"]


class TestErrors:
    @pytest.fixture
    def setup(self, tmp_path, camera):
        src = save(tmp_path / "camera.png", camera)
        return tmp_path, src, digest(src)

    def check(self, tmp_path, src, before, args, out_name="out.png"):
        code, _, err = run(args, tmp_path)
        assert_one_error_line(code, err)
        assert digest(src) == before  # the input is never touched
        assert not (tmp_path / out_name).exists()  # no partial output
        assert not [n for n in os.listdir(tmp_path) if n.startswith(".filterkit-")]
        return err

    def test_missing_input(self, setup):
        tmp_path, src, before = setup
        err = self.check(tmp_path, src, before, ["sobel", "nothing.png", "out.png"])
        assert "nothing.png: no such file" in err

    def test_truncated_png(self, setup):
        tmp_path, src, before = setup
        (tmp_path / "cut.png").write_bytes(open(src, "rb").read()[:100])
        err = self.check(tmp_path, src, before, ["sobel", "cut.png", "out.png"])
        assert "cut.png" in err

    def test_text_file_named_png(self, setup):
        tmp_path, src, before = setup
        (tmp_path / "text.png").write_text("hello")
        err = self.check(tmp_path, src, before, ["mean", "text.png", "out.png"])
        assert "not an image" in err

    def test_unknown_output_extension(self, setup):
        tmp_path, src, before = setup
        err = self.check(tmp_path, src, before, ["sobel", src, "out.xyz"], "out.xyz")
        assert "unknown output extension '.xyz'" in err

    def test_negative_sigma(self, setup):
        tmp_path, src, before = setup
        err = self.check(tmp_path, src, before, ["gaussian", "--sigma", "-1", src, "out.png"])
        assert "`sigma` must be positive" in err

    def test_even_size(self, setup):
        tmp_path, src, before = setup
        err = self.check(tmp_path, src, before, ["mean", "--size", "4", src, "out.png"])
        assert "`size` must be odd" in err

    def test_non_numeric_option(self, setup):
        tmp_path, src, before = setup
        err = self.check(tmp_path, src, before, ["gaussian", "--sigma", "wide", src, "out.png"])
        assert "must be a number; got 'wide'" in err

    def test_bad_mode(self, setup):
        tmp_path, src, before = setup
        err = self.check(tmp_path, src, before, ["sobel", "--mode", "bounce", src, "out.png"])
        assert "`mode` must be one of" in err

    def test_output_equal_to_input(self, setup):
        tmp_path, src, before = setup
        code, _, err = run(["sobel", src, str(src)], tmp_path)
        assert_one_error_line(code, err)
        assert "would overwrite the input" in err
        assert digest(src) == before

    def test_unwritable_destination(self, setup):
        tmp_path, src, before = setup
        (tmp_path / "afile").write_text("a file, not a folder")
        err = self.check(tmp_path, src, before, ["sobel", src, "afile/out.png"])
        assert "does not exist" in err

    def test_raw_needs_a_float_format(self, setup):
        tmp_path, src, before = setup
        err = self.check(tmp_path, src, before, ["sobel", "--raw", src, "out.png"])
        assert "--raw writes" in err

    def test_bad_mask_file(self, setup):
        tmp_path, src, before = setup
        (tmp_path / "m.txt").write_text("1 2\n3 x\n")
        err = self.check(tmp_path, src, before, ["convolve", "--mask", "m.txt", src, "out.png"])
        assert "not a mask of numbers" in err

    def test_unknown_sample(self, setup):
        tmp_path, src, before = setup
        err = self.check(tmp_path, src, before, ["sobel", "sample:unicorn", "out.png"])
        assert "unknown sample" in err and "camera" in err

    def test_wrong_number_of_paths(self, setup):
        tmp_path, src, before = setup
        err = self.check(tmp_path, src, before, ["sobel", src])
        assert "give IN OUT" in err


@pytest.mark.parametrize("command", COMMANDS + ["samples"])
def test_help_has_an_example(tmp_path, command):
    code, out, _ = run([command, "--help"], tmp_path)
    assert code == 0
    assert "Example" in out


def test_top_level_help_lists_every_command(tmp_path):
    code, out, _ = run(["--help"], tmp_path)
    assert code == 0
    for command in COMMANDS:
        assert command in out

"""The command line's reliability (issue #14): every failure is one line
``filterkit: error: ...`` with exit code 2 (130 for Ctrl-C), and never a
traceback, a half-written or overwritten file, or a modified input.

The subprocesses run in a temporary folder, never the source tree (``-m``
would import the uncompiled checkout).  Each test names the item of the
issue it guards.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import signal
import struct
import subprocess
import sys
import textwrap
import time
import zlib

import numpy as np
import pytest

import filterkit
from filterkit.cli import filtering, main

PIL = pytest.importorskip("PIL")
from PIL import Image, ImageOps  # noqa: E402

RNG = np.random.default_rng(14)
GREY = (RNG.random((40, 56)) * 255).astype(np.uint8)
RGB = (RNG.random((40, 56, 3)) * 255).astype(np.uint8)


def run(args, cwd, env=None, timeout=120, **kwargs):
    """Run the CLI in `cwd`; return (exit code, stdout, stderr)."""
    res = subprocess.run([sys.executable, "-m", "filterkit", *map(str, args)], cwd=cwd,
                         capture_output=True, text=True, timeout=timeout,
                         env=dict(os.environ, **(env or {})), **kwargs)
    return res.returncode, res.stdout, res.stderr


def one_error_line(code, err, *words):
    """Exit code 2, one line on stderr starting ``filterkit: error:`` and
    holding every one of `words`; no traceback."""
    assert code == 2, err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("filterkit: error: "), err
    for word in words:
        assert word in lines[0], err
    return lines[0]


def snapshot(folder):
    """Every file under `folder` with its bytes' digest and mtime."""
    out = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as fh:
                out[os.path.relpath(path, folder)] = (hashlib.sha256(fh.read()).hexdigest(),
                                                      os.stat(path).st_mtime_ns)
    return out


def save(path, array, **kwargs):
    Image.fromarray(array).save(path, **kwargs)
    return path


def load(path):
    with Image.open(path) as im:
        return np.asarray(im)


def bomb_png(path, side=100_000):
    """A valid PNG header claiming side x side grey pixels, ~1 KB in all."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\0" * (side + 1) * 5)) + chunk(b"IEND", b""))
    path.write_bytes(data)
    return path


# ----------------------------------------------------------------------------
# 7. images over the decompression-bomb limit
# ----------------------------------------------------------------------------
def test_bomb_png_is_one_line_that_says_how_to_raise_the_limit(tmp_path):
    bomb_png(tmp_path / "bomb.png")
    code, _, err = run(["sobel", "bomb.png", "o.png"], tmp_path)
    one_error_line(code, err, "bomb.png", "100000 x 100000", "--max-pixels", "FILTERKIT_MAX_PIXELS")
    assert sorted(os.listdir(tmp_path)) == ["bomb.png"]


def test_a_bomb_in_a_batch_is_reported_and_the_others_are_written(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    save(folder / "a.png", GREY)
    bomb_png(folder / "bomb.png")
    save(folder / "c.png", GREY[::-1])
    code, _, err = run(["sobel", "in", "-o", "out"], tmp_path)
    assert code == 2 and "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 2, err
    assert lines[0].startswith("filterkit: error: ") and "bomb.png" in lines[0]
    assert lines[1] == "filterkit: 2 written, 1 failed, 0 skipped (already complete)"
    assert sorted(os.listdir(tmp_path / "out")) == ["a.png", "c.png"]


def test_the_limit_is_an_option_or_an_environment_variable(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    pytest.importorskip("zarr")
    save(tmp_path / "g.png", GREY)  # 2240 pixels
    tifffile.imwrite(str(tmp_path / "g.tif"), GREY)
    code, _, err = run(["mean", "g.png", "o.png", "--max-pixels", "2000"], tmp_path)
    line = one_error_line(code, err, "g.png", "2,240 pixels", "limit of 2,000")
    assert "--tile" not in line  # --tile would decode a PNG whole all the same
    code, _, err = run(["mean", "g.tif", "o.tif"], tmp_path, env={"FILTERKIT_MAX_PIXELS": "2000"})
    one_error_line(code, err, "g.tif", "--tile N")  # a TIFF is read a tile at a time
    assert sorted(os.listdir(tmp_path)) == ["g.png", "g.tif"]
    # raised, or with --tile for a TIFF: written
    assert run(["mean", "g.png", "o.png", "--max-pixels", "2240"], tmp_path)[0] == 0
    assert run(["mean", "g.png", "o2.png"], tmp_path, env={"FILTERKIT_MAX_PIXELS": "none"})[0] == 0
    code, _, err = run(["mean", "g.tif", "t.tif", "--tile", "16"], tmp_path,
                       env={"FILTERKIT_MAX_PIXELS": "2000"})
    assert code == 0, err
    np.testing.assert_array_equal(tifffile.imread(str(tmp_path / "t.tif")),
                                  filterkit.mean(GREY, 3, output=np.uint8))
    # the option wins over the environment; bad values are one line
    assert run(["mean", "g.png", "o3.png", "--max-pixels", "none"], tmp_path,
               env={"FILTERKIT_MAX_PIXELS": "10"})[0] == 0
    code, _, err = run(["mean", "g.png", "o4.png"], tmp_path, env={"FILTERKIT_MAX_PIXELS": "many"})
    one_error_line(code, err, "FILTERKIT_MAX_PIXELS", "'many'")
    code, _, err = run(["mean", "g.png", "o4.png", "--max-pixels", "-5"], tmp_path)
    one_error_line(code, err, "--max-pixels", "'-5'")
    assert not (tmp_path / "o4.png").exists()


def test_an_unforeseen_failure_of_one_file_does_not_end_the_batch(tmp_path, monkeypatch, capsys):
    # the class of item 7: any exception of one file is that file's error line
    for name in ("a", "b", "c"):
        save(tmp_path / f"{name}.png", GREY)
    real = filtering.filter_values

    def failing(name, image, args, mode):
        if image[0, 0] == 99:
            raise RuntimeError("something nobody foresaw")
        return real(name, image, args, mode)

    weird = GREY.copy()
    weird[0, 0] = 99
    save(tmp_path / "b.png", weird)
    monkeypatch.setattr(filtering, "filter_values", failing)
    assert main(["mean", str(tmp_path), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "something nobody foresaw" in err and "b.png" in err
    assert err.strip().splitlines()[-1] == "filterkit: 2 written, 1 failed, 0 skipped (already complete)"
    assert sorted(os.listdir(tmp_path / "out")) == ["a.png", "c.png"]


# ----------------------------------------------------------------------------
# 8. --tile to .npy on a full disk
# ----------------------------------------------------------------------------
def _tmpfs_available():
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                            "mount -t tmpfs -o size=64k none /mnt"],
                           capture_output=True, timeout=30)
    return probe.returncode == 0


@pytest.mark.skipif(not _tmpfs_available(), reason="needs unshare and a tmpfs in a user namespace")
def test_every_output_format_on_a_full_disk_is_one_line_and_leaves_nothing(tmp_path):
    # a real full disk: a 1 MiB tmpfs for a 4 MiB float32 result.  Written
    # through a memory map, the sparse .npy died of SIGBUS and stayed behind.
    tifffile = pytest.importorskip("tifffile")
    pytest.importorskip("zarr")
    tifffile.imwrite(str(tmp_path / "g.tif"), (RNG.random((1024, 1024)) * 255).astype(np.uint8))
    (tmp_path / "disk").mkdir()
    script = textwrap.dedent(f"""\
        mount -t tmpfs -o size=1m none disk || exit 99
        for args in "o.npy --tile 64" "o.tif --tile 64" "o.zarr --tile 64" "o.tif" "o.npy"; do
            set -- $args
            out=$1; shift
            {sys.executable} -m filterkit mean g.tif disk/$out --raw "$@" 2>err.txt
            echo "$out $* rc=$?"
            cat err.txt
            ls -A disk
        done
        """)
    res = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    out = res.stdout.splitlines()
    assert res.returncode == 0, res.stdout + res.stderr
    assert len(out) == 10, res.stdout  # per run: its exit status, its one error line, no files
    for status, error in zip(out[0::2], out[1::2]):
        assert status.endswith("rc=2"), res.stdout
        assert error.startswith("filterkit: error: disk/o.") and "could not be written" in error
    assert "No space left on device" in out[1]  # .npy: at once, from the reservation


def test_npy_tiles_beyond_the_file_size_limit_fail_cleanly(tmp_path):
    # RLIMIT_FSIZE stands for a full disk where no tmpfs can be mounted:
    # the write fails with EFBIG; one line, no temporary file
    tifffile = pytest.importorskip("tifffile")
    tifffile.imwrite(str(tmp_path / "g.tif"), (RNG.random((512, 512)) * 255).astype(np.uint8))
    script = textwrap.dedent("""\
        import resource, runpy, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 18, 1 << 18))
        sys.argv = ["filterkit"] + sys.argv[1:]
        runpy.run_module("filterkit", run_name="__main__", alter_sys=True)
        """)
    for out in ("o.npy", "o.tif"):
        res = subprocess.run([sys.executable, "-c", script, "mean", "g.tif", out, "--tile", "64",
                              "--raw"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
        one_error_line(res.returncode, res.stderr, out, "could not be written")
        assert os.listdir(tmp_path) == ["g.tif"]


def test_npy_tiles_reserve_the_whole_file_before_the_first_tile(tmp_path, monkeypatch, capsys):
    # ENOSPC from the reservation: no tile is filtered, nothing is left
    tifffile = pytest.importorskip("tifffile")
    tifffile.imwrite(str(tmp_path / "g.tif"), GREY)
    from filterkit.cli import tiles

    def full(fd, offset, length):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(tiles.os, "posix_fallocate", full, raising=False)
    calls = []
    real = filtering.filter_values
    monkeypatch.setattr(filtering, "filter_values", lambda *a: calls.append(1) or real(*a))
    assert main(["mean", str(tmp_path / "g.tif"), str(tmp_path / "o.npy"), "--tile", "16"]) == 2
    err = capsys.readouterr().err
    one_error_line(2, err, "o.npy", "No space left on device")
    assert len(calls) == 1  # the first tile only (it tells the dtype), not all 12
    assert os.listdir(tmp_path) == ["g.tif"]


# ----------------------------------------------------------------------------
# 9. and 11. --direction and the outputs: all checked before anything
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("tile", [[], ["--tile", "16"]], ids=["whole", "tiled"])
@pytest.mark.parametrize("direction, why", [
    ("IN", "would overwrite the input"),          # the input
    ("./IN", "would overwrite the input"),        # the input, spelt otherwise
    ("LINK", "would overwrite the input"),        # a hard link to the input
    ("OUT", "named twice as an output"),          # the strength
    ("sub/../OUT", "named twice as an output"),
])
def test_direction_may_be_neither_the_input_nor_the_output(tmp_path, tile, direction, why):
    tifffile = pytest.importorskip("tifffile")
    pytest.importorskip("zarr")
    ext = ".tif" if tile else ".png"
    src = tmp_path / ("x" + ext)
    if tile:
        tifffile.imwrite(str(src), GREY)
    else:
        save(src, GREY)
    os.link(src, tmp_path / ("link" + ext))
    (tmp_path / "sub").mkdir()
    out = "s" + ext
    if direction == "OUT" and tile:  # an existing strength, to be kept
        tifffile.imwrite(str(tmp_path / out), GREY)
    elif direction == "OUT":
        save(tmp_path / out, GREY)
    names = {"IN": src.name, "./IN": "./" + src.name, "LINK": "link" + ext,
             "OUT": out, "sub/../OUT": "sub/../" + out}
    before = snapshot(tmp_path)
    code, _, err = run(["gradient", src.name, out, "--direction", names[direction]] + tile, tmp_path)
    one_error_line(code, err, why)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("direction, why", [
    ("d.xyz", "unknown output extension '.xyz'"),
    ("nofolder/d.png", "does not exist"),
    ("afolder.png", "is a folder"),
])
def test_no_output_is_written_when_another_output_is_bad(tmp_path, direction, why):
    save(tmp_path / "x.png", GREY)
    (tmp_path / "afolder.png").mkdir()
    before = snapshot(tmp_path)
    code, _, err = run(["gradient", "x.png", "s.png", "--direction", direction], tmp_path)
    one_error_line(code, err, why)
    assert snapshot(tmp_path) == before and not (tmp_path / "s.png").exists()


def test_a_failure_writing_the_second_output_leaves_neither(tmp_path, monkeypatch, capsys):
    from filterkit.cli import images

    save(tmp_path / "x.png", GREY)
    save(tmp_path / "s.png", GREY)  # an older strength: kept as it is
    before = snapshot(tmp_path)
    real = images._write_pillow
    calls = []

    def second_fails(path, data, fmt):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(path, data, fmt)

    monkeypatch.setattr(images, "_write_pillow", second_fails)
    assert main(["gradient", str(tmp_path / "x.png"), str(tmp_path / "s.png"),
                 "--direction", str(tmp_path / "d.png")]) == 2
    one_error_line(2, capsys.readouterr().err, "d.png", "No space left on device")
    assert snapshot(tmp_path) == before  # s.png not replaced, no d.png, no temporary file


def test_an_output_may_not_overwrite_the_mask(tmp_path):
    save(tmp_path / "x.png", GREY)
    np.save(tmp_path / "m.npy", np.ones((3, 3)))
    before = snapshot(tmp_path)
    code, _, err = run(["convolve", "x.png", "m.npy", "--raw", "--mask", "m.npy"], tmp_path)
    one_error_line(code, err, "m.npy", "would overwrite the input")
    assert snapshot(tmp_path) == before


# ----------------------------------------------------------------------------
# 10. batch outputs that collide
# ----------------------------------------------------------------------------
@pytest.fixture
def dup_folder(tmp_path):
    folder = tmp_path / "same"
    folder.mkdir()
    for name in ("a", "b", "c", "d", "e", "f", "g"):
        save(folder / f"{name}.png", np.roll(GREY, ord(name), axis=1))
    save(folder / "dup.png", GREY)
    save(folder / "dup.jpg", RGB, quality=95)
    return folder


def test_batch_into_the_input_folder_overwrites_nothing(tmp_path, dup_folder):
    before = snapshot(tmp_path)
    code, _, err = run(["mean", "same", "-o", "same"], tmp_path)
    one_error_line(code, err, "same/")
    assert snapshot(tmp_path) == before


def test_batch_outputs_that_collide_are_refused_before_writing(tmp_path, dup_folder):
    before = snapshot(tmp_path)
    code, _, err = run(["mean", "same", "-o", "out"], tmp_path)
    one_error_line(code, err, "dup.jpg", "dup.png", "out/dup.png")
    assert snapshot(tmp_path) == before and not (tmp_path / "out").exists()
    code, _, err = run(["mean", "same/a.png", "same/./a.png", "-o", "out"], tmp_path)
    one_error_line(code, err, "given twice")
    # without the clash, the count is the truth
    os.remove(dup_folder / "dup.jpg")
    code, _, err = run(["mean", "same", "-o", "out", "--ext", "tif"], tmp_path)
    assert code == 0, err
    assert err.strip() == "filterkit: 8 written, 0 failed, 0 skipped (already complete)"
    assert len(os.listdir(tmp_path / "out")) == 8


def test_batch_with_a_bad_extension_writes_nothing(tmp_path, dup_folder):
    code, _, err = run(["mean", "same", "-o", "out", "--ext", "xyz"], tmp_path)
    one_error_line(code, err, "--ext", ".xyz")
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------------------
# 12. numbers out of range: one line naming the option
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("argv, option", [
    (["mean", "--size", "2147483649"], "--size"),
    (["mean", "--size", "99999999999999999999999"], "--size"),
    (["mean", "--size", "-3"], "--size"),
    (["mean", "--size", "3x-5"], "--size"),
    (["mean", "--size", "3x5x7"], "--size"),
    (["mean", "--tile", "2147483649"], "--tile"),
    (["mean", "--tile", "2147483648"], "--tile"),
    (["mean", "--tile", "-16"], "--tile"),
    (["gaussian", "--sigma", "1e300"], "--sigma"),
    (["gaussian", "--sigma", "nan"], "--sigma"),
    (["gaussian", "--sigma", "inf"], "--sigma"),
    (["gaussian", "--sigma=-2"], "--sigma"),
    (["gaussian", "--sigma", "0"], "--sigma"),
    (["mean", "--mode", "constant", "--cval", "1e400"], "--cval"),
    (["mean", "--mode", "constant", "--cval", "nan"], "--cval"),
    (["mean", "--mode", "constant", "--cval=-inf"], "--cval"),
    (["mean", "--threads", "2147483649"], "--threads"),
    (["mean", "--threads", "100000"], "--threads"),
    (["mean", "--threads", "-1"], "--threads"),
    (["mean", "--jobs", "2147483649"], "--jobs"),
    (["mean", "--jobs", "100000"], "--jobs"),
    (["laplace", "--neighbours", "99999999999999999999"], "--neighbours"),
    (["laplace", "--neighbours", "nan"], "--neighbours"),
])
def test_numeric_options_out_of_range_are_one_line(tmp_path, capsys, argv, option):
    save(tmp_path / "x.png", GREY)
    before = snapshot(tmp_path)
    out = "o.tif" if "--tile" in argv else "o.png"
    code = main(argv + [str(tmp_path / "x.png"), str(tmp_path / out)])
    one_error_line(code, capsys.readouterr().err, option)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("argv, option", [
    (["mean", "--size", "2147483649", "x.png", "o.png"], "--size"),
    (["mean", "x.png", "o.tif", "--tile", "2147483648"], "--tile"),
])
def test_oversized_numbers_in_a_subprocess(tmp_path, argv, option):
    save(tmp_path / "x.png", GREY)
    code, _, err = run(argv, tmp_path)
    one_error_line(code, err, option)
    assert os.listdir(tmp_path) == ["x.png"]


def test_a_tile_larger_than_the_image_is_the_image(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    tifffile.imwrite(str(tmp_path / "x.tif"), GREY)
    code, _, err = run(["mean", "x.tif", "o.tif", "--tile", str(2 ** 30)], tmp_path)
    assert code == 0, err
    np.testing.assert_array_equal(tifffile.imread(str(tmp_path / "o.tif")),
                                  filterkit.mean(GREY, 3, output=np.uint8))


# ----------------------------------------------------------------------------
# 15. silent conversions: orientation, 32-bit and float, channels
# ----------------------------------------------------------------------------
def _with_orientation(image, orientation, path):
    im = Image.fromarray(image)
    exif = im.getexif()
    exif[274] = orientation
    im.save(path, exif=exif.tobytes())
    return path


def _upright(path):
    """The oracle: what viewers show, PIL.ImageOps.exif_transpose."""
    with Image.open(path) as im:
        return np.asarray(ImageOps.exif_transpose(im))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(tmp_path, orientation):
    src = _with_orientation(RGB, orientation, tmp_path / "photo.png")
    upright = _upright(src)
    code, _, err = run(["mean", "--size", "3", "photo.png", "o.png"], tmp_path)
    assert code == 0, err
    np.testing.assert_array_equal(load(tmp_path / "o.png"),
                                  filterkit.mean(upright, 3, output=np.uint8, channel_axis=-1))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_tiff_orientation_is_applied_whole_and_in_tiles(tmp_path, orientation):
    tifffile = pytest.importorskip("tifffile")
    pytest.importorskip("zarr")
    upright = _upright(_with_orientation(GREY, orientation, tmp_path / "ref.png"))
    want = filterkit.mean(upright, (3, 5), output=np.uint8)
    tag = [(274, "H", 1, orientation, True)]
    tifffile.imwrite(str(tmp_path / "plain.tif"), GREY, extratags=tag)  # memory-mapped
    tifffile.imwrite(str(tmp_path / "zip.tif"), GREY, extratags=tag, compression="zlib",
                     tile=(16, 16))  # through zarr
    for src in ("plain.tif", "zip.tif"):
        for extra in ([], ["--tile", "16"]):
            code, _, err = run(["mean", "--size", "3x5", src, "o.tif"] + extra, tmp_path)
            assert code == 0, err
            np.testing.assert_array_equal(tifffile.imread(str(tmp_path / "o.tif")), want,
                                          err_msg=f"{src} {extra}")


def test_32_bit_integer_tiff_keeps_its_values(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    deep = (RNG.random((40, 56)) * 99_990).astype(np.int32)
    tifffile.imwrite(str(tmp_path / "deep.tif"), deep)
    code, _, err = run(["mean", "deep.tif", "o.tif"], tmp_path)
    assert code == 0, err
    got = tifffile.imread(str(tmp_path / "o.tif"))
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, filterkit.mean(deep, 3, output=np.int32))
    # PNG cannot hold them: refused, not clipped to white
    code, _, err = run(["mean", "deep.tif", "o.png"], tmp_path)
    one_error_line(code, err, "deep.tif", "int32", "99", ".tif")
    assert not (tmp_path / "o.png").exists()
    # tiled, the same values
    pytest.importorskip("zarr")
    code, _, err = run(["mean", "deep.tif", "t.tif", "--tile", "16"], tmp_path)
    assert code == 0, err
    np.testing.assert_array_equal(tifffile.imread(str(tmp_path / "t.tif")), got)


def test_float_tiff_keeps_its_values(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    wide = (RNG.random((40, 56)) * 1000).astype(np.float32)
    tifffile.imwrite(str(tmp_path / "wide.tif"), wide)
    code, _, err = run(["gaussian", "--sigma", "1.5", "wide.tif", "o.tif"], tmp_path)
    assert code == 0, err
    got = tifffile.imread(str(tmp_path / "o.tif"))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, filterkit.gaussian(wide, 1.5, output=np.float32))
    code, _, err = run(["gaussian", "wide.tif", "o.png"], tmp_path)
    one_error_line(code, err, "wide.tif", "float", "[0, 1]")
    assert not (tmp_path / "o.png").exists()
    # in [0, 1]: scikit-image's convention, 0..255 in a PNG
    unit = wide / 1000
    tifffile.imwrite(str(tmp_path / "unit.tif"), unit)
    code, _, err = run(["gaussian", "unit.tif", "u.png"], tmp_path)
    assert code == 0, err
    want = np.clip(np.rint(filterkit.gaussian(unit, 1.0, output=np.float32) * 255), 0, 255)
    np.testing.assert_array_equal(load(tmp_path / "u.png"), want.astype(np.uint8))
    # a high-pass filter scales any input to the picture's full range
    code, _, err = run(["sobel", "wide.tif", "e.png"], tmp_path)
    assert code == 0, err
    assert load(tmp_path / "e.png").max() == 255


def test_16_bit_colour_tiff_stays_16_bit(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    deep = (RNG.random((40, 56, 3)) * 65535).astype(np.uint16)
    tifffile.imwrite(str(tmp_path / "deep.tif"), deep, photometric="rgb")
    code, _, err = run(["mean", "deep.tif", "o.tif"], tmp_path)
    assert code == 0, err
    got = tifffile.imread(str(tmp_path / "o.tif"))
    np.testing.assert_array_equal(got, filterkit.mean(deep, 3, output=np.uint16, channel_axis=-1))


@pytest.mark.parametrize("extra, out", [([], "o.tif"), (["--raw"], "o.npy"),
                                        (["--tile", "16"], "o.npy")])
def test_channel_counts_that_cannot_be_written_are_refused(tmp_path, extra, out):
    np.save(tmp_path / "seven.npy", (RNG.random((40, 56, 7)) * 255).astype(np.uint8))
    code, _, err = run(["mean", "seven.npy", out] + extra, tmp_path)
    one_error_line(code, err, "seven.npy", "7 channels")
    assert os.listdir(tmp_path) == ["seven.npy"]


def test_one_channel_is_grey(tmp_path):
    np.save(tmp_path / "one.npy", GREY[..., np.newaxis])
    code, _, err = run(["mean", "one.npy", "o.png"], tmp_path)
    assert code == 0, err
    np.testing.assert_array_equal(load(tmp_path / "o.png"), filterkit.mean(GREY, 3, output=np.uint8))


# ----------------------------------------------------------------------------
# 16. Ctrl-C: one line, exit code 130
# ----------------------------------------------------------------------------
def _sigint(action):
    """A `preexec_fn` that starts the command with Ctrl-C at `action`: the
    default, as a terminal starts it, whatever this process inherited
    (``&`` in a script starts pytest with Ctrl-C ignored); or ignored, as
    ``nohup`` and ``&`` start it."""
    return lambda: signal.signal(signal.SIGINT, action)


def _cli(args, cwd, sigint=signal.SIG_DFL):
    """The command line in its own process group, stderr piped."""
    return subprocess.Popen([sys.executable, "-m", "filterkit", *args], cwd=cwd,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=_sigint(sigint))


def _wait_for_reader(fifo, proc, timeout=60):
    """A writer's end of `fifo` once `proc` opened it for reading (it then
    blocks, reading nothing)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO:
                raise
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError(f"{fifo} was never opened")


def _interrupt(proc, fds):
    time.sleep(0.2)  # well inside the read
    os.killpg(proc.pid, signal.SIGINT)  # as the terminal does: the whole group
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        for fd in fds:
            os.close(fd)
    return proc.returncode, err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_ctrl_c_while_reading_is_one_line_and_130(tmp_path):
    os.mkfifo(tmp_path / "slow.png")
    proc = _cli(["mean", "slow.png", "o.png"], tmp_path)
    code, err = _interrupt(proc, [_wait_for_reader(str(tmp_path / "slow.png"), proc)])
    assert code == 130, err
    assert err == "filterkit: error: interrupted\n"
    assert sorted(os.listdir(tmp_path)) == ["slow.png"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_ctrl_c_in_a_parallel_batch_is_one_line_and_130(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    os.mkfifo(folder / "a.png")
    os.mkfifo(folder / "b.png")
    proc = _cli(["mean", "in", "-o", "out", "--jobs", "2"], tmp_path)
    fds = [_wait_for_reader(str(folder / n), proc) for n in ("a.png", "b.png")]
    code, err = _interrupt(proc, fds)
    assert code == 130, err
    assert err == "filterkit: error: interrupted (0 written, 0 failed)\n"  # no worker's traceback
    assert os.listdir(tmp_path / "out") == []


def _interrupt_as_workers_start(proc):
    """Ctrl-C to `proc`'s group once it has started worker processes."""
    children = f"/proc/{proc.pid}/task/{proc.pid}/children"
    end = time.monotonic() + 60
    while time.monotonic() < end and proc.poll() is None and not os.path.exists(children):
        time.sleep(0.001)
    if not os.path.exists(children):
        proc.kill()
        proc.communicate()
        pytest.skip("needs /proc/PID/task/PID/children")
    while time.monotonic() < end and proc.poll() is None:
        with open(children) as fh:
            if len(fh.read().split()) >= 2:  # multiprocessing's resource tracker, a worker
                break
        time.sleep(0.001)
    assert proc.poll() is None, proc.communicate()
    os.killpg(proc.pid, signal.SIGINT)


def test_ctrl_c_while_starting_workers_gives_no_traceback(tmp_path):
    # Ctrl-C as soon as worker processes exist: they are starting up
    # (importing filterkit) while the main process starts the next ones
    for name in ("a", "b", "c"):
        save(tmp_path / f"{name}.png", GREY)
    proc = _cli(["mean", ".", "-o", "out", "--jobs", "3"], tmp_path)
    _interrupt_as_workers_start(proc)
    _, err = proc.communicate(timeout=60)
    assert "Traceback" not in err, err
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == ["filterkit: error: interrupted (0 written, 0 failed)"], err
    assert not [n for n in os.listdir(tmp_path / "out") if n.startswith(".filterkit-")]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_command_started_with_ctrl_c_ignored_keeps_ignoring_it(tmp_path):
    # `nohup filterkit ...` or `filterkit ... &` in a script: the shell
    # starts it with Ctrl-C ignored, and it must finish its work
    os.mkfifo(tmp_path / "slow.png")
    proc = _cli(["mean", "slow.png", "o.png"], tmp_path, sigint=signal.SIG_IGN)
    fd = _wait_for_reader(str(tmp_path / "slow.png"), proc)
    try:
        time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(0.2)
        Image.fromarray(GREY).save(os.fdopen(os.dup(fd), "wb"), format="PNG")
    finally:
        os.close(fd)
    _, err = proc.communicate(timeout=60)
    assert (proc.returncode, err) == (0, "")
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "o.png")).shape, GREY.shape)


def test_a_batch_started_with_ctrl_c_ignored_keeps_ignoring_it(tmp_path):
    # the same while it starts its workers, where it handles Ctrl-C itself
    for name in ("a", "b", "c"):
        save(tmp_path / f"{name}.png", GREY)
    proc = _cli(["mean", ".", "-o", "out", "--jobs", "3"], tmp_path, sigint=signal.SIG_IGN)
    _interrupt_as_workers_start(proc)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert err.strip().splitlines()[-1] == "filterkit: 3 written, 0 failed, 0 skipped (already complete)"
    assert sorted(os.listdir(tmp_path / "out")) == ["a.png", "b.png", "c.png"]


@pytest.mark.parametrize("where", ["arguments.build_parser", "batch.job_list", "filtering.process"])
def test_ctrl_c_anywhere_in_the_command_is_130(tmp_path, monkeypatch, capsys, where):
    save(tmp_path / "x.png", GREY)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(f"filterkit.cli.{where}", interrupted)
    assert main(["mean", str(tmp_path / "x.png"), str(tmp_path / "o.png")]) == 130
    assert capsys.readouterr().err == "filterkit: error: interrupted\n"
    assert os.listdir(tmp_path) == ["x.png"]


@pytest.mark.parametrize("module", ["numpy", "filterkit._core", "filterkit.cli", "PIL"])
def test_ctrl_c_while_the_command_line_starts_is_130(tmp_path, module):
    # the interrupt lands while the command imports its modules (numpy
    # and the core, most of the start-up): an import hook raises it there,
    # as a Ctrl-C would; `import filterkit` itself loads nothing heavy
    code = textwrap.dedent(f"""
        import sys
        class Interrupt:
            def find_spec(self, name, path=None, target=None):
                if name == {module!r}:
                    raise KeyboardInterrupt
        sys.meta_path.insert(0, Interrupt())
        sys.argv = ["filterkit", "mean", "x.png", "o.png"]
        import runpy
        runpy.run_module("filterkit", run_name="__main__", alter_sys=True)
    """)
    save(tmp_path / "x.png", GREY)
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(filterkit.__file__)))
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 130, res.stderr
    assert res.stderr == "filterkit: error: interrupted\n"
    assert sorted(os.listdir(tmp_path)) == ["x.png"]


def test_importing_filterkit_loads_nothing_heavy():
    # what keeps the window before the command line's guard tiny
    res = subprocess.run([sys.executable, "-c", "import sys, filterkit, filterkit.__main__; "
                          "print(sorted(m for m in ('numpy', 'filterkit._core', 'filterkit.cli') "
                          "if m in sys.modules))"],
                         cwd="/", capture_output=True, text=True, timeout=60,
                         env=dict(os.environ,
                                  PYTHONPATH=os.path.dirname(os.path.dirname(filterkit.__file__))))
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"

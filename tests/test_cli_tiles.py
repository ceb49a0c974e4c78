"""The command line on huge files (--tile) and on folders (--jobs, --resume).

The oracle of --tile is the command line itself without --tile (whose
results are checked against scipy.ndimage in test_cli.py): a tiled run
must write exactly the same pixels, for every command, border mode, input
format and tile size, because every tile reads exactly the mask's radius
around it and the image's edges get the real border mode.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

tifffile = pytest.importorskip("tifffile")
zarr = pytest.importorskip("zarr")

import filterkit  # noqa: E402
from filterkit.cli import filtering, main  # noqa: E402

PKG_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(filterkit.__file__)))
RNG = np.random.default_rng(7)
GREY = (RNG.random((150, 133)) * 255).astype(np.uint8)
RGB = (RNG.random((70, 90, 3)) * 255).astype(np.uint8)
FLOAT = RNG.random((101, 77)).astype(np.float32)
U16 = (RNG.random((60, 50)) * 65535).astype(np.uint16)
COMMANDS = [["sobel"], ["sobel-x"], ["sobel-y"], ["gradient"], ["laplace", "--neighbours", "8"],
            ["mean", "--size", "7x3"], ["gaussian", "--sigma", "2"], ["convolve", "--mask", "MASK"]]
MODES = ["reflect", "mirror", "wrap", "constant", "nearest", "valid", "reflect101"]


def read(path: str) -> np.ndarray:
    if path.endswith(".zarr"):
        return zarr.open_array(path, mode="r")[...]
    if path.endswith(".npy"):
        return np.load(path)
    return tifffile.imread(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiles")
    paths = {
        "grey.tif": lambda p: tifffile.imwrite(p, GREY),                      # striped: memory-mapped
        "rgb.tif": lambda p: tifffile.imwrite(p, RGB, photometric="rgb"),
        "float.tif": lambda p: tifffile.imwrite(p, FLOAT, compression="zlib", tile=(32, 32)),  # via zarr
        "u16.tif": lambda p: tifffile.imwrite(p, U16),
        "grey.npy": lambda p: np.save(p, GREY),
        "grey.png": lambda p: __import__("PIL.Image").Image.fromarray(GREY).save(p),
    }
    for name, write in paths.items():
        write(str(d / name))
    z = zarr.open_array(str(d / "grey.zarr"), mode="w", shape=GREY.shape, chunks=(40, 40),
                        dtype=GREY.dtype)
    z[:] = GREY
    np.savetxt(str(d / "mask.txt"), RNG.integers(-3, 4, (5, 3)))
    return d


def run_pair(files, command, src, mode, extra, out_ext, tile, tmp_path):
    command = [str(files / "mask.txt") if c == "MASK" else c for c in command]
    whole, tiled = str(tmp_path / "whole.tif"), str(tmp_path / ("tiled" + out_ext))
    common = ["--mode", mode, "--cval", "3"] + extra
    assert main(command + [str(files / src), whole] + common) == 0
    assert main(command + [str(files / src), tiled, "--tile", str(tile)] + common) == 0
    return read(whole), read(tiled)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize("mode", MODES)
def test_tiled_equals_whole_every_command_and_mode(files, tmp_path, command, mode):
    for extra in ([], ["--raw"]):
        a, b = run_pair(files, command, "grey.tif", mode, extra, ".tif", 16, tmp_path)
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("src", ["rgb.tif", "float.tif", "u16.tif", "grey.npy", "grey.zarr",
                                 "grey.png"])
@pytest.mark.parametrize("command", [["sobel"], ["gaussian", "--sigma", "1.5"], ["laplace"]],
                         ids=lambda c: c[0])
def test_tiled_equals_whole_every_input_format(files, tmp_path, src, command):
    for mode in ("reflect", "wrap", "valid"):
        a, b = run_pair(files, command, src, mode, [], ".tif", 32, tmp_path)
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("out_ext", [".zarr", ".npy", ".tiff"])
def test_tiled_output_formats(files, tmp_path, out_ext):
    for extra in ([], ["--raw"]):
        a, b = run_pair(files, ["gaussian", "--sigma", "2"], "grey.tif", "mirror", extra, out_ext,
                        48, tmp_path)
        np.testing.assert_array_equal(a, b)


def test_tiled_writes_a_tiled_tiff_of_the_tile_size(files, tmp_path):
    out = str(tmp_path / "t.tif")
    assert main(["sobel", str(files / "grey.tif"), out, "--tile", "64"]) == 0
    with tifffile.TiffFile(out) as tif:
        page = tif.pages[0]
        assert page.is_tiled and (page.tilelength, page.tilewidth) == (64, 64)


def test_tiles_and_halo_larger_than_the_image_axis(files, tmp_path):
    # a 31x31 mask on a 60x50 image: along each axis the mask folds back
    # over the whole image (one tile per axis); with a 16-pixel tile
    for mode in ("reflect", "wrap", "mirror"):
        a, b = run_pair(files, ["mean", "--size", "31"], "u16.tif", mode, ["--raw"], ".tif", 16,
                        tmp_path)
        np.testing.assert_array_equal(a, b)


def test_gradient_direction_in_tiles(files, tmp_path):
    w, wd = str(tmp_path / "w.tif"), str(tmp_path / "wd.tif")
    t, td = str(tmp_path / "t.tif"), str(tmp_path / "td.zarr")
    assert main(["gradient", str(files / "rgb.tif"), w, "--direction", wd]) == 0
    assert main(["gradient", str(files / "rgb.tif"), t, "--direction", td, "--tile", "32"]) == 0
    np.testing.assert_array_equal(read(w), read(t))
    np.testing.assert_array_equal(read(wd), read(td))


def test_tiled_memory_is_bounded_by_the_tile(tmp_path):
    # a 2048 x 1536 float32 image (12 MiB) in 128-pixel tiles: the peak of
    # numpy's allocations must stay near a few tiles with their halos, far
    # below the image (a whole-image run allocates several images' worth)
    img = np.random.default_rng(0).random((2048, 1536)).astype(np.float32)
    src, dst = str(tmp_path / "big.tif"), str(tmp_path / "out.tif")
    tifffile.imwrite(src, img, compression="zlib", tile=(256, 256))  # read through zarr
    tracemalloc.start()
    try:
        assert main(["gaussian", "--sigma", "3", src, dst, "--tile", "128", "--raw"]) == 0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < img.nbytes / 3, f"peak {peak / 2**20:.1f} MiB for a {img.nbytes / 2**20:.0f} MiB image"
    np.testing.assert_array_equal(tifffile.imread(dst),
                                  filterkit.gaussian(img, 3.0))


def test_a_failed_tiled_run_leaves_no_file(files, tmp_path, monkeypatch):
    calls = {"n": 0}
    real = filtering.filter_values

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise MemoryError("no memory for this tile")
        return real(*args, **kwargs)

    monkeypatch.setattr(filtering, "filter_values", failing)
    for out in ("t.tif", "t.zarr", "t.npy"):
        calls["n"] = 0
        assert main(["mean", str(files / "grey.tif"), str(tmp_path / out), "--tile", "16"]) == 2
    assert os.listdir(tmp_path) == []  # neither output nor temporary files


def test_tiled_replaces_an_existing_zarr(files, tmp_path):
    out = str(tmp_path / "o.zarr")
    assert main(["mean", str(files / "grey.tif"), out, "--tile", "32"]) == 0
    assert main(["sobel", str(files / "grey.tif"), out, "--tile", "32"]) == 0
    w = str(tmp_path / "w.tif")
    assert main(["sobel", str(files / "grey.tif"), w]) == 0
    np.testing.assert_array_equal(read(out), read(w))
    assert sorted(os.listdir(tmp_path)) == ["o.zarr", "w.tif"]


@pytest.mark.parametrize("argv, message", [
    (["sobel", "IN", "OUT.png", "--tile", "32"], r"--tile writes \.tif, \.tiff, \.zarr, \.npy; got '\.png'"),
    (["sobel", "IN", "OUT.tif", "--tile", "30"], r"--tile must be a multiple of 16"),
    (["sobel", "missing.tif", "OUT.tif", "--tile", "32"], r"missing\.tif: no such file"),
    (["sobel", "IN", "nofolder/OUT.tif", "--tile", "32"], r"the folder .* does not exist"),
    (["sobel", "IN", "IN", "--tile", "32"], r"the output would overwrite the input"),
    (["gradient", "IN", "OUT.tif", "--direction", "d.png", "--tile", "32"], r"d\.png: --tile writes"),
    (["mean", "--size", "4", "IN", "OUT.tif", "--tile", "32"], r"`size` must be odd"),
    (["sobel", "IN", "OUT.tif", "--tile", "32", "--mode", "bogus"], r"`mode` must be one of"),
    (["mean", "--size", "301", "IN", "OUT.tif", "--tile", "32", "--mode", "valid"],
     r"smaller than the mask \(301x301\) with --mode valid"),
    (["sobel", "NOTTIF", "OUT.tif", "--tile", "32"], r"not a readable TIFF"),
])
def test_tiled_errors(files, tmp_path, capsys, argv, message):
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"II*\x00garbage")
    argv = [{"IN": str(files / "grey.tif"), "NOTTIF": str(bad)}.get(a, a) for a in argv]
    argv = [str(tmp_path / a) if a.startswith(("OUT", "nofolder", "d.png")) else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("filterkit: error: ") and len(err.strip().splitlines()) == 1
    assert __import__("re").search(message, err), err
    assert not any(n.startswith("OUT") or n.startswith(".filterkit-") for n in os.listdir(tmp_path))


# ----------------------------------------------------------------------------
# folders: --jobs, skip-and-report, --resume
# ----------------------------------------------------------------------------
@pytest.fixture()
def folder(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(5):
        tifffile.imwrite(str(src / f"a{i}.tif"), np.roll(GREY, i, axis=1))
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    return src


def test_batch_jobs_filters_every_file_and_reports_the_broken_one(folder, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "filterkit", "sobel", str(folder), "-o", str(out),
                           "--ext", ".tif", "--jobs", "2"],
                          capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=PKG_ROOT),
                          cwd=tmp_path, timeout=300)  # not the source tree: `-m` puts the cwd first
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert any(line.startswith("filterkit: error: ") and "broken.png" in line for line in lines)
    assert lines[-1] == "filterkit: 5 written, 1 failed, 0 skipped (already complete)"
    assert "Traceback" not in proc.stderr
    assert sorted(os.listdir(out)) == [f"a{i}.tif" for i in range(5)]
    for i in range(5):
        single = tmp_path / "single.tif"
        assert main(["sobel", str(folder / f"a{i}.tif"), str(single)]) == 0
        np.testing.assert_array_equal(tifffile.imread(str(out / f"a{i}.tif")),
                                      tifffile.imread(str(single)))


def test_batch_resume_skips_complete_outputs_only(folder, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["mean", str(folder), "-o", str(out), "--ext", ".tif"]) == 2
    capsys.readouterr()
    # one output truncated (as by a crash of another program), one older than its input
    data = (out / "a1.tif").read_bytes()
    (out / "a1.tif").write_bytes(data[: len(data) // 2])
    os.utime(out / "a2.tif", (1_000_000, 1_000_000))
    before = {n: os.path.getmtime(out / n) for n in ("a0.tif", "a3.tif", "a4.tif")}
    assert main(["mean", str(folder), "-o", str(out), "--ext", ".tif", "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == "filterkit: 2 written, 1 failed, 3 skipped (already complete)"
    assert {n: os.path.getmtime(out / n) for n in before} == before
    single = tmp_path / "single.tif"
    assert main(["mean", str(folder / "a1.tif"), str(single)]) == 0
    np.testing.assert_array_equal(tifffile.imread(str(out / "a1.tif")), tifffile.imread(str(single)))


def test_resume_single_file_and_tiled(files, tmp_path, capsys):
    out = str(tmp_path / "o.zarr")
    assert main(["sobel", str(files / "grey.tif"), out, "--tile", "32", "--resume"]) == 0
    stamp = os.path.getmtime(out)
    assert main(["sobel", str(files / "grey.tif"), out, "--tile", "32", "--resume"]) == 0
    assert os.path.getmtime(out) == stamp
    assert "1 skipped" in capsys.readouterr().err


def test_is_complete_tells_whole_outputs_from_truncated_ones(tmp_path):
    from PIL import Image

    from filterkit.cli.images import is_complete

    whole = {"a.png": lambda p: Image.fromarray(GREY).save(p),
             "a.tif": lambda p: tifffile.imwrite(p, GREY),
             "t.tif": lambda p: tifffile.imwrite(p, FLOAT, tile=(32, 32)),
             "a.npy": lambda p: np.save(p, GREY)}
    for name, write in whole.items():
        path = str(tmp_path / name)
        write(path)
        assert is_complete(path), name
        data = open(path, "rb").read()
        with open(path, "wb") as fh:  # cut in the middle of the pixel data
            fh.write(data[: len(data) * 2 // 3])
        assert not is_complete(path), name
    z = str(tmp_path / "a.zarr")
    zarr.open_array(z, mode="w", shape=(4, 4), dtype="u1")[:] = 1
    assert is_complete(z)
    assert not is_complete(str(tmp_path / "missing.png"))


@pytest.mark.parametrize("option", ["--jobs", "--tile"])
def test_jobs_and_tile_must_be_positive(capsys, option):
    assert main(["sobel", "a.png", "-o", "out", option, "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("filterkit: error: ") and f"{option}: must be a positive integer" in err

"""The command line's whole-image path: files read and written without
extra copies (filterkit/cli/images.py, filterkit/cli/pictures.py).

- An uncompressed TIFF and a .npy are memory-mapped, not read into a
  private array; the result is written as it is (no float32 copy of a
  float32 result), a TIFF of any dtype through tifffile.
- High-pass results become pictures a band of rows at a time, with the
  same float64 operations as on whole arrays, so the same pixels.
- The result equals --tile's bit for bit on the files --tile reads a tile
  at a time (its own tests hold --tile against the whole image on small
  and compressed files: test_cli_tiles.py), and the peak memory of a run
  is the input and the output.
"""

from __future__ import annotations

import json
import mmap
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

tifffile = pytest.importorskip("tifffile")

from filterkit.cli import main  # noqa: E402
from helpers import PEAK_FROM_HERE  # noqa: E402
from filterkit.cli.images import read_image, write_image  # noqa: E402
from filterkit.cli.pictures import SMALL_VALUES, largest_magnitude, to_picture  # noqa: E402

RNG = np.random.default_rng(19)
FLOAT = RNG.random((300, 257), dtype=np.float32)
RGB = (RNG.random((120, 130, 3)) * 255).astype(np.uint8)


def read(path: str) -> np.ndarray:
    return np.load(path) if path.endswith(".npy") else tifffile.imread(path)


def backed_by_mmap(arr: np.ndarray) -> bool:
    """Is the memory of `arr` a memory map (somewhere down its bases)?"""
    base = arr
    while base is not None:
        if isinstance(base, (np.memmap, mmap.mmap)):
            return True
        base = getattr(base, "base", None)
    return False


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("whole")
    tifffile.imwrite(str(d / "float.tif"), FLOAT)                 # uncompressed: memory-mapped
    np.save(str(d / "float.npy"), FLOAT)
    tifffile.imwrite(str(d / "rgb.tif"), RGB, photometric="rgb")
    Image.fromarray(RGB).save(str(d / "rgb.png"))
    np.save(str(d / "mask.npy"), RNG.random((9, 9)))              # non-negative: low-pass
    return d


# ----------------------------------------------------------------------------
# reading without a copy
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["float.tif", "float.npy", "rgb.tif"])
def test_uncompressed_inputs_are_memory_mapped(files, name):
    arr = read_image(str(files / name))
    assert backed_by_mmap(arr) and not arr.flags.writeable
    assert type(arr) is np.ndarray  # results computed from it are plain arrays
    np.testing.assert_array_equal(arr, FLOAT if name.startswith("float") else RGB)


def test_other_tiffs_are_decoded(tmp_path):
    # compressed, or big-endian (the filters would copy it anyway): a
    # private array of native float32 with the same values
    tifffile.imwrite(str(tmp_path / "zip.tif"), FLOAT, compression="zlib")
    tifffile.imwrite(str(tmp_path / "big.tif"), FLOAT, byteorder=">")
    for name in ("zip.tif", "big.tif"):
        arr = read_image(str(tmp_path / name))
        assert arr.dtype == np.float32 and arr.dtype.isnative and not backed_by_mmap(arr)
        np.testing.assert_array_equal(arr, FLOAT)


# ----------------------------------------------------------------------------
# whole image = --tile, bit for bit, on the files both read the same way
# ----------------------------------------------------------------------------

COMMANDS = [["convolve", "--mask", "MASK"], ["gaussian", "--sigma", "2"], ["sobel"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize("src, out, extra", [
    ("float.tif", ".tif", []), ("float.tif", ".tif", ["--raw"]), ("float.tif", ".npy", ["--raw"]),
    ("float.npy", ".npy", ["--raw"]), ("float.npy", ".tif", []),
    ("rgb.tif", ".tif", []), ("rgb.png", ".tif", []),
])
def test_whole_image_equals_tiled(files, tmp_path, command, src, out, extra):
    command = [str(files / "mask.npy") if c == "MASK" else c for c in command]
    whole, tiled = str(tmp_path / ("whole" + out)), str(tmp_path / ("tiled" + out))
    assert main(command + [str(files / src), whole] + extra) == 0
    assert main(command + [str(files / src), tiled, "--tile", "64"] + extra) == 0
    a, b = read(whole), read(tiled)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a, b)
    if "--raw" in extra or command[0] != "sobel" and src.startswith("float"):
        assert a.dtype == np.float32  # float values kept as float32


# ----------------------------------------------------------------------------
# writing: TIFF through tifffile, pictures that Pillow reads as before
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("shape, dtype, mode", [
    ((40, 30), np.uint8, "L"), ((40, 30, 3), np.uint8, "RGB"), ((40, 30, 4), np.uint8, "RGBA"),
    ((40, 30), np.uint16, "I;16"), ((40, 30, 2), np.uint8, "LA")])
def test_tiff_pictures_read_back_the_same(tmp_path, shape, dtype, mode):
    data = (RNG.random(shape) * np.iinfo(dtype).max).astype(dtype)
    path = str(tmp_path / "p.tif")
    write_image(path, data)
    with Image.open(path) as im:
        assert im.mode == mode
        np.testing.assert_array_equal(np.asarray(im), data)
    np.testing.assert_array_equal(tifffile.imread(path), data)


def test_float32_results_are_written_as_they_are(tmp_path, monkeypatch):
    # no float32 copy of a float32 result before it is written
    written = []
    monkeypatch.setattr(tifffile, "imwrite", lambda path, data, **kw: written.append(data))
    data = FLOAT.copy()
    write_image(str(tmp_path / "f.tif"), data)
    assert written and written[0] is data


# ----------------------------------------------------------------------------
# pictures a band at a time: the same pixels as the float64 formula
# ----------------------------------------------------------------------------

def reference_picture(values, kind, depth16, invert, peak):
    """The formula on whole float64 arrays (as filterkit computed it before
    banding): out = round(full * (1/2 + v / (2 peak))) signed, round(full *
    v / peak) positive, 1 - that inverted, clipped."""
    v = values.astype(np.float64)
    if kind == "signed":
        unit = 0.5 + v / (2 * peak) if peak > 0 else np.full(v.shape, 0.5)
    else:
        unit = v / peak if peak > 0 else np.zeros(v.shape)
    if invert:
        unit = 1.0 - unit
    full = 65535 if depth16 else 255
    return np.clip(np.rint(unit * full), 0, full).astype(np.uint16 if depth16 else np.uint8)


@pytest.mark.parametrize("shape", [(2, 1), (7,), (33, 45), (2200, 1000), (1200, 700, 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pictures_equal_the_float64_formula(shape, dtype):
    values = (RNG.standard_normal(shape) * 40).astype(dtype)
    if values.ndim >= 2:
        values = values[1:, ::2]  # a strided view, as --tile's cut blocks are
    if shape[0] > 1000:
        assert values.size >= SMALL_VALUES  # shared among threads
    for kind, v in (("signed", values), ("positive", np.abs(values))):
        peak = largest_magnitude(v)
        assert peak == float(np.max(np.abs(v)))
        for depth16 in (False, True):
            for invert in (False, True):
                for p in (peak, 0.6 * peak, 0.0):  # 0.6: values beyond full scale are clipped
                    got = to_picture(v, kind, depth16, invert, p)
                    want = reference_picture(v, kind, depth16, invert, p)
                    assert got.dtype == want.dtype
                    np.testing.assert_array_equal(got, want)


def test_largest_magnitude_of_non_finite_values():
    v = np.ones((1200, 1000), np.float32)
    v[700, 3] = -np.inf
    assert largest_magnitude(v) == np.inf
    v[1100, 5] = np.nan
    assert np.isnan(largest_magnitude(v))
    assert largest_magnitude(np.zeros((0, 4))) == 0.0


# ----------------------------------------------------------------------------
# peak memory of a whole-image run: the input and the output
# ----------------------------------------------------------------------------

PEAK = r"""
import json, sys
from filterkit.cli import main
small, big, out, argv = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
assert main(argv + [small, out]) == 0  # every module loaded

""" + PEAK_FROM_HERE + r"""assert main(argv + [big, out]) == 0
print(json.dumps({"extra": status("VmHWM:") - before}))
"""

#: beyond the input and the output: the threads' picture bands, Python's
#: objects, the allocator's slack
PEAK_SLACK = 16 * 2 ** 20


@pytest.mark.skipif(not os.access("/proc/self/clear_refs", os.W_OK),
                    reason="needs Linux's /proc/self/clear_refs to reset the peak RSS")
@pytest.mark.parametrize("argv, out", [(["convolve", "--raw", "--mask", "MASK"], ".tif"),
                                       (["sobel"], ".tif"), (["gaussian", "--raw"], ".npy")])
def test_whole_image_peak_memory_is_the_input_and_the_output(tmp_path, argv, out):
    # a 4096^2 float32 TIFF (64 MiB): the mapped input (1x), the float32
    # result (1x) and for sobel its 8-bit picture (0.25x) are all a run
    # holds, 2.0-2.3x; the bound is 2.5x plus the slack.  Before, the TIFF
    # was read into an array and the result copied before it was written
    # (3x), and sobel's picture took five float64 temporaries (9.7x)
    image = np.random.default_rng(0).random((4096, 4096), dtype=np.float32)
    big, small = str(tmp_path / "big.tif"), str(tmp_path / "small.tif")
    tifffile.imwrite(big, image)
    tifffile.imwrite(small, image[:64, :64])
    mask = str(tmp_path / "mask.npy")
    np.save(mask, np.random.default_rng(1).random((9, 9)))
    argv = [mask if a == "MASK" else a for a in argv]
    res = subprocess.run([sys.executable, "-c", PEAK, small, big, str(tmp_path / ("o" + out))]
                         + argv, capture_output=True, text=True, timeout=300,
                         cwd=str(tmp_path), env=dict(os.environ, FILTERKIT_NUM_THREADS="2"))
    assert res.returncode == 0, res.stderr
    extra = json.loads(res.stdout.strip().splitlines()[-1])["extra"]
    assert extra <= 2.5 * image.nbytes + PEAK_SLACK, f"{extra / image.nbytes:.2f} x the image"

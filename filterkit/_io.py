"""Reading and writing images for the command line (Pillow, tifffile, numpy).

Writing is atomic: the data goes to a temporary file in the destination
folder, which replaces the destination only when complete, so a failure
never leaves a partial file and never touches the input.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, Dict, Tuple

import numpy as np

#: output extensions and their Pillow format names
FORMATS: Dict[str, str] = {
    ".png": "PNG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".bmp": "BMP",
}
#: extensions that can hold the float result unchanged (--raw)
RAW_FORMATS = (".tif", ".tiff", ".npy")
#: scikit-image's bundled images that need no download
SAMPLES = ("astronaut", "brick", "camera", "cat", "checkerboard", "chelsea", "clock",
           "coffee", "coins", "grass", "gravel", "horse", "moon", "page", "rocket", "text")


class CLIError(Exception):
    """A user error: printed as one ``filterkit: error: ...`` line, exit code 2."""


def read_image(path: str) -> np.ndarray:
    """Read an image as an array: (H, W) grey or (H, W, C) colour.

    8-bit images give uint8, 16-bit grey gives uint16; ``sample:NAME``
    reads one of scikit-image's bundled images.
    """
    if path.startswith("sample:"):
        return _read_sample(path[len("sample:"):])
    if not os.path.exists(path):
        raise CLIError(f"{path}: no such file")
    if os.path.isdir(path) and path.rstrip("/" + os.sep).lower().endswith(".zarr"):
        return np.asarray(open_zarr(path)[...])
    if os.path.isdir(path):
        raise CLIError(f"{path}: is a folder (give -o DIR to filter a folder)")
    if path.lower().endswith(".npy"):
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise CLIError(f"{path}: not a readable .npy file ({exc})") from None
        return arr
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            return _pil_to_array(im)
    except UnidentifiedImageError:
        raise CLIError(f"{path}: not an image Pillow can read") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise CLIError(f"{path}: unreadable or truncated image ({exc})") from None


def open_zarr(path: str) -> Any:
    """A zarr array on disk, opened for reading (nothing is read yet)."""
    try:
        import zarr
    except ImportError:
        raise CLIError(f"{path}: reading .zarr needs zarr: pip install 'filterkit[tiles]'") from None
    try:
        return zarr.open_array(path, mode="r")
    except Exception as exc:  # zarr raises many kinds for a folder that is not an array
        raise CLIError(f"{path}: not a readable zarr array ({exc})") from None


def _pil_to_array(im) -> np.ndarray:
    mode = im.mode
    if mode in ("1", "L", "P", "LA", "PA", "CMYK", "YCbCr", "HSV", "LAB"):
        if mode in ("1", "L"):
            return np.asarray(im.convert("L"))
        if mode in ("LA", "PA"):
            return np.asarray(im.convert("LA"))
        if mode == "P":
            return np.asarray(im.convert("RGBA" if "transparency" in im.info else "RGB"))
        return np.asarray(im.convert("RGB"))
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(im).astype(np.uint16)
    if mode == "I":
        arr = np.asarray(im)
        if arr.min() >= 0 and arr.max() <= 65535:
            return arr.astype(np.uint16)
        return arr.astype(np.int32)
    if mode == "F":
        return np.asarray(im, dtype=np.float32)
    if mode in ("RGB", "RGBA"):
        return np.asarray(im)
    return np.asarray(im.convert("RGB"))


def _read_sample(name: str) -> np.ndarray:
    if name not in SAMPLES:
        raise CLIError(f"sample:{name}: unknown sample; the samples are {', '.join(SAMPLES)}")
    try:
        import skimage.data
    except ImportError:
        raise CLIError("sample images need scikit-image: pip install 'filterkit[samples]'") from None
    try:
        return np.asarray(getattr(skimage.data, name)())
    except Exception as exc:  # a sample that needs a download on this machine
        raise CLIError(f"sample:{name}: could not be loaded ({exc})") from None


def check_output_path(path: str, raw: bool) -> str:
    """The output's extension, after checking it can be written."""
    ext = os.path.splitext(path)[1].lower()
    if raw:
        if ext not in RAW_FORMATS:
            raise CLIError(f"{path}: --raw writes {', '.join(RAW_FORMATS)}; got '{ext or 'no extension'}'")
    elif ext not in FORMATS:
        raise CLIError(f"{path}: unknown output extension '{ext or 'none'}'; "
                       f"use one of {', '.join(sorted(FORMATS))}")
    check_folder(path)
    return ext


def check_folder(path: str) -> None:
    """The folder an output goes into must exist."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CLIError(f"{path}: the folder {folder} does not exist")


def write_image(path: str, data: np.ndarray) -> None:
    """Write `data` atomically: integer image data through Pillow, or raw floats."""
    ext = os.path.splitext(path)[1].lower()
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".filterkit-", suffix=ext)
    except OSError as exc:
        raise CLIError(f"{path}: cannot write here ({exc.strerror or exc})") from None
    os.close(fd)
    try:
        if ext == ".npy":
            np.save(tmp, data, allow_pickle=False)
        elif data.dtype.kind == "f":
            _write_float_tiff(tmp, data)
        else:
            _write_pillow(tmp, data, FORMATS[ext])
        os.chmod(tmp, 0o666 & ~umask())  # mkstemp makes 0600; give the usual mode
        os.replace(tmp, path)
    except CLIError:
        _remove(tmp)
        raise
    except (OSError, ValueError) as exc:
        _remove(tmp)
        raise CLIError(f"{path}: could not be written ({exc})") from None
    except BaseException:
        _remove(tmp)
        raise


def umask() -> int:
    """The process's file-creation mask (read without changing it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def _write_float_tiff(path: str, data: np.ndarray) -> None:
    try:
        import tifffile
    except ImportError:
        tifffile = None
    if tifffile is not None:
        tifffile.imwrite(path, data.astype(np.float32))
        return
    from PIL import Image

    if data.ndim != 2:
        raise CLIError(f"{path}: a float colour TIFF needs the tifffile package")
    Image.fromarray(data.astype(np.float32), mode="F").save(path, format="TIFF")


def _write_pillow(path: str, data: np.ndarray, fmt: str) -> None:
    from PIL import Image

    if data.dtype == np.uint16:
        if data.ndim == 2 and fmt in ("PNG", "TIFF"):
            Image.fromarray(data).save(path, format=fmt)
            return
        data = (data >> 8).astype(np.uint8)  # 16-bit colour or JPEG/BMP: 8 bits
    if data.ndim == 3 and data.shape[2] == 4 and fmt in ("JPEG",):
        data = data[..., :3]
    if data.dtype != np.uint8:  # other integer images: saturate, never wrap
        data = np.clip(data, 0, 255)
    Image.fromarray(np.ascontiguousarray(data.astype(np.uint8))).save(path, format=fmt)


def is_complete(path: str) -> bool:
    """Does `path` hold a whole image that filterkit (or anything) wrote?

    Cheap checks that catch a truncated file: a TIFF's image data lies
    inside the file, a .npy or .zarr array opens, other formats pass
    Pillow's ``verify``.  (filterkit's own outputs are renamed into place
    when complete, so they are either whole or absent.)"""
    if not os.path.exists(path):
        return False
    ext = os.path.splitext(path.rstrip("/" + os.sep))[1].lower()
    try:
        if ext == ".zarr":
            open_zarr(path)
            return True
        if ext == ".npy":
            np.load(path, mmap_mode="r", allow_pickle=False)
            return True
        if ext in (".tif", ".tiff"):
            try:
                import tifffile
            except ImportError:
                tifffile = None
            if tifffile is not None:
                size = os.path.getsize(path)
                with tifffile.TiffFile(path) as tif:
                    for page in tif.pages:
                        ends = [o + n for o, n in zip(page.dataoffsets, page.databytecounts)]
                        if not ends or max(ends) > size:
                            return False
                return True
        from PIL import Image

        with Image.open(path) as im:
            im.verify()
        return True
    except Exception:  # any failure to open means: not complete
        return False


def same_file(a: str, b: str) -> bool:
    """Do two paths name the same file (existing or not)?"""
    if os.path.exists(a) and os.path.exists(b):
        return os.path.samefile(a, b)
    return os.path.realpath(a) == os.path.realpath(b)


def image_files(folder: str) -> Tuple[str, ...]:
    """The files of a folder that look like images, sorted."""
    exts = tuple(FORMATS) + (".npy",)
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith(exts))
    return tuple(os.path.join(folder, n) for n in names)

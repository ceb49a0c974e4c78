"""Reading and writing images for the command line (Pillow, tifffile, numpy).

Writing is atomic: the data goes to a temporary file in the destination
folder, which replaces the destination only when complete, so a failure
never leaves a partial file and never touches the input.
"""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

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


#: the most pixels an image decoded whole may have unless raised: Pillow's
#: decompression-bomb threshold (2 x PIL.Image.MAX_IMAGE_PIXELS, about
#: 13377 x 13377), so that a small file claiming a huge size is refused
#: before its pixels are allocated
DEFAULT_MAX_PIXELS = 178_956_970
#: the environment variable that sets the limit (``--max-pixels`` wins)
MAX_PIXELS_ENV = "FILTERKIT_MAX_PIXELS"

#: EXIF/TIFF orientation -> (transpose, flip rows, flip columns) that shows
#: the stored pixels upright, as viewers and PIL.ImageOps.exif_transpose do
ORIENTATIONS: Dict[int, Tuple[bool, bool, bool]] = {
    1: (False, False, False), 2: (False, False, True), 3: (False, True, True),
    4: (False, True, False), 5: (True, False, False), 6: (True, False, True),
    7: (True, True, True), 8: (True, True, False)}


def parse_max_pixels(text: str, origin: str) -> Optional[int]:
    """A pixel limit: a positive integer, or ``none`` for no limit.

    Parameters
    ----------
    text : str
        The value as given.
    origin : str
        Where it comes from (``--max-pixels`` or the environment
        variable), for the message.

    Returns
    -------
    int or None
        The limit, None for none.

    Raises
    ------
    CLIError
        When `text` is neither.
    """
    value = text.strip().lower().replace("_", "")
    if value == "none":
        return None
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if limit < 1:
        raise CLIError(f"{origin}: must be a positive number of pixels or 'none'; got {text!r}")
    return limit


def check_pixels(path: str, shape: Sequence[int], max_pixels: Optional[int], tile_hint: bool) -> None:
    """Refuse to decode an image of more than `max_pixels` pixels whole.

    `tile_hint` says whether ``--tile`` would read this file a tile at a
    time (a TIFF or a .zarr), and so is worth suggesting.
    """
    h, w = int(shape[0]), int(shape[1])
    if max_pixels is None or h * w <= max_pixels:
        return
    tile = "filter it with --tile N (which reads it a tile at a time), or " if tile_hint else ""
    raise CLIError(f"{path}: {h} x {w} = {h * w:,} pixels is over the limit of {max_pixels:,} "
                   f"(a guard against decompression bombs); {tile}raise the limit with "
                   f"--max-pixels N or {MAX_PIXELS_ENV}=N ('none': no limit)")


def orient(array: np.ndarray, orientation: int) -> np.ndarray:
    """The stored pixels of an image with an EXIF/TIFF `orientation` tag
    (1 to 8) turned upright, as PIL.ImageOps.exif_transpose turns them."""
    transpose, flip_rows, flip_cols = ORIENTATIONS.get(int(orientation), ORIENTATIONS[1])
    if transpose:
        array = array.swapaxes(0, 1)
    if flip_rows:
        array = array[::-1]
    if flip_cols:
        array = array[:, ::-1]
    return array


def read_image(path: str, max_pixels: Optional[int] = DEFAULT_MAX_PIXELS,
               tiled: bool = False) -> np.ndarray:
    """Read an image as an array: (H, W) grey or (H, W, C) colour.

    Parameters
    ----------
    path : str
        An image file (PNG, TIFF, JPEG, BMP, ... through Pillow; TIFF
        through tifffile when installed), a ``.npy`` or ``.zarr`` array, or
        ``sample:NAME`` for one of scikit-image's bundled images.
    max_pixels : int or None, optional
        Refuse images of more pixels (default :data:`DEFAULT_MAX_PIXELS`),
        checked before any pixel is decoded; None for no limit.  ``.npy``
        files are not limited: their size on disk is their size in memory.
    tiled : bool, optional
        Whether the caller reads in tiles already (no ``--tile`` hint).

    Returns
    -------
    ndarray
        8-bit images give uint8, 16-bit ones uint16; 32-bit integer and
        float TIFFs keep their type and values.  The EXIF (or TIFF)
        orientation is applied, so the picture is upright as viewers show it.

    Raises
    ------
    CLIError
        For a missing, unreadable or too large file.
    """
    if path.startswith("sample:"):
        return _read_sample(path[len("sample:"):])
    if not os.path.exists(path):
        raise CLIError(f"{path}: no such file")
    if os.path.isdir(path) and path.rstrip("/" + os.sep).lower().endswith(".zarr"):
        z = open_zarr(path)
        if len(z.shape) >= 2:
            check_pixels(path, z.shape, max_pixels, not tiled)
        return np.asarray(z[...])
    if os.path.isdir(path):
        raise CLIError(f"{path}: is a folder (give -o DIR to filter a folder)")
    if path.lower().endswith(".npy"):
        try:
            # memory-mapped: the filter reads the file's pages where they
            # are, with no copy into a private array first
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise CLIError(f"{path}: not a readable .npy file ({exc})") from None
        return mapped(arr)
    if path.lower().endswith((".tif", ".tiff")):
        arr = _read_tiff(path, max_pixels, tiled)
        if arr is not None:
            return arr
    return _read_pillow(path, max_pixels, tiled)


def _read_pillow(path: str, max_pixels: Optional[int], tiled: bool) -> np.ndarray:
    from PIL import Image, ImageOps, UnidentifiedImageError

    # Pillow's own bomb check would raise (or warn) with a traceback's
    # worth of text; ours says what to do, so Pillow's is off meanwhile
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        with Image.open(path) as im:
            is_tiff = im.format == "TIFF"
            check_pixels(path, (im.size[1], im.size[0]), max_pixels, is_tiff and not tiled)
            if is_tiff:
                _check_pillow_tiff(path, im)
            im.load()
            if not is_tiff:  # Pillow applies a TIFF's orientation itself when loading
                try:
                    im = ImageOps.exif_transpose(im)
                except Exception:  # broken EXIF data: the pixels as stored
                    pass
            return _pil_to_array(im)
    except UnidentifiedImageError:
        raise CLIError(f"{path}: not an image Pillow can read") from None
    except Image.DecompressionBombError as exc:  # a limit Pillow checks elsewhere
        raise CLIError(f"{path}: {exc}; raise the limit with --max-pixels N or "
                       f"{MAX_PIXELS_ENV}=N") from None
    except (OSError, SyntaxError, ValueError, struct.error, EOFError) as exc:
        raise CLIError(f"{path}: unreadable or truncated image ({exc})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def _check_pillow_tiff(path: str, im: Any) -> None:
    """A TIFF that Pillow (without tifffile) would read wrongly."""
    hint = "; install tifffile to read it: pip install 'filterkit[tiles]'"
    if im.tag_v2.get(274, 1) in (5, 6, 7, 8):
        # Pillow turns such TIFFs wrongly (its data and size disagree)
        raise CLIError(f"{path}: a TIFF turned by its orientation tag"
                       f" ({im.tag_v2.get(274)}){hint}")
    bits = im.tag_v2.get(258, (8,))
    bits = bits if isinstance(bits, tuple) else (bits,)
    if im.mode in ("RGB", "RGBA") and max(bits) > 8:
        raise CLIError(f"{path}: a {max(bits)}-bit colour TIFF (Pillow would keep 8 bits){hint}")


def tiff_page(tif: Any) -> Tuple[Any, int]:
    """The first image of a TIFF that tifffile reads as it is (grey or RGB,
    at least 8 bits a sample, samples together), and its orientation;
    (None, 1) for those Pillow should read (palette, CMYK, 1-bit, ...)."""
    page = tif.pages[0]
    photometric = int(getattr(page, "photometric", -1))
    planar = int(getattr(page, "planarconfig", 1) or 1)
    if (photometric not in (1, 2) or int(page.bitspersample) < 8 or planar != 1
            or len(page.shape) not in (2, 3) or int(getattr(page, "imagedepth", 1) or 1) > 1):
        return None, 1
    tag = page.tags.get(274)
    orientation = int(tag.value) if tag is not None else 1
    return page, orientation if orientation in ORIENTATIONS else 1


def _read_tiff(path: str, max_pixels: Optional[int], tiled: bool) -> Optional[np.ndarray]:
    """A TIFF through tifffile (every sample type, 16-bit colour, floats),
    upright; None when tifffile is missing or the TIFF is for Pillow."""
    try:
        import tifffile
    except ImportError:
        return None
    try:
        with tifffile.TiffFile(path) as tif:
            page, orientation = tiff_page(tif)
            if page is None:
                return None
            shape = page.shape
            check_pixels(path, shape, max_pixels, not tiled)
            arr = _memmap_page(path, page)
            if arr is None:
                arr = page.asarray()
    except CLIError:
        raise
    except MemoryError:
        raise
    except Exception as exc:  # tifffile raises its own TiffFileError and others
        raise CLIError(f"{path}: not a readable TIFF ({exc})") from None
    if arr.dtype == np.float16:  # the filters compute in float32 at least
        arr = arr.astype(np.float32)
    return np.ascontiguousarray(orient(arr, orientation))


def mapped(arr: np.ndarray) -> np.ndarray:
    """A memory-mapped array as a plain ndarray view (the mapping stays
    open while the view lives), so that arrays computed from it are plain
    arrays too; any other array as it is."""
    return np.asarray(arr) if isinstance(arr, np.memmap) else arr


def _memmap_page(path: str, page: Any) -> Optional[np.ndarray]:
    """The pixels of an uncompressed, contiguous TIFF page in native byte
    order, memory-mapped read-only: the filter reads them from the page
    cache with no copy (reading the file into an array first took as long
    as a 9 x 9 filter of it).  None for any other page, which is decoded."""
    if not getattr(page, "is_memmappable", False):
        return None
    import tifffile

    try:
        arr = tifffile.memmap(path, page=0, mode="r")
    except Exception:  # not mappable after all (a special file, ...): decoded
        return None
    if arr.shape != tuple(page.shape) or not (arr.dtype.isnative and arr.flags.aligned):
        return None  # the filters would copy it anyway; decode it instead
    return mapped(arr)


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
    """The output's extension, after checking it can be written.

    Parameters
    ----------
    path : str
        The output file.
    raw : bool
        Whether it takes the float result unchanged (``--raw``).

    Returns
    -------
    str
        The extension, lower case.

    Raises
    ------
    CLIError
        For an extension filterkit does not write, a missing folder, or a
        folder in the output's place.
    """
    ext = os.path.splitext(path)[1].lower()
    if raw:
        if ext not in RAW_FORMATS:
            raise CLIError(f"{path}: --raw writes {', '.join(RAW_FORMATS)}; got '{ext or 'no extension'}'")
    elif ext not in FORMATS:
        raise CLIError(f"{path}: unknown output extension '{ext or 'none'}'; "
                       f"use one of {', '.join(sorted(FORMATS))}")
    check_folder(path)
    if os.path.isdir(path):
        raise CLIError(f"{path}: is a folder; give a file name")
    return ext


def check_folder(path: str) -> None:
    """The folder an output goes into must exist."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CLIError(f"{path}: the folder {folder} does not exist")


def file_key(path: str) -> Tuple[Any, ...]:
    """What identifies the file `path` names: its device and inode when it
    exists (links and hard links included), else its real path."""
    try:
        st = os.stat(path)
    except OSError:
        return ("path", os.path.normcase(os.path.realpath(path)))
    return ("inode", st.st_dev, st.st_ino)


def check_distinct(inputs: Sequence[str], outputs: Sequence[str],
                   sources: Optional[Sequence[str]] = None) -> None:
    """No output may be an input, nor another output, compared as files
    (real paths, links and hard links); checked before anything is read or
    written.

    Parameters
    ----------
    inputs : sequence of str
        Every file read (``sample:NAME`` is none).
    outputs : sequence of str
        Every file to be written.
    sources : sequence of str, optional
        The input each output is made from (batch mode), for the message.

    Raises
    ------
    CLIError
        Naming the first clash.
    """
    read = {file_key(p): p for p in inputs if not p.startswith("sample:")}
    written: Dict[Tuple[Any, ...], int] = {}
    for i, out in enumerate(outputs):
        key = file_key(out)
        if key in read:
            src = read[key]
            same = os.path.abspath(src) == os.path.abspath(out)
            raise CLIError(f"{out}: the output would overwrite the input"
                           + ("" if same else f" {src}"))
        if key in written:
            j = written[key]
            if sources is not None and file_key(sources[j]) == file_key(sources[i]):
                raise CLIError(f"{sources[i]}: given twice as an input")
            if sources is not None:
                raise CLIError(f"{sources[j]} and {sources[i]} would both be written to {out}; "
                               "give them different names or output folders")
            raise CLIError(f"{out}: named twice as an output")
        written[key] = i


class Staging:
    """Outputs written to temporary files beside their destinations and
    renamed into place together when every one is complete, so that a
    command that fails writes none of them.

    Use as a context manager: on leaving it normally the files are renamed,
    on an exception (or Ctrl-C) the temporary files are removed.
    """

    def __init__(self) -> None:
        self._pending: List[Tuple[str, str, Callable[[str, str], None]]] = []

    def add(self, tmp: str, path: str, replace: Optional[Callable[[str, str], None]] = None) -> None:
        """Rename the complete temporary `tmp` to `path` on success."""
        self._pending.append((tmp, path, replace or _replace_file))

    def commit(self) -> None:
        """Rename every staged file into place."""
        while self._pending:
            tmp, path, replace = self._pending[0]
            try:
                replace(tmp, path)
            except OSError as exc:
                raise CLIError(f"{path}: could not be written ({exc.strerror or exc})") from None
            self._pending.pop(0)

    def discard(self) -> None:
        """Remove every staged temporary file."""
        while self._pending:
            tmp = self._pending.pop()[0]
            if os.path.isdir(tmp) and not os.path.islink(tmp):
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                _remove(tmp)

    def __enter__(self) -> "Staging":
        return self

    def __exit__(self, kind: Any, value: Any, tb: Any) -> None:
        if kind is None:
            try:
                self.commit()
            finally:
                self.discard()  # what could not be renamed
        else:
            self.discard()


def _replace_file(tmp: str, path: str) -> None:
    os.chmod(tmp, 0o666 & ~umask())  # mkstemp makes 0600; give the usual mode
    os.replace(tmp, path)


def write_image(path: str, data: np.ndarray, stage: Optional[Staging] = None) -> None:
    """Write `data` atomically: a temporary file renamed when complete.

    Parameters
    ----------
    path : str
        The destination: ``.png``, ``.tif``/``.tiff``, ``.jpg``/``.jpeg``,
        ``.bmp`` or ``.npy`` (the array as it is).
    data : ndarray
        PNG, JPEG and BMP through Pillow (uint8, or uint16 grey); TIFF
        through tifffile when installed, every dtype as it is (8-bit grey +
        alpha through Pillow), else through Pillow.
    stage : Staging, optional
        Leave the complete temporary file to `stage`, which renames it with
        the command's other outputs; default: rename it now.

    Raises
    ------
    CLIError
        When it cannot be written (the temporary file is removed).
    """
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
        elif ext in (".tif", ".tiff") and (_tifffile_holds(data) or not _pillow_holds(data)):
            _write_deep_tiff(tmp, data)
        elif data.dtype.kind == "f":
            raise CLIError(f"{path}: float values need .tif, .tiff or .npy")
        else:
            _write_pillow(tmp, data, FORMATS[ext])
        if stage is not None:
            stage.add(tmp, path)
        else:
            _replace_file(tmp, path)
    except CLIError:
        _remove(tmp)
        raise
    except (OSError, ValueError) as exc:
        _remove(tmp)
        raise CLIError(f"{path}: could not be written ({_reason(exc)})") from None
    except BaseException:
        _remove(tmp)
        raise


def _reason(exc: BaseException) -> str:
    """An OSError's text without the temporary file's name."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


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


def _pillow_holds(data: np.ndarray) -> bool:
    """Whether Pillow writes `data` to TIFF unchanged: 8-bit, 16-bit grey."""
    return data.dtype == np.uint8 or (data.dtype == np.uint16 and data.ndim == 2)


def _tifffile_holds(data: np.ndarray) -> bool:
    """Whether tifffile is installed and writes `data` as a TIFF that Pillow
    and viewers read as the same picture: grey, RGB or RGBA (grey + alpha
    stays with Pillow, which writes it as an LA picture).  tifffile writes
    the array's memory as it is, where Pillow copies it into an image of
    its own first: 0.06 s against 0.6 s for an 8192^2 RGB picture."""
    if data.ndim == 3 and data.shape[2] not in (3, 4):
        return False
    import importlib.util

    return importlib.util.find_spec("tifffile") is not None


def _write_deep_tiff(path: str, data: np.ndarray) -> None:
    """Any integer or float array (32-bit, 16-bit colour, ...) as it is."""
    try:
        import tifffile
    except ImportError:
        tifffile = None
    if data.dtype.kind == "f":
        data = data.astype(np.float32, copy=False)  # float32 results as they are
    if tifffile is not None:
        colour = data.ndim == 3 and data.shape[2] in (3, 4) and data.dtype.kind == "u"
        tifffile.imwrite(path, data, photometric="rgb" if colour else "minisblack",
                         extrasamples=("unassalpha",) if colour and data.shape[2] == 4 else None)
        return
    from PIL import Image

    if data.ndim == 2 and data.dtype in (np.int32, np.float32):
        Image.fromarray(data, mode="I" if data.dtype == np.int32 else "F").save(path, format="TIFF")
        return
    raise CLIError(f"{path}: a {data.dtype} TIFF{' in colour' if data.ndim == 3 else ''} needs "
                   "tifffile: pip install 'filterkit[tiles]'")


def _write_pillow(path: str, data: np.ndarray, fmt: str) -> None:
    from PIL import Image

    if data.dtype == np.uint16:
        if data.ndim == 2 and fmt in ("PNG", "TIFF"):
            Image.fromarray(data).save(path, format=fmt)
            return
        data = (data >> 8).astype(np.uint8)  # 16-bit colour or JPEG/BMP: 8 bits
    if data.ndim == 3 and data.shape[2] in (2, 4) and fmt in ("JPEG", "BMP"):
        # JPEG holds no alpha, BMP no grey + alpha: the picture without it
        data = data[..., 0] if data.shape[2] == 2 else data[..., :3]
    if data.dtype != np.uint8 and data.size:  # other integer images: only if they fit
        lo, hi = int(data.min()), int(data.max())
        if lo < 0 or hi > 255:
            raise CLIError(f"{path}: {data.dtype} values from {lo} to {hi} do not fit an 8-bit "
                           f"{fmt}; write .tif or .npy to keep them")
    Image.fromarray(np.ascontiguousarray(data.astype(np.uint8, copy=False))).save(path, format=fmt)


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


def image_files(folder: str) -> Tuple[str, ...]:
    """The files of a folder that look like images, sorted."""
    exts = tuple(FORMATS) + (".npy",)
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith(exts))
    return tuple(os.path.join(folder, n) for n in names)

"""Images larger than memory on one machine: read, filter and write in tiles.

The command line's ``--tile N`` runs here.  The input is read a tile at a
time with exactly the mask's radius around it (a "halo"), the tile is
filtered by the same function as a whole image, the halo is cut off, and
the tile is written; the result equals filtering the whole image at once:

- inside the image a tile reads its neighbours' pixels (the halo);
- at the image's edges the tile is filtered with the real border mode, so
  filterkit extends the border exactly as for the whole image; for
  ``wrap`` the halo is read from the far side; ``valid`` reads the tile's
  pixels plus the halo and keeps what the mask covers;
- along an axis of at most twice the radius (the border folds back on
  itself) a tile spans the whole axis.

Readers (memory bounded by the tiles): TIFF through tifffile (an
uncompressed TIFF is memory-mapped; a compressed or tiled one is read
through zarr, chunk by chunk; its orientation tag is applied, so the image
is read upright), ``.zarr`` arrays and ``.npy`` files (memory-mapped).
Other formats (PNG, JPEG) are decoded whole, within the pixel limit, then
filtered in tiles.  Writers: TIFF (tiled, BigTIFF when needed), ``.zarr``
and ``.npy`` (its whole size reserved on disk first, then written with
plain writes: a full disk is a clean ENOSPC, never a SIGBUS); every output
is written to a temporary name beside the destination and renamed when
complete.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from typing import Any, Callable, Iterator, Optional, Sequence, Tuple

import numpy as np

from filterkit._border import runs, window

from .images import (DEFAULT_MAX_PIXELS, ORIENTATIONS, CLIError, Staging, check_folder, open_zarr,
                  read_image, tiff_page, umask)

#: outputs ``--tile`` can write a tile at a time
TILE_FORMATS = (".tif", ".tiff", ".zarr", ".npy")
#: TIFF tiles are multiples of 16 pixels
TILE_STEP = 16


def check_tile(tile: int) -> int:
    """A tile side: a positive multiple of 16 (TIFF's tile unit)."""
    if tile < TILE_STEP or tile % TILE_STEP:
        raise CLIError(f"--tile must be a multiple of {TILE_STEP} (16, 32, ..., 2048); got {tile}")
    return tile


def output_extension(path: str) -> str:
    """The extension of a ``--tile`` output, after checking it can be written."""
    ext = os.path.splitext(path.rstrip("/" + os.sep))[1].lower()
    if ext not in TILE_FORMATS:
        raise CLIError(f"{path}: --tile writes {', '.join(TILE_FORMATS)}; "
                       f"got '{ext or 'no extension'}'")
    check_folder(path)
    return ext


# ----------------------------------------------------------------------------
# reading
# ----------------------------------------------------------------------------
class Source:
    """An image on disk that can be read a region at a time: ``shape``,
    ``dtype`` and ``read(rows, cols)`` with slices or index arrays."""

    def __init__(self, array: Any, closer: Optional[Callable[[], None]] = None,
                 orientation: int = 1) -> None:
        self.array = array
        stored = tuple(int(n) for n in array.shape)
        # the EXIF/TIFF orientation: the image is read upright, as a viewer
        # shows it (rows and columns of the stored pixels turned)
        self._turn = ORIENTATIONS.get(int(orientation), ORIENTATIONS[1])
        self.shape: Tuple[int, ...] = ((stored[1], stored[0]) + stored[2:]
                                       if self._turn[0] and len(stored) >= 2 else stored)
        # half floats are read as float32 (the filters compute in float32 at least)
        self.dtype = np.dtype(np.float32) if array.dtype == np.float16 else np.dtype(array.dtype)
        self._closer = closer
        # stored in strips as wide as the image (a striped, compressed TIFF):
        # every tile of a row of tiles would decode the same strips again, so
        # the rows last read are kept, the whole width at once
        chunks = getattr(array, "chunks", None)
        self._striped = (chunks is not None and len(chunks) >= 2 and len(stored) >= 2
                         and int(chunks[1]) >= stored[1] and not isinstance(array, np.ndarray))
        self._band: Tuple[Any, Optional[np.ndarray]] = (None, None)

    def _get(self, rows: slice, cols: slice) -> np.ndarray:
        if not self._striped:
            return np.asarray(self.array[rows, cols])
        key, band = self._band
        if key != (rows.start, rows.stop) or band is None:
            self._band = (None, None)  # let the old band go before reading the next
            band = np.asarray(self.array[rows])
            self._band = ((rows.start, rows.stop), band)
        return band[:, cols]

    def read(self, rows: Any, cols: Any) -> np.ndarray:
        """The region at `rows` x `cols` of the upright image (each a slice
        or an array of indices, read as runs of consecutive indices)."""
        transpose, flip_rows, flip_cols = self._turn
        if flip_rows:
            rows = _flipped(rows, self.shape[0])
        if flip_cols:
            cols = _flipped(cols, self.shape[1])
        block = self._read_stored(cols, rows).swapaxes(0, 1) if transpose else \
            self._read_stored(rows, cols)
        if flip_rows:
            block = block[::-1]
        if flip_cols:
            block = block[:, ::-1]
        if block.dtype != self.dtype:
            block = block.astype(self.dtype)
        return np.ascontiguousarray(block) if transpose or flip_rows or flip_cols else block

    def _read_stored(self, rows: Any, cols: Any) -> np.ndarray:
        row_runs, col_runs = runs(rows), runs(cols)
        if len(row_runs) == 1 and len(col_runs) == 1:
            return self._get(row_runs[0], col_runs[0])
        return np.concatenate([
            np.concatenate([self._get(r, c) for c in col_runs], axis=1)
            for r in row_runs], axis=0)

    def forget(self, rows: int) -> None:
        """Drop the memory-mapped pages of the first `rows` rows: read again
        from the file if needed, they would otherwise stay in the process's
        memory until the end (the resident size would grow to the image)."""
        if self._turn == ORIENTATIONS[1]:  # a turned image's first rows lie elsewhere
            release(self.array, rows)

    def close(self) -> None:
        if self._closer is not None:
            self._closer()
            self._closer = None


def release(array: Any, rows: int) -> None:
    """madvise(DONTNEED) the pages of a memory-mapped array's first `rows`
    rows (C order); nothing for other arrays or where mmap cannot."""
    mm = getattr(array, "_mmap", None)
    if mm is None or rows <= 0 or not hasattr(mm, "madvise") or not array.flags.c_contiguous:
        return
    try:
        import mmap

        start = int(getattr(array, "offset", 0))
        start -= start % mmap.ALLOCATIONGRANULARITY  # where numpy's mapping begins
        end = int(getattr(array, "offset", 0)) - start + rows * array.strides[0]
        length = end - end % mmap.PAGESIZE
        if length > 0:
            mm.madvise(mmap.MADV_DONTNEED, 0, min(length, len(mm)))
    except (ValueError, OSError, AttributeError):
        pass


def _flipped(index: Any, n: int) -> Any:
    """The stored indices of the upright indices `index` of an axis of `n`
    that is stored reversed, in increasing order (read, then reverse)."""
    if isinstance(index, slice):
        return slice(n - index.stop, n - index.start)
    return (n - 1 - np.asarray(index))[::-1]


def open_source(path: str, max_pixels: Optional[int] = DEFAULT_MAX_PIXELS) -> Source:
    """Open an image for reading a region at a time.

    TIFF (through tifffile), ``.zarr`` and ``.npy`` are read a tile at a
    time whatever their size; other formats are decoded whole, within
    `max_pixels` (None: no limit).
    """
    if path.startswith("sample:"):
        return Source(read_image(path))
    if not os.path.exists(path):
        raise CLIError(f"{path}: no such file")
    lower = path.rstrip("/" + os.sep).lower()
    if lower.endswith(".zarr"):
        return Source(open_zarr(path))
    if os.path.isdir(path):
        raise CLIError(f"{path}: is a folder (give -o DIR to filter a folder)")
    if lower.endswith(".npy"):
        try:
            return Source(np.load(path, mmap_mode="r", allow_pickle=False))
        except (OSError, ValueError) as exc:
            raise CLIError(f"{path}: not a readable .npy file ({exc})") from None
    if lower.endswith((".tif", ".tiff")):
        return _open_tiff(path, max_pixels)
    return Source(read_image(path, max_pixels, tiled=True))  # PNG, JPEG, BMP: decoded whole


def _open_tiff(path: str, max_pixels: Optional[int]) -> Source:
    try:
        import tifffile
    except ImportError:
        return Source(read_image(path, max_pixels, tiled=True))
    try:
        tif = tifffile.TiffFile(path)
    except Exception as exc:  # tifffile raises its own TiffFileError and others
        raise CLIError(f"{path}: not a readable TIFF ({exc})") from None
    try:
        page, orientation = tiff_page(tif)
        if page is None:  # palette, CMYK, 1-bit, planes apart: Pillow, whole
            tif.close()
            return Source(read_image(path, max_pixels, tiled=True))
        if getattr(page, "is_memmappable", False):  # uncompressed and contiguous
            tif.close()
            return Source(tifffile.memmap(path, page=0, mode="r"), orientation=orientation)
        try:
            import zarr
        except ImportError:
            tif.close()
            return Source(read_image(path, max_pixels, tiled=True))  # whole
        arr = zarr.open(page.aszarr(), mode="r")
        return Source(arr, tif.close, orientation)
    except CLIError:
        tif.close()
        raise
    except Exception as exc:
        tif.close()
        raise CLIError(f"{path}: not a readable TIFF ({exc})") from None


# ----------------------------------------------------------------------------
# the tiles and their halos
# ----------------------------------------------------------------------------
def tiles(shape: Tuple[int, int], tile: Tuple[int, int]) -> Iterator[Tuple[int, int, int, int]]:
    """Output tiles (a, b, c, d), row by row."""
    H, W = shape
    for a in range(0, H, tile[0]):
        for c in range(0, W, tile[1]):
            yield a, min(a + tile[0], H), c, min(c + tile[1], W)


def _round_up(n: int) -> int:
    return max(TILE_STEP, -(-n // TILE_STEP) * TILE_STEP)


class Tiler:
    """Filter a :class:`Source` tile by tile.

    `fn(block, mode)` filters an image block as the whole image would be
    (the border `mode` applied at the block's edges); `radius` is the
    mask's (ry, rx).
    """

    def __init__(self, source: Source, fn: Callable[[np.ndarray, str], Any], radius: Tuple[int, int],
                 mode: str, tile: int) -> None:
        self.source, self.fn, self.mode = source, fn, mode
        self.ry, self.rx = radius
        H, W = source.shape[:2]
        if mode == "valid":
            if H < 2 * self.ry + 1 or W < 2 * self.rx + 1:
                raise CLIError(f"the image ({H}x{W}) is smaller than the mask "
                               f"({2 * self.ry + 1}x{2 * self.rx + 1}) with --mode valid")
            self.shape = (H - 2 * self.ry, W - 2 * self.rx)
        else:
            self.shape = (H, W)
        # an axis the mask folds back over is one tile; a tile larger than
        # the image is the image (rounded up to TIFF's tile unit)
        self.tile = (self.shape[0] if H <= 2 * self.ry else min(tile, _round_up(self.shape[0])),
                     self.shape[1] if W <= 2 * self.rx else min(tile, _round_up(self.shape[1])))

    @property
    def count(self) -> int:
        """The number of tiles."""
        return len(range(0, self.shape[0], self.tile[0])) * len(range(0, self.shape[1], self.tile[1]))

    def block(self, a: int, b: int, c: int, d: int) -> Tuple[Optional[np.ndarray], ...]:
        """The filtered output rows [a, b) and columns [c, d) (every result
        of `fn` that is not None, each cut to the tile)."""
        H, W = self.source.shape[:2]
        rows, r0, r1 = window(a, b, H, self.ry, self.mode)
        cols, c0, c1 = window(c, d, W, self.rx, self.mode)
        out = self.fn(self.source.read(rows, cols), self.mode)
        outs = out if isinstance(out, tuple) else (out,)
        return tuple(None if o is None else o[r0:o.shape[0] - r1, c0:o.shape[1] - c1] for o in outs)

    def run(self, each: Callable[[Tuple[Any, ...]], Any],
            progress: Any = None) -> Iterator[Tuple[Tuple[int, int, int, int], Any]]:
        """Yield ((a, b, c, d), each(block)) for every tile, row by row."""
        row = 0
        for box in tiles(self.shape, self.tile):
            if box[0] != row:  # a new row of tiles: the rows above it are done
                row = box[0]
                self.source.forget(row - self.ry - 1 if self.mode != "valid" else row - 1)
            yield box, each(self.block(*box))
            if progress is not None:
                progress.update(1)


# ----------------------------------------------------------------------------
# writing
# ----------------------------------------------------------------------------
def write_tiles(path: str, shape: Sequence[int], dtype: np.dtype, tile: Tuple[int, int],
                produce: Iterator[Tuple[Tuple[int, int, int, int], np.ndarray]],
                stage: Optional[Staging] = None) -> None:
    """Write the tiles `produce` yields (row by row) to `path` (.tif, .tiff,
    .zarr or .npy), atomically: a temporary file or folder beside it is
    renamed to `path` when every tile is written (by `stage` with the
    command's other outputs, when given)."""
    ext = output_extension(path)
    folder = os.path.dirname(os.path.abspath(path))
    shape = tuple(int(n) for n in shape)
    dtype = np.dtype(dtype)
    try:
        if ext == ".zarr":
            tmp = tempfile.mkdtemp(dir=folder, prefix=".filterkit-", suffix=ext)
        else:
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".filterkit-", suffix=ext)
            os.close(fd)
    except OSError as exc:
        raise CLIError(f"{path}: cannot write here ({exc.strerror or exc})") from None
    try:
        if ext == ".zarr":
            _write_zarr(tmp, shape, dtype, tile, produce)
        elif ext == ".npy":
            _write_npy(tmp, shape, dtype, produce)
        else:
            _write_tiff(tmp, shape, dtype, tile, produce)
        if stage is None:
            _replace(tmp, path)
    except BaseException as exc:
        _discard(tmp)
        if isinstance(exc, (OSError, ValueError)) and not isinstance(exc, CLIError):
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise CLIError(f"{path}: could not be written ({reason})") from None
        raise
    if stage is not None:
        stage.add(tmp, path, _replace)


def _write_npy(path: str, shape: Tuple[int, ...], dtype: np.dtype,
               produce: Iterator[Tuple[Tuple[int, int, int, int], np.ndarray]]) -> None:
    """A .npy file written tile by tile with plain writes, its whole size
    reserved first: a full disk fails here, at once, with ENOSPC, where
    writing through a memory map would die of SIGBUS (and leave the file)."""
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
              "shape": shape}
    inner = int(np.prod(shape[2:], dtype=np.int64)) * dtype.itemsize  # bytes a pixel
    row_bytes = shape[1] * inner
    with open(path, "r+b", buffering=0) as fh:
        try:
            np.lib.format.write_array_header_1_0(fh, header)
        except ValueError:  # a header over 64 KiB
            fh.seek(0)
            np.lib.format.write_array_header_2_0(fh, header)
        offset = fh.tell()
        _reserve(fh.fileno(), offset + shape[0] * row_bytes)
        for (a, b, c, d), data in produce:
            block = np.ascontiguousarray(data, dtype=dtype)
            if c == 0 and d == shape[1]:  # whole rows: one write
                fh.seek(offset + a * row_bytes)
                _write_all(fh, block)
                continue
            for r in range(b - a):
                fh.seek(offset + (a + r) * row_bytes + c * inner)
                _write_all(fh, block[r])


def _reserve(fd: int, size: int) -> None:
    """Allocate `size` bytes of the file on disk now (ENOSPC now, not
    later); where the file system cannot, the file is only extended."""
    try:
        os.posix_fallocate(fd, 0, size)
        return
    except AttributeError:  # no posix_fallocate (macOS)
        pass
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
            raise
    os.ftruncate(fd, size)


def _write_all(fh: Any, block: np.ndarray) -> None:
    view = memoryview(np.ascontiguousarray(block)).cast("B")
    while view:
        n = fh.write(view)
        if not n:
            raise OSError(errno.EIO, "short write")
        view = view[n:]


def _write_tiff(path: str, shape: Tuple[int, ...], dtype: np.dtype, tile: Tuple[int, int],
                produce: Iterator[Tuple[Tuple[int, int, int, int], np.ndarray]]) -> None:
    try:
        import tifffile
    except ImportError:
        raise CLIError(f"{path}: --tile writes TIFF through tifffile: "
                       "pip install 'filterkit[tiles]'") from None
    colour = len(shape) == 3 and shape[2] in (3, 4) and dtype.kind == "u"
    tifffile.imwrite(
        path, data=(data for _, data in produce), shape=shape, dtype=dtype,
        tile=tuple(-(-t // TILE_STEP) * TILE_STEP for t in tile),
        photometric="rgb" if colour else "minisblack",
        extrasamples=("unassalpha",) if colour and shape[2] == 4 else None,
        planarconfig="contig" if len(shape) == 3 else None,
        bigtiff=int(np.prod(shape)) * dtype.itemsize > 2 ** 31)


def _write_zarr(path: str, shape: Tuple[int, ...], dtype: np.dtype, tile: Tuple[int, int],
                produce: Iterator[Tuple[Tuple[int, int, int, int], np.ndarray]]) -> None:
    try:
        import zarr
    except ImportError:
        raise CLIError(f"{path}: writing .zarr needs zarr: pip install 'filterkit[tiles]'") from None
    chunks = tuple(min(t, n) for t, n in zip(tile, shape)) + tuple(shape[2:])
    out = zarr.open_array(path, mode="w", shape=shape, chunks=chunks, dtype=dtype)
    for (a, b, c, d), data in produce:
        out[a:b, c:d] = data


def _replace(tmp: str, path: str) -> None:
    os.chmod(tmp, (0o777 if os.path.isdir(tmp) else 0o666) & ~umask())
    if os.path.isdir(path) and not os.path.islink(path):
        # an existing .zarr folder: moved aside, replaced, then removed
        old = tempfile.mkdtemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".filterkit-old-")
        os.replace(path, os.path.join(old, "x"))
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, path)


def _discard(tmp: str) -> None:
    if os.path.isdir(tmp):
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        try:
            os.remove(tmp)
        except OSError:
            pass


"""A block's window read from a chunked store: stored chunks decoded once
per worker (the halo pieces one block's read leaves for its neighbours),
and a zarr array's chunk files read without zarr where they are simple.

A block of :mod:`filterkit.dask`'s store path reads its window (the block
and its halo) from a chunked store such as zarr.  The store decodes every
stored chunk a read touches, whole, so with stored chunks as large as the
blocks each block decodes the 3 x 3 chunks around it for a halo a few pixels
wide.  Here a block reads the stored chunks of its window one at a time,
and from each chunk it decodes also cuts the pieces that the other blocks
whose windows touch that chunk will need (halo strips, or the whole chunk
for the block that owns it) and leaves them on this process's shelf.  A
later block on the same worker takes its pieces from the shelf instead of
decoding the chunk again.  Nothing crosses between workers: a block whose
pieces are not on its worker's shelf reads them from the store, as before.

A store whose chunks are files of raw pixels (an uncompressed zarr 3 array
on a local disk, :func:`chunk_files`) needs no shelf: a block reads from
each chunk's file only the rows its window needs (:func:`read_raw`), a
halo's few rows rather than the whole chunk.

The shelf is scoped to one compute: every key carries the compute's epoch,
a token made when the compute runs (not when the graph is built), so a
store written between two computes of the same graph is never read stale.
It is bounded (:data:`SHELF_BYTES`): pieces that do not fit are not kept,
and a block whose pieces were dropped reads them again.  A piece no block
takes within :data:`PIECE_SECONDS` (one left for a block that ran on another
worker) is dropped, so an idle worker holds none.  The result never
depends on the shelf, only the number of chunks decoded does.

Pure geometry and bookkeeping: no Dask import; :mod:`filterkit.dask` builds
the graph around :func:`read_window`.
"""
from __future__ import annotations

import functools
import itertools
import os
import sys
import threading
import time
import uuid
import weakref
from collections import OrderedDict
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from ._border import runs, window

#: per axis of the image: (length, the blocks' bounds (cumulative, from 0),
#: halo radius, periodic, side of the stored chunks)
Axis = Tuple[int, Tuple[int, ...], int, bool, int]
#: one piece of a block's window inside one stored chunk, per axis:
#: (where it lies in the image, where it goes in the block's window)
Piece = Tuple[slice, slice]

#: bytes of pieces one process keeps for later blocks, by kind: strips (a
#: piece at most a quarter of its stored chunk; halos) and whole parts of
#: chunks (a chunk decoded early for the block that owns it).  At 4096^2
#: float32 in 1024^2 chunks the bulk budget holds the next row of a worker's
#: chunks; at 20000^2 in 2048^2 chunks, two chunks (16 MiB each).
SHELF_BYTES = {"strips": 16 << 20, "bulk": 32 << 20}

#: how many computes' records of finished blocks a process remembers
_EPOCHS_KEPT = 8

#: seconds a piece waits for its block: one left for a block that ran on
#: another worker is never taken, and a worker idle after its computes
#: should hold none of them
PIECE_SECONDS = 60.0

#: buffers a process keeps for the blocks that follow (a window and a
#: filtered window per thread that filters at the same time; Dask's workers
#: often run one; and a chunk's reading buffers: a decoded chunk and its
#: compressed bytes, or a raw chunk's rows).  Not more: blocks at the
#: image's edges have windows of other shapes, and each buffer kept beyond
#: those in use is a chunk's worth of memory held (at 20000^2 in 2048^2
#: chunks, 5 kept took a LocalCluster's worker from 7.2 to 8.2 chunks' worth)
_WINDOWS_KEPT = 4


def epoch() -> str:
    """A token for one compute, made when the compute runs (the graph's
    epoch task): every key of the shelf carries it."""
    return uuid.uuid4().hex


def axis_runs(lo: int, hi: int, n: int, r: int, periodic: bool) -> List[slice]:
    """What the block of rows [lo, hi) of an axis of length n reads with a
    halo of r: :func:`filterkit._border.window` as slices of consecutive
    indices (a wrapped halo is read from the far side)."""
    if not r:
        return [slice(lo, hi)]
    return runs(window(lo, hi, n, r, "wrap" if periodic else "reflect")[0])


def stored_pieces(run: slice, side: Optional[int]) -> List[slice]:
    """`run` cut where the store's chunks of `side` end (the whole run when
    the store is not chunked along the axis)."""
    if not side or side <= 0:
        return [run]
    cuts = list(range((run.start // side + 1) * side, run.stop, side))
    edges = [run.start] + cuts + [run.stop]
    return [slice(a, b) for a, b in zip(edges, edges[1:])]


@functools.lru_cache(maxsize=64)
def _axis_pieces(axis: Axis) -> Dict[int, Dict[int, Tuple[Piece, ...]]]:
    """Along one axis: for each stored chunk k, the blocks i whose windows
    touch it and their pieces in it, in window order."""
    n, bounds, r, periodic, side = axis
    table: Dict[int, Dict[int, Tuple[Piece, ...]]] = {}
    for i in range(len(bounds) - 1):
        at = 0
        for run in axis_runs(bounds[i], bounds[i + 1], n, r, periodic):
            for src in stored_pieces(run, side):
                k = src.start // side
                piece = (src, slice(at, at + src.stop - src.start))
                table.setdefault(k, {})[i] = table.get(k, {}).get(i, ()) + (piece,)
                at += src.stop - src.start
    return table


def shared(axes: Sequence[Axis]) -> bool:
    """Whether reading a stored chunk at a time pays: every block's window
    spans at most 4 stored chunks along every axis (finer stored chunks are
    read in one call per window; :func:`filterkit.dask._read_window`)."""
    for n, bounds, r, periodic, side in axes:
        if side <= 0:
            return False
        widest = max(b - a for a, b in zip(bounds, bounds[1:])) + 2 * r
        if widest > 4 * side:
            return False
    return True


def _pieces(tables: Sequence[Dict[int, Dict[int, Tuple[Piece, ...]]]], chunk: Tuple[int, ...],
            block: Tuple[int, ...]) -> List[Tuple[Piece, ...]]:
    """Block `block`'s pieces in stored chunk `chunk`, one per combination
    of its per-axis pieces (the order its consumer places them in)."""
    return list(itertools.product(*(t[k][i] for t, k, i in zip(tables, chunk, block))))


class Shelf:
    """Pieces left for later blocks, keyed by (epoch, layer, block, stored
    chunk); each is taken once.  Thread-safe: Dask's threaded scheduler
    runs blocks of one process in parallel."""

    def __init__(self, budget: Dict[str, int], seconds: float = PIECE_SECONDS):
        self.budget, self.seconds = budget, seconds
        self.lock = threading.Lock()
        #: key -> (arrays, bytes, kind, when kept)
        self.items: "OrderedDict[Tuple[Any, ...], Tuple[List[np.ndarray], int, str, float]]" = \
            OrderedDict()
        self.timer: Optional[threading.Timer] = None
        self.used = {kind: 0 for kind in budget}
        self.finished: "OrderedDict[Tuple[str, str], set]" = OrderedDict()
        self.counts = {"decoded": 0, "ranged": 0, "taken": 0, "kept": 0, "dropped": 0}
        #: buffers free for the next block: (buffer, when given back)
        self.windows: List[Tuple[np.ndarray, float]] = []
        #: buffers given back since the last lend (appended without the lock)
        self.returned: List[Tuple[np.ndarray, float]] = []

    def reset(self) -> None:
        """Start empty, with a new lock and no timer: in a child process
        made by fork (its parent's lock may have been held, its timer thread
        is not there)."""
        self.lock = threading.Lock()
        self.items.clear()
        self.used = {kind: 0 for kind in self.budget}
        self.finished.clear()
        self.windows = []
        self.returned = []
        self.timer = None

    def _drop(self, key: Tuple[Any, ...]) -> Optional[List[np.ndarray]]:
        """Remove `key`'s piece, if any (called with the lock held)."""
        item = self.items.pop(key, None)
        if item is None:
            return None
        self.used[item[2]] -= item[1]
        return item[0]

    def take(self, key: Tuple[Any, ...]) -> Optional[List[np.ndarray]]:
        with self.lock:
            arrays = self._drop(key)
            if arrays is not None:
                self.counts["taken"] += 1
            return arrays

    def _evict(self, kind: str, size: int, epoch: str) -> None:
        """Make room for `size` bytes of `kind`: pieces of other computes
        first (oldest first), then this compute's oldest: a piece that has
        waited longest is the likeliest to be for a block that ran on another
        worker (measured on 2 workers with Zstd: two thirds of the whole
        chunks kept were never taken, and new ones found the budget full)."""
        for own in (False, True):
            for key in [k for k, v in self.items.items()
                        if v[2] == kind and (k[0] == epoch) == own]:
                if self.used[kind] + size <= self.budget[kind]:
                    return
                self._drop(key)
                self.counts["dropped"] += 1

    def put(self, key: Tuple[Any, ...], arrays: List[np.ndarray], kind: str,
            size: Optional[int] = None) -> None:
        """Keep `arrays` (of `size` bytes in memory; their own by default)
        for `key`'s block, if it has not finished and they fit."""
        size = sum(a.nbytes for a in arrays) if size is None else size
        with self.lock:
            if key[2] in self.finished.get((key[0], key[1]), ()) or size > self.budget[kind]:
                return
            if self.used[kind] + size > self.budget[kind]:
                self._evict(kind, size, key[0])
                if self.used[kind] + size > self.budget[kind]:
                    self.counts["dropped"] += 1
                    return
            self._drop(key)
            self.items[key] = (arrays, size, kind, time.monotonic())
            self.used[kind] += size
            self.counts["kept"] += 1
            self._arm(self.seconds)

    def _arm(self, delay: float) -> None:
        """Expire old pieces in `delay` seconds, unless already due to
        (called with the lock held)."""
        if self.timer is None:
            self.timer = threading.Timer(delay, self._expire)
            self.timer.daemon = True
            self.timer.start()

    def _expire(self) -> None:
        """Drop the pieces kept more than :data:`PIECE_SECONDS` ago, and come
        back when the oldest of the others is due."""
        with self.lock:
            self.timer = None
            now = time.monotonic()
            for key in [k for k, v in self.items.items() if now - v[3] >= self.seconds]:
                self._drop(key)
            self._collect()
            self.windows = [w for w in self.windows if now - w[1] < self.seconds]
            times = [v[3] for v in self.items.values()] + [w[1] for w in self.windows]
            if times:
                self._arm(max(min(times) + self.seconds - now, 0.01))

    def lend(self, shape: Tuple[int, ...], dtype: Any) -> np.ndarray:
        """A buffer of `shape` and `dtype` (for a block's window, a decoded
        chunk, a filtered block), taken from the ones earlier blocks gave
        back.  A Dask worker's allocator returns freed memory to the system
        at once (distributed sets MALLOC_TRIM_THRESHOLD_), so a new 4 MiB
        array there costs its pages again: 1.1 ms of page faults, against
        0.2 in a process that reuses its memory (measured).

        The buffer goes back when the array lent and every view of it are
        gone, not when a caller says so: a piece cut from it and kept on
        the shelf keeps it out of the pool, and a filtered block returned to
        Dask goes back once it is written.  It is the start of the smallest
        kept buffer of `dtype` that is large enough, whatever its shape: the
        blocks at the image's edges have smaller windows, and a buffer kept
        per shape would hold a chunk's worth of memory more for each."""
        dtype = np.dtype(dtype)
        n = int(np.prod(shape, dtype=np.int64))
        if n == 0:
            return np.empty(shape, dtype)
        with self.lock:
            self._collect()
            fits = [(w.size, i) for i, (w, _) in enumerate(self.windows)
                    if w.dtype == dtype and w.size >= n]
            buf = self.windows.pop(min(fits)[1])[0] if fits else None
            self._arm(self.seconds)
        if buf is None:
            buf = np.empty(n, dtype=dtype)
        # an array whose base is a memoryview: every view of it has it as
        # its base (NumPy stops there), so it lives as long as any of them
        lent = np.frombuffer(buf.data, dtype=dtype, count=n)
        weakref.finalize(lent, self._give_back, buf).atexit = False
        return lent.reshape(shape)

    def _give_back(self, buf: np.ndarray) -> None:
        """A lent buffer's last view is gone (any thread, perhaps one that
        holds the lock: the garbage collector may run anywhere): put it
        where :meth:`lend` finds it, without waiting for the lock."""
        self.returned.append((buf, time.monotonic()))
        del self.returned[:-_WINDOWS_KEPT]
        if self.lock.acquire(blocking=False):
            try:
                self._arm(self.seconds)
            finally:
                self.lock.release()

    def _collect(self) -> None:
        """The buffers given back, with the kept ones (called with the lock
        held); the newest :data:`_WINDOWS_KEPT` are kept."""
        while self.returned:
            self.windows.append(self.returned.pop(0))
        del self.windows[:-_WINDOWS_KEPT]

    def done(self, epoch: str, layer: str, block: Tuple[int, ...]) -> None:
        """`block` has read its window: keep no more pieces for it, and forget
        computes of the same layer before this one (a graph computed again)."""
        with self.lock:
            if (epoch, layer) not in self.finished:
                self._forget(layer, epoch)
                self.finished[(epoch, layer)] = set()
                while len(self.finished) > _EPOCHS_KEPT:
                    self.finished.popitem(last=False)
            self.finished[(epoch, layer)].add(block)
            for key in [k for k in self.items if k[:3] == (epoch, layer, block)]:
                self._drop(key)

    def _forget(self, layer: str, epoch: str) -> None:
        for key in [k for k in self.items if k[1] == layer and k[0] != epoch]:
            self._drop(key)

    def is_done(self, epoch: str, layer: str, block: Tuple[int, ...]) -> bool:
        with self.lock:
            return block in self.finished.get((epoch, layer), ())


#: this process's shelf (a Dask worker process, or the threaded scheduler's)
SHELF = Shelf(SHELF_BYTES)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=SHELF.reset)


def _region(axes: Sequence[Axis], chunk: Tuple[int, ...]) -> Tuple[slice, ...]:
    """Stored chunk `chunk`'s region of the image."""
    return tuple(slice(k * side, min((k + 1) * side, n))
                 for k, (n, _, _, _, side) in zip(chunk, axes))


def _cut(data: np.ndarray, region: Tuple[slice, ...],
         pieces: List[Tuple[Piece, ...]]) -> List[np.ndarray]:
    """`pieces` (of the image) as views of `data`, the decoded `region`."""
    return [data[tuple(slice(s.start - r.start, s.stop - r.start) for (s, _), r in zip(p, region))]
            for p in pieces]


def _leave(data: np.ndarray, region: Tuple[slice, ...],
           tables: Sequence[Dict[int, Dict[int, Tuple[Piece, ...]]]], chunk: Tuple[int, ...],
           block: Tuple[int, ...], epoch: str, layer: str, shelf: Shelf, borrowed: bool) -> None:
    """Leave on the shelf the pieces of the decoded chunk `data` that the
    other unfinished blocks touching it need.  Strips are copied (they must
    not keep the chunk alive); a large part of the chunk is kept as a view,
    counted as the whole chunk it keeps alive, unless `data` is `borrowed`
    (a view of a window that the next block reuses): then it is copied too."""
    with shelf.lock:
        shelf.counts["decoded"] += 1
    for other in itertools.product(*(sorted(t[k]) for t, k in zip(tables, chunk))):
        if other == block or shelf.is_done(epoch, layer, other):
            continue
        theirs = _cut(data, region, _pieces(tables, chunk, other))
        if sum(p.nbytes for p in theirs) * 4 > data.nbytes:
            if borrowed:
                theirs = [p.copy() for p in theirs]
            shelf.put((epoch, layer, other, chunk), theirs, "bulk", data.nbytes)
        else:
            shelf.put((epoch, layer, other, chunk), [p.copy() for p in theirs], "strips")


def _plain_zarr(store: Any, get: Callable[..., Any], extra: Tuple[Any, ...],
                kw: Dict[str, Any]) -> bool:
    """Whether `store` is a zarr array read through Dask's own getter with no
    lock or option: then it may be read other than through the getter."""
    return (type(store).__module__.startswith("zarr.")
            and getattr(get, "__module__", "") == "dask.array.core" and not extra
            and all(kw.get(k) in (None, True) for k in kw))


def _decode_into(store: Any, region: Tuple[slice, ...], target: np.ndarray,
                 get: Callable[..., Any], extra: Tuple[Any, ...], kw: Dict[str, Any]) -> bool:
    """Decode `region` of a zarr 3 array straight into `target`, a view of
    the block's window, and say whether it was done.  zarr otherwise fills
    an array of its own, which the window then copies: in a Dask worker
    that array's new pages are most of the difference (a 4 MiB chunk
    decoded in 4.9 ms against 6.8, measured).  Any other store, a lock or
    an option of Dask's getter: False, and the caller reads through the
    getter."""
    if not _plain_zarr(store, get, extra, kw) or \
            np.dtype(getattr(store, "dtype", None)) != target.dtype:
        return False
    try:
        from zarr.core.buffer import default_buffer_prototype
        out = default_buffer_prototype().nd_buffer.from_numpy_array(target)
        store.get_basic_selection(region, out=out)
    except (ImportError, AttributeError, TypeError):
        return False  # zarr 2, or an array-like of zarr's without the option
    return True


class ChunkFiles(NamedTuple):
    """Where a zarr array keeps its chunks as files, and how they are made:
    raw pixels, or raw pixels compressed by `codec` (numcodecs' decoder)."""
    directory: str
    chunk: Tuple[int, ...]
    dtype: np.dtype
    fill: Any
    key: Callable[[Tuple[int, ...]], str]
    codec: Any = None


#: zarr 3's compressors that numcodecs decodes with no setting of theirs
#: (the compressed data says how it was made): zarr's class -> numcodecs'
_COMPRESSORS = {"ZstdCodec": ("numcodecs.zstd", "Zstd"), "BloscCodec": ("numcodecs.blosc", "Blosc"),
                "GzipCodec": ("numcodecs.gzip", "GZip")}


def _local_root(where: Any) -> Optional[str]:
    """The directory of a zarr store on this machine's file system (zarr's
    own, or fsspec's local file system, which ``dask.array.from_zarr`` opens
    for a path), else None."""
    from zarr.storage import LocalStore

    if isinstance(where, LocalStore):
        return str(where.root)
    fs = getattr(where, "fs", None)
    fs = getattr(fs, "sync_fs", fs)  # zarr wraps a synchronous file system
    protocol = getattr(fs, "protocol", ())
    protocol = (protocol,) if isinstance(protocol, str) else tuple(protocol)
    if type(where).__name__ == "FsspecStore" and "file" in protocol and \
            type(fs).__module__.startswith("fsspec.implementations.local"):
        return str(where.path)
    return None


def chunk_files(store: Any, get: Callable[..., Any], extra: Tuple[Any, ...],
               kw: Dict[str, Any]) -> Optional[ChunkFiles]:
    """The layout of `store` when its chunk files can be read here: a zarr 3
    array on a local directory, in regular chunks, whose codecs are the
    bytes codec in this machine's byte order and at most one compressor of
    :data:`_COMPRESSORS` (no filter, sharding or storage transformer),
    read through Dask's own getter with no lock or option.  Else None.

    zarr reads a chunk whole even for the few rows of a halo (only sharding
    decodes part of a chunk), and a read of its own costs an array of new
    pages (see :meth:`Shelf.lend`): an interior block's window touches
    3 x 3 chunks of 4 MiB for a 4-pixel halo.  Raw chunks are read by the
    rows a window needs (:func:`read_raw`); compressed ones are decoded
    whole, but through reused buffers (:func:`decode_chunk`)."""
    if not _plain_zarr(store, get, extra, kw):
        return None
    try:
        from zarr.codecs import BytesCodec
        from zarr.core.chunk_grids import RegularChunkGrid

        meta = store.metadata
        if (meta.zarr_format != 3 or meta.storage_transformers or len(meta.codecs) not in (1, 2)
                or not isinstance(meta.codecs[0], BytesCodec)
                or not isinstance(meta.chunk_grid, RegularChunkGrid)):
            return None
        codec = None
        if len(meta.codecs) == 2:
            found = _COMPRESSORS.get(type(meta.codecs[1]).__name__)
            if found is None or not type(meta.codecs[1]).__module__.startswith("zarr."):
                return None
            import importlib
            codec = getattr(importlib.import_module(found[0]), found[1])()
        root = _local_root(store.store)
        if root is None:
            return None
        dtype = np.dtype(store.dtype)
        endian = getattr(meta.codecs[0].endian, "value", meta.codecs[0].endian)
        if dtype.kind not in "biufc" or not dtype.isnative or (
                dtype.itemsize > 1 and endian != sys.byteorder):
            return None
        return ChunkFiles(os.path.join(root, store.path),
                         tuple(int(c) for c in meta.chunk_grid.chunk_shape), dtype,
                         np.asarray(store.fill_value, dtype), meta.encode_chunk_key, codec)
    except (ImportError, AttributeError, TypeError, ValueError):
        return None  # zarr 2, or an array-like of zarr's that is not an array


def read_raw(raw: ChunkFiles, chunk: Tuple[int, ...], local: Tuple[slice, ...],
             target: np.ndarray, shelf: Shelf) -> bool:
    """Read `local` (of stored chunk `chunk`, in its coordinates) into
    `target` from the chunk's file, and say whether it was done: only the
    byte range of the rows (first axis) it spans, through a reused buffer.
    A chunk with no file is the fill value (zarr writes no chunk that is
    all fill value).  A file of the wrong size: False, and the caller reads
    through zarr (which says what is wrong)."""
    f = _chunk_file(raw, chunk, target)
    if f is None or f is False:
        return f is None
    row = int(np.prod(raw.chunk[1:], dtype=np.int64))
    rows = local[0].stop - local[0].start
    flat = shelf.lend((int(np.prod(raw.chunk, dtype=np.int64)),), raw.dtype)
    with f:
        if os.fstat(f.fileno()).st_size != flat.nbytes:
            return False
        data = flat[:rows * row]
        f.seek(local[0].start * row * raw.dtype.itemsize)
        if not _read_whole(f, memoryview(data).cast("B")):
            return False
        target[...] = data.reshape((rows,) + raw.chunk[1:])[(slice(None),) + local[1:]]
    return True


def _chunk_file(raw: ChunkFiles, chunk: Tuple[int, ...], target: np.ndarray) -> Any:
    """Stored chunk `chunk`'s file, open unbuffered; None when there is none,
    `target` then filled with the fill value (zarr writes no chunk that is
    all fill value); False when it cannot be opened (zarr then says what is
    wrong)."""
    try:
        return open(os.path.join(raw.directory, *raw.key(chunk).split("/")), "rb", buffering=0)
    except FileNotFoundError:
        target[...] = raw.fill
        return None
    except OSError:
        return False


def _read_whole(f: Any, into: memoryview) -> bool:
    """Fill `into` from `f`'s position; False if the file ends first (it
    was shortened since its size was read)."""
    got = 0
    while got < into.nbytes:
        n = f.readinto(into[got:])
        if not n:
            return False
        got += n
    return True


def decode_chunk(files: ChunkFiles, chunk: Tuple[int, ...], region: Tuple[slice, ...],
                 target: np.ndarray, shelf: Shelf) -> bool:
    """Decode stored chunk `chunk` (the image's `region`) of a compressed
    store from its file into `target` (of the region's shape), and say
    whether it was done; False when the file is not what zarr would read
    (the caller then reads through zarr, which says what is wrong).  The
    compressed bytes pass through a reused buffer, and so does the decoded
    chunk unless `target` is the whole chunk (in a Dask worker a 4 MiB zstd
    chunk then decodes in 5.3 ms against zarr's 8.6, measured)."""
    f = _chunk_file(files, chunk, target)
    if f is None or f is False:
        return f is None
    items = int(np.prod(files.chunk, dtype=np.int64))
    straight = target.size == items and target.flags.c_contiguous
    whole = target if straight else shelf.lend(files.chunk, files.dtype)
    with f:
        flat = whole.reshape(-1)
        n = os.fstat(f.fileno()).st_size
        # the compressed bytes: a buffer as large as the chunk and a margin,
        # reused (a chunk that compresses to more is read into a new one)
        room = flat.nbytes + (flat.nbytes >> 4) + 4096
        into = memoryview(shelf.lend((room,) if n <= room else (n,), np.uint8)[:n])
        if not _read_whole(f, into):
            return False
        try:
            done = np.asarray(files.codec.decode(into, out=flat))
        except Exception:  # noqa: BLE001 - zarr says what is wrong
            return False
        if done.nbytes != flat.nbytes:
            return False
        if not np.shares_memory(done, flat):  # a decoder that ignored `out`
            flat.view(np.uint8)[...] = done.reshape(-1).view(np.uint8)
        if not straight:  # an edge chunk's region, or a view of a window
            target[...] = whole[tuple(slice(0, r.stop - r.start) for r in region)]
    return True


def window_shape(axes: Sequence[Axis], block: Tuple[int, ...]) -> Tuple[int, ...]:
    """The shape of block `block`'s window."""
    tables = [_axis_pieces(a) for a in axes]
    return tuple(sum(s.stop - s.start for k in sorted(t) if i in t[k] for _, s in t[k][i])
                 for t, i in zip(tables, block))


def read_window(store: Any, get: Callable[..., Any], extra: Tuple[Any, ...],
                kw: Dict[str, Any], axes: Sequence[Axis], block: Tuple[int, ...],
                epoch: str, layer: str, shelf: Optional[Shelf] = None,
                out: Optional[np.ndarray] = None) -> np.ndarray:
    """Block `block`'s window of `store` (a stored chunk at a time, each
    taken from the shelf when an earlier block of this compute on this
    process left it there, else decoded with Dask's getter), leaving the
    pieces other blocks need of every chunk it decodes.  One decoded chunk
    is alive at a time: its pieces are placed before the next is read.

    `out`: a buffer of :func:`window_shape` to read into, whose pieces are
    never kept on the shelf (the caller may reuse it); by default a new
    array.  The block's own stored chunk, when its pieces are the whole
    chunk, is decoded straight into the window where the store can
    (:func:`_decode_into`).  A store of chunk files this module reads
    itself (:func:`chunk_files`): raw ones are read by the rows the window
    needs, with no shelf (:func:`read_raw`); compressed ones are decoded
    from their files (:func:`decode_chunk`)."""
    shelf = SHELF if shelf is None else shelf
    tables = [_axis_pieces(a) for a in axes]
    touched = [[k for k in sorted(t) if i in t[k]] for t, i in zip(tables, block)]
    size = window_shape(axes, block)
    if out is not None and out.shape != size:
        raise ValueError(f"read_window: out is {out.shape}, the window {size}")
    files = chunk_files(store, get, extra, kw)
    if files is not None and out is None:
        out = np.empty(size, dtype=files.dtype)
    elif files is not None and out is not None and out.dtype != files.dtype:
        files = None  # zarr's getter says what is wrong
    for chunk in itertools.product(*touched):
        mine = _pieces(tables, chunk, block)
        if files is not None and files.codec is None and out is not None:
            # only the rows this block needs: no chunk is decoded whole for a
            # halo, and none is kept for the blocks that follow
            origin = [k * c for k, c in zip(chunk, files.chunk)]
            if all(read_raw(files, chunk, tuple(slice(s.start - o, s.stop - o)
                                                for (s, _), o in zip(piece, origin)),
                            out[tuple(d for _, d in piece)], shelf) for piece in mine):
                with shelf.lock:
                    shelf.counts["ranged"] += 1
                continue
        parts = shelf.take((epoch, layer, block, chunk))
        if parts is None:
            region = _region(axes, chunk)
            if files is not None and out is not None:
                # into a reused buffer (a new array would cost its pages, see
                # Shelf.lend): this block's pieces placed, the others' strips
                # copied out of it; a whole part left for its owner keeps the
                # buffer itself, uncopied, until that block takes it
                scratch = shelf.lend(tuple(r.stop - r.start for r in region), out.dtype)
                decoded = decode_chunk(files, chunk, region, scratch, shelf)
                if decoded:
                    for piece, part in zip(mine, _cut(scratch, region, mine)):
                        out[tuple(d for _, d in piece)] = part
                    _leave(scratch, region, tables, chunk, block, epoch, layer, shelf, False)
                scratch = None  # back to the pool unless the shelf kept part of it
                if decoded:
                    continue
            if (out is not None and len(mine) == 1
                    and all(s == r for (s, _), r in zip(mine[0], region))):
                target = out[tuple(d for _, d in mine[0])]
                if _decode_into(store, region, target, get, extra, kw):
                    _leave(target, region, tables, chunk, block, epoch, layer, shelf, True)
                    continue
            data = np.asarray(get(store, region, *extra, **kw))
            _leave(data, region, tables, chunk, block, epoch, layer, shelf, False)
            parts = _cut(data, region, mine)
            data = None  # the chunk goes before the next one is decoded
        if out is None:
            out = np.empty(size, dtype=parts[0].dtype)
        elif out.dtype != parts[0].dtype:
            raise ValueError(f"read_window: out is {out.dtype}, the store's chunks "
                             f"{parts[0].dtype}")
        for piece, part in zip(mine, parts):
            out[tuple(d for _, d in piece)] = part
        parts = None
    shelf.done(epoch, layer, block)
    assert out is not None
    return out

"""filterkit's filters on Dask arrays: lazy, chunk by chunk, exact at the seams.

Every function here takes a :class:`dask.array.Array` with the same
arguments as the filterkit function of the same name and returns a lazy
Dask array (``gradient``: two).  Each chunk is filtered by filterkit's own
in-memory function with exactly the mask's radius as the halo, so the
result equals filtering the whole array at once:

- bit for bit when both use the same method (``convolve``/``correlate``
  with ``method="auto"`` decide once, on the chunk shape, among the spatial
  methods; an FFT choice is left to each chunk, within the FFT tolerance),
  except for ``'box'``, the running sums of :func:`mean` and of constant
  masks: they restart at every chunk (in memory, every 256 rows, or at
  two or four equal parts of smaller images; windows three rows high have
  no running state), which is
  exact for integer images and within the rounding of float64 sums for
  float images (float32 results nearly always equal; float64 ones within
  a few ulp);
- for every border ``mode``: at the image's edges the chunk is filtered
  with the requested mode by filterkit itself (``reflect``, ``mirror``,
  ``nearest``, ``constant``), or Dask's ``periodic`` boundary brings the
  far side for ``wrap``; ``valid`` is the ``constant`` result cropped;
- for any chunking, uneven chunks and chunks smaller than the halo
  included (such chunks are merged with a neighbour first).

How the halo gets there (the result's layer is named after the path,
:data:`PATH_LAYERS`):

- a store read as it is (``da.from_zarr``, or ``da.from_array`` of zarr,
  h5py, a memory map, any array-like that slices): one task per output
  block reads the block and its halo straight from the store (the window of
  :func:`filterkit._border.window`, the rule of the command line's tiles),
  filters it and cuts the halo off.  No task depends on another's pixels
  (only on the compute's epoch token), so on a cluster no image data
  crosses between workers, and a worker holds a window and its result.
  zarr decodes every stored chunk a window touches, whole: so a block
  leaves the halo pieces of each chunk it decodes in its process for the
  blocks that follow (:mod:`filterkit._chunkcache`, bounded, scoped to one
  compute), and one process decodes each stored chunk once;
- NumPy chunks held in the graph (``da.from_array`` of an ndarray, not
  rechunked): every chunk is read twice, once to copy its edges (a few rows
  and columns, all that its neighbours need) and once to be filtered with
  the neighbours' edges around it.  Memory does not grow with the width of
  the image;
- chunks computed by other Dask operations, or a store sliced or rechunked
  first: :func:`dask.array.map_overlap` (it cuts each halo from the
  neighbouring chunks, so a chunk stays in memory until its last neighbour
  is filtered: about a row of chunks, 15 chunks per worker at 20000 x
  20000 in 2048 x 2048 chunks, against 3.5 when read from storage).

The channel axis, if any, is kept in one chunk.  Each chunk runs on one of
filterkit's threads (:data:`THREADS_PER_CHUNK`): Dask's workers are the
parallelism, and filterkit releases the GIL, so the threaded scheduler
scales.  Nothing is computed until you ask (``.compute()``,
``dask.array.to_zarr``, ``.store``), and then a few chunks per worker are
in memory at a time.

Needs the ``dask`` extra: ``pip install 'filterkit[dask]'``.
"""

from __future__ import annotations

import functools
import itertools
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

try:
    import dask.array as da
    from dask.array.overlap import ensure_minimum_chunksize
except ImportError as _exc:  # pragma: no cover - the extra is missing
    raise ImportError(
        "filterkit.dask needs Dask: pip install 'filterkit[dask]'") from _exc

from . import _chunkcache, _convolve, _filters, color, masks
from ._choose import choose_method
from ._border import halo as halo_of
from ._threads import limited
from .methods import SPECTRAL
from ._validate import (check_layout, check_mask, check_mode, check_output_dtype, describe, fail,
                        is_double)

#: per spatial axis: (axis of the block, axis of the result, halo, periodic,
#: the chunks' bounds along the axis)
Crop = Tuple[int, int, int, bool, Tuple[int, ...]]

#: filterkit threads per chunk (Dask's workers run the chunks in parallel)
THREADS_PER_CHUNK = 1

__all__ = [
    "PATH_LAYERS",
    "THREADS_PER_CHUNK",
    "convert",
    "convolve",
    "correlate",
    "gaussian",
    "gradient",
    "lab_to_rgb",
    "laplace",
    "luv_to_rgb",
    "mean",
    "rgb_to_gray",
    "rgb_to_lab",
    "rgb_to_luv",
    "rgb_to_xyz",
    "sobel",
    "sobel_x",
    "sobel_y",
    "xyz_to_rgb",
]


# ----------------------------------------------------------------------------
# checks
# ----------------------------------------------------------------------------
def _check_array(image: Any) -> "da.Array":
    if not isinstance(image, da.Array):
        raise fail("image", "a dask.array.Array (filterkit's own functions filter numpy "
                   "arrays; wrap one with dask.array.from_array)", describe(image), TypeError)
    return image


def _check_size(image: "da.Array") -> None:
    if any(np.isnan(n) for n in image.shape):
        raise fail("image", "an array of known chunk sizes (call image.compute_chunk_sizes())",
                   f"shape {image.shape}")
    if image.size == 0:
        raise fail("image", "non-empty", f"shape {image.shape}")


def _axes(image: Any, channel_axis: Any) -> Tuple["da.Array", Optional[int], List[int]]:
    """The image, its channel axis (normalised) and its two spatial axes."""
    image = _check_array(image)
    axis = check_layout(image.shape, channel_axis)
    _check_size(image)
    return image, axis, [a for a in range(image.ndim) if a != axis]


def _output(output: Any) -> Any:
    """`output` may be None or a dtype: the result is a new lazy array."""
    if output is None:
        return None
    if isinstance(output, np.ndarray) or (isinstance(output, tuple)
                                          and any(isinstance(o, np.ndarray) for o in output)):
        raise fail("output", "None or a dtype for a Dask array (the result is a new lazy "
                   "array; store it with dask.array.store or to_zarr)", describe(output), TypeError)
    if isinstance(output, tuple):
        return tuple(check_output_dtype(o) for o in output)
    return check_output_dtype(output)


# ----------------------------------------------------------------------------
# the one chunked driver
# ----------------------------------------------------------------------------
def _filtered(block: np.ndarray, fn: Callable[..., Any], kwargs: Dict[str, Any],
              crops: Tuple[Crop, ...], pick: Optional[int],
              where: Sequence[int], count: Sequence[int]) -> np.ndarray:
    """Filter the chunk at `where` (of `count` chunks per axis) with its halo
    and cut the halo off again.

    `crops`: per spatial axis (axis of the block, axis of the result, halo,
    periodic, the chunks' bounds along the axis).  The halo is
    :func:`filterkit._border.halo`'s: none at the image's edge, where the
    chunk is filtered with the real border mode."""
    with limited(THREADS_PER_CHUNK):
        result = fn(block, **kwargs)
    outs = result if isinstance(result, tuple) else (result,)
    if pick is not None:
        outs = (outs[pick],)
    index = [slice(None)] * outs[0].ndim
    for axis, out_axis, r, periodic, bounds in crops:
        i = where[axis]
        lo, hi = halo_of(bounds[i], bounds[i + 1], bounds[-1], r, periodic)
        index[out_axis] = slice(lo, outs[0].shape[out_axis] - hi)
    cut = [o[tuple(index)] for o in outs]
    return cut[0] if len(cut) == 1 else np.stack(cut)


def _chunk(block: np.ndarray, fn: Callable[..., Any], kwargs: Dict[str, Any],
           crops: Tuple[Crop, ...], pick: Optional[int],
           block_info: Any = None) -> np.ndarray:
    """map_overlap's function: :func:`_filtered` where Dask says the chunk is."""
    info = block_info[0]
    return _filtered(block, fn, kwargs, crops, pick, info["chunk-location"], info["num-chunks"])


# --- a store read a window at a time: each block reads its own halo -------
#: the first part of the name of the graph layer each path makes, so a
#: result tells which one it took (``result.dask.layers``)
PATH_LAYERS = {"store": "filterkit-halo-read-", "reread": "filterkit-reread-",
               "overlap": "filterkit-overlap-"}


def _store_reader(image: "da.Array") -> Optional[Tuple[str, Callable[..., Any], Tuple[Any, ...],
                                                     Dict[str, Any]]]:
    """How `image` reads its chunks when it is a whole store read as it is
    (``da.from_zarr``, or ``da.from_array`` of zarr, h5py, a memory map or
    any array-like that slices): the store's key in the graph, Dask's getter
    and the getter's other arguments.  None for anything else: NumPy chunks
    held in the graph, computed chunks, a sliced or rechunked store."""
    from dask.array.core import getter, getter_inline, getter_nofancy

    layers = image.dask.layers
    originals = [name for name in layers if str(name).startswith("original-")]
    if len(layers) != 2 or len(originals) != 1 or image.name not in layers:
        return None
    original = originals[0]
    store = layers[original].get(original) if hasattr(layers[original], "get") else None
    if store is None or tuple(getattr(store, "shape", ())) != tuple(image.shape):
        return None
    task = layers[image.name].get((image.name,) + (0,) * image.ndim)
    if hasattr(task, "func"):  # Dask's task spec (2024.12 and later)
        func, args, kw = task.func, list(task.args), dict(task.kwargs)
        args = [getattr(a, "value", a) if type(a).__name__ == "DataNode" else a for a in args]
        key = getattr(args[0], "key", None) if args else None
    elif isinstance(task, tuple) and len(task) >= 3:  # a tuple task
        func, args, kw = task[0], list(task[1:]), {}
        key = args[0]
    else:
        return None
    if func not in (getter, getter_inline, getter_nofancy) or key != original:
        return None
    extra = tuple(args[2:])
    if any(type(v).__name__ in ("TaskRef", "Alias", "Task") for v in extra + tuple(kw.values())):
        return None
    return original, func, extra, kw


def _read_window(store: Any, get: Callable[..., Any], extra: Tuple[Any, ...],
                 kw: Dict[str, Any], reads: List[List[slice]]) -> np.ndarray:
    """The window `reads` (per axis, slices of consecutive indices; a
    wrapped halo is read from the far side) of `store`, read with Dask's
    getter into one array.  A chunked store (zarr, h5py) decodes every
    chunk a read touches whole, all at once: a window read in one call
    would hold every large stored chunk around it (up to 8 chunks' worth
    for a window across four).  So along an axis where the window spans at
    most 4 stored chunks it is read a stored chunk at a time; small stored
    chunks, in one call (measured on zarr: a 1032 x 1032 window over
    1024 x 1024 chunks 7.9 ms a chunk at a time against 9.3 in one call;
    over 256 x 256 chunks 5.9 ms in one call against 8.6 a row at a time)."""
    stored = getattr(store, "chunks", None)
    if not (isinstance(stored, tuple) and len(stored) == len(reads)
            and all(isinstance(c, (int, np.integer)) for c in stored)):
        stored = (None,) * len(reads)
    stored = tuple(c if c and sum(r.stop - r.start for r in reads[a]) <= 4 * c else None
                   for a, c in enumerate(stored))
    axes = []
    for runs_a, chunk in zip(reads, stored):
        pieces, at = [], 0
        for run in runs_a:
            for piece in _chunkcache.stored_pieces(run, chunk):
                pieces.append((piece, slice(at, at + piece.stop - piece.start)))
                at += piece.stop - piece.start
        axes.append(pieces)
    if all(len(p) == 1 for p in axes):
        return np.asarray(get(store, tuple(p[0][0] for p in axes), *extra, **kw))
    out: Optional[np.ndarray] = None
    for combo in itertools.product(*axes):
        part = np.asarray(get(store, tuple(src for src, _ in combo), *extra, **kw))
        if out is None:
            out = np.empty(tuple(p[-1][1].stop for p in axes), dtype=part.dtype)
        out[tuple(dst for _, dst in combo)] = part
    assert out is not None
    return out


def _read_filtered(store: Any, get: Callable[..., Any], extra: Tuple[Any, ...],
                   kw: Dict[str, Any], reads: List[List[slice]], fn: Callable[..., Any],
                   kwargs: Dict[str, Any], crops: Tuple[Crop, ...], pick: Optional[int],
                   where: Tuple[int, ...], count: Tuple[int, ...],
                   shared: Optional[Tuple[Tuple[Any, ...], str]] = None,
                   epoch: Optional[str] = None, into: Optional[np.dtype] = None) -> np.ndarray:
    """Block `where` of the store path: its window read (through this
    process's shelf of decoded chunks when `shared` = (the axes' geometry,
    the layer) is given, :mod:`filterkit._chunkcache`), filtered, cut.
    `into`: the dtype of `fn`'s one output, as large as its input, when
    `fn` can write into a given array (``output=``): it then writes into a
    buffer the next block reuses, as the window is."""
    # contiguous: a store writes it without gathering it first (measured on
    # zarr: 0.7 ms for the copy against 1.3 ms saved in the write of a
    # 1024^2 block); the copy goes into a buffer of the pool, back there
    # once Dask has written the block (a new 4 MiB array costs a worker
    # 1.1 ms of page faults)
    if shared is None:
        block = _read_window(store, get, extra, kw, reads)
        return _contiguous(_filtered(block, fn, kwargs, crops, pick, where, count))
    # the graph then passes the compute's epoch too.  The window and the
    # filtered window are lent buffers: one the result is a view of goes
    # back to the pool only once the result is gone too
    shape = _chunkcache.window_shape(shared[0], where)
    window = _chunkcache.SHELF.lend(shape, store.dtype)
    if into is not None:
        kwargs = dict(kwargs, output=_chunkcache.SHELF.lend(shape, into))
    block = _chunkcache.read_window(store, get, extra, kw, shared[0], where, str(epoch),
                                    shared[1], out=window)
    return _contiguous(_filtered(block, fn, kwargs, crops, pick, where, count))


def _contiguous(cut: np.ndarray) -> np.ndarray:
    """`cut` as a C-contiguous array: itself, or a copy in a lent buffer."""
    if cut.flags.c_contiguous:
        return cut
    result = _chunkcache.SHELF.lend(cut.shape, cut.dtype)
    np.copyto(result, cut)
    return result


#: the dtypes of a filter's output that the store path lets it write into
#: a reused buffer (every filter takes them as an ``output=`` array)
_INTO = (np.dtype(np.float32), np.dtype(np.float64))


def _read_block(store: Any, epoch: Optional[str], *, get: Callable[..., Any],
                extra: Tuple[Any, ...], kw: Dict[str, Any], fn: Callable[..., Any],
                kwargs: Dict[str, Any], crops: Tuple[Crop, ...], pick: Optional[int],
                bounds: Tuple[Tuple[int, ...], ...], halo: Dict[int, Tuple[int, bool]],
                shared: Optional[Tuple[Tuple[Any, ...], str]], stacked: bool,
                dropped: Optional[int], into: Optional[np.dtype] = None,
                block_id: Tuple[int, ...] = ()) -> np.ndarray:
    """The store path's task for output block `block_id`: the input block it
    comes from (the stacked outputs' axis left out, a dropped channel axis
    put back as its one chunk), its window's reads, :func:`_read_filtered`."""
    where = list(block_id[1:] if stacked else block_id)
    if dropped is not None:
        where.insert(dropped, 0)
    reads = [_chunkcache.axis_runs(bounds[a][i], bounds[a][i + 1], bounds[a][-1],
                                   *halo.get(a, (0, False)))
             for a, i in enumerate(where)]
    return _read_filtered(store, get, extra, kw, reads, fn, kwargs, crops, pick, tuple(where),
                          tuple(len(b) - 1 for b in bounds), shared, epoch, into)


def _halo_reads(image: "da.Array", reader: Tuple[str, Callable[..., Any], Tuple[Any, ...],
                                                 Dict[str, Any]],
                fn: Callable[..., Any], kwargs: Dict[str, Any], crops: Tuple[Crop, ...],
                pick: Optional[int], chunks: Sequence[Tuple[int, ...]], stacked: bool,
                dropped: Optional[int], out_chunks: Tuple[Tuple[int, ...], ...],
                dtype: np.dtype, into: Optional[np.dtype] = None) -> "da.Array":
    """One task per output block that reads its block and halo straight
    from the store (the window of :func:`filterkit._border.window`, the
    rule the command line's tiles read by), filters it and cuts the halo
    off.  No task depends on another: no image data crosses between
    workers, and a block's memory is its window and its result.  The
    store's own chunks do not matter to the result; a window across several
    of them decodes each one it touches (:func:`_read_window`).

    The layer is blockwise, as ``da.from_zarr``'s is: a following blockwise
    step (``da.to_zarr``'s write) fuses into the same task.  A layer of
    plain tasks fuses too, but leaves an alias task per block behind, and
    on distributed's queue each alias holds a worker's slot: the worker
    then idles for a round trip to the scheduler every two blocks
    (measured on a LocalCluster of 1: 10 ms every two 25 ms blocks)."""
    from dask.base import tokenize
    from dask.delayed import Delayed
    from dask.highlevelgraph import HighLevelGraph

    original, get, extra, kw = reader
    token = tokenize(image.name, fn, kwargs, crops, pick, tuple(chunks))
    name = PATH_LAYERS["store"] + getattr(fn, "__name__", "filter") + "-" + token
    halo = {a: (r, periodic) for a, _, r, periodic, _ in crops}
    bounds = tuple(tuple(int(b) for b in np.cumsum((0,) + tuple(c))) for c in chunks)
    # a stored chunk at a time (filterkit._chunkcache.read_window): read by
    # byte ranges from a store of raw chunk files, whatever their size;
    # else decoded once per worker, their halo pieces left on the worker's
    # shelf for the blocks that follow, when the store is chunked as
    # coarsely as the blocks
    source = image.dask.layers[original][original]
    stored = getattr(source, "chunks", None)
    shared: Optional[Tuple[Tuple[Any, ...], str]] = None
    if (isinstance(stored, tuple) and len(stored) == len(chunks)
            and all(isinstance(c, (int, np.integer)) and c > 0 for c in stored)):
        axes = tuple((b[-1], b) + halo.get(a, (0, False)) + (int(stored[a]),)
                     for a, b in enumerate(bounds))
        if (_chunkcache.shared(axes)
                or _chunkcache.chunk_files(source, get, extra, kw) is not None):
            shared = (axes, name)
    # the store stays one key of the graph (not copied into every task)
    store = Delayed(original, HighLevelGraph({original: image.dask.layers[original]},
                                             {original: set()}), layer=original)
    epoch: Any = None
    if shared:
        key = "filterkit-epoch-" + token
        epoch = Delayed(key, HighLevelGraph({key: {key: (_chunkcache.epoch,)}}, {key: set()}),
                        layer=key)
    return da.map_blocks(_read_block, store, epoch, name=name, chunks=out_chunks, dtype=dtype,
                         meta=np.empty((0,) * len(out_chunks), dtype=dtype), get=get,
                         extra=extra, kw=kw, fn=fn, kwargs=kwargs, crops=crops, pick=pick,
                         bounds=bounds, halo=halo, shared=shared, stacked=stacked,
                         dropped=dropped, into=into if shared else None)


# --- chunks read straight from storage: the halo without holding neighbours --
def _from_storage(image: "da.Array") -> bool:
    """Whether every chunk of `image` is read straight from storage
    (``da.from_zarr``, ``da.from_array``): reading one again costs a read,
    not a computation."""
    deps = image.dask.dependencies
    return len(deps) <= 2 and all(all(d.startswith("original-") for d in ds)
                                  for ds in deps.values())


def _edges(block: np.ndarray, spatial: Tuple[int, int], halo: Tuple[int, int]) -> Tuple[np.ndarray, ...]:
    """The first and last `halo` rows and columns of a chunk, as copies (they
    must not keep the chunk alive): (top, bottom, left, right)."""
    (ay, ax), (ry, rx) = spatial, halo
    h, w = block.shape[ay], block.shape[ax]

    def part(axis: int, lo: int, hi: int) -> np.ndarray:
        index: List[Any] = [slice(None)] * block.ndim
        index[axis] = slice(lo, hi)
        return block[tuple(index)].copy()

    return part(ay, 0, ry), part(ay, h - ry, h), part(ax, 0, rx), part(ax, w - rx, w)


def _with_halo(block: np.ndarray, near: List[List[Any]], spatial: Tuple[int, int],
               halo: Tuple[int, int]) -> np.ndarray:
    """The chunk with its neighbours' edges around it, in one new array;
    `near[dy + 1][dx + 1]` holds the edges of the neighbour at (dy, dx),
    None beyond the image (no halo on that side)."""
    (ay, ax), (ry, rx) = spatial, halo
    top = ry if near[0][1] is not None else 0
    bottom = ry if near[2][1] is not None else 0
    left = rx if near[1][0] is not None else 0
    right = rx if near[1][2] is not None else 0
    h, w = block.shape[ay], block.shape[ax]
    shape = list(block.shape)
    shape[ay], shape[ax] = top + h + bottom, left + w + right
    out = np.empty(shape, dtype=block.dtype)

    def put(rows: slice, cols: slice, data: np.ndarray) -> None:
        index: List[Any] = [slice(None)] * out.ndim
        index[ay], index[ax] = rows, cols
        out[tuple(index)] = data

    def cut(data: np.ndarray, axis: int, lo: int, hi: int) -> np.ndarray:
        index: List[Any] = [slice(None)] * data.ndim
        index[axis] = slice(lo, hi)
        return data[tuple(index)]

    put(slice(top, top + h), slice(left, left + w), block)
    rows = {-1: slice(0, top), 0: slice(top, top + h), 1: slice(top + h, top + h + bottom)}
    cols = {-1: slice(0, left), 0: slice(left, left + w), 1: slice(left + w, left + w + right)}
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            edges = near[dy + 1][dx + 1]
            if (dy, dx) == (0, 0) or edges is None:  # a corner exists only beside both sides
                continue
            if dy == 0:  # left: the neighbour's right columns; right: its left columns
                put(rows[0], cols[dx], edges[3 if dx < 0 else 2])
                continue
            strip = edges[1 if dy < 0 else 0]  # above: its bottom rows; below: its top rows
            if dx != 0:  # a corner: that strip's last or first columns
                n = strip.shape[ax]
                strip = cut(strip, ax, n - rx, n) if dx < 0 else cut(strip, ax, 0, rx)
            put(rows[dy], cols[dx], strip)
    return out


def _reread_chunk(block: np.ndarray, near: List[List[Any]], fn: Callable[..., Any],
                  kwargs: Dict[str, Any], crops: Tuple[Crop, ...],
                  pick: Optional[int], spatial: Tuple[int, int], halo: Tuple[int, int],
                  where: Tuple[int, ...], count: Tuple[int, ...]) -> np.ndarray:
    return _filtered(_with_halo(block, near, spatial, halo), fn, kwargs, crops, pick, where, count)


def _overlap_rereading(image: "da.Array", fn: Callable[..., Any], kwargs: Dict[str, Any],
                       crops: Tuple[Crop, ...], pick: Optional[int],
                       spatial: List[int],
                       halo: Tuple[int, int], out_index: Callable[[Tuple[int, ...]], Tuple[int, ...]],
                       out_chunks: Tuple[Tuple[int, ...], ...], dtype: np.dtype) -> "da.Array":
    """What ``map_overlap`` computes, for chunks read straight from storage,
    without its cost in memory: ``map_overlap`` cuts every halo from the
    neighbouring chunks, so a chunk stays in memory until its last
    neighbour is filtered (about a row of chunks: 15-19 chunks per worker
    at 20000 x 20000 in 2048 x 2048 chunks).  Here every chunk is read twice:
    once to copy its edges (a few rows and columns, the only thing kept for
    the neighbours), once to be filtered with its neighbours' edges around
    it.  A worker holds about its chunk, the chunk with its halo and the
    result."""
    from dask.base import tokenize
    from dask.graph_manipulation import clone
    from dask.highlevelgraph import HighLevelGraph

    second = clone(image)  # the same reads under other names: read again, not kept
    ay, ax = spatial
    periodic = {a: p for a, _, _, p, _ in crops}
    token = tokenize(image, second, fn, kwargs, crops, pick, halo)
    edges_name = "filterkit-edges-" + token
    name = PATH_LAYERS["reread"] + fn.__name__ + "-" + token
    count = image.numblocks
    dsk: Dict[Any, Any] = {}
    for where in np.ndindex(*count):
        dsk[(edges_name,) + where] = (_edges, (second.name,) + where, (ay, ax), halo)
    for where in np.ndindex(*count):
        near: List[List[Any]] = []
        for dy in (-1, 0, 1):
            row: List[Any] = []
            for dx in (-1, 0, 1):
                at = list(where)
                inside = True
                for a, d in ((ay, dy), (ax, dx)):
                    at[a] += d
                    if periodic[a]:
                        at[a] %= count[a]
                    elif not 0 <= at[a] < count[a] or (d != 0 and count[a] == 1):
                        inside = False
                row.append((edges_name,) + tuple(at) if inside and (dy, dx) != (0, 0) else None)
            near.append(row)
        dsk[(name,) + out_index(where)] = (_reread_chunk, (image.name,) + where, near, fn, kwargs,
                                          crops, pick, (ay, ax), halo, where, count)
    graph = HighLevelGraph.from_collections(name, dsk, dependencies=[image, second])
    return da.Array(graph, name, chunks=out_chunks, dtype=dtype,
                    meta=np.empty((0,) * len(out_chunks), dtype=dtype))


def _probe(fn: Callable[..., Any], image: "da.Array", shape: Sequence[int],
           kwargs: Dict[str, Any]) -> Tuple[np.ndarray, ...]:
    """Run `fn` on a small zero image of `image`'s dtype and the given shape
    (the channels as they are): it checks every argument as the in-memory
    call does, and tells the result's dtype and layout.  Its errors name the
    caller's image, not the small one."""
    try:
        out = fn(np.zeros(tuple(shape), dtype=image.dtype), **kwargs)
    except (ValueError, TypeError) as exc:
        small, real = str(tuple(shape)), str(tuple(image.shape))
        text = str(exc)
        if small in text:
            raise type(exc)(text.replace(small, real)) from None
        raise
    return out if isinstance(out, tuple) else (out,)


def _lazy(fn: Callable[..., Any], image: Any, halo: Tuple[int, int], *, mode: Any, cval: Any,
          channel_axis: Any, **kwargs: Any) -> Any:
    """``fn(image, **kwargs)`` chunk by chunk with a halo of `halo` pixels."""
    image, axis, spatial = _axes(image, channel_axis)
    mode, cval = check_mode(mode, cval)
    valid = mode == "valid"
    sizes = [image.shape[a] for a in spatial]
    if valid and any(n < 2 * r + 1 for n, r in zip(sizes, halo)):
        raise fail("image", f"at least {2 * halo[0] + 1}x{2 * halo[1] + 1} (the mask) with "
                   "mode='valid'", f"{sizes[0]}x{sizes[1]}")
    # 'valid' is the 'constant' result without its border: the pixels kept
    # never read beyond the image
    kwargs.update(mode="constant" if valid else mode, cval=0.0 if valid else cval,
                  channel_axis=axis)
    small = list(image.shape)
    for a, r in zip(spatial, halo):
        small[a] = min(small[a], 2 * r + 1)
    probes = _probe(fn, image, small, dict(kwargs, channel_axis=channel_axis))

    chunks = list(image.chunks)
    if axis is not None:
        chunks[axis] = (image.shape[axis],)
    depth: Dict[int, int] = {a: 0 for a in range(image.ndim)}
    boundary: Dict[int, str] = {a: "none" for a in range(image.ndim)}
    for a, r, n in zip(spatial, halo, sizes):
        if r == 0:
            continue
        if n <= 2 * r:
            # the mask reaches past the whole axis (the border folds back on
            # itself): one chunk, filtered with the real mode, no halo
            chunks[a] = (n,)
            continue
        chunks[a] = ensure_minimum_chunksize(r, chunks[a])
        depth[a] = r
        if mode == "wrap" and len(chunks[a]) > 1:
            boundary[a] = "periodic"
    first = probes[0]
    keeps_channels = first.ndim == image.ndim
    out_axes = list(range(image.ndim)) if keeps_channels else [a for a in range(image.ndim)
                                                               if a != axis]
    out_chunks = [chunks[a] for a in out_axes]
    if keeps_channels and axis is not None:
        out_chunks[axis] = (first.shape[axis],)
    out_spatial = [out_axes.index(a) for a in spatial]
    crops = tuple((a, oa, depth[a], boundary[a] == "periodic",
                   tuple(int(x) for x in np.cumsum((0,) + tuple(chunks[a]))))
                  for a, oa in zip(spatial, out_spatial))
    # how the halo gets to each block: read with it from the store; cut from
    # chunks read twice; or map_overlap's exchange between chunks
    reader = _store_reader(image) if any(depth.values()) else None
    rereading = (reader is None and tuple(chunks) == image.chunks and _from_storage(image)
                 and any(depth.values()))
    if reader is None and not rereading and tuple(chunks) != image.chunks:
        image = image.rechunk(tuple(chunks))

    def build(pick: Optional[int]) -> "da.Array":
        """The lazy result: every output of `fn` stacked on a new first axis
        (they share a dtype), or only output `pick`."""
        outs = probes if pick is None else (probes[pick],)
        stacked = len(outs) > 1
        dtype = outs[0].dtype
        chunks_out = ([(len(outs),)] if stacked else []) + out_chunks
        meta = np.empty((0,) * len(chunks_out), dtype=dtype)
        def out_index(where: Tuple[int, ...]) -> Tuple[int, ...]:
            kept = [w for a, w in enumerate(where) if keeps_channels or a != axis]
            return ((0,) if stacked else ()) + tuple(kept)

        if reader is not None:
            # fn's one output, shaped as its input, may go to a reused buffer
            into = (dtype if "output" in kwargs and len(probes) == 1 and dtype in _INTO
                    and probes[0].shape == tuple(small) else None)
            result = _halo_reads(image, reader, fn, kwargs, crops, pick, chunks, stacked,
                                 None if keeps_channels else axis, tuple(chunks_out), dtype,
                                 into)
        elif rereading:
            result = _overlap_rereading(image, fn, kwargs, crops, pick, spatial,
                                        (depth[spatial[0]], depth[spatial[1]]), out_index,
                                        tuple(chunks_out), dtype)
        else:
            extra: Dict[str, Any] = {}
            if not keeps_channels:
                extra["drop_axis"] = [axis]
            if stacked:
                extra["new_axis"] = [0]
            from dask.base import tokenize

            token = tokenize(image.name, fn, kwargs, crops, pick, depth, boundary, chunks_out)
            result = da.map_overlap(
                functools.partial(_chunk, fn=fn, kwargs=kwargs, crops=crops, pick=pick), image,
                depth=depth, boundary=boundary, trim=False, allow_rechunk=False,
                align_arrays=False, dtype=dtype, chunks=tuple(chunks_out), meta=meta,
                name=PATH_LAYERS["overlap"] + getattr(fn, "__name__", "filter") + "-" + token,
                **extra)
        if valid:
            index = [slice(None)] * result.ndim
            for oa, r, n in zip(out_spatial, halo, sizes):
                index[oa + stacked] = slice(r, n - r)
            result = result[tuple(index)]
        return result

    if len(probes) == 1:
        return build(0)
    if len({p.dtype for p in probes}) == 1:  # one graph: the outputs share their chunks' work
        both = build(None)
        return tuple(both[i] for i in range(len(probes)))
    return tuple(build(i) for i in range(len(probes)))  # no common dtype holds both exactly


def _radius(shape: Tuple[int, int]) -> Tuple[int, int]:
    return shape[0] // 2, shape[1] // 2


def _masked(fn: Callable[..., Any], image: Any, mask: Any, *, mode: Any, cval: Any, output: Any,
            method: Any, channel_axis: Any, space: Any) -> "da.Array":
    """convolve / correlate (`fn`) with a halo of the mask's radius."""
    weights = check_mask(mask)
    halo = _radius(weights.shape)
    output = _output(output)
    return _lazy(fn, image, halo, mode=mode, cval=cval, channel_axis=channel_axis,
                 mask=np.asarray(mask), output=output,
                 method=_spatial_method(image, weights, method, output, channel_axis, halo),
                 space=space)


def _spatial_method(image: Any, weights: np.ndarray, method: Any, output: Any,
                    channel_axis: Any, halo: Tuple[int, int]) -> Any:
    """``method='auto'`` decided once for the chunks (plus halo), so that
    every chunk runs the same spatial method; an FFT choice stays 'auto'
    (each chunk decides, and keeps to the spatial methods for NaN)."""
    if not isinstance(method, str) or method != "auto" or not isinstance(image, da.Array):
        return method
    image, axis, spatial = _axes(image, channel_axis)
    block = tuple(min(image.shape[a], max(image.chunks[a]) + 2 * r) for a, r in zip(spatial, halo))
    double = is_double(image.dtype) or (output is not None and is_double(output))
    choice = choose_method(block, mask=weights, dtype=np.float64 if double else np.float32).method
    return "auto" if choice in SPECTRAL else choice


# ----------------------------------------------------------------------------
# the filters
# ----------------------------------------------------------------------------
_SEE = """
    Parameters and result as in :func:`filterkit.{name}`, for a
    :class:`dask.array.Array` `image`; `output` may be None or a dtype (not
    an array).  The result is lazy, chunked like `image` (the channel axis
    in one chunk; chunks smaller than the halo merged with a neighbour).
"""


def _doc(name: str, example: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        f.__doc__ = (f.__doc__ or "") + _SEE.format(name=name) + """
    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da
    >>> import filterkit, filterkit.dask
    >>> f = np.random.default_rng(0).random((300, 200), dtype=np.float32)
    >>> lazy = da.from_array(f, chunks=(128, 64))
""" + example
        return f
    return decorate


@_doc("convolve", """    >>> mask = [[1, 2, 1], [0, 0, 0], [-1, -2, -1]]
    >>> out = filterkit.dask.convolve(lazy, mask, mode="mirror")
    >>> out.chunks == lazy.chunks
    True
    >>> bool((out.compute() == filterkit.convolve(f, mask, mode="mirror")).all())
    True
""")
def convolve(image: Any, mask: Any, *, mode: str = "reflect", cval: float = 0.0,
             output: Any = None, method: str = "auto", channel_axis: Optional[int] = None,
             space: Optional[str] = None) -> "da.Array":
    """True 2-D convolution of a Dask array, chunk by chunk (the mask mirrored).
"""
    return _masked(_convolve.convolve, image, mask, mode=mode, cval=cval, output=output,
                   method=method, channel_axis=channel_axis, space=space)


@_doc("correlate", """    >>> left = [[0, 0, 0], [1, 0, 0], [0, 0, 0]]
    >>> out = filterkit.dask.correlate(lazy, left, mode="wrap")
    >>> bool((out.compute() == np.roll(f, 1, axis=1)).all())
    True
""")
def correlate(image: Any, mask: Any, *, mode: str = "reflect", cval: float = 0.0,
              output: Any = None, method: str = "auto", channel_axis: Optional[int] = None,
              space: Optional[str] = None) -> "da.Array":
    """2-D correlation of a Dask array, chunk by chunk (the mask as given).
"""
    return _masked(_convolve.correlate, image, mask, mode=mode, cval=cval, output=output,
                   method=method, channel_axis=channel_axis, space=space)


@_doc("mean", """    >>> out = filterkit.dask.mean(lazy, 5, mode="nearest")
    >>> np.allclose(out.compute(), filterkit.mean(f, 5, mode="nearest"), rtol=1e-6)
    True
""")
def mean(image: Any, size: masks.Size = 3, *, mode: str = "reflect", cval: float = 0.0,
         output: Any = None, channel_axis: Optional[int] = None,
         space: Optional[str] = None) -> "da.Array":
    """Mean (box) filter of a Dask array, chunk by chunk.

    The running sums restart at every chunk: integer images give exactly
    the in-memory result; float images agree to float64 rounding of the
    sums, then float32 (a last-bit difference at most).
"""
    halo = _radius(masks.check_size(size))
    return _lazy(_filters.mean, image, halo, mode=mode, cval=cval, channel_axis=channel_axis,
                 size=size, output=_output(output), space=space)


@_doc("gaussian", """    >>> out = filterkit.dask.gaussian(lazy, 2.0)
    >>> bool((out.compute() == filterkit.gaussian(f, 2.0)).all())
    True
""")
def gaussian(image: Any, sigma: Any = 1.0, *, size: Optional[masks.Size] = None,
             sampling: str = "integral", mode: str = "reflect", cval: float = 0.0,
             output: Any = None, channel_axis: Optional[int] = None,
             space: Optional[str] = None) -> "da.Array":
    """Gaussian low-pass filter of a Dask array, chunk by chunk.
"""
    col, row = masks.gaussian_factors(size, sigma=sigma, sampling=sampling)
    return _lazy(_filters.gaussian, image, (col.size // 2, row.size // 2), mode=mode, cval=cval,
                 channel_axis=channel_axis, sigma=sigma, size=size, sampling=sampling,
                 output=_output(output), space=space)


@_doc("sobel_x", """    >>> out = filterkit.dask.sobel_x(lazy)
    >>> bool((out.compute() == filterkit.sobel_x(f)).all())
    True
""")
def sobel_x(image: Any, *, mode: str = "reflect", cval: float = 0.0, output: Any = None,
            channel_axis: Optional[int] = None, space: Optional[str] = None) -> "da.Array":
    """f_x (the lecture's Sobel mask) of a Dask array, chunk by chunk.
"""
    return _lazy(_filters.sobel_x, image, (1, 1), mode=mode, cval=cval,
                 channel_axis=channel_axis, output=_output(output), space=space)


@_doc("sobel_y", """    >>> out = filterkit.dask.sobel_y(lazy)
    >>> bool((out.compute() == filterkit.sobel_y(f)).all())
    True
""")
def sobel_y(image: Any, *, mode: str = "reflect", cval: float = 0.0, output: Any = None,
            channel_axis: Optional[int] = None, space: Optional[str] = None) -> "da.Array":
    """f_y (the lecture's Sobel mask) of a Dask array, chunk by chunk.
"""
    return _lazy(_filters.sobel_y, image, (1, 1), mode=mode, cval=cval,
                 channel_axis=channel_axis, output=_output(output), space=space)


@_doc("sobel", """    >>> out = filterkit.dask.sobel(lazy, mode="mirror")
    >>> bool((out.compute() == filterkit.sobel(f, mode="mirror")).all())
    True
""")
def sobel(image: Any, *, mode: str = "reflect", cval: float = 0.0, output: Any = None,
          channel_axis: Optional[int] = None, space: Optional[str] = None,
          per_channel: bool = False) -> "da.Array":
    """Gradient strength sqrt(f_x^2 + f_y^2) of a Dask array, chunk by chunk
    (a colour image: the colour gradient of all channels, as in-memory).
"""
    return _lazy(_filters.sobel, image, (1, 1), mode=mode, cval=cval,
                 channel_axis=channel_axis, output=_output(output), space=space,
                 per_channel=per_channel)


@_doc("gradient", """    >>> strength, direction = filterkit.dask.gradient(lazy)
    >>> s, d = filterkit.gradient(f)
    >>> bool((strength.compute() == s).all() and (direction.compute() == d).all())
    True
""")
def gradient(image: Any, *, mode: str = "reflect", cval: float = 0.0, output: Any = None,
             channel_axis: Optional[int] = None, space: Optional[str] = None,
             per_channel: bool = False) -> Tuple["da.Array", "da.Array"]:
    """Gradient strength and direction atan2(f_y, f_x) of a Dask array, as two
    lazy arrays that share their chunks' work (compute them together, e.g.
    ``dask.compute(strength, direction)``).
"""
    return _lazy(_filters.gradient, image, (1, 1), mode=mode, cval=cval,
                 channel_axis=channel_axis, output=_output(output), space=space,
                 per_channel=per_channel)


@_doc("laplace", """    >>> out = filterkit.dask.laplace(lazy, neighbours=8, mode="wrap")
    >>> bool((out.compute() == filterkit.laplace(f, neighbours=8, mode="wrap")).all())
    True
""")
def laplace(image: Any, *, neighbours: int = 4, mode: str = "reflect", cval: float = 0.0,
            output: Any = None, channel_axis: Optional[int] = None,
            space: Optional[str] = None) -> "da.Array":
    """Laplace filter of a Dask array, chunk by chunk.
"""
    return _lazy(_filters.laplace, image, (1, 1), mode=mode, cval=cval,
                 channel_axis=channel_axis, neighbours=neighbours, output=_output(output),
                 space=space)


# ----------------------------------------------------------------------------
# colour conversions: pixel by pixel, no halo
# ----------------------------------------------------------------------------
def _pointwise(fn: Callable[..., np.ndarray], image: Any, channel_axis: Any,
               **kwargs: Any) -> "da.Array":
    image = _check_array(image)
    if image.ndim == 0:
        raise fail("image", "an array with a channel axis", f"0-D with shape {image.shape}")
    _check_size(image)
    if isinstance(channel_axis, (bool, np.bool_)) or not isinstance(channel_axis, (int, np.integer)):
        raise fail("channel_axis", "an integer", describe(channel_axis), TypeError)
    if not -image.ndim <= channel_axis < image.ndim:
        raise fail("channel_axis", f"an axis of the {image.ndim}-D image "
                   f"({-image.ndim} to {image.ndim - 1})", repr(channel_axis))
    axis = int(channel_axis) % image.ndim
    kwargs["output"] = _output(kwargs.get("output"))
    probe_shape = [1] * image.ndim
    probe_shape[axis] = image.shape[axis]
    probe = _probe(fn, image, probe_shape, dict(kwargs, channel_axis=channel_axis))[0]
    if image.numblocks[axis] > 1:
        image = image.rechunk({axis: -1})
    extra: Dict[str, Any] = {}
    chunks = list(image.chunks)
    if probe.ndim < image.ndim:
        extra["drop_axis"] = [axis]
        del chunks[axis]
    else:
        chunks[axis] = (probe.shape[axis],)
    return da.map_blocks(_convert_chunk, image, fn=fn, kwargs=dict(kwargs, channel_axis=axis),
                         dtype=probe.dtype, chunks=tuple(chunks),
                         meta=np.empty((0,) * probe.ndim, dtype=probe.dtype), **extra)


def _convert_chunk(block: np.ndarray, fn: Callable[..., np.ndarray],
                   kwargs: Dict[str, Any]) -> np.ndarray:
    with limited(THREADS_PER_CHUNK):
        return fn(block, **kwargs)


def _colour(name: str) -> Callable[..., "da.Array"]:
    fn = getattr(color, name)

    def lazy(image: Any, *, channel_axis: int = -1, output: Any = None) -> "da.Array":
        return _pointwise(fn, image, channel_axis, output=output)

    lazy.__name__ = lazy.__qualname__ = name
    lazy.__doc__ = f"""filterkit.color.{name} on a Dask array, chunk by chunk (no halo).

    Parameters and result as in :func:`filterkit.color.{name}`; `output`
    may be None or a dtype.  The channel axis is kept in one chunk.

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da
    >>> import filterkit.color, filterkit.dask
    >>> rgb = np.random.default_rng(0).random((64, 48, 3), dtype=np.float32)
    >>> out = filterkit.dask.{name}(da.from_array(rgb, chunks=(32, 32, 3)))
    >>> bool((out.compute() == filterkit.color.{name}(rgb)).all())
    True
    """
    return lazy


rgb_to_xyz = _colour("rgb_to_xyz")
xyz_to_rgb = _colour("xyz_to_rgb")
rgb_to_lab = _colour("rgb_to_lab")
lab_to_rgb = _colour("lab_to_rgb")
rgb_to_luv = _colour("rgb_to_luv")
luv_to_rgb = _colour("luv_to_rgb")
rgb_to_gray = _colour("rgb_to_gray")


def convert(image: Any, source: str, target: str, *, channel_axis: int = -1,
            output: Any = None) -> "da.Array":
    """:func:`filterkit.color.convert` on a Dask array, chunk by chunk.

    Parameters and result as in :func:`filterkit.color.convert`; `output`
    may be None or a dtype.

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da
    >>> import filterkit.color, filterkit.dask
    >>> rgb = np.random.default_rng(0).random((64, 48, 3))
    >>> out = filterkit.dask.convert(da.from_array(rgb, chunks=32), "rgb", "luv")
    >>> bool((out.compute() == filterkit.color.convert(rgb, "rgb", "luv")).all())
    True
    """
    return _pointwise(functools.partial(color.convert, source=source, target=target), image,
                      channel_axis, output=output)

"""Large images: the tiled command line and filterkit.dask against in-memory filtering and dask-image.

    python -m benchmarks.scale                      # about 8 minutes on 2 cores
    python -m benchmarks.scale --quick              # under 2 minutes: 2048^2, memory case 6000^2
    python -m benchmarks.scale --only cluster       # section 4 alone, about 2 minutes

1. Throughput, in megapixels per second, of one float32 image (8192x8192;
   ``--quick`` 2048x2048) filtered by ``convolve`` (mode reflect) with a
   13x13 Gaussian mask (``filterkit.masks.gaussian(13, sigma=2)``; filterkit with
   ``method="direct"`` and with the default ``"auto"``) and with a 5x5
   random, not separable, mask, along these paths, interleaved round by
   round (a warm-up, then the median of 5 runs; ``--quick`` 3):

   - ``filterkit.convolve`` in memory on 1 and 2 threads;
   - ``filterkit.dask.convolve`` (chunks 2048x2048; ``--quick`` 512x512) on
     Dask's threaded scheduler with 1 and 2 workers, and on a
     ``distributed.LocalCluster`` of 1 and 2 single-threaded worker processes;
   - ``dask_image.ndfilters.convolve`` (when installed) with the same mask,
     chunks, sources and sinks: threaded with 1 and 2 workers, and on the
     clusters when that is cheap (estimated from the threaded runs);
   - the command line: ``python -m filterkit convolve in.tif out.tif --mask
     mask.npy --raw`` on the whole image, and with ``--tile 2048`` when this
     filterkit has that option (else the row says "not available"): wall
     time of the whole command, reading and writing the float32 TIFF included.

   The target: filterkit.dask at least 3x dask-image's throughput on 2 cores.
2. Peak memory of ``filterkit.dask.gaussian(da.from_zarr(src), 2.0)`` written
   with ``da.to_zarr`` from an uncompressed 20000x20000 float32 zarr array
   (chunks 2048x2048, created once in the scratch folder and reused;
   ``--quick``: 6000x6000, chunks 1024x1024), each case in a fresh process:
   threaded with 2 workers, and a LocalCluster of 2 worker processes (peak
   per worker); dask-image's ``convolve`` with the same 13x13 mask beside it
   when it is estimated to take under 3 minutes.  The target: at most 8
   chunks' worth of extra memory per worker.
3. The command line's ``--tile`` on a 40000x40000 8-bit TIFF (``--quick``
   8000x8000): wall time, peak memory, spot checks against in-memory filtering.
4. zarr → zarr on worker processes (issue 19's targets; ``--only cluster``
   runs this section alone and keeps the others from the last scale.json).
   One float32 4096x4096 image (``--quick`` 2048x2048) in zarr arrays chunked
   1024x1024 (``--quick`` 512x512): uncompressed, with zarr's default
   compressor, and uncompressed in chunks a quarter as wide read in the same
   Dask chunks.  ``convolve`` (mode reflect, the default method) with a 9x9
   random mask, the result written with ``da.to_zarr(result, new_store,
   mode="w")`` (the graph built in the timed call):

   - ``filterkit.dask.convolve(da.from_zarr(src), mask)``: the store path,
     each block reads its own halo (the row names the graph layer,
     ``filterkit.dask.PATH_LAYERS``);
   - the same of ``da.from_zarr(src).map_blocks(np.copy)``: a computed
     source, map_overlap;
   - ``dask_image.ndfilters.convolve(da.from_zarr(src), mask)``;
   - the copy, ``da.to_zarr(da.from_zarr(src), dst)``: the same reads and
     writes, no filter.

   On LocalClusters of 1, 2 and 4 single-threaded worker processes (4
   oversubscribes 2 cores; dask-image, the compressed and the small-chunked
   sources on 2 only), and on an external cluster: ``dask scheduler`` and two
   ``dask worker --nthreads 1 --no-dashboard`` processes on 127.0.0.1 and a
   free port, each in a process group of its own, stopped at the end
   (SIGTERM, then SIGKILL to the groups; the report says whether any process
   was left).  All the clusters are up together and every row is
   interleaved round by round (a warm-up, then the median of 7 runs;
   ``--quick`` 3).  Every warm-up's output is checked: filterkit equal to
   in-memory filterkit, dask-image within float32 rounding of it (both are
   true convolutions: scipy flips the mask too), the copy equal to the
   image; a failure stops the run.  Each run also sums the data the workers
   received from each other (distributed's ``Worker.transfer_incoming_log``,
   cleared before the run): image data (array chunks and pieces of them)
   against small objects (the writes' results).  Then one more run of each
   2-worker uncompressed row under distributed's task stream (compute and
   transfer time), and the parts of one block's work timed on a worker
   (read, read with the halo, filter, write).  The targets: on the
   LocalCluster of 2, filterkit at least 3x dask-image and 0.6x the copy, and
   0 bytes of image data moved between workers with a store source.  Plot:
   benchmarks/results/scale_workers.png, MP/s and data moved per block
   against the number of workers.

Only filterkit's public API is used (``filterkit``, ``filterkit.dask``, the
``filterkit`` command).  Results: benchmarks/results/scale.md and
scale_workers.png (committed) and scale.json (raw, not committed); scratch
files in benchmarks/results/scratch/scale/.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

if __name__ == "__main__" and not __package__:  # python benchmarks/scale.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import harness  # noqa: E402  (before numpy: BLAS on one thread)
from benchmarks.harness import load_average, peak_of, reset_peak, rss  # noqa: E402

import numpy as np  # noqa: E402

import filterkit  # noqa: E402

try:
    import dask
    import dask.array as da
    import filterkit.dask as fkd
except ImportError:  # pragma: no cover - reported by main()
    dask = da = fkd = None
try:
    import distributed
except ImportError:  # pragma: no cover
    distributed = None
try:
    import dask_image.ndfilters as dask_ndfilters
except ImportError:  # pragma: no cover
    dask_ndfilters = None
try:
    import zarr
except ImportError:  # pragma: no cover
    zarr = None
try:
    import tifffile
except ImportError:  # pragma: no cover
    tifffile = None
try:
    import psutil
except ImportError:  # pragma: no cover
    psutil = None

ROOT = harness.ROOT
RESULTS = harness.RESULTS
SCRATCH = os.path.join(RESULTS, "scratch", "scale")
#: the folder that holds this filterkit: spawned workers and commands import it
FK_PATH = os.path.dirname(os.path.dirname(os.path.abspath(filterkit.__file__)))

DEFAULT = {"side": 8192, "chunk": 2048, "repeat": 5, "mem_side": 20000, "mem_chunk": 2048,
           "tiff_side": 40000, "tiff_tile": 2048,
           "cl_side": 4096, "cl_chunk": 1024, "cl_repeat": 7, "cl_workers": [1, 2, 4]}
QUICK = {"side": 2048, "chunk": 512, "repeat": 3, "mem_side": 6000, "mem_chunk": 1024,
         "tiff_side": 8000, "tiff_tile": 1024,
         "cl_side": 2048, "cl_chunk": 512, "cl_repeat": 3, "cl_workers": [1, 2, 4]}
#: the targets of the issue
TARGET_RATIO = 3.0
TARGET_CHUNKS = 8.0
#: a dask-image memory case estimated longer than this is skipped
MEMORY_PEER_LIMIT = 180.0
#: dask-image's cluster rows run when the threaded rows predict at most this many seconds
CLUSTER_PEER_BUDGET = {"default": 60.0, "quick": 8.0}
#: the default run before the cluster section (which takes about 2 minutes more) should
#: stay under 10 minutes
RUN_BUDGET = 570.0
MIB = 2 ** 20

T_START = time.perf_counter()


def say(msg: str) -> None:
    print(f"[{time.perf_counter() - T_START:5.0f} s] {msg}", file=sys.stderr, flush=True)


def machine() -> Dict[str, object]:
    return harness.machine("scipy", "dask", "distributed", "dask-image", "zarr", "tifffile")


def child_env() -> Dict[str, str]:
    """The environment of spawned workers and commands: this filterkit first."""
    return harness.child_env(FK_PATH)


# --------------------------------------------------------------------------
# timing


class Path:
    """One timed way of filtering the image (a row of the throughput table)."""

    def __init__(self, key: str, library: str, where: str, cores: int, run: Callable[[], object],
                 method: Optional[str] = None, sink: str = "", note: str = ""):
        self.key, self.library, self.where, self.cores = key, library, where, cores
        self.run, self.method, self.sink, self.note = run, method, sink, note
        self.times: List[float] = []
        self.warm: Optional[float] = None
        self.skipped: Optional[str] = None

    def call(self) -> float:
        t0 = time.perf_counter()
        self.run()
        return time.perf_counter() - t0

    def row(self, pixels: int) -> dict:
        r = {"key": self.key, "library": self.library, "where": self.where, "cores": self.cores,
             "method": self.method, "sink": self.sink, "note": self.note, "skipped": self.skipped,
             "warmup_seconds": self.warm, "seconds": self.times}
        if self.times:
            t = np.array(self.times)
            r.update(median_seconds=float(np.median(t)),
                     mp_s={"median": pixels / float(np.median(t)) / 1e6,
                           "min": pixels / float(t.max()) / 1e6, "max": pixels / float(t.min()) / 1e6})
        return r


def interleaved(paths: List[Path], repeat: int, label: str) -> None:
    """`repeat` rounds over the paths (warmed up before), in the balanced
    order of :func:`harness.round_orders`, so every path sees the same
    machine state."""
    live = [p for p in paths if p.skipped is None and p.warm is not None]
    for r, order in enumerate(harness.round_orders(len(live), repeat)):
        for i in order:
            live[i].times.append(live[i].call())
        say(f"{label}: round {r + 1}/{repeat} done")


def warm_up(paths: List[Path], label: str) -> None:
    for p in paths:
        if p.skipped is not None or p.warm is not None:
            continue
        try:
            p.warm = p.call()
        except Exception as exc:  # a path that cannot run here: say so in its row
            p.skipped = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
            say(f"{label}: {p.key} {p.skipped}")
            continue
        say(f"{label}: warm-up {p.key}: {p.warm:.2f} s")


# --------------------------------------------------------------------------
# the throughput table


def make_masks() -> List[dict]:
    rng = np.random.default_rng(5)
    return [
        {"key": "gauss13", "title": "13×13 Gaussian (σ = 2)",
         "mask": filterkit.masks.gaussian(13, sigma=2), "methods": ["direct", "auto"]},
        {"key": "random5", "title": "5×5 random (not separable)",
         "mask": rng.standard_normal((5, 5)).astype(np.float32), "methods": ["auto"]},
    ]


def tile_option() -> Tuple[bool, str]:
    """Does this filterkit's ``convolve`` command have ``--tile``?"""
    try:
        res = subprocess.run([sys.executable, "-m", "filterkit", "convolve", "--help"],
                             capture_output=True, text=True, env=child_env(), cwd=ROOT, timeout=120)
    except (OSError, subprocess.SubprocessError) as exc:
        return False, f"`filterkit convolve --help` failed ({exc})"
    if "--tile" in res.stdout:
        return True, ""
    return False, "not available: `filterkit convolve --help` has no --tile"


def check_seams(masks: List[dict]) -> List[dict]:
    """filterkit.dask and dask-image against the in-memory result, on a small
    image with many seams (uneven chunks)."""
    rng = np.random.default_rng(1)
    small = rng.random((700, 650), dtype=np.float32)
    lazy = da.from_array(small, chunks=(192, 160))
    found = []
    filterkit.set_num_threads(1)
    for f in masks:
        for method in f["methods"]:
            ref = filterkit.convolve(small, f["mask"], method=method)
            got = fkd.convolve(lazy, f["mask"], method=method).compute(scheduler="threads")
            entry = {"filter": f["key"], "method": method,
                     "filterkit.dask_max_abs_diff": float(np.abs(got - ref).max()),
                     "filterkit.dask_identical": bool((got == ref).all())}
            if dask_ndfilters is not None:
                peer = dask_ndfilters.convolve(lazy, f["mask"]).compute(scheduler="threads")
                entry["dask-image_max_abs_diff"] = float(np.abs(peer - ref).max())
            found.append(entry)
    return found


def quiet_distributed() -> None:
    """No INFO lines from the scheduler and workers on stderr, and no warning
    that the (disabled) dashboard's default port is taken."""
    logging.getLogger("distributed").setLevel(logging.ERROR)
    import warnings
    warnings.filterwarnings("ignore", message=r"Port \d+ is already in use")


class Clusters:
    """LocalClusters of 1 and 2 single-threaded worker processes, alive
    together so that their runs interleave with the others."""

    def __init__(self, sizes: Tuple[Any, ...]):
        """`sizes`: worker counts, or (count, scheduler config) pairs."""
        os.environ.update(PYTHONPATH=child_env()["PYTHONPATH"])  # the workers import this filterkit
        quiet_distributed()
        self.clusters, self.clients = {}, {}
        for key in sizes:
            n, config = (key[0], dict(key[1])) if isinstance(key, tuple) else (key, {})
            t0 = time.perf_counter()
            with dask.config.set(config):  # the scheduler reads its settings when it starts
                cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1,
                                                   processes=True, dashboard_address=None,
                                                   silence_logs=logging.ERROR)
            client = distributed.Client(cluster, set_as_default=False)
            client.run(lambda: __import__("filterkit.dask"))
            self.clusters[key], self.clients[key] = cluster, client
            say(f"LocalCluster of {n} worker process(es) {config or ''} up in "
                f"{time.perf_counter() - t0:.1f} s")

    def close(self) -> None:
        for n in list(self.clients):
            self.clients.pop(n).close()
            self.clusters.pop(n).close()


def throughput(cfg: dict, scratch: str, masks: List[dict], use_cluster: bool) -> dict:
    side, chunk, repeat = cfg["side"], cfg["chunk"], cfg["repeat"]
    pixels = side * side
    image = np.random.default_rng(0).random((side, side), dtype=np.float32)
    sink = np.zeros_like(image)  # touched: no page faults in the timed calls
    lazy = da.from_array(image, chunks=chunk)
    os.makedirs(scratch, exist_ok=True)
    notes: Dict[str, str] = {}

    # zarr source and sink for the clusters (a NumPy array would travel
    # through the scheduler; a NumPy sink in this process cannot be written by
    # other processes)
    zsrc = zdst = None
    if zarr is not None:
        zsrc_path = os.path.join(scratch, f"throughput_{side}.zarr")
        z = zarr.create_array(store=zsrc_path, shape=image.shape, chunks=(chunk, chunk),
                              dtype="float32", compressors=None, fill_value=0.0, overwrite=True)
        z[...] = image
        zsrc = da.from_zarr(zsrc_path)
        zdst = zarr.create_array(store=os.path.join(scratch, f"throughput_{side}_out.zarr"),
                                 shape=image.shape, chunks=(chunk, chunk), dtype="float32",
                                 compressors=None, fill_value=0.0, overwrite=True)
    else:
        notes["zarr"] = "zarr is not installed: no LocalCluster or zarr rows"

    tif = os.path.join(scratch, f"throughput_{side}.tif")
    has_tile, tile_note = tile_option()
    if tifffile is not None:
        tifffile.imwrite(tif, image)
    else:
        notes["cli"] = "tifffile is not installed: no command-line rows"

    clusters = None
    if use_cluster and distributed is not None and zsrc is not None:
        clusters = Clusters((1, 2))
    elif distributed is None:
        notes["cluster"] = "distributed is not installed: no LocalCluster rows"

    def store_numpy(build: Callable[[], "da.Array"], workers: int) -> Callable[[], object]:
        return lambda: da.store(build(), sink, lock=False, scheduler="threads", num_workers=workers)

    def store_zarr_threads(build: Callable[[], "da.Array"], workers: int) -> Callable[[], object]:
        return lambda: da.store(build(), zdst, lock=False, scheduler="threads", num_workers=workers)

    def store_zarr_cluster(build: Callable[[], "da.Array"], n: int) -> Callable[[], object]:
        client = clusters.clients[n]
        return lambda: client.compute(da.store(build(), zdst, lock=False, compute=False), sync=True)

    def in_memory(mask: np.ndarray, method: str, threads: int) -> Callable[[], object]:
        def run():
            filterkit.set_num_threads(threads)
            filterkit.convolve(image, mask, method=method, output=sink)
        return run

    def cli_out(threads: int, tile: Optional[int]) -> str:
        return os.path.join(scratch, f"throughput_out_{'tiled' if tile else 'whole'}_{threads}.tif")

    def cli(mask_path: str, threads: int, tile: Optional[int]) -> Callable[[], object]:
        out = cli_out(threads, tile)
        cmd = [sys.executable, "-m", "filterkit", "convolve", tif, out, "--mask", mask_path,
               "--raw", "--threads", str(threads)] + (["--tile", str(tile)] if tile else [])

        def run():
            res = subprocess.run(cmd, capture_output=True, text=True, env=child_env(), cwd=ROOT,
                                 timeout=600)
            if res.returncode != 0:
                raise RuntimeError(f"exit {res.returncode}: {res.stderr.strip()[-300:]}")
        return run

    per_filter = []
    budget = CLUSTER_PEER_BUDGET["quick" if cfg.get("quick") else "default"]
    for f in masks:
        mask, title = f["mask"], f["title"]
        paths: List[Path] = []
        chosen = {m: filterkit.choose_method(image.shape, mask=mask).method for m in f["methods"]}
        block = (chunk + mask.shape[0] - 1, chunk + mask.shape[1] - 1)
        chosen_chunk = filterkit.choose_method(block, mask=mask).method
        for method in f["methods"]:
            for t in (1, 2):
                paths.append(Path(f"{method} in-memory {t}", "filterkit", "in memory", t,
                                  in_memory(mask, method, t), method, "NumPy (output=)"))
            for w in (1, 2):
                build = (lambda m=method, k=mask: fkd.convolve(lazy, k, method=m))
                paths.append(Path(f"{method} filterkit.dask threads {w}", "filterkit.dask",
                                  "threads", w, store_numpy(build, w), method, "NumPy (da.store)"))
            if zsrc is not None:
                build = (lambda m=method, k=mask: fkd.convolve(zsrc, k, method=m))
                paths.append(Path(f"{method} filterkit.dask threads zarr 2", "filterkit.dask",
                                  "threads, zarr → zarr", 2, store_zarr_threads(build, 2), method,
                                  "zarr (da.store)"))
                if clusters is not None:
                    for n in (1, 2):
                        paths.append(Path(f"{method} filterkit.dask cluster {n}", "filterkit.dask",
                                          "LocalCluster", n, store_zarr_cluster(build, n), method,
                                          "zarr (da.store)"))
        peer_cluster: List[Path] = []
        if dask_ndfilters is not None:
            for w in (1, 2):
                paths.append(Path(f"dask-image threads {w}", "dask-image", "threads", w,
                                  store_numpy(lambda k=mask: dask_ndfilters.convolve(lazy, k), w),
                                  None, "NumPy (da.store)"))
            if clusters is not None:
                for n in (1, 2):
                    peer_cluster.append(Path(
                        f"dask-image cluster {n}", "dask-image", "LocalCluster", n,
                        store_zarr_cluster(lambda k=mask: dask_ndfilters.convolve(zsrc, k), n),
                        None, "zarr (da.store)"))
        else:
            notes["dask-image"] = "dask-image is not installed: no peer rows"
        if tifffile is not None:
            mask_path = os.path.join(scratch, f"mask_{f['key']}.npy")
            np.save(mask_path, mask)
            paths.append(Path("auto CLI whole 2", "filterkit CLI", "whole image", 2,
                              cli(mask_path, 2, None), "auto", "TIFF file"))
            for t in (1, 2):
                p = Path(f"auto CLI tiled {t}", "filterkit CLI", f"--tile {chunk}", t,
                         cli(mask_path, t, chunk), "auto", "TIFF file")
                if not has_tile:
                    p.skipped = tile_note
                paths.append(p)
        if f is masks[0] and zsrc is not None:  # the floor: the same reads and writes, no filter
            paths.append(Path("copy threads zarr 2", "dask (no filter)", "threads, zarr → zarr", 2,
                              store_zarr_threads(lambda: zsrc, 2), None, "zarr (da.store)"))
            if clusters is not None:
                paths.append(Path("copy cluster 2", "dask (no filter)", "LocalCluster", 2,
                                  store_zarr_cluster(lambda: zsrc, 2), None, "zarr (da.store)"))
        label = f"{side}x{side} {title}"
        warm_up(paths, label)
        if peer_cluster:  # cheap enough? predicted from the threaded runs
            thr = [p.warm for p in paths if p.key.startswith("dask-image threads ")
                   and "zarr" not in p.key and p.warm is not None]
            estimate = sum(thr) * (repeat + 1) if len(thr) == 2 else float("inf")
            for p in peer_cluster:
                if estimate > budget:
                    p.skipped = (f"skipped: estimated {estimate:.0f} s for both cluster rows "
                                 f"(budget {budget:.0f} s)")
            warm_up(peer_cluster, label)
            paths += peer_cluster
        interleaved(paths, repeat, label)
        cli_checks = {}
        if tifffile is not None:  # the command's results against filterkit.convolve in memory
            filterkit.set_num_threads(2)
            ref = filterkit.convolve(image, mask)
            for p in paths:
                if p.library == "filterkit CLI" and p.times:
                    got = tifffile.imread(cli_out(p.cores, None if p.where == "whole image" else chunk))
                    cli_checks[p.key] = (float(np.abs(got - ref).max()) if got.shape == ref.shape
                                         else f"shape {got.shape}")
            del ref
        per_filter.append({"filter": f["key"], "title": title, "mask_shape": list(mask.shape),
                           "auto_in_memory": chosen.get("auto"), "auto_chunk": chosen_chunk,
                           "cli_max_abs_diff": cli_checks,
                           "rows": [p.row(pixels) for p in paths]})
    if clusters is not None:
        clusters.close()
    for name in (f"throughput_{side}.zarr", f"throughput_{side}_out.zarr"):
        shutil.rmtree(os.path.join(scratch, name), ignore_errors=True)
    for name in os.listdir(scratch):
        if name.startswith("throughput_") and name.endswith(".tif") or name.startswith("mask_"):
            os.remove(os.path.join(scratch, name))
    return {"image": [side, side], "dtype": "float32", "chunk": [chunk, chunk], "repeat": repeat,
            "megapixels": pixels / 1e6, "mode": "reflect", "tile_option": has_tile,
            "tile_note": tile_note, "notes": notes, "filters": per_filter}


# --------------------------------------------------------------------------
# peak memory, each case in a fresh process


def source_store(scratch: str, side: int, chunk: int) -> str:
    """The uncompressed float32 zarr source of the memory case: reused when a
    complete one of this shape and chunking is there, else written chunk by chunk."""
    path = os.path.join(scratch, f"memory_{side}_{chunk}.zarr")
    try:
        z = zarr.open_array(path, mode="r")
        if (z.shape == (side, side) and z.chunks == (chunk, chunk) and z.dtype == np.float32
                and z.attrs.get("complete") and not z.compressors):
            say(f"memory: reusing {path}")
            return path
    except Exception:
        pass
    say(f"memory: writing {path} ({side * side * 4 / MIB:.0f} MiB, chunk by chunk) ...")
    t0 = time.perf_counter()
    shutil.rmtree(path, ignore_errors=True)
    z = zarr.create_array(store=path, shape=(side, side), chunks=(chunk, chunk), dtype="float32",
                          compressors=None, fill_value=0.0, attributes={"complete": False})
    rng = np.random.default_rng(2)
    for i in range(0, side, chunk):
        for j in range(0, side, chunk):
            h, w = min(chunk, side - i), min(chunk, side - j)
            z[i:i + h, j:j + w] = rng.random((h, w), dtype=np.float32)
    z.attrs["complete"] = True
    say(f"memory: written in {time.perf_counter() - t0:.0f} s")
    return path


def _warm(filtered: Callable[["da.Array"], "da.Array"], src: "da.Array", chunk: int, **compute) -> None:
    """One chunk through the whole path: modules, thread pools, zarr's codecs."""
    region = src[: 2 * chunk, : 2 * chunk]
    float(filtered(region).sum().compute(**compute))


def _memory_child(spec_json: str) -> None:
    """Run one memory case; print its figures as JSON on the last line."""
    spec = json.loads(spec_json)
    import dask as _dask
    import dask.array as _da
    import filterkit.dask as _fkd

    src = _da.from_zarr(spec["src"])
    chunk = spec["chunk"]
    if spec["library"] == "dask-image":
        import dask_image.ndfilters as _dif
        mask = filterkit.masks.gaussian(13, sigma=2)

        def filtered(a):
            return _dif.convolve(a, mask)
    else:
        def filtered(a):
            return _fkd.gaussian(a, 2.0)

    # to_zarr creates the target (uncompressed, chunked like the result).  Not
    # an existing zarr.Array: dask then rechunks the result to its 'auto'
    # chunk size (array.chunk-size, 128 MiB) first, which costs more memory
    # than the filter

    def stored_graph():
        return _da.to_zarr(filtered(src), spec["dst"], compute=False, mode="w", compressors=None)
    pixels = src.shape[0] * src.shape[1]
    out: Dict[str, object] = {}
    if spec["where"] == "threads":
        workers = spec["workers"]
        _warm(filtered, src, chunk, scheduler="threads", num_workers=workers)
        stored = stored_graph()  # the graph, built
        gc.collect()
        clean = reset_peak()
        base = rss()
        t0 = time.perf_counter()
        _dask.compute(stored, scheduler="threads", num_workers=workers)
        wall = time.perf_counter() - t0
        peak = harness.peak()
        top = peak_of(clean, peak)
        out.update(wall=wall, baseline=base, peak=top, peaks=peak, extra=[top - base],
                   reset=clean, per="process (all workers)")
    else:
        import distributed as _distributed
        os.environ.update(PYTHONPATH=child_env()["PYTHONPATH"])
        quiet_distributed()
        t0 = time.perf_counter()
        cluster = _distributed.LocalCluster(n_workers=spec["workers"], threads_per_worker=1,
                                            processes=True, dashboard_address=None,
                                            silence_logs=logging.ERROR)
        client = _distributed.Client(cluster)
        out["cluster_start"] = time.perf_counter() - t0
        client.run(lambda: __import__("filterkit.dask"))
        _warm(filtered, src, chunk)
        stored = stored_graph()
        client.run(gc.collect)
        resets = client.run(reset_peak)
        bases = client.run(rss)
        pids = client.run(os.getpid)
        sampled = {w: 0 for w in pids}
        stop = threading.Event()

        def sample():  # psutil's view beside the kernel's peak
            procs = {w: psutil.Process(pid) for w, pid in pids.items()}
            while not stop.is_set():
                for w, p in procs.items():
                    try:
                        sampled[w] = max(sampled[w], p.memory_info().rss)
                    except Exception:
                        pass
                stop.wait(0.02)

        sampler = threading.Thread(target=sample, daemon=True) if psutil is not None else None
        if sampler is not None:
            sampler.start()
        t0 = time.perf_counter()
        client.compute(stored, sync=True)
        wall = time.perf_counter() - t0
        stop.set()
        if sampler is not None:
            sampler.join()
        peaks = client.run(harness.peak)
        workers = sorted(peaks)
        tops = [peak_of(resets[w], peaks[w]) for w in workers]
        out.update(wall=wall, baseline=[bases[w] for w in workers], peak=tops,
                   peaks=[peaks[w] for w in workers],
                   extra=[t - bases[w] for t, w in zip(tops, workers)],
                   sampled_extra=([sampled[w] - bases[w] for w in workers] if sampler else None),
                   reset=all(resets.values()), per="worker process")
        client.close()
        cluster.close()
    out["megapixels_per_s"] = pixels / out["wall"] / 1e6
    print(json.dumps(out))


def memory_case(cfg: dict, src: str, scratch: str, library: str, where: str,
                workers: int) -> dict:
    chunk = cfg["mem_chunk"]
    dst = os.path.join(scratch, f"memory_out_{library}_{where}.zarr")
    spec = {"src": src, "dst": dst, "chunk": chunk, "library": library, "where": where,
            "workers": workers}
    what = (f"{'filterkit.dask.gaussian(src, 2.0)' if library == 'filterkit' else 'dask_image convolve'}"
            f", {where} x{workers}")
    say(f"memory: {what} ...")
    entry: Dict[str, object] = {"library": library, "where": where, "workers": workers,
                                "image": [cfg["mem_side"]] * 2, "chunk": [chunk, chunk],
                                "chunk_bytes": chunk * chunk * 4}
    try:
        out, why = harness.run_child("benchmarks.scale", "_memory_child", [json.dumps(spec)],
                                     env=child_env(), timeout=900)
    finally:
        shutil.rmtree(dst, ignore_errors=True)
    if why is not None:
        entry["skipped"] = f"failed: {why[:200]}"
        say(f"memory: {what}: {entry['skipped']}")
        return entry
    entry.update(out)
    extra = out["extra"]
    per_worker = [e / entry["chunk_bytes"] / (workers if where == "threads" else 1) for e in extra]
    entry["chunks_per_worker"] = max(per_worker)
    say(f"memory: {what}: {out['wall']:.1f} s, {out['megapixels_per_s']:.0f} MP/s, peak extra "
        f"{', '.join(f'{e / MIB:.0f}' for e in extra)} MiB = {max(per_worker):.1f} chunks per worker")
    return entry


def memory(cfg: dict, scratch: str, report: dict, use_cluster: bool) -> List[dict]:
    if zarr is None:
        return [{"skipped": "zarr is not installed"}]
    os.makedirs(scratch, exist_ok=True)
    src = source_store(scratch, cfg["mem_side"], cfg["mem_chunk"])
    cases = [memory_case(cfg, src, scratch, "filterkit", "threads", 2)]
    if use_cluster and distributed is not None:
        cases.append(memory_case(cfg, src, scratch, "filterkit", "LocalCluster", 2))
    if dask_ndfilters is None:
        return cases
    peer = _find(report, "gauss13", "dask-image threads 2")
    mps = peer.get("mp_s", {}).get("median") if peer else None
    pixels = cfg["mem_side"] ** 2
    estimate = pixels / (mps * 1e6) if mps else None
    left = RUN_BUDGET - (time.perf_counter() - T_START)
    if cfg.get("quick"):
        why = "skipped with --quick (default run only)"
    elif estimate is None:
        why = "skipped: no dask-image throughput to estimate it from"
    elif estimate > MEMORY_PEER_LIMIT:
        why = f"skipped: estimated {estimate:.0f} s (over {MEMORY_PEER_LIMIT:.0f} s)"
    elif estimate + 15 > left:
        why = f"skipped: estimated {estimate:.0f} s, {max(left, 0):.0f} s left of the run's budget"
    else:
        why = None
    if why:
        say(f"memory: dask-image {why}")
        cases.append({"library": "dask-image", "where": "threads", "workers": 2, "skipped": why,
                      "estimate_seconds": estimate})
    else:
        case = memory_case(cfg, src, scratch, "dask-image", "threads", 2)
        case["estimate_seconds"] = estimate
        cases.append(case)
    return cases


# --------------------------------------------------------------------------
# one huge TIFF through the command line's --tile
# --------------------------------------------------------------------------
def huge_tiff(scratch: str, side: int, tile: int) -> str:
    """An 8-bit side x side TIFF in (uncompressed) tiles of `tile`, BigTIFF,
    written a tile at a time: smooth waves plus noise.  Reused when present."""
    path = os.path.join(scratch, f"huge_{side}_{tile}.tif")
    if os.path.exists(path):
        try:
            with tifffile.TiffFile(path) as tif:
                if tif.series[0].shape == (side, side) and tif.pages[0].is_tiled:
                    say(f"tiled: reusing {path}")
                    return path
        except Exception:
            pass
    say(f"tiled: writing {path} ({side * side / MIB:.0f} MiB, a tile at a time) ...")
    rng = np.random.default_rng(3)
    noise = rng.integers(0, 64, (tile, tile), dtype=np.uint8)

    def tiles():
        for i in range(0, side, tile):
            y = np.arange(i, min(i + tile, side))[:, None]
            for j in range(0, side, tile):
                x = np.arange(j, min(j + tile, side))[None, :]
                wave = 96 + 80 * np.sin(y / 300.0) * np.cos(x / 500.0)
                yield (wave + noise[:wave.shape[0], :wave.shape[1]]).astype(np.uint8)

    tmp = path + ".part"
    tifffile.imwrite(tmp, data=tiles(), shape=(side, side), dtype=np.uint8, tile=(tile, tile),
                     bigtiff=True, photometric="minisblack")
    os.replace(tmp, path)
    return path


def _tiled_child(spec_json: str) -> None:
    """Run the command line on the huge TIFF in this process; print JSON."""
    spec = json.loads(spec_json)
    from filterkit.cli import main as cli_main
    gc.collect()
    clean = reset_peak()
    base = rss()
    t0 = time.perf_counter()
    code = cli_main(spec["argv"])
    wall = time.perf_counter() - t0
    top = peak_of(clean, harness.peak())
    print(json.dumps({"code": code, "wall": wall, "baseline": base, "peak": top,
                      "extra": top - base}))


def tiled_file(cfg: dict, scratch: str) -> dict:
    """``filterkit gaussian --sigma 2 huge.tif out.tif --tile N`` on a side x
    side 8-bit TIFF in a fresh process: wall time, peak memory against the
    tile, and spot checks of the result against in-memory filtering."""
    if tifffile is None:
        return {"skipped": "tifffile is not installed"}
    side, tile = cfg["tiff_side"], cfg["tiff_tile"]
    os.makedirs(scratch, exist_ok=True)
    src = huge_tiff(scratch, side, tile)
    dst = os.path.join(scratch, "huge_out.tif")
    argv = ["gaussian", "--sigma", "2", src, dst, "--tile", str(tile)]
    say(f"tiled: filterkit {' '.join(argv)} ...")
    entry: Dict[str, object] = {"image": [side, side], "dtype": "uint8", "tile": tile,
                                "command": "filterkit " + " ".join(argv[:3] + ["huge.tif", "out.tif"]
                                                                   + argv[5:]),
                                "tile_bytes": tile * tile}
    try:
        out, why = harness.run_child("benchmarks.scale", "_tiled_child", [json.dumps({"argv": argv})],
                                     env=child_env(), timeout=900)
        if why is not None:
            entry["skipped"] = f"failed: {why[:200]}"
            return entry
        entry.update(out)
        entry["megapixels_per_s"] = side * side / out["wall"] / 1e6
        entry["tiles_of_memory"] = out["extra"] / entry["tile_bytes"]
        # spot checks: windows at a corner and inside, filtered in memory
        with tifffile.TiffFile(src) as a, tifffile.TiffFile(dst) as b:
            za, zb = zarr.open(a.series[0].aszarr(), mode="r"), zarr.open(b.series[0].aszarr(), mode="r")
            checks = []
            for y, x in ((0, 0), (side // 2 - 1000, side // 3 - 1000), (side - 1500, side - 1500)):
                win = np.asarray(za[y:y + 1500, x:x + 1500])
                want = filterkit.gaussian(win, 2.0, output=np.uint8)
                got = np.asarray(zb[y:y + 1500, x:x + 1500])
                # away from the window's own cut edges (the mask's radius, 6)
                inner = (slice(0 if y == 0 else 6, 1500 - (0 if y + 1500 == side else 6)),
                         slice(0 if x == 0 else 6, 1500 - (0 if x + 1500 == side else 6)))
                checks.append(bool(np.array_equal(got[inner], want[inner])))
            entry["equal_to_in_memory"] = all(checks)
        say(f"tiled: {out['wall']:.1f} s, {entry['megapixels_per_s']:.0f} MP/s, peak extra "
            f"{out['extra'] / MIB:.0f} MiB = {entry['tiles_of_memory']:.1f} tiles; spot checks "
            f"{'equal' if entry['equal_to_in_memory'] else 'DIFFERENT'}")
    finally:
        try:
            os.remove(dst)
        except OSError:
            pass
    return entry


# --------------------------------------------------------------------------
# zarr → zarr on worker processes: issue 19's target case, an external
# scheduler, and scaling out
# --------------------------------------------------------------------------
#: filterkit ≥ this × the plain read and write of the same data
TARGET_COPY = 0.6
#: the cases of the cluster section, in the order of its tables
CLUSTER_CASES = ("filterkit store", "filterkit computed", "dask-image", "copy")
CASE_TITLES = {
    "filterkit store": "`filterkit.dask.convolve(da.from_zarr(src), mask)`",
    "filterkit computed": "`filterkit.dask.convolve(da.from_zarr(src).map_blocks(np.copy), mask)`",
    "dask-image": "`dask_image.ndfilters.convolve(da.from_zarr(src), mask)`",
    "copy": "the copy, no filter: `da.from_zarr(src)`",
}
CASE_LIBRARY = {"filterkit store": "filterkit.dask", "filterkit computed": "filterkit.dask",
                "dask-image": "dask-image", "copy": "dask (no filter)"}
#: the sources of the cluster section: zarr arrays created with these
#: arguments (the sinks get the same compressors), stored in chunks of the
#: Dask chunk / the divisor: the target case's two sources (uncompressed, and
#: zarr's default compressor), and the uncompressed image stored in chunks a
#: quarter as wide (read in the same Dask chunks), where a block's halo
#: touches small stored chunks only
CODECS = {"uncompressed": {"compressors": None}, "default": {}, "small": {"compressors": None}}
STORED_DIVISOR = {"uncompressed": 1, "default": 1, "small": 4}
#: the cases run on the small-chunked source and on the LocalClusters of 1 and
#: 4 workers (dask-image, the slowest by far, runs with 2 workers only)
#: the scheduler settings of a second LocalCluster of 2: without root-task
#: queuing, distributed hands runs of neighbouring blocks to one worker, so a
#: worker's blocks share more of their stored chunks (fewer decodes)
CO_ASSIGNED = (("distributed.scheduler.worker-saturation", float("inf")),)
SMALL_CASES = ("filterkit store", "filterkit computed", "copy")
#: transferred results that are not image data (the token stripped from the
#: key's name): the writes' results (None), gathered by the final task, the
#: store objects, and the compute's epoch (a token the store path's blocks
#: share, filterkit._chunkcache)
SMALL_LAYERS = ("store-map", "finalize", "original-", "filterkit-epoch")
#: seconds for the external scheduler and workers to come up, and to stop
STARTUP_TIMEOUT = 90.0
STOP_TIMEOUT = 20.0
_TOKEN = re.compile(r"-[0-9a-f]{16,}")


def cluster_mask() -> np.ndarray:
    """The target case's 9x9 random mask (full rank: not separable)."""
    return np.random.default_rng(9).standard_normal((9, 9)).astype(np.float32)


def layer_of(name: object) -> str:
    """A key's name without Dask's tokens: ``getitem-3f2a…`` → ``getitem``."""
    return _TOKEN.sub("", str(name))


def stored_chunk_reads(side: int, block: int, stored: int, halo: int) -> int:
    """Stored chunks decoded when every block x block block of a side x side
    image reads itself and its halo (none past the image's edge) from a
    store in stored x stored chunks: a window that touches a stored chunk
    decodes all of it."""
    along = 0
    for lo in range(0, side, block):
        a, b = max(lo - halo, 0), min(lo + block + halo, side)
        along += (b - 1) // stored - a // stored + 1
    return along * along


def _clear_transfers(dask_worker) -> bool:
    """In a worker: forget the transfers received so far (False: this
    version of distributed keeps no log)."""
    log = getattr(dask_worker, "transfer_incoming_log", None)
    if log is None:
        return False
    log.clear()
    return True


def _decoded() -> int:
    """In a worker: the stored chunks the store path decoded since the last
    call (its shelf's count, filterkit._chunkcache), and start counting again."""
    from filterkit import _chunkcache

    with _chunkcache.SHELF.lock:
        n = _chunkcache.SHELF.counts["decoded"]
        _chunkcache.SHELF.counts["decoded"] = 0
    return n


def _incoming_transfers(dask_worker) -> List[dict]:
    """In a worker: the transfers it received since the last clear, each
    with its keys as [name, is a chunk key (a tuple), Dask's size of the result]."""
    return [{"who": str(e.get("who")), "total": int(e.get("total", 0)),
             "keys": [[str(k[0] if isinstance(k, tuple) else k), isinstance(k, tuple), int(n)]
                      for k, n in e.get("keys", {}).items()]}
            for e in list(getattr(dask_worker, "transfer_incoming_log", ()))]


def moved(logs: Dict[str, List[dict]]) -> dict:
    """The workers' incoming transfers of one run, summed: image data (array
    chunks and pieces of them: halos, whole neighbours) against small objects
    (:data:`SMALL_LAYERS`), and per layer."""
    image = small = count = 0
    layers: Dict[str, int] = {}
    for entries in logs.values():
        for e in entries:
            count += 1
            for name, chunk, n in e["keys"]:
                layer = layer_of(name)
                layers[layer] = layers.get(layer, 0) + n
                if chunk and not layer.startswith(SMALL_LAYERS):
                    image += n
                else:
                    small += n
    return {"image_bytes": image, "small_bytes": small, "transfers": count, "by_layer": layers}


class ClusterPath(Path):
    """A row of the cluster section: build the graph and write it with
    ``da.to_zarr`` into a new store (``mode="w"``) on `client`'s cluster,
    counting the data the workers received from each other in each call."""

    def __init__(self, case: str, codec: str, where: str, workers: int, client: object,
                 build: Callable[[], "da.Array"], dst: str, blocks: int):
        self.case, self.codec, self.client, self.build, self.dst = case, codec, client, build, dst
        self.blocks = blocks
        sink = CODECS[codec]

        def run():
            client.compute(da.to_zarr(build(), dst, mode="w", compute=False, **sink), sync=True)
        super().__init__(f"{case} {where} {workers} {codec}", CASE_LIBRARY[case], where, workers,
                         run, None, f"zarr ({codec})")
        self.moved: List[dict] = []
        self.decoded: List[int] = []  # stored chunks the store path decoded, per run
        self.warm_moved: List[dict] = []
        self.layer: Optional[str] = None
        if case.startswith("filterkit"):  # the path filterkit.dask took, from the graph
            names = list(build().dask.layers)
            self.layer = next((v for v in fkd.PATH_LAYERS.values()
                               if any(str(n).startswith(v) for n in names)), "none")

    def call(self) -> float:
        self.client.run(_clear_transfers)
        self.client.run(_decoded)
        seconds = super().call()
        self.moved.append(moved(self.client.run(_incoming_transfers)))
        self.decoded.append(sum(self.client.run(_decoded).values()))
        return seconds

    def row(self, pixels: int) -> dict:
        r = super().row(pixels)
        r.update(case=self.case, codec=self.codec, path_layer=self.layer, blocks=self.blocks,
                 moved_runs=[{k: m[k] for k in ("image_bytes", "small_bytes", "transfers")}
                             for m in self.moved])
        if self.case == "filterkit store" and self.decoded:
            r["decoded_per_block"] = float(np.median(self.decoded)) / self.blocks
        if self.moved:
            image = [m["image_bytes"] for m in self.moved]
            r["moved"] = {
                "image_bytes": float(np.median(image)), "image_bytes_max": max(image),
                "image_bytes_per_block": float(np.median(image)) / self.blocks,
                "small_bytes": float(np.median([m["small_bytes"] for m in self.moved])),
                "transfers": float(np.median([m["transfers"] for m in self.moved])),
                "by_layer_last_run": self.moved[-1]["by_layer"]}
        return r


# --- an external cluster: `dask scheduler` and `dask worker` processes ----
class ExternalCluster:
    """``dask scheduler`` and `n` ``dask worker`` processes (1 thread each,
    under a nanny, no dashboard) on 127.0.0.1 and a free port, and a Client."""

    def __init__(self, n: int, base: str):
        if psutil is None:
            raise RuntimeError("psutil is not installed (it stops the processes)")
        from benchmarks import daskcluster

        os.makedirs(base, exist_ok=True)
        env = child_env()
        self.scheduler: Optional["daskcluster.Process"] = None
        self.workers: List["daskcluster.Process"] = []
        self.client = None
        t0 = time.perf_counter()
        try:
            self.scheduler, self.address = daskcluster.start_scheduler(
                base, env, STARTUP_TIMEOUT, idle_timeout="900s")
            self.workers = [daskcluster.start_worker(f"scale-{i}", self.address, base, env)
                            for i in range(n)]
            self.client = distributed.Client(self.address, set_as_default=False,
                                             timeout=f"{STARTUP_TIMEOUT:.0f}s")
            try:
                self.client.wait_for_workers(n, timeout=STARTUP_TIMEOUT)
            except Exception:
                logs = " | ".join(f"{d.name}: {daskcluster.tail(d.log, 300)!r}" for d in self.workers)
                raise RuntimeError(f"{n} workers were not up within {STARTUP_TIMEOUT:.0f} s: {logs}")
            self.client.run(lambda: __import__("filterkit.dask"))
        except BaseException:
            self.close()
            raise
        self.startup = time.perf_counter() - t0
        say(f"dask scheduler + {n} dask worker processes up at {self.address} in {self.startup:.1f} s")

    def close(self) -> List[str]:
        """Close the client, stop the workers, then the scheduler; returns
        the processes left (none expected)."""
        if self.client is not None:
            try:
                self.client.close()
            except Exception:
                pass
            self.client = None
        from benchmarks import daskcluster

        daemons = self.workers + ([self.scheduler] if self.scheduler else [])
        self.workers, self.scheduler = [], None
        return daskcluster.stop(daemons, STOP_TIMEOUT) if daemons else []


# --- where the time goes ---------------------------------------------------
def task_profile(p: ClusterPath) -> dict:
    """One more run of `p` under distributed's task stream: the workers'
    compute and transfer time per layer."""
    with distributed.get_task_stream(client=p.client) as ts:
        wall = Path.call(p)
    layers: Dict[str, dict] = {}
    compute = transfer = 0.0
    for rec in ts.data:
        key = rec["key"]
        entry = layers.setdefault(layer_of(key[0] if isinstance(key, tuple) else key),
                                  {"tasks": 0, "compute_ms": 0.0, "transfer_ms": 0.0})
        entry["tasks"] += 1
        for s in rec.get("startstops", ()):
            ms = (s["stop"] - s["start"]) * 1e3
            if s["action"] == "compute":
                entry["compute_ms"] += ms
                compute += ms
            elif s["action"] == "transfer":
                entry["transfer_ms"] += ms
                transfer += ms
    return {"key": p.key, "wall": wall, "tasks": len(ts.data), "compute_ms": compute,
            "transfer_ms": transfer, "compute_ms_per_block": compute / p.blocks,
            "busy": compute / 1e3 / (wall * p.cores), "layers": layers}


def _block_costs(src: str, dst: str, sink: dict, chunk: int, halo: int, mask: np.ndarray,
                 rounds: int = 7) -> dict:
    """In a worker: the parts of one interior block's work, ms (medians of
    `rounds`, interleaved): read the block, read it with its halo (a window
    that touches the stored chunks around the block) through zarr and as
    the store path reads it (with no pieces kept), filterkit.convolve on
    that window (one thread, as filterkit.dask runs a chunk),
    scipy.ndimage.convolve on it (what dask-image runs per chunk), write a
    block into a store chunked like the blocks."""
    import scipy.ndimage
    z = zarr.open_array(src, mode="r")
    i = chunk if z.shape[0] >= 3 * chunk and z.shape[1] >= 3 * chunk else 0
    block = (slice(i, i + chunk), slice(i, i + chunk))
    window = (slice(max(i - halo, 0), i + chunk + halo),) * 2
    out = zarr.create_array(store=dst, shape=z.shape, chunks=(chunk, chunk), dtype=z.dtype,
                            fill_value=0.0, overwrite=True, **sink)
    w, b = np.asarray(z[window]), np.asarray(z[block])
    # the store path's own read of the same window (filterkit._chunkcache),
    # a new compute each time and no pieces kept: every chunk read afresh
    from dask.array.core import getter
    from filterkit import _chunkcache
    axes = [(n, tuple(range(0, n, chunk)) + (n,), halo, False, int(c))
            for n, c in zip(z.shape, z.chunks)]
    where = (i // chunk, i // chunk)
    shelf = _chunkcache.Shelf({"strips": 0, "bulk": 0})
    buf = np.empty(_chunkcache.window_shape(axes, where), z.dtype)

    def own_read():
        _chunkcache.read_window(z, getter, (), {}, axes, where, _chunkcache.epoch(), "costs",
                                shelf=shelf, out=buf)

    own_read()
    if not np.array_equal(buf, w):
        raise RuntimeError("the store path's window differs from zarr's")
    threads = filterkit.get_num_threads()
    filterkit.set_num_threads(1)
    fns = {"read block": lambda: z[block], "read window": lambda: z[window],
           "read window, filterkit": own_read,
           "filterkit.convolve": lambda: filterkit.convolve(w, mask),
           "scipy.ndimage.convolve": lambda: scipy.ndimage.convolve(w, mask, mode="reflect"),
           "write block": lambda: out.__setitem__(block, b)}
    times: Dict[str, List[float]] = {k: [] for k in fns}
    try:
        for _ in range(rounds):
            for k, fn in fns.items():
                t0 = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t0)
    finally:
        filterkit.set_num_threads(threads)
    return {k: float(np.median(v)) * 1e3 for k, v in times.items()}


def cluster(cfg: dict, scratch: str, external: bool = True) -> dict:
    """The cluster section: every case on every cluster, all alive together
    and interleaved round by round; see the module's docstring."""
    if distributed is None or zarr is None:
        return {"skipped": "needs distributed and zarr"}
    t_start = time.perf_counter()
    side, chunk, repeat, sizes = cfg["cl_side"], cfg["cl_chunk"], cfg["cl_repeat"], cfg["cl_workers"]
    mask = cluster_mask()
    halo = mask.shape[0] // 2
    pixels = side * side
    blocks = (-(-side // chunk)) ** 2
    out: Dict[str, object] = {
        "date": datetime.date.today().isoformat(), "load_average": {"start": load_average()},
        "image": [side, side], "dtype": "float32", "chunk": [chunk, chunk], "repeat": repeat,
        "workers": list(sizes), "blocks": blocks, "mode": "reflect", "quick": bool(cfg.get("quick")),
        "mask": {"shape": list(mask.shape), "seed": 9, "rank": int(np.linalg.matrix_rank(mask)),
                 "abs_sum": float(np.abs(mask).sum())},
        "auto_chunk": filterkit.choose_method((chunk + 2 * halo,) * 2, mask=mask).method,
        "cores": os.cpu_count()}
    base = os.path.join(scratch, "cluster")
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(os.path.join(base, "out"))
    image = np.random.default_rng(0).random((side, side), dtype=np.float32)
    sources = {}
    for codec, kw in CODECS.items():
        path = os.path.join(base, f"src_{codec}.zarr")
        stored = chunk // STORED_DIVISOR[codec]
        z = zarr.create_array(store=path, shape=image.shape, chunks=(stored, stored),
                              dtype="float32", fill_value=0.0, **kw)
        z[...] = image
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)
        sources[codec] = path
        out.setdefault("codecs", {})[codec] = {
            "compressors": [type(c).__name__ for c in (z.compressors or ())], "stored_chunk": stored,
            "stored_bytes": size, "ratio": image.nbytes / size,
            "chunk_reads": {"store path": stored_chunk_reads(side, chunk, stored, halo),
                            "copy": (-(-side // stored)) ** 2}}
    filterkit.set_num_threads(2)
    ref = filterkit.convolve(image, mask)
    # the check below must tell a flipped mask: correlate is convolve with the mask flipped
    out["flipped_max_abs_diff"] = float(np.abs(filterkit.correlate(image, mask) - ref).max())

    def builder(case: str, src: str) -> Callable[[], "da.Array"]:
        c = (chunk, chunk)  # the stored chunks unless the source is the small-chunked one
        if case == "filterkit store":
            return lambda: fkd.convolve(da.from_zarr(src, chunks=c), mask)
        if case == "filterkit computed":
            return lambda: fkd.convolve(da.from_zarr(src, chunks=c).map_blocks(np.copy), mask)
        if case == "dask-image":
            return lambda: dask_ndfilters.convolve(da.from_zarr(src, chunks=c), mask)
        return lambda: da.from_zarr(src, chunks=c)

    clusters = ext = None
    paths: List[ClusterPath] = []
    import signal

    def terminated(signum, frame):  # SIGTERM: stop the clusters on the way out (finally)
        raise SystemExit(128 + signum)
    previous = (signal.signal(signal.SIGTERM, terminated)
                if threading.current_thread() is threading.main_thread() else None)
    try:
        clusters = Clusters(tuple(sizes) + ((2, CO_ASSIGNED),))
        logged = [all(c.run(_clear_transfers).values()) for c in clusters.clients.values()]
        out["transfer_log"] = (
            f"distributed.Worker.transfer_incoming_log (distributed {distributed.__version__}, up to "
            f"{dask.config.get('distributed.admin.low-level-log-length')} transfers)"
            if all(logged) else None)
        if external:
            try:
                ext = ExternalCluster(2, os.path.join(base, "external"))
                out["external"] = {"address": ext.address, "startup_seconds": ext.startup,
                                   "command": f"{sys.executable} -m dask"}
            except Exception as exc:
                out["external"] = {"skipped": f"failed: {type(exc).__name__}: {str(exc)[:300]}"}
                say(f"cluster: external cluster {out['external']['skipped']}")
        groups = [("LocalCluster", n, "uncompressed", clusters.clients[n]) for n in sizes]
        if 2 in sizes:
            groups.append(("LocalCluster", 2, "default", clusters.clients[2]))
            groups.append(("LocalCluster", 2, "small", clusters.clients[2]))
            for codec in ("uncompressed", "default"):
                groups.append(("co-assigned", 2, codec, clusters.clients[(2, CO_ASSIGNED)]))
        if ext is not None:
            groups.append(("external", 2, "uncompressed", ext.client))
        for where, n, codec, client in groups:
            cases = (CLUSTER_CASES if codec != "small" and n == 2 and where != "co-assigned"
                     else SMALL_CASES)
            for case in cases:
                if case == "dask-image" and dask_ndfilters is None:
                    continue
                dst = os.path.join(base, "out", f"{case}_{where}_{n}_{codec}.zarr".replace(" ", "_"))
                paths.append(ClusterPath(case, codec, where, n, client,
                                         builder(case, sources[codec]), dst, blocks))
        if dask_ndfilters is None:
            out["notes"] = "dask-image is not installed: no dask-image rows"
        label = f"cluster {side}x{side}"
        warm_up(paths, label)
        out["checks"] = cluster_checks(paths, image, ref, mask)
        for p in paths:
            p.warm_moved, p.moved = p.moved, []
        interleaved(paths, repeat, label)
        say("cluster: where the time goes ...")
        out["profile"] = [task_profile(p) for p in paths
                          if p.where == "LocalCluster" and p.cores == 2 and p.codec == "uncompressed"
                          and p.warm is not None and p.skipped is None]
        if 2 in sizes:
            client = clusters.clients[2]
            one = list(client.scheduler_info()["workers"])[:1]
            out["block_costs"] = {
                codec: client.run(_block_costs, sources[codec],
                                  os.path.join(base, f"block_costs_{codec}.zarr"), CODECS[codec],
                                  chunk, halo, mask, workers=one)[one[0]]
                for codec in CODECS}
        out["rows"] = [p.row(pixels) for p in paths]
    finally:
        if ext is not None:
            left = ext.close()
            out.setdefault("external", {})["left_after_stop"] = left
            if left:
                say(f"cluster: processes left after stopping the external cluster: {left}")
        if clusters is not None:
            clusters.close()
        shutil.rmtree(base, ignore_errors=True)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    out["load_average"]["end"] = load_average()
    out["seconds"] = time.perf_counter() - t_start
    say(f"cluster: done in {out['seconds']:.0f} s")
    return out


def cluster_checks(paths: List[ClusterPath], image: np.ndarray, ref: np.ndarray,
                   mask: np.ndarray) -> List[dict]:
    """Every warm-up's output against in-memory filterkit (the copy against
    the image), and filterkit against dask-image on the same cluster and
    source: both are true convolutions (scipy.ndimage.convolve flips the
    mask as filterkit.convolve does), within float32 rounding.  Raises
    AssertionError when one is not."""
    tol = 1e-5 * float(np.abs(mask).sum())  # float32 sums of 81 products of values in [0, 1)
    got: Dict[str, np.ndarray] = {}
    found = []
    for p in paths:
        if p.skipped is not None or p.warm is None:
            continue
        a = np.asarray(zarr.open_array(p.dst, mode="r")[...])
        want = image if p.case == "copy" else ref
        diff = float(np.abs(a - want).max()) if a.shape == want.shape else float("inf")
        found.append({"key": p.key, "against": "the image" if p.case == "copy" else
                      "filterkit.convolve in memory", "max_abs_diff": diff,
                      "identical": bool(a.shape == want.shape and np.array_equal(a, want))})
        if diff > (0.0 if p.case == "copy" else tol):
            raise AssertionError(f"{p.key}: max |difference| {diff:.3g} from {found[-1]['against']} "
                                 f"(tolerance {tol:.3g})")
        if p.case in ("filterkit store", "dask-image"):
            got[p.key] = a
    for p in paths:
        if p.case != "filterkit store" or p.key not in got:
            continue
        peer = p.key.replace("filterkit store", "dask-image", 1)
        if peer in got:
            diff = float(np.abs(got[p.key] - got[peer]).max())
            found.append({"key": p.key, "against": peer, "max_abs_diff": diff,
                          "identical": bool(np.array_equal(got[p.key], got[peer]))})
            if diff > tol:
                raise AssertionError(f"{p.key} against {peer}: max |difference| {diff:.3g} "
                                     f"(tolerance {tol:.3g})")
    say(f"cluster: outputs checked (filterkit against dask-image within "
        f"{max([c['max_abs_diff'] for c in found if 'dask-image' in c['against']] or [0]):.1e}, "
        f"tolerance {tol:.1e})")
    return found


def plot_workers(cl: dict, path: str) -> bool:
    """MP/s and image data received per output block against the number of
    worker processes (LocalCluster, uncompressed), the external cluster
    hollow at 2."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        say("matplotlib is not installed: no plot (pip install matplotlib)")
        return False
    rows = [r for r in cl.get("rows", []) if r["codec"] == "uncompressed" and "mp_s" in r]
    style = {"filterkit store": ("C0", "o", "filterkit.dask, store source (halo read)"),
             "filterkit computed": ("C2", "s", "filterkit.dask, computed source (map_overlap)"),
             "dask-image": ("C3", "^", "dask-image (map_overlap)"),
             "copy": ("k", "D", "copy: read and write, no filter")}
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.4))
    sizes = cl["workers"]
    for case, (colour, marker, label) in style.items():
        rs = sorted((r for r in rows if r["case"] == case and r["where"] == "LocalCluster"),
                    key=lambda r: r["cores"])
        if not rs:
            continue
        x = [r["cores"] for r in rs]
        y = np.array([r["mp_s"]["median"] for r in rs])
        lo = y - np.array([r["mp_s"]["min"] for r in rs])
        hi = np.array([r["mp_s"]["max"] for r in rs]) - y
        ax1.errorbar(x, y, yerr=[lo, hi], color=colour, marker=marker, capsize=3, linewidth=1.4,
                     label=label)
        ax2.plot(x, [r["moved"]["image_bytes_per_block"] / 2 ** 10 for r in rs], color=colour,
                 marker=marker, linewidth=1.4, label=label)
        for r in rows:
            if r["case"] == case and r["where"] == "external":
                ax1.plot([r["cores"] + 0.06], [r["mp_s"]["median"]], marker=marker, color=colour,
                         markerfacecolor="white", linestyle="none")
                ax2.plot([r["cores"] + 0.06], [r["moved"]["image_bytes_per_block"] / 2 ** 10],
                         marker=marker, color=colour, markerfacecolor="white", linestyle="none")
    zero = [r for r in rows if r["case"] in ("filterkit store", "copy")]
    if zero and all(r["moved"]["image_bytes_per_block"] == 0 for r in zero):
        ax2.text(0.03, 0.04, "store source and copy: 0 B at every count", fontsize=7,
                 transform=ax2.transAxes)
    cores = cl.get("cores") or 2
    for ax in (ax1, ax2):
        ax.set_xticks(sizes)
        ax.set_xlabel("worker processes (1 thread each)", fontsize=9)
        if max(sizes) > cores:
            ax.axvspan(cores + 0.3, max(sizes) + 0.3, color="grey", alpha=0.12, linewidth=0)
            ax.text(cores + 0.4, 0.6, f"more workers\nthan the {cores} cores", fontsize=7,
                    va="center", transform=ax.get_xaxis_transform())
        ax.set_xlim(0.7, max(sizes) + 0.3)
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        ax.tick_params(labelsize=8)
    ax1.set_ylabel("megapixels per second (median; bars min–max)", fontsize=9)
    ax2.set_ylabel("image data received per output block (KiB, median)", fontsize=9)
    handles, labels = ax1.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8, frameon=False)
    side, chunk = cl["image"][0], cl["chunk"][0]
    fig.suptitle(f"zarr → zarr on a LocalCluster, float32 {side}², chunks {chunk}², 9×9 random mask "
                 f"({cl['date']}, {cores} cores)\nhollow: an external dask scheduler + 2 dask worker "
                 "processes", fontsize=9)
    fig.tight_layout(rect=(0, 0.1, 1, 0.93))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


# --- the cluster section's report -------------------------------------------
def _crow(cl: dict, case: str, where: str, n: int, codec: str) -> Optional[dict]:
    for r in cl.get("rows", []):
        if r["case"] == case and r["where"] == where and r["cores"] == n and r["codec"] == codec:
            return r
    return None


def _bytes(n: Optional[float]) -> str:
    if n is None:
        return "–"
    for unit, size in (("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"


def _codec_name(cl: dict, codec: str, short: bool = False) -> str:
    c = cl.get("codecs", {}).get(codec, {})
    if codec == "default":
        names = ", ".join(n.replace("Codec", "") for n in c.get("compressors") or ["?"])
        return names if short else f"zarr's default compressor ({names})"
    if c.get("stored_chunk", cl["chunk"][0]) != cl["chunk"][0]:
        return f"uncompressed, stored in {c['stored_chunk']}² chunks"
    return "uncompressed"


def cluster_verdicts(cl: Optional[dict], quick: bool) -> List[str]:
    if not cl or "rows" not in cl:
        return [f"- **Cluster target**: {(cl or {}).get('skipped', 'not measured')}."]
    side, chunk = cl["image"][0], cl["chunk"][0]
    scope = (f"; --quick: {side}², chunks {chunk}², the target is for the default run's 4096², "
             "chunks 1024²" if quick else "")
    vs_peer, vs_copy = [], []
    for codec in ("uncompressed", "default"):
        fk, peer, copy = (_mps(_crow(cl, c, "LocalCluster", 2, codec))
                          for c in ("filterkit store", "dask-image", "copy"))
        name = _codec_name(cl, codec)
        if fk and peer:
            vs_peer.append(f"{name} {'met' if fk / peer >= TARGET_RATIO else 'NOT met'} "
                           f"({fk / peer:.1f}×: {_fmt(fk)} against {_fmt(peer)} MP/s)")
        if fk and copy:
            vs_copy.append(f"{name} {'met' if fk / copy >= TARGET_COPY else 'NOT met'} "
                           f"({fk / copy:.2f}×: {_fmt(fk)} against {_fmt(copy)} MP/s)")
    lines = [f"- **Cluster target** (a LocalCluster of 2 single-threaded worker processes, zarr → zarr, "
             f"float32 {side}² in {chunk}² chunks, 9×9 random mask, `filterkit.dask.convolve` of "
             f"`da.from_zarr(src)`{scope}): ≥ {TARGET_RATIO:.0f}× dask-image: "
             + ("; ".join(vs_peer) or "not measured") + f"; ≥ {TARGET_COPY}× the plain read and write "
             "of the same data: " + ("; ".join(vs_copy) or "not measured") + "."]
    whole = [f"{_codec_name(cl, codec)} {r['decoded_per_block']:.2f}"
             for codec in ("uncompressed", "default")
             for r in [_crow(cl, "filterkit store", "LocalCluster", 2, codec)]
             if r and "decoded_per_block" in r]
    if whole:
        each = cl["codecs"]["uncompressed"]["chunk_reads"]["store path"] / cl["blocks"]
        lines[-1] += (" Stored chunks decoded whole per block: " + ", ".join(whole)
                      + f" (zarr's read of every window: {each:.2f}; uncompressed chunk files are "
                      "read by the rows a window needs, none decoded whole).")
    # the copy bounds the ratio: filterkit at the copy's speed is copy/peer
    # times dask-image, so 3x dask-image asks for 3 / (copy/peer) of the copy
    room = []
    for codec in ("uncompressed", "default"):
        peer, copy = (_mps(_crow(cl, c, "LocalCluster", 2, codec)) for c in ("dask-image", "copy"))
        if peer and copy:
            room.append(f"{_codec_name(cl, codec)}: the copy {copy / peer:.2f}× dask-image, so "
                        f"{TARGET_RATIO:.0f}× dask-image needs {TARGET_RATIO * peer / copy:.2f}× "
                        "the copy")
    if room:
        lines.append("- **Room under the dask-image target** (the plain read and write of the same "
                     "data against dask-image, on the same cluster): " + "; ".join(room) + ".")
    fk, comp, copy = (_mps(_crow(cl, c, "LocalCluster", 2, "small")) for c in SMALL_CASES)
    if fk and copy:
        lines.append(f"- **The same image stored in smaller chunks** ({_codec_name(cl, 'small')}, read "
                     f"in the same {chunk}² Dask chunks, so that a block's halo touches small stored "
                     f"chunks only): filterkit.dask {fk / copy:.2f}× the plain read and write "
                     f"({_fmt(fk)} against {_fmt(copy)} MP/s: "
                     f"{'at or above' if fk / copy >= TARGET_COPY else 'below'} {TARGET_COPY}×)"
                     + (f"; from a computed source {_fmt(comp)} MP/s" if comp else "") + ".")
    co = []
    for codec in ("uncompressed", "default"):
        r = _crow(cl, "filterkit store", "co-assigned", 2, codec)
        fk, copy = _mps(r), _mps(_crow(cl, "copy", "co-assigned", 2, codec))
        if fk and copy:
            co.append(f"{_codec_name(cl, codec)} {fk / copy:.2f}× ({_fmt(fk)} against {_fmt(copy)} "
                      f"MP/s, {r.get('decoded_per_block', float('nan')):.2f} stored chunks decoded "
                      "per block)")
    if co:
        lines.append("- **Co-assigned blocks** (a second LocalCluster of 2 whose scheduler runs with "
                     "`distributed.scheduler.worker-saturation: inf`: no root-task queuing, so runs of "
                     "neighbouring blocks go to one worker, which decodes fewer chunks for their "
                     "halos): filterkit.dask against the plain read and write on the same cluster: "
                     + "; ".join(co) + ".")
    store = [r for r in cl["rows"] if r["case"] == "filterkit store" and "moved" in r]
    if store:
        worst = max(r["moved"]["image_bytes_max"] for r in store)
        runs = sum(len(r["moved_runs"]) for r in store)
        small = max(r["moved"]["small_bytes"] for r in store)
        others = []
        for case in ("filterkit computed", "dask-image"):
            r = _crow(cl, case, "LocalCluster", 2, "uncompressed")
            if r and "moved" in r:
                name = "dask-image" if case == "dask-image" else "a computed source (map_overlap)"
                others.append(f"{name} {_bytes(r['moved']['image_bytes'])}")
        lines.append(f"- **Data moved between workers with a store source** (target: 0 bytes of image "
                     f"halo): {'met' if worst == 0 else 'NOT met'}: {_bytes(worst)} of image data at "
                     f"most in the {runs} timed runs of the store path on {len(store)} clusters and "
                     f"sources, {_bytes(small)} of small objects per run at most (the writes' results, "
                     "gathered by the final task, and the compute's epoch token)"
                     + ("; per run on 2 workers, " + ", ".join(others) if others else "") + ".")
    ext = [r for r in cl["rows"] if r["where"] == "external" and "mp_s" in r]
    if ext:
        fk, peer, copy = (_mps(_crow(cl, c, "external", 2, "uncompressed"))
                          for c in ("filterkit store", "dask-image", "copy"))
        left = cl.get("external", {}).get("left_after_stop")
        lines.append(f"- **An external cluster** (`dask scheduler` and 2 `dask worker --nthreads 1` "
                     f"processes on 127.0.0.1, uncompressed): filterkit.dask {_fmt(fk)} MP/s"
                     + (f", {fk / peer:.1f}× dask-image ({_fmt(peer)})" if fk and peer else "")
                     + (f", {fk / copy:.2f}× the copy ({_fmt(copy)})" if fk and copy else "")
                     + ("; stopped with no process left" if left == [] else
                        f"; processes left after stopping: {left}" if left else "") + ".")
    elif cl.get("external", {}).get("skipped"):
        lines.append(f"- **An external cluster**: {cl['external']['skipped']}.")
    return lines


def cluster_markdown(cl: dict, quick: bool) -> List[str]:
    """The cluster section's tables (its verdicts are in the list at the top)."""
    if "rows" not in cl:
        return ["", "## zarr → zarr on worker processes", "", cl.get("skipped", "not measured") + "."]
    side, chunk, blocks = cl["image"][0], cl["chunk"][0], cl["blocks"]
    la = cl.get("load_average", {})
    comp = cl.get("codecs", {}).get("default", {})
    ext = cl.get("external", {})
    lines = [
        "", "## zarr → zarr on worker processes", "",
        f"Run on {cl['date']}{' (--quick)' if quick else ''} in {cl['seconds']:.0f} s; load average "
        f"{la.get('start')} at the start, {la.get('end')} at the end"
        + (" (other work on the machine: the figures are provisional)"
           if (la.get("start") or 0) > 0.5 else "") + ".  "
        f"One float32 {side}×{side} image ({side * side / 1e6:.1f} MP), random in [0, 1), in zarr arrays "
        f"chunked {chunk}×{chunk} ({blocks} chunks): uncompressed, and with "
        f"{_codec_name(cl, 'default')} ({comp.get('ratio', 0):.2f}× smaller); and (LocalCluster ×2, "
        f"no dask-image) {_codec_name(cl, 'small')}, read in the same Dask chunks "
        f"(`da.from_zarr(src, chunks={chunk})`).  Each row writes its result with "
        "`da.to_zarr(result, new_store, mode=\"w\")` (Dask's chunks, its source's compressor).  "
        "`convolve`, mode "
        f"reflect, with a 9×9 random mask (rank {cl['mask']['rank']}: not separable), filterkit's default "
        f"method (auto → {cl['auto_chunk']} per chunk).  Each row builds its graph and writes it in the "
        f"timed call: median of {cl['repeat']} runs after a warm-up (min–max), every row interleaved "
        "round by round while all the clusters are up: `LocalCluster`s of "
        + ", ".join(str(n) for n in cl["workers"]) + " single-threaded worker processes, a second "
        "`LocalCluster` of 2 whose scheduler runs with `distributed.scheduler.worker-saturation: inf` "
        "(\"co-assigned\", no dask-image)"
        + (" and an external cluster (`dask scheduler` and 2 `dask worker --nthreads 1 --no-dashboard` "
           "processes, under a nanny each, started on 127.0.0.1 and a free port)" if "address" in ext
           else "") + ".  The filterkit rows name the path `filterkit.dask` took (the result's layer, "
        "`filterkit.dask.PATH_LAYERS`).  Data moved: what the workers received from each other during "
        f"the run, summed ({cl.get('transfer_log') or 'no transfer log in this distributed'}, cleared "
        "before each run; Dask's size of each result): image data are array chunks and pieces of them "
        "(halos), small objects the writes' results (None) that the final task gathers and the "
        "compute's epoch token; stored chunks decoded: the store path's count on the workers "
        "(filterkit._chunkcache); medians over "
        f"the runs, and per output block ({blocks} blocks).",
        "",
        "| cluster | workers | source | case | filterkit path | MP/s | min–max | filterkit ÷ dask-image "
        "| filterkit ÷ copy | image data moved | per block | small objects | transfers "
        "| stored chunks decoded per block |",
        "|---|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in cl["rows"]:
        where = {"LocalCluster": "LocalCluster", "co-assigned": "LocalCluster, co-assigned"}.get(
            r["where"], "external")
        layer = (f"`{r['path_layer']}…`" if r.get("path_layer") else "–")
        head = (f"| {where} | {r['cores']} | {_codec_name(cl, r['codec'], short=True)} "
                f"| {CASE_TITLES[r['case']]} | {layer} ")
        if r.get("skipped") or "mp_s" not in r:
            lines.append(head + f"| {r.get('skipped') or 'failed'} | | | | | | | | |")
            continue
        mps = r["mp_s"]["median"]
        rel_peer = rel_copy = ""
        if r["case"].startswith("filterkit"):
            peer = _mps(_crow(cl, "dask-image", r["where"], r["cores"], r["codec"]))
            copy = _mps(_crow(cl, "copy", r["where"], r["cores"], r["codec"]))
            rel_peer = f"{mps / peer:.1f}×" if peer else ""
            rel_copy = f"{mps / copy:.2f}×" if copy else ""
        m = r.get("moved", {})
        lines.append(head + f"| {_fmt(mps)} | {_fmt(r['mp_s']['min'])}–{_fmt(r['mp_s']['max'])} "
                     f"| {rel_peer} | {rel_copy} | {_bytes(m.get('image_bytes'))} "
                     f"| {_bytes(m.get('image_bytes_per_block'))} | {_bytes(m.get('small_bytes'))} "
                     f"| {m.get('transfers', 0):.0f} "
                     f"| {_fmt(r['decoded_per_block']) if 'decoded_per_block' in r else ''} |")
    # scaling out
    sizes = cl["workers"]
    cores = cl.get("cores")
    lines += ["", f"Scaling out on this machine ({cores} cores): the same uncompressed case against the "
                  "number of single-threaded worker processes of a `LocalCluster` (MP/s, medians of the "
                  "same interleaved rounds)"
                  + (f"; {max(sizes)} workers oversubscribe the {cores} cores, so that row measures the "
                     "cost of more processes sharing the cores, not what a larger machine would gain"
                     if max(sizes) > (cores or 0) else "")
                  + ".  dask-image runs with 2 workers only (it takes most of a round).  Image data "
                  "received per output block: what each task moves.", "",
              "| workers | filterkit.dask, store source | filterkit.dask, computed source | dask-image "
              "| copy | store ÷ copy | image data per block: store / computed / dask-image |",
              "|---:|---:|---:|---:|---:|---:|---:|"]
    for n in sizes:
        rs = {c: _crow(cl, c, "LocalCluster", n, "uncompressed") for c in CLUSTER_CASES}
        m = {c: _mps(r) for c, r in rs.items()}
        per = " / ".join(_bytes(rs[c]["moved"]["image_bytes_per_block"]) if rs[c] and "moved" in rs[c]
                         else "–" for c in ("filterkit store", "filterkit computed", "dask-image"))
        ratio = (f"{m['filterkit store'] / m['copy']:.2f}×" if m["filterkit store"] and m["copy"] else "")
        lines.append(f"| {n} | {_fmt(m['filterkit store'])} | {_fmt(m['filterkit computed'])} "
                     f"| {_fmt(m['dask-image'])} | {_fmt(m['copy'])} | {ratio} | {per} |")
    lines += ["", "![MP/s and image data moved per block against the number of worker processes]"
                  "(scale_workers.png)"]
    # where the time goes
    prof = cl.get("profile") or []
    if prof:
        lines += ["", "Where the time goes (`LocalCluster` ×2, uncompressed; one more run of each row "
                      "under distributed's task stream): the workers' compute time summed over the "
                      "tasks, per output block, the time spent receiving data, and how busy the two "
                      "workers were (compute ÷ (wall × workers); the rest is the scheduler's round "
                      "trips, the client building and sending the graph, and idle workers).", "",
                  "| case | wall | tasks | compute per output block | receiving data | workers busy |",
                  "|---|---:|---:|---:|---:|---:|"]
        for p in prof:
            case = next(c for c in CLUSTER_CASES if p["key"].startswith(c))
            lines.append(f"| {CASE_TITLES[case]} | {p['wall'] * 1e3:.0f} ms | {p['tasks']} "
                         f"| {p['compute_ms_per_block']:.1f} ms | {p['transfer_ms']:.0f} ms "
                         f"| {100 * p['busy']:.0f} % |")
    costs = cl.get("block_costs") or {}
    if costs:
        lines += ["", f"The parts of one interior block's work, timed on a worker (ms, medians of 7 "
                      "interleaved): reading the block alone is what the copy does; reading it with its "
                      f"{cl['mask']['shape'][0] // 2}-pixel halo is what the store path does, here "
                      "through zarr and as the store path reads it (keeping no pieces).  zarr "
                      "decodes every stored chunk a read touches, whole: stored in chunks as large as "
                      "the blocks, an interior block's window touches 3×3 of them, and the whole image "
                      "would cost the chunk reads counted in the last column, the copy "
                      "(and map_overlap, which reads each chunk once) one per stored chunk.  The store "
                      "path reads uncompressed chunk files by the rows the window needs, and decodes "
                      "compressed ones from their files through reused buffers; of those it decodes "
                      "fewer (the last column of the table above, measured): each worker "
                      "keeps the halo pieces of the chunks it decodes for the blocks that follow "
                      "(filterkit._chunkcache).  The filters run "
                      "on the window on one thread (filterkit.dask's `THREADS_PER_CHUNK`; "
                      "scipy.ndimage is what dask-image runs per chunk).", "",
                  "| source | read block | read block + halo: zarr | the store path's read | "
                  "`filterkit.convolve` | `scipy.ndimage.convolve` | write block "
                  "| stored chunks decoded by zarr's read: window / copy |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for codec, c in costs.items():
            reads = cl["codecs"][codec]["chunk_reads"]
            own = c.get("read window, filterkit")
            lines.append(f"| {_codec_name(cl, codec)} | {c['read block']:.1f} | {c['read window']:.1f} "
                         f"| {'' if own is None else f'{own:.1f}'} "
                         f"| {c['filterkit.convolve']:.1f} | {c['scipy.ndimage.convolve']:.1f} "
                         f"| {c['write block']:.1f} | {reads['store path']} / {reads['copy']} |")
    checks = cl.get("checks") or []
    if checks:
        fk = [c for c in checks if c["against"] == "filterkit.convolve in memory"]
        pair = [c for c in checks if c["against"].startswith("dask-image")]
        same = all(c["identical"] for c in fk if not c["key"].startswith("dask-image"))
        peer = [c["max_abs_diff"] for c in fk if c["key"].startswith("dask-image")]
        said = ["Checks (each row's warm-up output): filterkit.dask "
                + ("equals in-memory `filterkit.convolve` bit for bit on every cluster and source"
                   if same else "is within "
                   f"{max(c['max_abs_diff'] for c in fk if not c['key'].startswith('dask-image')):.1e} "
                   "of in-memory `filterkit.convolve`")]
        if peer:
            said.append(f"dask-image is within {max(peer):.1e} of it"
                        + (" (and of filterkit.dask on the same cluster: "
                           f"{max(c['max_abs_diff'] for c in pair):.1e})" if pair else "")
                        + f", the tolerance being {1e-5 * cl['mask']['abs_sum']:.1e}: both are true "
                        "convolutions (`scipy.ndimage.convolve` flips the mask as `filterkit.convolve` "
                        f"does; the unflipped `filterkit.correlate` is {cl['flipped_max_abs_diff']:.1f} "
                        "away)")
        said.append("the copies equal their source")
        lines += ["", "; ".join(said) + "."]
    return lines


# --------------------------------------------------------------------------
# the report


def _find(report: dict, filter_key: str, row_key: str) -> Optional[dict]:
    for f in report.get("throughput", {}).get("filters", []):
        if f["filter"] == filter_key:
            for r in f["rows"]:
                if r["key"] == row_key:
                    return r
    return None


def _mps(row: Optional[dict]) -> Optional[float]:
    return row["mp_s"]["median"] if row and "mp_s" in row else None


def _fmt(x: Optional[float]) -> str:
    if x is None:
        return "–"
    return f"{x:.0f}" if x >= 100 else f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def ratios(report: dict) -> List[dict]:
    """filterkit.dask / dask-image for the same scheduler and worker count."""
    found = []
    for f in report["throughput"]["filters"]:
        for where, tag in (("threads", "threads"), ("threads, zarr → zarr", "threads zarr"),
                           ("LocalCluster", "cluster")):
            for n in (1, 2):
                peer = _mps(_find(report, f["filter"], f"dask-image {tag} {n}"))
                for method in ("direct", "auto"):
                    ours = _mps(_find(report, f["filter"], f"{method} filterkit.dask {tag} {n}"))
                    if ours is None or peer is None:
                        continue
                    found.append({"filter": f["filter"], "title": f["title"], "method": method,
                                  "where": where, "workers": n, "filterkit.dask": ours,
                                  "dask-image": peer, "ratio": ours / peer})
    return found


def verdicts(report: dict) -> List[str]:
    lines = []
    two = [r for r in report.get("ratios", []) if r["workers"] == 2 and r["where"] == "threads"]
    if "throughput" in report and two:
        parts = []
        for r in two:
            parts.append(f"{r['title']}, {r['method']}: {'met' if r['ratio'] >= TARGET_RATIO else 'NOT met'} "
                         f"({r['ratio']:.1f}×)")
        clus = [r for r in report["ratios"] if r["workers"] == 2 and r["where"] == "LocalCluster"]
        extra = ""
        if clus:
            extra = "; on a LocalCluster of 2 processes: " + ", ".join(
                f"{r['title'].split(' (')[0]} {r['method']} {r['ratio']:.1f}×" for r in clus)
        tp = report["throughput"]
        scope = (f", --quick: {tp['image'][0]}², chunks {tp['chunk'][0]}², where Dask's overhead per "
                 "chunk weighs more; the target is for the default run" if report["config"].get("quick") else "")
        lines.append(f"- **Throughput target** (filterkit.dask ≥ {TARGET_RATIO:.0f}× dask-image with "
                     f"2 workers, threaded scheduler{scope}): " + "; ".join(parts) + extra + ".")
    elif "throughput" in report:
        lines.append("- **Throughput target**: not measured (dask-image is not installed).")
    quick = report["config"].get("quick")
    if "cluster" in report:
        lines += cluster_verdicts(report["cluster"], bool(report["cluster"].get("quick")))
    if "memory" not in report:
        return lines
    mem = [m for m in report.get("memory", []) if m.get("library") == "filterkit"]
    side = report["config"]["mem_side"]
    parts = []
    for m in mem:
        if "chunks_per_worker" not in m:
            parts.append(f"{m.get('where')}: {m.get('skipped', 'not measured')}")
            continue
        ok = m["chunks_per_worker"] <= TARGET_CHUNKS
        parts.append(f"{m['where']} ×{m['workers']}: {'met' if ok else 'NOT met'} "
                     f"({m['chunks_per_worker']:.1f} chunks per worker, "
                     f"{max(m['extra']) / MIB:.0f} MiB{' per process' if m['where'] == 'threads' else ' in the largest worker'})")
    scope = (f"the {side}² case of --quick, chunks {report['config']['mem_chunk']}²; the target is for 20000²"
             if quick else f"{side}² case")
    lines.append(f"- **Memory target** (≤ {TARGET_CHUNKS:.0f} chunks' worth per worker, {scope}): "
                 + ("; ".join(parts) if parts else "not measured") + ".")
    t = report.get("tiled_file")
    if t and "extra" in t:
        lines.append(f"- **A {t['image'][0]}² 8-bit TIFF on one machine** (`{t['command']}`, uncompressed "
                     f"BigTIFF in {t['tile']}² tiles, {t['image'][0] ** 2 / 2 ** 30:.1f} GiB): "
                     f"{t['wall']:.0f} s, {t['megapixels_per_s']:.0f} MP/s reading and writing included, "
                     f"peak extra memory {t['extra'] / MIB:.0f} MiB "
                     f"({100 * t['extra'] / t['image'][0] ** 2:.1f} % of the image; "
                     f"{t['tiles_of_memory']:.0f} 8-bit tiles' worth: a tile with its halo, its float32 "
                     "copies inside the filter, the result and the TIFF writer's buffer), "
                     f"{'equal' if t.get('equal_to_in_memory') else 'NOT equal'} to in-memory "
                     "filtering at three spot-checked windows.")
    elif t:
        lines.append(f"- **Huge TIFF through --tile**: {t.get('skipped', 'not measured')}.")
    return lines


def _path_title(r: dict, chunk: int) -> str:
    lib, where, n = r["library"], r["where"], r["cores"]
    if lib == "filterkit":
        return f"`filterkit.convolve`, in memory, {n} thread{'s' if n > 1 else ''}"
    if lib == "dask (no filter)":
        return (f"no filter: the same reads and writes only (`da.store(src, dst)`), "
                f"{'threaded' if where.startswith('threads') else 'LocalCluster'} ×{n}")
    name = "`filterkit.dask.convolve`" if lib == "filterkit.dask" else "`dask_image.ndfilters.convolve`"
    if lib == "filterkit CLI":
        return (f"`filterkit convolve --raw`, whole image, {n} threads" if where == "whole image"
                else f"`filterkit convolve --raw --tile {chunk}`, {n} thread{'s' if n > 1 else ''}")
    if where == "threads":
        return f"{name}, threaded ×{n}"
    if where.startswith("threads, zarr"):
        return f"{name}, threaded ×{n}, zarr → zarr"
    return f"{name}, LocalCluster ×{n} process{'es' if n > 1 else ''}"


def markdown(report: dict) -> str:
    m, tp = report["machine"], report.get("throughput")
    la = report.get("load_average", {})
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores, {m.get('memory_gib', '?')} GiB; Python {m['python']}, "
        f"NumPy {m['numpy']}, Dask {m['dask']}, distributed {m['distributed']}, "
        f"dask-image {m['dask-image']} (SciPy {m['scipy']}), zarr {m['zarr']}; filterkit "
        f"{m['filterkit']} ({m['filterkit_kernels']} kernels, OpenMP "
        f"{'on' if m['filterkit_openmp'] else 'off'}).  {report['date']}"
        f"{' (--quick)' if report['config'].get('quick') else ''}; load average "
        f"{la.get('start')} at the start, {la.get('end')} at the end"
        f"{' (other work on the machine: the figures are provisional)' if (la.get('start') or 0) > 0.5 else ''}.",
        "",
        *verdicts(report),
    ]
    side, chunk = (tp["image"][0], tp["chunk"][0]) if tp else (0, 0)
    lines += [] if not tp else [
        "",
        f"Throughput: one float32 {side}×{side} image ({tp['megapixels']:.1f} MP), `convolve` with mode "
        f"reflect; Dask chunks {chunk}×{chunk}.  Megapixels per second = pixels / wall time: median "
        f"of {tp['repeat']} runs after a warm-up (min–max), every path interleaved round by round; "
        "the graph is built inside the timed call.  In-memory and threaded rows write into one "
        "preallocated NumPy array (`output=` / `da.store`); zarr → zarr and LocalCluster rows read "
        "an uncompressed zarr copy of the image and write into another (`da.store`), the same for "
        "filterkit.dask and dask-image.  Command-line rows: wall time of the whole command "
        "(Python start-up, reading and writing the float32 TIFF included); it has no `--method`, so "
        "they are auto.  \"vs in memory\": against `filterkit.convolve` in memory with the same "
        "method and as many threads as workers.",
        "",
        "| filter | method | path | MP/s | min–max | vs in memory |",
        "|---|---|---|---:|---:|---:|",
    ]
    for f in (tp or {}).get("filters", []):
        for r in f["rows"]:
            method = r["method"] or ("–" if r["library"].startswith("dask ") else "scipy.ndimage")
            if method == "auto":
                method = f"auto → {f['auto_in_memory']}"
                if r["library"] == "filterkit.dask" and f["auto_chunk"] != f["auto_in_memory"]:
                    method += f" (chunks: {f['auto_chunk']})"
            title = _path_title(r, chunk)
            if r.get("skipped") or "mp_s" not in r:
                lines.append(f"| {f['title']} | {method} | {title} | {r.get('skipped') or 'failed'} | | |")
                continue
            rel = ""
            if r["library"] in ("filterkit.dask", "filterkit CLI"):
                base = _mps(_find(report, f["filter"], f"{r['method']} in-memory {min(r['cores'], 2)}"))
                if base:
                    rel = f"{r['mp_s']['median'] / base:.2f}"
            elif r["library"] == "filterkit":
                rel = "1.00"
            name = "–" if r["library"].startswith("dask ") else f["title"]
            lines.append(f"| {name} | {method} | {title} | {_fmt(r['mp_s']['median'])} "
                         f"| {_fmt(r['mp_s']['min'])}–{_fmt(r['mp_s']['max'])} | {rel} |")
    if report.get("ratios"):
        lines += ["", "filterkit.dask against dask-image, same scheduler, workers, source and sink "
                      "(MP/s, medians):", "",
                  "| filter | filterkit method | scheduler | workers | filterkit.dask | dask-image | ratio |",
                  "|---|---|---|---:|---:|---:|---:|"]
        for r in report["ratios"]:
            lines.append(f"| {r['title']} | {r['method']} | {r['where']} | {r['workers']} "
                         f"| {_fmt(r['filterkit.dask'])} | {_fmt(r['dask-image'])} | {r['ratio']:.1f}× |")
    checks = (report.get("checks") or []) if tp else []
    said = []
    if checks:
        same = all(c["filterkit.dask_identical"] for c in checks)
        peer = [c["dask-image_max_abs_diff"] for c in checks if "dask-image_max_abs_diff" in c]
        said.append(f"Seams check (700×650, uneven chunks 192×160): filterkit.dask "
                    f"{'equals' if same else 'does NOT equal'} in-memory filterkit bit for bit"
                    + (f"; dask-image is within {max(peer):.1e} of it (the same border)." if peer else "."))
    diffs = [(f["title"], k, v) for f in (tp or {}).get("filters", [])
             for k, v in f.get("cli_max_abs_diff", {}).items()]
    worst = [v for _, _, v in diffs if isinstance(v, float)]
    if worst:
        said.append("The command's outputs (whole image and tiled, the last run of each) "
                    + ("equal `filterkit.convolve` in memory bit for bit." if max(worst) == 0 else
                       f"are within {max(worst):.1e} of `filterkit.convolve` in memory."))
    said += [f"The command's output for {t}, {k}: {v} (not the image's shape)."
             for t, k, v in diffs if not isinstance(v, float)]
    if said:
        lines += ["", "  ".join(said)]
    mem = report.get("memory") or []
    if mem:
        c = report["config"]
        chunk_mib = c["mem_chunk"] ** 2 * 4 / MIB
        lines += ["", f"Peak memory: `filterkit.dask.gaussian(da.from_zarr(src), 2.0)` → `da.to_zarr(result, path, "
                      "compressors=None)` (a new store chunked like the result), "
                      f"float32 {c['mem_side']}×{c['mem_side']} ({c['mem_side'] ** 2 * 4 / MIB:.0f} MiB, "
                      f"uncompressed zarr, chunks {c['mem_chunk']}×{c['mem_chunk']} = {chunk_mib:.0f} MiB)"
                      f"{' (--quick: the default is 20000×20000, chunks 2048×2048)' if c.get('quick') else ''}"
                      ", each case in a fresh process after a warm-up on one corner: peak RSS (VmHWM, "
                      "reset before the run) minus the RSS after imports and graph construction; threaded: "
                      "the one process, shared by its workers; LocalCluster: each worker process (psutil's "
                      "sampled peak beside it).  dask-image: `ndfilters.convolve` with the same 13×13 mask.",
                  "", "| case | wall | MP/s | baseline RSS | peak extra | chunks per worker |",
                  "|---|---:|---:|---:|---:|---:|"]
        for e in mem:
            name = ("`filterkit.dask.gaussian`" if e.get("library") == "filterkit"
                    else "`dask_image.ndfilters.convolve`")
            where = (f"threaded ×{e.get('workers')}" if e.get("where") == "threads"
                     else f"LocalCluster ×{e.get('workers')} processes")
            if "chunks_per_worker" not in e:
                lines.append(f"| {name}, {where} | {e.get('skipped', 'failed')} | | | | |")
                continue
            base = e["baseline"] if isinstance(e["baseline"], list) else [e["baseline"]]
            extra = ", ".join(f"{x / MIB:.0f}" for x in e["extra"]) + " MiB"
            if e.get("sampled_extra"):
                extra += " (sampled " + ", ".join(f"{x / MIB:.0f}" for x in e["sampled_extra"]) + ")"
            if e["where"] == "threads":
                extra += f" = {e['extra'][0] / e['workers'] / MIB:.0f} MiB per worker"
            lines.append(f"| {name}, {where} | {e['wall']:.1f} s | {_fmt(e['megapixels_per_s'])} "
                         f"| {', '.join(f'{b / MIB:.0f}' for b in base)} MiB | {extra} "
                         f"| {e['chunks_per_worker']:.1f} |")
    if "cluster" in report:
        lines += cluster_markdown(report["cluster"], bool(report["cluster"].get("quick")))
    quick = " --quick" if report["config"].get("quick") else ""
    lines += ["", f"Run time {report['seconds']:.0f} s.  Commands: `python -m benchmarks.scale{quick}`"
                  + (f"; the cluster section alone: `python -m benchmarks.scale{quick} --only cluster` "
                     "(it replaces that section of the last results)" if "cluster" in report else "")
                  + "."]
    return "\n".join(lines) + "\n"


SECTIONS = ("throughput", "memory", "cluster")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="2048x2048 (chunks 512), 3 runs, memory case 6000x6000 (chunks 1024), "
                             "cluster section 2048x2048 (chunks 512), 3 runs")
    parser.add_argument("--out", default=RESULTS, help="directory of scale.json, scale.md and scale_workers.png")
    parser.add_argument("--scratch", default=SCRATCH,
                        help="scratch folder: the memory case's zarr source (kept), temporary files")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory cases")
    parser.add_argument("--no-cluster", action="store_true",
                        help="skip the LocalCluster rows and case, and the cluster section")
    parser.add_argument("--no-external", action="store_true",
                        help="the cluster section without the external dask scheduler and workers")
    parser.add_argument("--only", action="append", choices=SECTIONS, metavar="SECTION",
                        help="run only this section (repeatable: throughput, memory, cluster); the "
                             "other sections of the last results in --out (same --quick) are kept")
    args = parser.parse_args(argv)
    if fkd is None:
        parser.error("filterkit.dask needs Dask: pip install 'filterkit[dask]'")
    run = set(args.only or SECTIONS)
    if args.no_memory:
        run.discard("memory")
    if args.no_cluster:
        run.discard("cluster")
    cfg = dict(QUICK if args.quick else DEFAULT, quick=args.quick)
    report: Dict[str, object] = {
        "machine": machine(), "date": datetime.date.today().isoformat(), "config": cfg,
        "load_average": {"start": load_average()}}
    if args.only:  # keep the sections not run from the last results of the same kind
        try:
            with open(os.path.join(args.out, "scale.json")) as fh:
                last = json.load(fh)
        except (OSError, ValueError):
            last = {}
        if last and bool(last.get("config", {}).get("quick")) == args.quick:
            keep = {"throughput": ("throughput", "ratios", "checks"),
                    "memory": ("memory", "tiled_file"), "cluster": ("cluster",)}
            if "throughput" not in run and "throughput" in last:
                report.update({k: last[k] for k in ("machine", "date", "config", "load_average",
                                                     "seconds") if k in last})
                report["config"] = dict(last.get("config", {}), **{k: v for k, v in cfg.items()
                                                                   if k.startswith("cl_")})
            for section in SECTIONS:
                if section not in run:
                    report.update({k: last[k] for k in keep[section] if k in last})
            say(f"keeping the last results' {', '.join(s for s in SECTIONS if s not in run)} "
                f"(scale.json of {last.get('date')})")
    if "throughput" in run:
        masks = make_masks()
        say("seams check ...")
        report["checks"] = check_seams(masks)
        report["throughput"] = throughput(cfg, args.scratch, masks, not args.no_cluster)
        report["ratios"] = ratios(report)
    if "memory" in run:
        report["memory"] = memory(cfg, args.scratch, report, not args.no_cluster)
        report["tiled_file"] = tiled_file(cfg, args.scratch)
    if "cluster" in run:
        report["cluster"] = cluster(cfg, args.scratch, external=not args.no_external)
    if "throughput" in run or "seconds" not in report:
        report["load_average"]["end"] = load_average()
        report["seconds"] = time.perf_counter() - T_START
    table = markdown(report)
    written = list(harness.publish("scale", report, table, args.out))
    if "cluster" in run and "rows" in report["cluster"]:
        png = os.path.join(args.out, "scale_workers.png")
        if plot_workers(report["cluster"], png):
            written.append(png)
    print(table)
    say(f"done in {time.perf_counter() - T_START:.0f} s; written: {', '.join(written)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

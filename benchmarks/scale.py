"""Large images: the tiled command line and filterkit.dask against in-memory filtering and dask-image.

    python -m benchmarks.scale                      # about 7 minutes on 2 cores
    python -m benchmarks.scale --quick              # under a minute: 2048^2, memory case 6000^2

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

Only filterkit's public API is used (``filterkit``, ``filterkit.dask``, the
``filterkit`` command).  Results: benchmarks/results/scale.md (committed) and
scale.json (raw, not committed); scratch files in
benchmarks/results/scratch/scale/.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from typing import Callable, Dict, List, Optional, Tuple

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
           "tiff_side": 40000, "tiff_tile": 2048}
QUICK = {"side": 2048, "chunk": 512, "repeat": 3, "mem_side": 6000, "mem_chunk": 1024,
         "tiff_side": 8000, "tiff_tile": 1024}
#: the targets of the issue
TARGET_RATIO = 3.0
TARGET_CHUNKS = 8.0
#: a dask-image memory case estimated longer than this is skipped
MEMORY_PEER_LIMIT = 180.0
#: dask-image's cluster rows run when the threaded rows predict at most this many seconds
CLUSTER_PEER_BUDGET = {"default": 60.0, "quick": 8.0}
#: the whole default run should stay under 10 minutes
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

    def __init__(self, sizes: Tuple[int, ...]):
        os.environ.update(PYTHONPATH=child_env()["PYTHONPATH"])  # the workers import this filterkit
        quiet_distributed()
        self.clusters, self.clients = {}, {}
        for n in sizes:
            t0 = time.perf_counter()
            cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                               dashboard_address=None, silence_logs=logging.ERROR)
            client = distributed.Client(cluster, set_as_default=False)
            client.run(lambda: __import__("filterkit.dask"))
            self.clusters[n], self.clients[n] = cluster, client
            say(f"LocalCluster of {n} worker process(es) up in {time.perf_counter() - t0:.1f} s")

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
    two = [r for r in report["ratios"] if r["workers"] == 2 and r["where"] == "threads"]
    if two:
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
    else:
        lines.append("- **Throughput target**: not measured (dask-image is not installed).")
    mem = [m for m in report.get("memory", []) if m.get("library") == "filterkit"]
    side = report["config"]["mem_side"]
    quick = report["config"].get("quick")
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
    m, tp = report["machine"], report["throughput"]
    side, chunk = tp["image"][0], tp["chunk"][0]
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
    for f in tp["filters"]:
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
    if report["ratios"]:
        lines += ["", "filterkit.dask against dask-image, same scheduler, workers, source and sink "
                      "(MP/s, medians):", "",
                  "| filter | filterkit method | scheduler | workers | filterkit.dask | dask-image | ratio |",
                  "|---|---|---|---:|---:|---:|---:|"]
        for r in report["ratios"]:
            lines.append(f"| {r['title']} | {r['method']} | {r['where']} | {r['workers']} "
                         f"| {_fmt(r['filterkit.dask'])} | {_fmt(r['dask-image'])} | {r['ratio']:.1f}× |")
    checks = report.get("checks") or []
    said = []
    if checks:
        same = all(c["filterkit.dask_identical"] for c in checks)
        peer = [c["dask-image_max_abs_diff"] for c in checks if "dask-image_max_abs_diff" in c]
        said.append(f"Seams check (700×650, uneven chunks 192×160): filterkit.dask "
                    f"{'equals' if same else 'does NOT equal'} in-memory filterkit bit for bit"
                    + (f"; dask-image is within {max(peer):.1e} of it (the same border)." if peer else "."))
    diffs = [(f["title"], k, v) for f in tp["filters"] for k, v in f.get("cli_max_abs_diff", {}).items()]
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
    lines += ["", f"Run time {report['seconds']:.0f} s.  Commands: `python -m benchmarks.scale"
                  f"{' --quick' if report['config'].get('quick') else ''}`."]
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="2048x2048 (chunks 512), 3 runs, memory case 6000x6000 (chunks 1024)")
    parser.add_argument("--out", default=RESULTS, help="directory of scale.json and scale.md")
    parser.add_argument("--scratch", default=SCRATCH,
                        help="scratch folder: the memory case's zarr source (kept), temporary files")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory cases")
    parser.add_argument("--no-cluster", action="store_true", help="skip the LocalCluster rows and case")
    args = parser.parse_args(argv)
    if fkd is None:
        parser.error("filterkit.dask needs Dask: pip install 'filterkit[dask]'")
    cfg = dict(QUICK if args.quick else DEFAULT, quick=args.quick)
    report: Dict[str, object] = {
        "machine": machine(), "date": datetime.date.today().isoformat(), "config": cfg,
        "load_average": {"start": load_average()}}
    masks = make_masks()
    say("seams check ...")
    report["checks"] = check_seams(masks)
    report["throughput"] = throughput(cfg, args.scratch, masks, not args.no_cluster)
    report["ratios"] = ratios(report)
    if not args.no_memory:
        report["memory"] = memory(cfg, args.scratch, report, not args.no_cluster)
        report["tiled_file"] = tiled_file(cfg, args.scratch)
    report["load_average"]["end"] = load_average()
    report["seconds"] = time.perf_counter() - T_START
    table = markdown(report)
    written = harness.publish("scale", report, table, args.out)
    print(table)
    say(f"done in {report['seconds']:.0f} s; written: {', '.join(written)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

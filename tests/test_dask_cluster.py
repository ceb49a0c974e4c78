"""filterkit.dask on a real Dask cluster: a ``dask scheduler`` and two
``dask worker`` processes started by the test on the loopback address.

test_dask.py runs the same functions on Dask's local schedulers and on a
LocalCluster the test process owns.  Here the cluster is what a user
deploys: separate processes started from the command line, talking over
TCP, the workers writing zarr stores themselves, one of them killed in the
middle of a job (the job still finishes, every chunk written and exact).
The three ways filterkit.dask brings a halo to a block (PATH_LAYERS: read
from the store, NumPy chunks read twice, map_overlap) all run here, and
the workers' transfer logs show what each one moves between workers
(issue 19: nothing of the image with a store as the source).

Oracles: filterkit's in-memory functions on the whole array, BIT FOR BIT
(np.testing.assert_array_equal(strict=True)) wherever filterkit.dask's
docstring promises it (every spatial method but the running sums of 'box'
and ``mean``, which restart per chunk; those within test_dask.mean_tol).
The tests use only the public API, so they exercise whichever way
filterkit.dask chooses to bring the halo to a chunk.

The cluster (module-scoped ``cluster`` fixture; its processes are started
and stopped by benchmarks/daskcluster.py, which the scale benchmark's
external cluster uses too):

- every process in a session and process group of its own
  (``start_new_session``), so the group is everything it started (the
  nanny's worker process, multiprocessing helpers) and can be stopped and
  checked as a whole;
- workers under a nanny (``dask worker``'s default, what users deploy): the
  nanny enforces ``--memory-limit`` (without one the limit only pauses and
  spills) and restarts a killed worker, so killing one mid-job tests Dask's
  rescheduling and leaves two workers for whatever runs next;
- a free port chosen by the test, confirmed from the scheduler's own log
  line (another process could take the port between the choice and the
  bind: the scheduler then fails to start and another port is tried);
- bounded: start-up within STARTUP_TIMEOUT (a failure names the process
  and shows its log), every computation within COMPUTE_TIMEOUT; as a last
  resort, should pytest itself be killed, the scheduler exits after
  ``--idle-timeout`` and the workers ``--death-timeout`` after it;
- stopped: SIGTERM to each process, workers before the scheduler
  (graceful: a nanny closes its worker), SIGKILL to the process groups
  after STOP_TIMEOUT, then a check that no process of those groups, nor
  any process they started, is left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Dict, List

import numpy as np
import pytest

import filterkit

if sys.platform == "win32":  # pragma: no cover
    pytest.skip("process groups and signals: POSIX only", allow_module_level=True)
distributed = pytest.importorskip(
    "distributed", reason="dask.distributed is not installed (pip install 'filterkit[dask]')")
psutil = pytest.importorskip("psutil")  # a dependency of distributed
da = pytest.importorskip("dask.array")
zarr = pytest.importorskip("zarr")

import filterkit.dask as fkd  # noqa: E402

from helpers import benchmarks_module  # noqa: E402

daskcluster = benchmarks_module("daskcluster")  # shared with benchmarks/scale.py
Process, _alive, _wait = daskcluster.Process, daskcluster.alive, daskcluster.wait
_free_port = daskcluster.free_port
from helpers import PKG_ROOT  # noqa: E402
from oracle import random_image, seed  # noqa: E402
from test_dask import mean_tol  # noqa: E402  (the documented tolerance of the running sums)

#: seconds for the scheduler and both workers to be up (a loaded 2-core machine)
STARTUP_TIMEOUT = 90.0
#: seconds for any one computation on the cluster
COMPUTE_TIMEOUT = 180.0
STOP_TIMEOUT = 20.0  # for the client's close (the processes': daskcluster.STOP_TIMEOUT)
MEMORY_LIMIT = "2GiB"
N_WORKERS = 2


# ----------------------------------------------------------------------------
# processes
# ----------------------------------------------------------------------------
def _start_scheduler(base: str, env: Dict[str, str]) -> "tuple[Process, str]":
    try:
        return daskcluster.start_scheduler(base, env, STARTUP_TIMEOUT)
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


def _start_worker(i: int, address: str, base: str, env: Dict[str, str]) -> Process:
    return daskcluster.start_worker(f"worker-{i}", address, base, env, MEMORY_LIMIT)


def workers_info(client) -> Dict[str, dict]:
    """The scheduler's information on every worker, by address."""
    try:
        return client.scheduler_info(n_workers=-1)["workers"]
    except TypeError:  # an older distributed: no n_workers, every worker
        return client.scheduler_info()["workers"]


class Cluster:
    """The running cluster: its client, its processes, its directory."""

    def __init__(self, client, scheduler: Process, workers: List[Process], base: str) -> None:
        self.client, self.scheduler, self.workers, self.base = client, scheduler, workers, base

    def describe(self) -> str:
        return "\n".join(p.describe() for p in [self.scheduler] + self.workers)

    def worker_pids(self) -> Dict[str, int]:
        """{worker address: pid of its process} (the nanny's child)."""
        return self.client.run(os.getpid)

    def ready(self, timeout: float = STARTUP_TIMEOUT) -> Dict[str, int]:
        """Wait until N_WORKERS workers are connected and answer; returns
        worker_pids().  Fails with the processes' logs."""
        def check():
            for p in [self.scheduler] + self.workers:
                if p.popen.poll() is not None:
                    pytest.fail(f"{p.name} exited:\n{self.describe()}", pytrace=False)
            if len(workers_info(self.client)) != N_WORKERS:
                return None
            try:
                pids = self.worker_pids()
            except Exception:  # a worker just gone, not yet removed
                return None
            return pids if len(pids) == N_WORKERS else None

        pids = _wait(check, timeout, 0.1)
        if not pids:
            info = workers_info(self.client)
            pytest.fail(f"{N_WORKERS} workers were not connected within {timeout:.0f} s "
                        f"(connected: {sorted(info)}):\n{self.describe()}", pytrace=False)
        return pids

    def result(self, future):
        """A future's result within COMPUTE_TIMEOUT, else a failure with
        the processes' logs."""
        try:
            return future.result(timeout=COMPUTE_TIMEOUT)
        except distributed.TimeoutError:
            pytest.fail(f"no result within {COMPUTE_TIMEOUT:.0f} s:\n{self.describe()}", pytrace=False)

    def compute(self, *collections):
        """The Dask collections computed on the cluster."""
        return [self.result(f) for f in self.client.compute(list(collections))]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    base = str(tmp_path_factory.mktemp("cluster"))
    # the workers import the build under test (as test_dask's LocalCluster)
    old = os.environ.get("PYTHONPATH")
    env = dict(os.environ, PYTHONPATH=PKG_ROOT + (os.pathsep + old if old else ""),
               DASK_TEMPORARY_DIRECTORY=base)
    processes: List[Process] = []
    client = None
    try:
        scheduler, address = _start_scheduler(base, env)
        processes.append(scheduler)
        workers = [_start_worker(i, address, base, env) for i in range(N_WORKERS)]
        processes += workers
        try:
            client = distributed.Client(address, timeout=STARTUP_TIMEOUT, set_as_default=False)
        except Exception as exc:
            pytest.fail(f"no client for {address}: {exc}\n"
                        + "\n".join(p.describe() for p in processes), pytrace=False)
        c = Cluster(client, scheduler, workers, base)
        c.ready()
        yield c
    finally:
        if client is not None:
            try:
                client.close(timeout=STOP_TIMEOUT)
            except Exception:  # the processes are stopped all the same
                pass
        # the workers first: a scheduler closing at the same time asks them
        # to close too, and a worker caught between the two requests hangs
        # until its nanny kills it (8 s)
        left = daskcluster.stop(processes[1:] + processes[:1])
        assert not left, "processes of the cluster survived it:\n" + "\n".join(left)


@pytest.fixture
def live(cluster):
    """The cluster, both workers connected (a killed worker is back under
    its nanny)."""
    cluster.ready()
    return cluster


def assert_same(got, want):
    if isinstance(want, tuple):
        assert isinstance(got, (tuple, list)) and len(got) == len(want)
        for g, w in zip(got, want):
            assert_same(g, w)
        return
    np.testing.assert_array_equal(got, want, strict=True)


ZARR_METADATA = {"zarr.json", ".zarray", ".zattrs", ".zgroup", ".zmetadata"}


def store_files(path: str) -> List[str]:
    """Every file of a zarr array on disk but its metadata, relative paths."""
    found = []
    for root, _, files in os.walk(path):
        found += [os.path.relpath(os.path.join(root, f), path) for f in files if f not in ZARR_METADATA]
    return found


def chunk_keys(path: str) -> List[str]:
    """The chunks written in a zarr array on disk (zarr 2 or 3).  zarr writes
    a chunk to '<key>.<uuid>.partial' and renames it: those are not chunks."""
    return [f for f in store_files(path) if not f.endswith(".partial")]


def new_zarr(path: str, data: np.ndarray, chunks) -> None:
    # open_array: the same call in zarr 2 and zarr 3
    z = zarr.open_array(path, mode="w", shape=data.shape, chunks=chunks, dtype=data.dtype)
    z[:] = data


# ----------------------------------------------------------------------------
# the cluster is what we think it is
# ----------------------------------------------------------------------------
def test_the_workers_are_the_processes_the_test_started(live):
    client, pids = live.client, live.ready()
    assert len(set(pids.values())) == N_WORKERS and os.getpid() not in pids.values()
    # each worker process is a nanny's child, the nanny one of ours
    parents = {psutil.Process(pid).ppid() for pid in pids.values()}
    assert parents == {w.pid for w in live.workers}
    info = workers_info(client)
    assert all(addr.startswith("tcp://127.0.0.1:") for addr in info)
    assert [w["nthreads"] for w in info.values()] == [1] * N_WORKERS
    assert {w["memory_limit"] for w in info.values()} == {2 * 2 ** 30}
    assert all(w["local_directory"].startswith(live.base) for w in info.values())
    # they run the build under test
    where = client.run(lambda: os.path.dirname(os.path.dirname(os.path.abspath(filterkit.__file__))))
    assert set(where.values()) == {PKG_ROOT}


# ----------------------------------------------------------------------------
# in-memory Dask arrays, bit for bit
# ----------------------------------------------------------------------------
SHAPE = (61, 47)
# uneven; the 6-px row and the 5-px column chunks are narrower than the
# gaussian's halo (merged with a neighbour first)
CHUNKS = ((9, 30, 6, 16), (20, 5, 22))
MASK = np.random.default_rng(20).standard_normal((5, 7))  # asymmetric, non-square
CVAL = 1.5


def filters(m, x, mode, **kw):
    """The same calls on filterkit (numpy) or filterkit.dask (Dask): a tuple."""
    cval = 0.0 if mode == "valid" else CVAL
    return (m.convolve(x, MASK, mode=mode, cval=cval, method="direct", **kw),
            m.correlate(x, MASK, mode=mode, cval=cval, method="direct", **kw),
            m.gaussian(x, 1.5, mode=mode, cval=cval, **kw),
            m.sobel(x, mode=mode, cval=cval, **kw),
            *m.gradient(x, mode=mode, cval=cval, **kw))


@pytest.mark.parametrize("source", ["stored", "computed"])
@pytest.mark.parametrize("mode", ["reflect", "mirror", "nearest", "constant", "wrap", "valid"])
def test_in_memory_arrays_bit_for_bit(live, mode, source):
    rng = np.random.default_rng(seed("cluster", mode))
    image = random_image(rng, SHAPE, np.float32, scale=100)
    x = da.from_array(image, chunks=CHUNKS)
    if source == "computed":  # chunks out of another Dask operation
        x = x.map_blocks(np.copy, dtype=x.dtype)
    got = live.compute(*filters(fkd, x, mode))
    assert_same(tuple(got), filters(filterkit, image, mode))


@pytest.mark.parametrize("channel_axis,dtype", [(-1, np.uint8), (0, np.float64)])
@pytest.mark.parametrize("mode", ["wrap", "mirror", "valid"])
def test_colour_images_with_channel_axis(live, mode, channel_axis, dtype):
    rng = np.random.default_rng(seed("cluster-rgb", mode, channel_axis, np.dtype(dtype).str))
    rgb = random_image(rng, SHAPE + (3,), dtype, scale=100)
    chunks = CHUNKS + (3,)
    if channel_axis == 0:
        rgb, chunks = np.ascontiguousarray(np.moveaxis(rgb, -1, 0)), (3,) + CHUNKS
    x = da.from_array(rgb, chunks=chunks)
    got = live.compute(*filters(fkd, x, mode, channel_axis=channel_axis))
    assert_same(tuple(got), filters(filterkit, rgb, mode, channel_axis=channel_axis))
    if mode != "valid":  # a colour space: converted per chunk
        got, = live.compute(fkd.gaussian(x, 1.0, channel_axis=channel_axis, space="lab", mode=mode))
        assert_same(got, filterkit.gaussian(rgb, 1.0, channel_axis=channel_axis, space="lab", mode=mode))


@pytest.mark.parametrize("dtype", [np.uint16, np.float32, np.float64])
def test_mean_and_box_within_the_documented_rounding(live, dtype):
    # the running sums restart at every chunk: exact for integer images,
    # within the rounding of float64 sums for float images
    image = random_image(np.random.default_rng(seed("cluster-mean", np.dtype(dtype).str)),
                         SHAPE, dtype, scale=100)
    x = da.from_array(image, chunks=CHUNKS)
    box = np.full((7, 7), 1 / 49)
    got = live.compute(fkd.mean(x, 7, mode="mirror"), fkd.convolve(x, box, method="box"))
    want = (filterkit.mean(image, 7, mode="mirror"), filterkit.convolve(image, box, method="box"))
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        if np.dtype(dtype).kind in "ui":
            np.testing.assert_array_equal(g, w, strict=True)
        else:
            np.testing.assert_allclose(g, w, rtol=0, atol=mean_tol(image, 7, w.dtype))


# ----------------------------------------------------------------------------
# zarr to zarr, written by the workers
# ----------------------------------------------------------------------------
def test_zarr_to_zarr_written_by_both_workers(live, tmp_path):
    client = live.client
    data = random_image(np.random.default_rng(seed("cluster-zarr")), (300, 250), np.float32, scale=100)
    new_zarr(str(tmp_path / "in.zarr"), data, (64, 64))
    x = da.from_zarr(str(tmp_path / "in.zarr"))
    assert x.numblocks == (5, 4)
    mask = np.random.default_rng(21).standard_normal((9, 9))
    results = {
        "sobel": (fkd.sobel(x, mode="mirror"), filterkit.sobel(data, mode="mirror")),
        "convolve": (fkd.convolve(x, mask, mode="wrap", method="direct"),
                     filterkit.convolve(data, mask, mode="wrap", method="direct")),
        "gaussian": (fkd.gaussian(x, 2.0, mode="constant", cval=CVAL),
                     filterkit.gaussian(data, 2.0, mode="constant", cval=CVAL)),
    }
    strength, direction = fkd.gradient(x, mode="nearest")
    results["strength"], results["direction"] = zip(
        (strength, direction), filterkit.gradient(data, mode="nearest"))
    writes = []
    for name, (lazy, _) in results.items():
        # regular chunks (a chunk merged for its halo would make them irregular)
        writes.append(da.to_zarr(lazy.rechunk((64, 64)), str(tmp_path / f"{name}.zarr"), compute=False))
    # the stores are opened by the client; the chunks are written by the workers
    assert all(chunk_keys(str(tmp_path / f"{name}.zarr")) == [] for name in results)
    with distributed.get_task_stream(client=client) as stream:
        live.compute(*writes)
    for name, (_, want) in results.items():
        path = str(tmp_path / f"{name}.zarr")
        assert len(chunk_keys(path)) == 20, name
        back = zarr.open_array(path, mode="r")[:]
        np.testing.assert_array_equal(back, want, strict=True, err_msg=name)
    # both workers filtered and wrote
    workers = set(workers_info(client))
    assert {t["worker"] for t in stream.data} == workers
    for worker in workers:
        assert any(t["worker"] == worker and "store" in str(t["key"]) for t in stream.data), worker


# ----------------------------------------------------------------------------
# what crosses between the workers
# ----------------------------------------------------------------------------
def layer_of(key) -> str:
    return key[0] if isinstance(key, tuple) else str(key)


SOURCES = {
    # (how the image becomes a Dask array, the path filterkit.dask takes)
    "from_zarr": (lambda path, data: da.from_zarr(path), "store"),
    "from_array(zarr)": (lambda path, data: da.from_array(zarr.open_array(path, mode="r"),
                                                          chunks=(64, 64)), "store"),
    "numpy": (lambda path, data: da.from_array(data, chunks=(64, 64)), "reread"),
    "computed": (lambda path, data: da.from_zarr(path).map_blocks(np.copy), "overlap"),
}


@pytest.mark.parametrize("source", list(SOURCES))
def test_what_moves_between_workers(live, tmp_path, source):
    # issue 19's target: with a store as the source no image data crosses
    # between workers (each block reads its own halo); map_overlap and the
    # read-twice path ship chunks or their edges, which shows the measure
    # sees transfers.  Measured: what the workers fetched from each other
    # (their transfer logs) while they computed the blocks and kept them
    # where they were computed (persist: nothing downstream, nothing gathered)
    client = live.client
    data = random_image(np.random.default_rng(seed("cluster-moves")), (320, 300), np.float32, scale=100)
    path = str(tmp_path / "in.zarr")
    new_zarr(path, data, (64, 64))
    make, expected = SOURCES[source]
    y = fkd.convolve(make(path, data), MASK, mode="reflect", method="direct")
    assert [p for p, prefix in fkd.PATH_LAYERS.items()
            if any(str(layer).startswith(prefix) for layer in y.dask.layers)] == [expected]

    def fetched(dask_worker):
        return [(key, n) for entry in dask_worker.transfer_incoming_log
                for key, n in entry["keys"].items()]

    before = {w: len(log) for w, log in client.run(fetched).items()}
    blocks = client.persist(y)
    for future in distributed.futures_of(blocks):
        live.result(future)
    moved = [(key, n) for w, log in client.run(fetched).items() for key, n in log[before[w]:]]
    got, = live.compute(blocks)
    np.testing.assert_array_equal(got, filterkit.convolve(data, MASK, mode="reflect", method="direct"),
                                  strict=True)
    del blocks
    # image data are array chunks and pieces of them (tuple keys); the
    # store's handle (the zarr array object, not its data) and the compute's
    # epoch (a token the blocks share, filterkit._chunkcache) may move
    image_bytes = sum(n for key, n in moved
                      if isinstance(key, tuple) and not layer_of(key).startswith("original-"))
    if expected == "store":
        assert image_bytes == 0, moved
        assert sum(n for _, n in moved) < 10_000, moved
    else:
        assert image_bytes > 0, moved


# ----------------------------------------------------------------------------
# the command line on the cluster: --scheduler ADDRESS with --tile
# ----------------------------------------------------------------------------
def filterkit_cli(args, cwd, env=None, timeout=COMPUTE_TIMEOUT):
    """The command in `cwd` (never the source tree: ``-m`` would import the
    uncompiled checkout); (exit code, stderr)."""
    env = dict({k: v for k, v in os.environ.items() if k != "FILTERKIT_SCHEDULER"}, **(env or {}))
    res = subprocess.run([sys.executable, "-m", "filterkit", *map(str, args)], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=timeout)
    return res.returncode, res.stderr


def read_any(path):
    path = str(path)
    if path.endswith(".npy"):
        return np.load(path)
    if path.endswith(".zarr"):
        return zarr.open_array(path, mode="r")[...]
    return pytest.importorskip("tifffile").imread(path)


CLI_CASES = {
    # command arguments, output name: one pass; two passes (the largest
    # magnitude first); three (and a second output, --direction)
    "gaussian npy": (["gaussian", "--sigma", "2", "in.npy"], "out.npy"),
    "sobel tif": (["sobel", "in.tif"], "out.tif"),
    "gradient zarr": (["gradient", "in.tif"], "out.zarr"),
    "convolve valid": (["convolve", "--mask", "mask.npy", "--mode", "valid", "--raw", "in.npy"],
                       "out.tif"),
}


@pytest.mark.parametrize("case", list(CLI_CASES))
def test_the_command_line_filters_tiles_on_the_cluster(live, tmp_path, case):
    tifffile = pytest.importorskip("tifffile")
    image = random_image(np.random.default_rng(seed("cli-cluster", case)), (300, 260), np.uint8,
                         scale=255)
    tifffile.imwrite(tmp_path / "in.tif", image)
    np.save(tmp_path / "in.npy", image.astype(np.float32))
    np.save(tmp_path / "mask.npy", np.random.default_rng(3).standard_normal((7, 5)))
    args, out = CLI_CASES[case]
    extra = ["--direction", "dir.tif"] if case.startswith("gradient") else []
    here = tmp_path / "here"
    there = tmp_path / "there"
    here.mkdir()
    there.mkdir()
    extra_here = [a if a != "dir.tif" else here / a for a in extra]
    extra_there = [a if a != "dir.tif" else there / a for a in extra]
    code, err = filterkit_cli(args + [here / out, "--tile", "64"] + extra_here, tmp_path)
    assert code == 0, err
    with distributed.get_task_stream(client=live.client) as stream:
        code, err = filterkit_cli(args + [there / out, "--tile", "64", "--scheduler",
                                          live.client.scheduler.address] + extra_there, tmp_path)
    assert code == 0, err
    # bit for bit the tiles of this process, every output
    np.testing.assert_array_equal(read_any(there / out), read_any(here / out), strict=True)
    if extra:
        np.testing.assert_array_equal(read_any(there / "dir.tif"), read_any(here / "dir.tif"),
                                      strict=True)
    # the workers did the tiles (at least 4 x 5 of 64 x 64 a pass), both of them
    tasks = [t for t in stream.data if str(t["key"]).startswith("filterkit-tile-")]
    assert len(tasks) >= 20 and {t["worker"] for t in tasks} == set(live.ready()), \
        sorted({str(t["key"])[:40] for t in stream.data})
    assert sorted(os.listdir(there)) == sorted(os.listdir(here))  # no temporary file left


def test_the_scheduler_from_the_environment(live, tmp_path):
    tifffile = pytest.importorskip("tifffile")
    tifffile.imwrite(tmp_path / "in.tif", np.arange(120 * 90, dtype=np.uint16).reshape(120, 90))
    with distributed.get_task_stream(client=live.client) as stream:
        code, err = filterkit_cli(["mean", "in.tif", "out.tif", "--tile", "32"], tmp_path,
                                  env={"FILTERKIT_SCHEDULER": live.client.scheduler.address})
    assert code == 0, err
    assert len(stream.data) >= 12
    with distributed.get_task_stream(client=live.client) as stream:  # 'none': here
        code, err = filterkit_cli(["mean", "in.tif", "here.tif", "--tile", "32", "--scheduler",
                                   "none"], tmp_path,
                                  env={"FILTERKIT_SCHEDULER": live.client.scheduler.address})
    assert code == 0, err
    assert stream.data == []
    np.testing.assert_array_equal(read_any(tmp_path / "out.tif"), read_any(tmp_path / "here.tif"))


def test_a_scheduler_that_does_not_answer_is_one_error_line(tmp_path, monkeypatch):
    # no cluster needed: nothing listens on the port
    from filterkit.cli import cluster as cli_cluster

    monkeypatch.setattr(cli_cluster, "CONNECT_TIMEOUT", 2)
    tifffile = pytest.importorskip("tifffile")
    tifffile.imwrite(tmp_path / "in.tif", np.zeros((100, 100), np.uint8))
    address = f"tcp://127.0.0.1:{_free_port()}"
    code, err = _in_process(["sobel", str(tmp_path / "in.tif"), str(tmp_path / "out.tif"),
                             "--tile", "32", "--scheduler", address])
    assert code == 2
    assert err.startswith(f"filterkit: error: --scheduler {address}: cannot connect")
    assert err.count("\n") == 1, err
    assert sorted(os.listdir(tmp_path)) == ["in.tif"]


def _in_process(argv):
    """main(argv) in this process: (exit code, stderr)."""
    import contextlib
    import io

    from filterkit.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(argv)
    return code, err.getvalue()


# ----------------------------------------------------------------------------
# a worker killed in the middle of a job (last: it disturbs the cluster)
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("source,path", [("from_zarr", "store"), ("computed", "overlap")])
def test_a_worker_killed_mid_job_the_result_is_still_complete_and_exact(live, tmp_path, source, path):
    # 'store': every block reads its own halo, the killed worker loses only
    # its results; 'overlap' (map_overlap): the halos are cut from chunks
    # the workers hold, and the killed worker's chunks are read again
    client = live.client
    # 144 chunks of 64x64, each filtered with its 50-px halo by a 101x101
    # mask: a few seconds on two single-threaded workers
    shape, chunks = (768, 768), (64, 64)
    n_chunks = (shape[0] // chunks[0]) * (shape[1] // chunks[1])
    data = random_image(np.random.default_rng(seed("cluster-kill")), shape, np.float32, scale=100)
    mask = np.random.default_rng(22).standard_normal((101, 101))
    src, out = str(tmp_path / "in.zarr"), str(tmp_path / "out.zarr")
    new_zarr(src, data, chunks)
    x = da.from_zarr(src)
    if source == "computed":
        x = x.map_blocks(np.copy)
    lazy = fkd.convolve(x, mask, mode="mirror", method="direct")
    assert any(str(layer).startswith(fkd.PATH_LAYERS[path]) for layer in lazy.dask.layers)
    assert lazy.chunks == x.chunks
    pids = live.ready()
    victim, survivor = sorted(pids)
    victim_process = psutil.Process(pids[victim])
    with distributed.get_task_stream(client=client) as stream:
        job = client.compute(da.to_zarr(lazy, out, compute=False))
        # kill once a tenth of the chunks are written
        _wait(lambda: job.done() or len(chunk_keys(out)) >= n_chunks // 10, COMPUTE_TIMEOUT, 0.01)
        at_kill = len(chunk_keys(out))
        assert not job.done() and n_chunks // 10 <= at_kill < n_chunks, (
            f"no worker killed mid-job: {at_kill} of {n_chunks} chunks written, job {job.status}"
            f"\n{live.describe()}")
        victim_process.send_signal(signal.SIGKILL)
        killed = time.time()
        # plain da.to_zarr writes the metadata first: until the job ends the
        # store opens with its full shape, its missing chunks reading as the
        # fill value; only the chunks written tell it is not complete
        partial = zarr.open_array(out, mode="r")
        assert partial.shape == shape and partial.nchunks_initialized < n_chunks
        live.result(job)
    assert not _alive(victim_process)
    # the surviving worker went on with the job after the kill
    after = [t for t in stream.data
             if any(s["start"] > killed for s in t.get("startstops", ()))]
    assert any(t["worker"] == survivor for t in after)
    # complete: every chunk, all of them equal to the in-memory result (a
    # write cut short by the kill can only leave a '.partial' file beside)
    keys = chunk_keys(out)
    assert len(keys) == n_chunks, sorted(store_files(out))
    back = zarr.open_array(out, mode="r")
    assert back.shape == shape and back.nchunks_initialized == n_chunks
    np.testing.assert_array_equal(back[:], filterkit.convolve(data, mask, mode="mirror", method="direct"),
                                  strict=True)
    # the nanny brought the killed worker back: two workers, a new process
    new = live.ready()
    assert pids[victim] not in new.values() and len(new) == N_WORKERS


def test_a_worker_killed_mid_command_the_output_is_complete_and_exact(live, tmp_path):
    # the command line's tiles on the cluster (576 of 32 x 32), one worker
    # killed once some are done: Dask runs the lost tiles again, the command writes the whole
    # output, equal to the tiles filtered here
    client = live.client
    image = random_image(np.random.default_rng(seed("cli-kill")), (768, 768), np.float32, scale=1)
    np.save(tmp_path / "in.npy", image)
    np.save(tmp_path / "mask.npy", np.random.default_rng(5).standard_normal((31, 31)))
    args = ["convolve", "--mask", "mask.npy", "--raw", "in.npy"]
    code, err = filterkit_cli(args + ["here.npy", "--tile", "32"], tmp_path)
    assert code == 0, err
    pids = live.ready()
    victim_address, survivor = sorted(pids)
    victim = psutil.Process(pids[victim_address])
    with distributed.get_task_stream(client=client) as stream:
        proc = subprocess.Popen([sys.executable, "-m", "filterkit", *args, "there.npy", "--tile", "32",
                                 "--scheduler", client.scheduler.address],
                                cwd=tmp_path, stderr=subprocess.PIPE, text=True,
                                env={k: v for k, v in os.environ.items() if k != "FILTERKIT_SCHEDULER"})
        try:
            # the scheduler's transitions (5 or so a task): kill after some 40 tiles
            def transitions():
                return client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.transition_counter)

            start = transitions()
            done = _wait(lambda: proc.poll() is not None or transitions() - start >= 200,
                         COMPUTE_TIMEOUT, 0.01)
            assert done and proc.poll() is None, "the command ended before a worker could be killed"
            victim.send_signal(signal.SIGKILL)
            killed = time.time()
            _, err = proc.communicate(timeout=COMPUTE_TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, err
    assert not _alive(victim)
    assert any(t["worker"] == survivor and any(s["start"] > killed for s in t.get("startstops", ()))
               for t in stream.data)  # the tiles went on without the killed worker
    np.testing.assert_array_equal(np.load(tmp_path / "there.npy"), np.load(tmp_path / "here.npy"),
                                  strict=True)
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".filterkit-")]
    live.ready()  # the nanny brought it back

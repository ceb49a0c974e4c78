"""Batch jobs: the (input, output) pairs of a command and how they run.

:func:`job_list` makes the pairs (``IN OUT``, or every input into ``-o
DIR``), checking every output before any file is read; :func:`run_jobs`
runs them one by one, or ``--jobs N`` at a time in worker processes, with
a progress bar on a terminal.  Ctrl-C stops the workers' files at once
(each removes its temporary files) and is raised in the main process.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any, Callable, List, Optional, Sequence, Tuple

import filterkit

from .images import FORMATS, RAW_FORMATS, CLIError, check_distinct, image_files, is_complete
from .tiles import TILE_FORMATS

#: one job: run_one(command, src, dst, args) -> the error message, or None
RunOne = Callable[[str, str, str, argparse.Namespace], Optional[str]]


def progress_bar(total: int, unit: str, desc: Optional[str] = None) -> Any:
    """A progress bar on stderr when it is a terminal (else None)."""
    if total <= 1 or not sys.stderr.isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit=unit, desc=desc, file=sys.stderr, leave=False)


def already_done(src: str, dst: str) -> bool:
    """--resume: `dst` exists, is complete and is not older than `src`."""
    if not is_complete(dst):
        return False
    if src.startswith("sample:") or not os.path.exists(src):
        return True
    return os.path.getmtime(dst) >= os.path.getmtime(src)


def _check_extension(args: argparse.Namespace, ext: str) -> None:
    """The batch's output extension is one the command writes."""
    if args.tile:
        allowed: Sequence[str] = TILE_FORMATS
        what = "--tile writes"
    elif args.raw:
        allowed, what = RAW_FORMATS, "--raw writes"
    else:
        allowed, what = tuple(sorted(FORMATS)), "use one of"
    if ext.lower() not in allowed:
        raise CLIError(f"--ext {ext}: unknown output extension; {what} {', '.join(allowed)}")


def job_list(args: argparse.Namespace) -> List[Tuple[str, str]]:
    """(input, output) for every file; in batch mode every output is
    checked first (extension, no two the same, none an input), and only
    then is the output folder made."""
    paths = args.paths
    if args.output_dir is None:
        if len(paths) != 2:
            raise CLIError(f"give IN OUT, or input files and -o DIR; got {len(paths)} path(s)")
        return [(paths[0], paths[1])]
    outdir = args.output_dir
    if os.path.exists(outdir) and not os.path.isdir(outdir):
        raise CLIError(f"-o {outdir}: not a folder")
    ext = args.ext if args.ext.startswith(".") else "." + args.ext
    _check_extension(args, ext)
    inputs: List[str] = []
    for p in paths:
        inputs.extend(image_files(p) if os.path.isdir(p) else [p])
    if not inputs:
        raise CLIError("no input images found")
    jobs = []
    for p in inputs:
        stem = p[len("sample:"):] if p.startswith("sample:") else os.path.splitext(os.path.basename(p))[0]
        jobs.append((p, os.path.join(outdir, stem + ext)))
    outputs = [dst for _, dst in jobs]
    mask = [args.mask] if getattr(args, "mask", None) else []
    check_distinct(inputs + mask, outputs, sources=inputs)
    if not os.path.isdir(outdir):
        try:
            os.makedirs(outdir)
        except OSError as exc:
            raise CLIError(f"-o {outdir}: cannot create the folder ({exc.strerror})") from None
    return jobs


#: in a worker process: whether a file is being filtered (see _worker_stop)
_in_job = False


def _worker_start(threads: int) -> None:
    """A worker process of --jobs: Ctrl-C is the main process's to handle
    (the terminal sends it to every process of the group); SIGTERM from the
    main process stops the file being filtered, its temporary files
    removed."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _worker_stop)
    if hasattr(signal, "pthread_sigmask"):  # blocked by the main process while it started us
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    filterkit.set_num_threads(threads)


def _worker_stop(signum: int, frame: Any) -> None:
    """SIGTERM in a worker: stop the file being filtered, or leave when idle."""
    if _in_job:
        raise KeyboardInterrupt  # unwinds the job: temporary files removed
    raise SystemExit(130)  # idle: leave quietly


def _worker_job(run_one: RunOne, command: str, src: str, dst: str,
                args: argparse.Namespace) -> Optional[str]:
    """`run_one` in a worker process, marked as filtering a file meanwhile."""
    global _in_job
    _in_job = True
    try:
        return run_one(command, src, dst, args)
    finally:
        _in_job = False


def run_jobs(run_one: RunOne, args: argparse.Namespace, jobs: List[Tuple[str, str]],
             progress: Any) -> Any:
    """Yield (input, error or None) for every job, `args.jobs` at a time in
    worker processes (each on its share of the cores), else one by one.

    `run_one(command, src, dst, args)` does one job and returns its error
    message or None; for worker processes it must be a module-level
    function (it is pickled by name)."""
    workers = min(args.jobs, len(jobs))
    if workers <= 1:
        for src, dst in jobs:
            yield src, run_one(args.command, src, dst, args)
            if progress is not None:
                progress.update(1)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    threads = args.threads or max(1, filterkit.get_num_threads() // workers)
    # 'spawn': a fresh interpreter per worker (forking a process whose
    # OpenMP threads exist can hang the child)
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_worker_start, initargs=(threads,))
    try:
        futures = _submit(pool, [(_worker_job, (run_one, args.command, src, dst, args)) for src, dst in jobs])
        futures = {future: src for future, (src, _) in zip(futures, jobs)}
        for future in as_completed(futures):
            try:
                error = future.result()
            except BrokenProcessPool:
                error = "a worker process died while filtering it (out of memory?)"
            yield futures[future], error
            if progress is not None:
                progress.update(1)
    except BaseException:
        # Ctrl-C (or any failure here): stop the workers' files now, not
        # when they are done; each removes its temporary files
        for process in list(getattr(pool, "_processes", {}).values()):
            try:
                process.terminate()
            except (OSError, AttributeError):
                pass
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _submit(pool: Any, calls: List[Tuple[Callable[..., Any], Tuple[Any, ...]]]) -> List[Any]:
    """Submit every call to `pool`, which starts its worker processes
    meanwhile.  A Ctrl-C then would cut a worker's start-up short (its
    traceback on the terminal), so it waits until they are started: the
    workers start with it blocked (inherited; they ignore it once started),
    and here it is only noted, then raised.  A command started with Ctrl-C
    ignored (``nohup``, or ``&`` in a script) keeps ignoring it."""
    noted: List[int] = []
    previous = signal.getsignal(signal.SIGINT)
    if previous != signal.SIG_IGN:
        signal.signal(signal.SIGINT, lambda signum, frame: noted.append(signum))
    blocking = hasattr(signal, "pthread_sigmask")
    if blocking:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        futures = [pool.submit(fn, *call_args) for fn, call_args in calls]
    finally:
        if blocking:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        if previous != signal.SIG_IGN:
            signal.signal(signal.SIGINT, previous)
    if noted:
        raise KeyboardInterrupt
    return futures

"""What every benchmark suite shares: timing, peak memory, the machine, publishing.

- :func:`time_interleaved` times several zero-argument functions in the same
  rounds, in a balanced order (:func:`round_orders`), and returns their
  medians, minima and maxima (:func:`stats`);
- :func:`run_child` runs a function of a benchmark module in a fresh Python
  process and returns the JSON it prints; inside it, :func:`measure_peak`,
  :func:`reset_peak`, :func:`rss` and :func:`peak` measure the peak RSS
  (Linux: ``/proc/self/clear_refs`` and ``VmHWM``);
- :func:`machine` describes the machine and the libraries, with
  ``filterkit.build_info()``;
- :func:`publish` writes a report as ``NAME.json`` and its Markdown tables as
  ``NAME.md`` into ``benchmarks/results/``; :func:`markdown_table` formats a
  table.

The suites call filterkit's public API only.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

# OpenBLAS's idle threads spin on a core for a while after numpy starts; on a
# 2-core machine that steals time from whatever is being timed (the suites
# import this module before numpy; nothing timed here uses BLAS)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")


def say(msg: str) -> None:
    """Progress on stderr (stdout carries the tables)."""
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# orders and statistics (pure)


def balanced_orders(n: int) -> List[List[int]]:
    """Williams' design for n functions: n orders (2n for odd n) in which
    each function follows each other one equally often and takes each
    place equally often."""
    if n <= 0:
        return []
    first = [0]
    lo, hi = 1, n - 1
    while len(first) < n:
        first.append(lo)
        lo += 1
        if len(first) < n:
            first.append(hi)
            hi -= 1
    rows = [[(x + i) % n for x in first] for i in range(n)]
    if n % 2:
        rows += [row[::-1] for row in rows]
    return rows


def round_orders(n: int, rounds: int, seed: int = 0) -> List[List[int]]:
    """The order of the n functions in each of `rounds` rounds: blocks of
    Williams' design (:func:`balanced_orders`), each block under its own
    random relabelling of the functions.

    One fixed design balances the function just before each call but not the
    one two before: there, that is always a neighbour in the list of labels.
    A call two after a whole-image FFT still runs on colder caches, so a
    fixed design lets the label order alone move a ratio by several percent.
    A relabelling per block keeps each block balanced and spreads the second
    neighbours at random.
    """
    if n <= 0 or rounds <= 0:
        return []
    rng = np.random.default_rng(seed)
    base = balanced_orders(n)
    out: List[List[int]] = []
    while len(out) < rounds:
        perm = rng.permutation(n)
        out += [[int(perm[i]) for i in row] for row in base]
    return out[:rounds]


def abba_orders(rounds: int) -> List[Tuple[int, int]]:
    """Two subjects 0 and 1 over `rounds` rounds, ABBA: (0, 1), (1, 0), (1, 0),
    (0, 1), ...  Each goes first equally often over every four rounds, and a
    linear drift of the machine over a block of four costs both the same."""
    block = [(0, 1), (1, 0), (1, 0), (0, 1)]
    return [block[i % 4] for i in range(rounds)]


def stats(samples: Sequence[float]) -> Dict[str, object]:
    """Median, min, max and count of timings (seconds), with the samples in order."""
    v = [float(x) for x in samples]
    if not v:
        raise ValueError("no samples")
    return {"median": float(np.median(v)), "min": min(v), "max": max(v), "repeat": len(v),
            "samples": v}


def ratio(new: float, old: float) -> float:
    """new / old (a time ratio: above 1 is slower)."""
    return new / old if old > 0 else float("inf")


def paired_ratio(new: Sequence[float], old: Sequence[float]) -> Optional[float]:
    """The median over rounds of new / old in the same round: slow drifts of
    the machine (other load, seconds long) cancel in each round's ratio.
    Pairs as many rounds as both have."""
    n = min(len(new), len(old))
    if n == 0:
        return None
    return float(np.median(np.asarray(new[:n], float) / np.asarray(old[:n], float)))


def slower(rows: Iterable[dict], limit: float, key: str = "ratio") -> List[dict]:
    """The rows whose `key` is above `limit`."""
    return [r for r in rows if r.get(key) is not None and r[key] > limit]


# --------------------------------------------------------------------------
# timing


def _malloc_trim() -> Callable[[], object]:
    try:
        import ctypes
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to settle
        return lambda: None
    return lambda: trim(0)


#: Called before every timed call.  glibc keeps freed memory in the heap or
#: not depending on what ran before, so a call that follows one that freed
#: large buffers may or may not fault in fresh pages for its own temporaries,
#: so the order of the calls alone would move a call's time on large images.
#: Returning free memory first (malloc_trim, microseconds) makes every call pay for
#: its own allocations whatever ran before it.
settle = _malloc_trim()


def time_call(fn: Callable[[], object]) -> float:
    """Seconds of one call, after :data:`settle`."""
    settle()
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def time_interleaved(fns: Dict[str, Callable[[], object]],
                     repeat: Union[int, Callable[[float], int]], seed: int = 0,
                     fast_repeat: Optional[Callable[[float], int]] = None
                     ) -> Dict[str, Dict[str, object]]:
    """Median/min/max seconds of each function, runs interleaved.

    A warm-up call of each first (page in, caches, FFT plans, lazy
    initialisation; its time is kept as ``warmup``).  Then `repeat` rounds
    (or ``repeat(total warm-up seconds)``: fewer for slow groups) in which
    every function runs once, in the order of :func:`round_orders` seeded by
    `seed`, each call after :data:`settle`.

    With `fast_repeat`, the functions that take at most 5 % of a round get
    more rounds among themselves afterwards, up to ``fast_repeat(their
    warm-up seconds)`` runs in all: where a slow peer dominates the round,
    they would otherwise get too few runs for a median to tell 10 % apart.
    """
    warm = {name: time_call(fn) for name, fn in fns.items()}
    n = repeat(sum(warm.values())) if callable(repeat) else repeat
    times: Dict[str, List[float]] = {k: [] for k in fns}

    def rounds(names: List[str], count: int, seed: int) -> None:
        for row in round_orders(len(names), count, seed):
            for name in (names[i] for i in row):
                times[name].append(time_call(fns[name]))

    rounds(list(fns), n, seed)
    fast = [k for k in fns if warm[k] * 20 <= sum(warm.values())]
    if fast_repeat is not None and len(fast) > 1:
        rounds(fast, max(fast_repeat(sum(warm[k] for k in fast)) - n, 0), seed + 1)
    return {k: dict(stats(v), warmup=warm[k]) for k, v in times.items()}


# --------------------------------------------------------------------------
# peak memory, in a fresh process (Linux)


def peak_supported() -> bool:
    """Can this system reset a process's peak RSS (Linux's clear_refs)?"""
    return os.path.exists("/proc/self/clear_refs")


def _status(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def reset_peak() -> bool:
    """Set this process's peak RSS (VmHWM, ru_maxrss) to its current RSS."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def rss() -> int:
    """This process's resident set, bytes."""
    try:
        return _status("VmRSS:")
    except (OSError, KeyError):
        try:
            import psutil
        except ImportError:
            return 0
        return psutil.Process().memory_info().rss


def peak() -> Dict[str, int]:
    """This process's peak RSS, bytes: ``ru_maxrss`` and, on Linux, ``VmHWM``."""
    import resource
    out = {"ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    try:
        out["VmHWM"] = _status("VmHWM:")
    except (OSError, KeyError):
        pass
    return out


def peak_of(reset: bool, figures: Dict[str, int]) -> int:
    """The peak to trust: VmHWM when the reset worked, else ru_maxrss (since start)."""
    return figures["VmHWM"] if reset and "VmHWM" in figures else figures["ru_maxrss"]


def measure_peak(fn: Callable[[], object]) -> int:
    """Peak RSS growth during one call of `fn`, bytes.  Call `fn` once before
    (to load modules, plans and caches) and in a fresh process (:func:`run_child`)."""
    clean = reset_peak()
    before = rss()
    fn()
    return peak_of(clean, peak()) - before


def child_env(*paths: str) -> Dict[str, str]:
    """The environment of a child process: `paths` and the repository first
    on PYTHONPATH (so it imports the same filterkit and benchmarks), BLAS on
    one thread."""
    parts = list(paths) + [ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    seen: List[str] = []
    for p in parts:
        if p not in seen:
            seen.append(p)
    return dict(os.environ, PYTHONPATH=os.pathsep.join(seen), OPENBLAS_NUM_THREADS="1")


def run_child(module: str, function: str, args: Sequence[str] = (), env: Optional[Dict[str, str]] = None,
              timeout: Optional[float] = None) -> Tuple[Optional[object], Optional[str]]:
    """Run ``module.function(*args)`` in a fresh interpreter; the function
    prints its result as JSON on its last line of output.

    Returns (the result, None), or (None, why it failed).
    """
    code = (f"import sys; sys.path.insert(0, sys.argv[1]); "
            f"from {module} import {function}; {function}(*sys.argv[2:])")
    try:
        res = subprocess.run([sys.executable, "-c", code, ROOT, *map(str, args)],
                             capture_output=True, text=True, cwd=ROOT,
                             env=env if env is not None else child_env(), timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"over {timeout:.0f} s"
    if res.returncode != 0:
        tail = res.stderr.strip().splitlines()[-1:] or [f"exit status {res.returncode}"]
        return None, tail[0][:300]
    try:
        return json.loads(res.stdout.strip().splitlines()[-1]), None
    except (ValueError, IndexError):
        return None, f"no JSON result: {res.stdout.strip()[-200:]!r}"


# --------------------------------------------------------------------------
# the machine


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_gib() -> Optional[float]:
    try:
        with open("/proc/meminfo") as fh:
            return round(int(fh.readline().split()[1]) / 2 ** 20, 1)
    except (OSError, ValueError, IndexError):
        return None


def version(dist: str) -> Optional[str]:
    """The installed version of a distribution, or None."""
    try:
        from importlib.metadata import version as _version
        return _version(dist)
    except Exception:
        return None


def load_average() -> Optional[float]:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # pragma: no cover
        return None


def machine(*dists: str, **extra: object) -> Dict[str, object]:
    """CPU, cores, memory, Python, NumPy, filterkit's build (``build_info()``),
    the versions of the distributions `dists` (None when not installed) and
    `extra` as given."""
    import filterkit
    info = filterkit.build_info()
    m: Dict[str, object] = {
        "cpu": cpu_name(), "cores": os.cpu_count(), "memory_gib": memory_gib(),
        "python": platform.python_version(), "numpy": np.__version__,
        "filterkit": info.get("version"), "filterkit_kernels": info.get("simd"),
        "filterkit_openmp": info.get("openmp"), "build_info": info}
    for d in dists:
        m[d] = version(d)
    m.update(extra)
    return m


# --------------------------------------------------------------------------
# publishing


def markdown_table(head: Sequence[str], rows: Iterable[Sequence[object]],
                   align: Optional[str] = None) -> str:
    """A Markdown table: `align` has one letter per column, ``l`` or ``r``
    (default: the first column left, the others right)."""
    head = [str(h) for h in head]
    align = align or "l" + "r" * (len(head) - 1)
    if len(align) != len(head):
        raise ValueError(f"{len(head)} columns, {len(align)} alignments")
    lines = ["| " + " | ".join(head) + " |",
             "|" + "".join("---:|" if a == "r" else "---|" for a in align)]
    for row in rows:
        cells = [str(c) for c in row]
        if len(cells) != len(head):
            raise ValueError(f"a row of {len(cells)} cells in a table of {len(head)} columns")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_text(path: str, text: str) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as fh:
        fh.write(text)
    return path


def write_json(path: str, report: object) -> str:
    return write_text(path, json.dumps(report, indent=1) + "\n")


def publish(name: str, report: dict, table: str, out_dir: str = RESULTS) -> Tuple[str, str]:
    """Write ``NAME.json`` (the raw report) and ``NAME.md`` (the tables) into
    `out_dir`; returns their paths."""
    base = os.path.join(out_dir, name)
    return write_json(base + ".json", report), write_text(base + ".md", table)

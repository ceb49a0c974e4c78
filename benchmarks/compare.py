"""Compare two builds of filterkit on the main suite's rows, interleaved in one run.

    python -m benchmarks compare --old A/bin/python --new B/bin/python [--quick] [--out FILE.md]

Each interpreter gets one long-lived worker process that imports its own
filterkit (``python -I``: PYTHONPATH and the current folder are ignored, so
the build installed in that environment is the one timed) and this
repository's ``benchmarks`` package.  The rows are the filterkit calls of
``benchmarks/run.py``'s cases (:func:`benchmarks.run.compare_rows`), on the
same inputs (fixed seeds), one thread (``filterkit.set_num_threads(1)``).

For each row the two workers take turns round by round in ABBA order, each
timing the call several times per round (about 0.05 s of calls with
``--quick``, 0.15 s without; ``--per-round`` fixes it) after a warm-up call.
The row reports the old and new medians over all runs, their ratio, and the
paired ratio new / old that decides: the median over rounds of the new
build's fastest run in a round over the old build's fastest run in the same
round.  Other load on the machine only ever adds time, and on a busy 2-core
machine it hits a good share of the runs, so a round's fastest run is the
steadiest figure of the call; pairing rounds cancels slower drifts.

Rows slower than ``--limit`` (default 1.05) are measured again in three
blocks of as many rounds, each block in freshly started workers, and that
second measurement decides.  A worker process keeps the same memory layout
all its life (where its arrays and filterkit's lazily built tables landed),
and that alone can make one process several percent faster than another
with the same build on some calls; fresh processes average it out.
Exit status 1 when a row is still slower than the limit, else 0.

Workers talk JSON lines over stdin/stdout: ``{"op": "rows"}``,
``{"op": "warm", "row": TITLE}`` (a warm-up call, then the seconds of one
call), ``{"op": "time", "row": TITLE, "n": N}`` (the seconds of N calls),
``{"op": "quit"}``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

if __name__ == "__main__" and not __package__:  # python benchmarks/compare.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import harness  # noqa: E402

import numpy as np  # noqa: E402

LIMIT = 1.05
#: ABBA rounds per row: --quick and the default
ROUNDS = {True: 8, False: 12}
#: seconds each worker spends on a row in one round, and the bounds of its
#: runs per round: sub-millisecond calls get many runs, 0.5 s calls a few
ROUND_SECONDS = {True: 0.05, False: 0.15}
RUNS = {True: (3, 25), False: (5, 50)}
#: flagged rows are measured again in this many blocks of the first
#: measurement's rounds, each block in fresh worker processes
REMEASURE = 3

# The worker's first lines: import filterkit before the repository is on
# sys.path (the repository holds a filterkit/ of its own), then benchmarks.
BOOT = ("import sys\n"
        "import filterkit\n"
        "sys.path.append(sys.argv[1])\n"
        "from benchmarks.compare import worker\n"
        "worker()\n")


# --------------------------------------------------------------------------
# the worker: one per interpreter


def worker() -> None:
    """Serve requests from stdin, one JSON object a line, until "quit"."""
    import filterkit
    from benchmarks import run as suite

    proto = sys.stdout
    sys.stdout = sys.stderr  # anything else printed must not reach the pipe
    filterkit.set_num_threads(1)
    inputs = suite.Inputs()
    made: Dict[bool, dict] = {}   # quick -> {title: row}
    fns: Dict[tuple, dict] = {}  # (quick, case index) -> the case's functions
    warm: set = set()  # (quick, title): warmed up

    def reply(obj: dict) -> None:
        proto.write(json.dumps(obj) + "\n")
        proto.flush()

    def rows(quick: bool) -> dict:
        if quick not in made:
            made[quick] = {r["title"]: r for r in suite.compare_rows(quick)}
        return made[quick]

    def function(quick: bool, title: str):
        row = rows(quick)[title]
        key = (quick, row["case"])
        if key not in fns:
            fns[key] = suite.cases(quick)[row["case"]].build(inputs)
        fn = fns[key][row["label"]]
        if (quick, title) not in warm:  # page in, plans, lazy initialisation
            fn()
            warm.add((quick, title))
        return fn

    reply({"ready": True, "filterkit": filterkit.__version__, "file": filterkit.__file__,
           "build_info": filterkit.build_info(), "python": sys.version.split()[0],
           "executable": sys.executable})
    for line in sys.stdin:
        try:
            req = json.loads(line)
            op = req.get("op")
            if op == "quit":
                reply({"bye": True})
                return
            if op == "rows":
                reply({"rows": list(rows(bool(req.get("quick"))))})
            elif op == "warm":
                fn = function(bool(req.get("quick")), req["row"])
                reply({"seconds": harness.time_call(fn)})
            elif op == "time":
                fn = function(bool(req.get("quick")), req["row"])
                reply({"samples": [harness.time_call(fn) for _ in range(int(req.get("n", 1)))]})
            else:
                reply({"error": f"unknown op {op!r}"})
        except Exception as exc:  # the parent reports it with the row
            reply({"error": f"{type(exc).__name__}: {exc}"})


class Worker:
    """The parent's handle on one worker process."""

    def __init__(self, python: str, name: str, cpu: Optional[int] = None):
        self.python, self.name, self.cpu = python, name, cpu
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        self.proc = subprocess.Popen([python, "-I", "-c", BOOT, harness.ROOT],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1, cwd=tempfile.gettempdir(), env=env)
        if cpu is not None and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(self.proc.pid, {cpu})
        self.info = self._read()
        if "ready" not in self.info:
            raise RuntimeError(f"{name} worker ({python}): {self.info}")

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            raise RuntimeError(f"{self.name} worker exited (status {code}): see its stderr above")
        return json.loads(line)

    def ask(self, **req) -> dict:
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        res = self._read()
        if "error" in res:
            raise RuntimeError(f"{self.name} worker: {res['error']}")
        return res

    def restart(self) -> None:
        """A fresh process: new memory layout, new lazily built tables."""
        self.close()
        self.__init__(self.python, self.name, self.cpu)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.ask(op="quit")
            except (RuntimeError, OSError, ValueError):
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# --------------------------------------------------------------------------
# measuring


def measure(workers: List[Worker], title: str, quick: bool, rounds: int, per_round: int) -> dict:
    """One row: `rounds` ABBA rounds of `per_round` runs in each worker."""
    samples: List[List[float]] = [[], []]
    best: List[List[float]] = [[], []]  # each round's fastest run
    for order in harness.abba_orders(rounds):
        for w in order:
            s = workers[w].ask(op="time", quick=quick, row=title, n=per_round)["samples"]
            samples[w] += s
            best[w].append(min(s))
    old, new = harness.stats(samples[0]), harness.stats(samples[1])
    return {"old": old, "new": new, "rounds": rounds, "per_round": per_round,
            "ratio": harness.paired_ratio(best[1], best[0]),
            "medians_ratio": harness.ratio(new["median"], old["median"]),
            "round_best": {"old": best[0], "new": best[1]}}


def merge(blocks: List[dict]) -> dict:
    """Measurements of one row (:func:`measure`) as one: all runs, all rounds."""
    out: dict = {"rounds": sum(b["rounds"] for b in blocks), "per_round": blocks[0]["per_round"],
                 "round_best": {}}
    for side in ("old", "new"):
        out[side] = harness.stats([x for b in blocks for x in b[side]["samples"]])
        out["round_best"][side] = [x for b in blocks for x in b["round_best"][side]]
    out["ratio"] = harness.paired_ratio(out["round_best"]["new"], out["round_best"]["old"])
    out["medians_ratio"] = harness.ratio(out["new"]["median"], out["old"]["median"])
    out["blocks"] = [{k: b[k] for k in ("ratio", "medians_ratio")} for b in blocks]
    return out


def runs_per_round(seconds: float, quick: bool) -> int:
    """Runs per round of a call that takes `seconds`."""
    lo, hi = RUNS[quick]
    return int(min(hi, max(lo, round(ROUND_SECONDS[quick] / max(seconds, 1e-9)))))


def compare(workers: List[Worker], quick: bool, limit: float,
            rounds: Optional[int] = None, per_round: Optional[int] = None) -> dict:
    n_rounds = rounds or ROUNDS[quick]
    titles = [w.ask(op="rows", quick=quick)["rows"] for w in workers]
    both = [t for t in titles[0] if t in titles[1]]
    only = {w.name: [t for t in titles[i] if t not in titles[1 - i]] for i, w in enumerate(workers)}
    rows = []
    for i, title in enumerate(both):
        seconds = max(w.ask(op="warm", quick=quick, row=title)["seconds"] for w in workers)
        n_runs = per_round or runs_per_round(seconds, quick)
        row = dict(title=title, **measure(workers, title, quick, n_rounds, n_runs))
        harness.say(f"[{i + 1}/{len(both)}] {title}: old {row['old']['median'] * 1e3:.3f} ms, "
                    f"new {row['new']['median'] * 1e3:.3f} ms, new/old {row['ratio']:.3f}")
        rows.append(row)
    flagged = harness.slower(rows, limit)
    blocks: Dict[str, List[dict]] = {r["title"]: [] for r in flagged}
    for b in range(REMEASURE if flagged else 0):
        for w in workers:
            w.restart()
        for row in flagged:
            for w in workers:
                w.ask(op="warm", quick=quick, row=row["title"])
            blocks[row["title"]].append(measure(workers, row["title"], quick, n_rounds,
                                                row["per_round"]))
    for row in flagged:
        again = merge(blocks[row["title"]])
        harness.say(f"again: {row['title']}: new/old {row['ratio']:.3f} -> {again['ratio']:.3f} "
                    f"({again['rounds']} rounds; blocks "
                    + ", ".join(f"{b['ratio']:.3f}" for b in again["blocks"]) + ")")
        first = {k: row[k] for k in ("old", "new", "rounds", "per_round", "ratio", "medians_ratio",
                                     "round_best")}
        row.update(again, first=first)
    return {"quick": quick, "limit": limit, "rows": rows, "remeasured": [r["title"] for r in flagged],
            "slower": [r["title"] for r in harness.slower(rows, limit)], "only_in": only}


# --------------------------------------------------------------------------
# the report


def _build(info: dict) -> str:
    b = info.get("build_info", {})
    return (f"filterkit {info.get('filterkit')} ({b.get('simd')} kernels, OpenMP "
            f"{'on' if b.get('openmp') else 'off'}), Python {info.get('python')}, "
            f"`{info.get('file')}`")


def markdown(report: dict) -> str:
    m = report["machine"]
    limit = report["limit"]
    head = [f"Machine: {m['cpu']}, {m['cores']} cores.  Old: {_build(report['old'])}.  "
            f"New: {_build(report['new'])}.",
            "",
            f"The main suite's filterkit calls{' (--quick)' if report['quick'] else ''}, float32 "
            "2048x2048 (colour: 2048x2048x3), one thread, identical inputs; one worker process "
            "per build, the two alternating round by round (ABBA), each timing the call "
            "\"runs\" times per round after a warm-up.  Old and new: medians over all runs.  "
            "Paired (the verdict): the median over rounds of the new build's fastest run over the "
            f"old build's fastest run in the same round.  Rows above {limit:g}x were measured again (marked *) in {REMEASURE} blocks of as many "
            "rounds, each in freshly started workers, and that measurement is shown.",
            ""]
    table = []
    for r in report["rows"]:
        verdict = f"**slower than {limit:g}x**" if r["ratio"] > limit else "ok"
        table.append([r["title"] + (" *" if "first" in r else ""), f"{r['old']['median'] * 1e3:.3f}",
                      f"{r['new']['median'] * 1e3:.3f}", f"{r['medians_ratio']:.3f}",
                      f"{r['ratio']:.3f}", f"{r['rounds']} x {r['per_round']}", verdict])
    lines = head + [harness.markdown_table(
        ["row", "old, ms", "new, ms", "new / old, medians", "new / old, paired", "rounds x runs",
         "verdict"], table,
        align="lrrrrrl").rstrip("\n")]
    ratios = [r["ratio"] for r in report["rows"]]
    if ratios:
        worst = max(report["rows"], key=lambda r: r["ratio"])
        lines += ["", f"{len(ratios)} rows: new / old median {float(np.median(ratios)):.3f}, "
                      f"from {min(ratios):.3f} to {max(ratios):.3f} ({worst['title']}); "
                      + (f"**{len(report['slower'])} slower than {limit:g}x**: "
                         + ", ".join(report["slower"]) if report["slower"]
                         else f"none slower than {limit:g}x") + "."]
    for name, titles in report["only_in"].items():
        if titles:
            lines.append(f"Only in the {name} build's suite (not compared): {', '.join(titles)}.")
    lines.append(f"Run time {report['seconds']:.0f} s.")
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks compare",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", required=True, metavar="PYTHON",
                        help="the interpreter of the old build (e.g. venv-old/bin/python)")
    parser.add_argument("--new", required=True, metavar="PYTHON",
                        help="the interpreter of the new build")
    parser.add_argument("--quick", action="store_true",
                        help=f"the quick suite's rows, {ROUNDS[True]} rounds (default: the full "
                             f"suite's rows, {ROUNDS[False]} rounds)")
    parser.add_argument("--limit", type=float, default=LIMIT,
                        help=f"the largest new / old allowed after the re-measure (default {LIMIT:g})")
    parser.add_argument("--rounds", type=int, help="ABBA rounds per row")
    parser.add_argument("--per-round", type=int,
                        help="runs per round in each worker (default: from the call's time)")
    parser.add_argument("--cpu", type=int, help="pin both workers to this CPU")
    parser.add_argument("--out", metavar="FILE.md",
                        help="the Markdown report (and FILE.json beside it); default "
                             "benchmarks/results/compare.{md,json}")
    args = parser.parse_args(argv)
    for python in (args.old, args.new):
        if not os.access(python, os.X_OK):
            parser.error(f"{python}: not an executable")
    t0 = time.perf_counter()
    workers: List[Worker] = []
    try:
        for python, name in ((args.old, "old"), (args.new, "new")):
            workers.append(Worker(python, name, args.cpu))
        for w in workers:
            harness.say(f"{w.name}: {_build(w.info)}")
        if workers[0].info["file"] == workers[1].info["file"]:
            harness.say("warning: both interpreters import the same filterkit "
                        f"({workers[0].info['file']})")
        report = compare(workers, args.quick, args.limit, args.rounds, args.per_round)
    finally:
        for w in workers:
            w.close()
    report.update(machine={"cpu": harness.cpu_name(), "cores": os.cpu_count()},
                  old=workers[0].info, new=workers[1].info,
                  seconds=time.perf_counter() - t0)
    table = markdown(report)
    if args.out:
        base = os.path.splitext(args.out)[0]
        written = [harness.write_text(args.out, table), harness.write_json(base + ".json", report)]
    else:
        written = list(harness.publish("compare", report, table))
    print(table)
    harness.say(f"({report['seconds']:.0f} s; written: {', '.join(written)})")
    return 1 if report["slower"] else 0


if __name__ == "__main__":
    raise SystemExit(main())

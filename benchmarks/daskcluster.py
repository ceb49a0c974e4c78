"""A real Dask cluster for the benchmarks and the tests: ``dask scheduler``
and ``dask worker`` processes started from the command line on 127.0.0.1,
as a user deploys them, and stopped with nothing left behind.

- every process in a session and process group of its own
  (``start_new_session``), so that the group is everything it started (a
  nanny's worker process, multiprocessing helpers) and can be stopped and
  checked as a whole;
- the scheduler on a free port, confirmed from its own log line (another
  process could take the port between the choice and the bind: the
  scheduler then fails to start and another port is tried);
- stopped in the order given (workers before their scheduler: a scheduler
  closing while its workers close too leaves a worker hanging until its
  nanny kills it), SIGTERM to each, SIGKILL to the groups of what is left
  after the timeout, and the processes still alive reported.

Only the standard library and psutil (a dependency of distributed).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional, Tuple

import psutil

#: seconds between SIGTERM and SIGKILL, and then again until everything is gone
STOP_TIMEOUT = 20.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 free now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(condition: Callable[[], object], timeout: float, step: float = 0.05) -> object:
    """Poll `condition()` until it returns something true or `timeout`
    seconds pass; returns its last value (not a fixed sleep: it returns as
    soon as the condition holds)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


def tail(path: str, n: int = 4000) -> str:
    """The last `n` characters of a log file."""
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:]
    except OSError as exc:
        return f"<{exc}>"


def alive(p: "psutil.Process") -> bool:
    """Running (a zombie is dead, only not yet reaped by its parent); a pid
    taken again by another process does not count (psutil compares the
    creation time)."""
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class Process:
    """A command-line process in its own session and process group, its
    stdout and stderr in a log file."""

    def __init__(self, name: str, args: List[str], log: str, cwd: str, env: Dict[str, str]) -> None:
        self.name, self.args, self.log = name, args, log
        with open(log, "wb") as out:
            self.popen = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out,
                                          stderr=subprocess.STDOUT, cwd=cwd, env=env,
                                          start_new_session=True)
        self.pid = self.pgid = self.popen.pid
        self.seen: Dict[int, "psutil.Process"] = {}  # every process of its group ever seen

    def describe(self) -> str:
        state = "running" if self.popen.poll() is None else f"exited with {self.popen.returncode}"
        return (f"--- {self.name} (pid {self.pid}, {state}): {' '.join(self.args)}\n"
                f"{tail(self.log)}")

    def group(self) -> List["psutil.Process"]:
        """The live (not zombie) processes of its group, and of its
        descendants, wherever they are now; remembered for the final check."""
        found = {}
        for p in psutil.process_iter():
            try:
                if os.getpgid(p.pid) == self.pgid:
                    found[p.pid] = p
            except (ProcessLookupError, PermissionError, psutil.Error):
                continue
        try:
            for p in psutil.Process(self.pid).children(recursive=True):
                found.setdefault(p.pid, p)
        except psutil.Error:
            pass
        self.seen.update(found)
        return [p for p in self.seen.values() if alive(p)]


def stop(processes: List[Process], timeout: float = STOP_TIMEOUT) -> List[str]:
    """SIGTERM to each in turn, in the order given, waiting for it to go;
    then SIGKILL to the groups of any left; returns the processes that
    survived (none expected)."""
    for p in processes:
        p.group()  # remember the group's members before they are orphaned
    for p in processes:
        if p.popen.poll() is None:
            p.popen.send_signal(signal.SIGTERM)
        wait(lambda: not p.group(), timeout, 0.1)
    for p in processes:
        if p.group():
            try:
                os.killpg(p.pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            for q in p.group():  # any that left the group
                try:
                    q.kill()
                except psutil.Error:
                    pass
    wait(lambda: not any(p.group() for p in processes), timeout, 0.1)
    for p in processes:
        try:
            p.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    return [f"{p.name}: pid {q.pid} {q.cmdline() if alive(q) else ''}"
            for p in processes for q in p.group()]


def start_scheduler(base: str, env: Dict[str, str], timeout: float,
                    idle_timeout: str = "600s") -> Tuple[Process, str]:
    """``dask scheduler`` on 127.0.0.1 and a free port, its log in `base`;
    (the process, its address).  A port taken by someone else between the
    choice and the bind is retried; a scheduler that does not start raises
    RuntimeError with its log.  Without a dashboard; its small HTTP server
    (health, metrics) on a free port, not on the 8787 of other clusters.
    `idle_timeout`: it exits by itself should its owner die."""
    failures: List[str] = []
    for attempt in range(3):
        port = free_port()
        address = f"tcp://127.0.0.1:{port}"
        p = Process("scheduler", [sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1",
                                  "--port", str(port), "--no-dashboard",
                                  "--dashboard-address", "127.0.0.1:0",
                                  "--idle-timeout", idle_timeout],
                    os.path.join(base, f"scheduler-{attempt}.log"), base, env)
        pattern = re.compile(r"Scheduler at:\s+" + re.escape(address) + r"\b")
        up = wait(lambda: p.popen.poll() is not None or pattern.search(tail(p.log, 10 ** 6)),
                  timeout, 0.1)
        if p.popen.poll() is None and up:
            return p, address
        failures.append(p.describe())
        failures += stop([p])
        if "address already in use" not in tail(p.log).lower():
            break
    raise RuntimeError("dask scheduler did not start within %.0f s:\n%s"
                       % (timeout, "\n".join(failures)))


def start_worker(name: str, address: str, base: str, env: Dict[str, str],
                 memory_limit: Optional[str] = None) -> Process:
    """A ``dask worker`` of one thread under a nanny (it enforces the memory
    limit and restarts a killed worker), its directory and log in `base`;
    it exits by itself 60 s after losing its scheduler."""
    local = os.path.join(base, name)
    os.makedirs(local, exist_ok=True)
    limit = ["--memory-limit", memory_limit] if memory_limit else []
    return Process(name, [
        sys.executable, "-m", "dask", "worker", address, "--name", name, "--host", "127.0.0.1",
        "--nthreads", "1", *limit, "--nanny", "--no-dashboard",
        "--dashboard-address", "127.0.0.1:0", "--local-directory", local,
        "--death-timeout", "60s"],
        os.path.join(base, f"{name}.log"), base, env)

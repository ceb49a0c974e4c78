"""Test helpers that run filterkit (oracle.py stays independent of it)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from typing import Callable, Iterable, Optional

import numpy as np

import filterkit

# the directory the tested filterkit comes from (site-packages in CI, the
# checkout when built in place): subprocesses and spawned workers import the
# same build, never a source tree without its compiled core
PKG_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(filterkit.__file__)))

try:
    import pyfftw
except ImportError:  # the test extra installs it; a bare checkout tests pocketfft only
    pyfftw = None
#: the FFT backends the overlap-save blocks are tested through
FFT_BACKENDS = ["native", "scipy"] + ([] if pyfftw is None else ["fftw"])


def run_python(code: str, *, env: Optional[dict] = None, cwd: Optional[str] = None,
               timeout: float = 120) -> subprocess.CompletedProcess:
    """``code`` (dedented) in a fresh interpreter that imports the tested
    filterkit; ``env`` is added to this process's environment.  For what
    must be observed on first use in a process, or what could kill it."""
    full_env = dict(os.environ, PYTHONPATH=PKG_ROOT, **(env or {}))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout, env=full_env,
                          cwd=cwd if cwd is not None else (os.path.dirname(PKG_ROOT) or "/"))


def same_for_every_thread_count(call: Callable[[], object],
                                counts: Iterable[int] = (1, 2, 3)):
    """``call()`` under each thread count: the results (an array or a tuple
    of arrays) must be bit-identical; returns the first.  The thread count
    goes back to the default (or to the caller's, if that differs)."""
    old = filterkit.get_num_threads()
    try:
        results = []
        for n in counts:
            filterkit.set_num_threads(n)
            assert filterkit.get_num_threads() == n
            results.append(call())
    finally:
        filterkit.set_num_threads(None)
        if filterkit.get_num_threads() != old:
            filterkit.set_num_threads(old)
    for got in results[1:]:
        if isinstance(got, tuple):
            assert len(got) == len(results[0])
            for a, b in zip(got, results[0]):
                np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_array_equal(got, results[0])
    return results[0]


def check_choice(choice) -> None:
    """A ``filterkit.MethodChoice`` is a NamedTuple (method, costs, reason)
    whose method is the cheapest of finite, positive costs."""
    assert isinstance(choice, filterkit.MethodChoice)
    method, costs, reason = choice  # a NamedTuple of three
    assert choice.method == method and choice.costs is costs and choice.reason == reason
    assert isinstance(method, str) and isinstance(reason, str) and reason
    assert isinstance(costs, dict) and method in costs
    assert set(costs) <= {"direct", "separable", "box", "fft", "overlap_save"}
    for name, cost in costs.items():
        assert isinstance(cost, float) and np.isfinite(cost) and cost > 0, (name, cost)
    assert method == min(costs, key=costs.get)
    assert costs[method] == min(costs.values())


#: the start of a measured part of a child process's script: ``status(key)``
#: reads /proc/self/status in bytes, the peak (VmHWM) is reset to the current
#: RSS, and ``before`` holds that RSS; the script then runs what it measures
#: and reports ``status("VmHWM:") - before`` (Linux: /proc/self/clear_refs)
PEAK_FROM_HERE = r"""
def status(key):
    with open("/proc/self/status") as fh:
        return next(int(l.split()[1]) * 1024 for l in fh if l.startswith(key))

with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")  # the peak (VmHWM) starts again from the current RSS
before = status("VmRSS:")
"""


def benchmarks_module(name: str):
    """``benchmarks.<name>`` from the checkout.  The checkout's root is on
    sys.path only while it is imported: left there, processes spawned by
    later tests (dask.distributed's workers copy sys.path) would import the
    source tree's filterkit, which has no compiled core, instead of the
    installed build."""
    import importlib

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, root)
    try:
        return importlib.import_module(f"benchmarks.{name}")
    finally:
        sys.path.remove(root)

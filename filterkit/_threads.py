"""How many threads the core uses, and which CPU kernels.

Order of precedence: :func:`set_num_threads`, then the environment variable
``FILTERKIT_NUM_THREADS``, then every core this process may run on.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Iterator, Optional

from ._validate import check_threads, fail

ENV_VAR = "FILTERKIT_NUM_THREADS"
_num_threads: Optional[int] = None
_local = threading.local()  # a per-thread override: limited()

#: True in a child made by fork(): the core runs one thread there.  GNU
#: OpenMP (libgomp) keeps the parent's thread team, whose threads do not
#: exist in the child, and its next parallel region waits for them
#: forever; a region of one thread never touches the team.  So a
#: multiprocessing Pool on Linux (fork) works, its processes being the
#: parallelism; 'spawn' or 'forkserver' children start afresh and use
#: threads again.
_forked = False


def _after_fork_in_child() -> None:
    global _forked
    _forked = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def set_num_threads(n: Optional[int]) -> None:
    """Set the number of threads filterkit's core uses.

    Parameters
    ----------
    n : int or None
        A number of threads from 1 to 4 per core of the machine (at least
        8), or None to go back to the default (``FILTERKIT_NUM_THREADS``,
        else all cores).  Results are bit-identical whatever the thread
        count: rows are split among threads, and every pixel is computed by
        the same operations.  In a process made by ``fork()`` the core runs
        one thread whatever is set (see :func:`get_num_threads`).

    Raises
    ------
    TypeError, ValueError
        When `n` is not an integer, or out of that range.

    Examples
    --------
    >>> import filterkit
    >>> filterkit.set_num_threads(1)
    >>> filterkit.get_num_threads()
    1
    >>> filterkit.set_num_threads(None)
    """
    global _num_threads
    _num_threads = None if n is None else check_threads(n)


def get_num_threads() -> int:
    """Return the number of threads filterkit's core uses.

    Returns
    -------
    int
        The value given to :func:`set_num_threads`; else the environment
        variable ``FILTERKIT_NUM_THREADS``; else the number of cores this
        process may run on.  Always 1 in a process made by ``fork()``
        (a ``multiprocessing`` pool on Linux): OpenMP's threads cannot be
        used again after a fork (they would hang); the processes are the
        parallelism there, and 'spawn' or 'forkserver' children use threads.

    Examples
    --------
    >>> import filterkit
    >>> filterkit.get_num_threads() >= 1
    True
    """
    local = getattr(_local, "n", None)
    if local is not None:
        n = local
    elif _num_threads is not None:
        n = _num_threads
    else:
        env = os.environ.get(ENV_VAR, "").strip()
        if env:
            try:
                value = int(env)
            except ValueError:
                raise fail(ENV_VAR, "a positive integer", repr(env)) from None
            n = check_threads(value, ENV_VAR)
        else:
            n = _available_cores()
    return 1 if _forked else n


@contextlib.contextmanager
def limited(n: int) -> Iterator[None]:
    """Run the core on `n` threads in this thread only, inside the block
    (Dask's workers and the command line's jobs are the parallelism there:
    each of their calls takes one core, not all of them)."""
    before = getattr(_local, "n", None)
    _local.n = check_threads(n)
    try:
        yield
    finally:
        _local.n = before


CPU_ENV_VAR = "FILTERKIT_CPU"


# FILTERKIT_CPU values and the cap they pass to the core (FK_CAP_* in src_c/fk_core.h)
CPU_CAPS = {"auto": 0, "native": 0, "portable": 1, "baseline": 1, "avx2": 2}


def cpu_cap() -> int:
    """The best kernels ``FILTERKIT_CPU`` allows: 0 any, 1 portable, 2 AVX2.

    By default the core picks the best kernels the CPU has (AVX-512VL, then
    AVX2+FMA); the portable ones (16-byte vectors) run everywhere.
    ``FILTERKIT_CPU=portable`` or ``=avx2`` lets tests and benchmarks run
    those paths on a machine that has more.
    """
    value = os.environ.get(CPU_ENV_VAR, "").strip().lower() or "auto"
    if value not in CPU_CAPS:
        raise fail(CPU_ENV_VAR, "'auto', 'avx2' or 'portable'", repr(value))
    return CPU_CAPS[value]

"""How many threads the core uses, and which CPU kernels.

Order of precedence: :func:`set_num_threads`, then the environment variable
``FILTERKIT_NUM_THREADS``, then every core this process may run on.
"""

from __future__ import annotations

import os
from typing import Optional

from ._validate import check_threads, fail

ENV_VAR = "FILTERKIT_NUM_THREADS"
_num_threads: Optional[int] = None


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
        A positive number of threads, or None to go back to the default
        (``FILTERKIT_NUM_THREADS``, else all cores).  Results are
        bit-identical whatever the thread count: rows are split among
        threads, and every pixel is computed by the same operations.

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
        process may run on.

    Examples
    --------
    >>> import filterkit
    >>> filterkit.get_num_threads() >= 1
    True
    """
    if _num_threads is not None:
        return _num_threads
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        try:
            value = int(env)
        except ValueError:
            raise fail(ENV_VAR, "a positive integer", repr(env)) from None
        return check_threads(value, ENV_VAR)
    return _available_cores()


CPU_ENV_VAR = "FILTERKIT_CPU"


def portable_kernels() -> bool:
    """True when ``FILTERKIT_CPU=portable`` asks for the portable kernels.

    By default the core picks the AVX2+FMA kernels on CPUs that have them;
    the portable ones (16-byte vectors) run everywhere.  The variable lets
    tests and benchmarks run the portable path on an AVX2 machine.
    """
    value = os.environ.get(CPU_ENV_VAR, "").strip().lower()
    if value in ("", "auto", "native"):
        return False
    if value in ("portable", "baseline"):
        return True
    raise fail(CPU_ENV_VAR, "'auto' or 'portable'", repr(value))

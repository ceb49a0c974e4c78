"""Test helpers that run filterkit (oracle.py stays independent of it)."""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

import filterkit


def same_for_every_thread_count(call: Callable[[], np.ndarray],
                                counts: Iterable[int] = (1, 2, 3)) -> np.ndarray:
    """``call()`` under each thread count: the results must be bit-identical;
    returns the first.  The caller's thread count is restored."""
    old = filterkit.get_num_threads()
    try:
        results = []
        for n in counts:
            filterkit.set_num_threads(n)
            results.append(call())
    finally:
        filterkit.set_num_threads(old)
    for got in results[1:]:
        np.testing.assert_array_equal(got, results[0])
    return results[0]

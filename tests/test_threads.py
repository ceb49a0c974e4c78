"""Thread counts (_threads.py): set_num_threads / get_num_threads and
FILTERKIT_NUM_THREADS, their validation and cap, bit-identical results
for any count, and a forked child after a multithreaded parent.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import filterkit
from helpers import run_python, same_for_every_thread_count


class TestThreads:
    def test_results_are_bit_identical_for_every_thread_count(self):
        rng = np.random.default_rng(13)
        image = rng.standard_normal((301, 517)).astype(np.float32)
        mask = rng.standard_normal((7, 5))
        same_for_every_thread_count(lambda: filterkit.convolve(image, mask, mode="reflect"),
                                    (1, 2, 3, 5))

    def test_environment_variable_sets_the_default(self, monkeypatch):
        filterkit.set_num_threads(None)
        monkeypatch.setenv("FILTERKIT_NUM_THREADS", "3")
        assert filterkit.get_num_threads() == 3
        filterkit.set_num_threads(2)
        assert filterkit.get_num_threads() == 2  # the call wins over the variable
        filterkit.set_num_threads(None)
        monkeypatch.delenv("FILTERKIT_NUM_THREADS")
        assert filterkit.get_num_threads() >= 1

    def test_bad_environment_variable_is_named(self, monkeypatch):
        filterkit.set_num_threads(None)
        monkeypatch.setenv("FILTERKIT_NUM_THREADS", "many")
        with pytest.raises(ValueError, match=r"`FILTERKIT_NUM_THREADS` must be a positive integer; got 'many'"):
            filterkit.convolve(np.ones((3, 3)), [[1]])
        monkeypatch.setenv("FILTERKIT_NUM_THREADS", "0")
        with pytest.raises(ValueError, match=r"`FILTERKIT_NUM_THREADS` must be a positive integer; got 0"):
            filterkit.get_num_threads()

    @pytest.mark.parametrize("n, exc, match", [
        (0, ValueError, r"`n` must be a positive integer; got 0\."),
        (-2, ValueError, r"`n` must be a positive integer; got -2\."),
        (1.5, TypeError, r"`n` must be a positive integer; got 1\.5 \(float\)\."),
        (True, TypeError, r"`n` must be a positive integer; got True \(bool\)\."),
    ])
    def test_bad_thread_counts(self, n, exc, match):
        with pytest.raises(exc, match=match):
            filterkit.set_num_threads(n)


@pytest.mark.parametrize("n", [100000, 2**31 + 5, 2**64])
def test_huge_thread_counts_are_refused(n):
    cap = filterkit._validate.max_threads()
    with pytest.raises(ValueError, match=rf"`n` must be at most {cap} threads .*; got {n}\."):
        filterkit.set_num_threads(n)
    filterkit.set_num_threads(cap)  # the cap itself is fine
    assert filterkit.get_num_threads() == cap
    filterkit.set_num_threads(None)


def test_huge_thread_counts_never_reach_the_core():
    # a count that reached the core would be a SIGSEGV inside libgomp, which
    # kills the process: run in a subprocess
    res = run_python("""
        import numpy as np, filterkit
        try:
            filterkit.set_num_threads(100000)
        except ValueError as e:
            print("set:", e)
        print(filterkit.mean(np.ones((300, 300)), 3).sum())
    """, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "set: `n` must be at most" in res.stdout
    res = run_python("""
        import numpy as np, filterkit
        try:
            filterkit.mean(np.ones((300, 300)), 3)
        except ValueError as e:
            print(e)
    """, timeout=60, env={"FILTERKIT_NUM_THREADS": "100000"})
    assert res.returncode == 0, res.stderr
    assert "`FILTERKIT_NUM_THREADS` must be at most" in res.stdout


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX only")
def test_a_forked_pool_filters_after_the_parent_used_threads():
    # children forked after a multithreaded team can hang forever in
    # libgomp: run in a subprocess, with a timeout
    res = run_python("""
        import multiprocessing as mp
        import numpy as np, filterkit
        img = np.random.default_rng(0).random((1024, 1024)).astype(np.float32)
        filterkit.set_num_threads(2)
        parent = filterkit.gaussian(img, 2)          # a multithreaded team in the parent

        def work(i):
            return filterkit.get_num_threads(), filterkit.gaussian(img, 2)

        with mp.get_context("fork").Pool(2) as pool:
            for threads, child in pool.map(work, range(2)):
                assert threads == 1, threads
                assert np.array_equal(child, parent)
        print("ok")
    """, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"

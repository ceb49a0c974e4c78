"""The benchmark harness's pure parts: orders, statistics, ratios, tables.

No timing is asserted: these run in milliseconds on any machine.
"""

import json
import os
from collections import Counter

import pytest

from helpers import benchmarks_module  # noqa: E402

harness = benchmarks_module("harness")
compare = benchmarks_module("compare")


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 7])
def test_balanced_orders_are_williams_designs(n):
    rows = harness.balanced_orders(n)
    assert len(rows) == (2 * n if n % 2 else n)
    for row in rows:
        assert sorted(row) == list(range(n))
    # each function takes each place equally often
    for place in range(n):
        counts = Counter(row[place] for row in rows)
        assert set(counts.values()) == {len(rows) // n}
    # each function follows each other one equally often
    if n > 1:
        pairs = Counter((a, b) for row in rows for a, b in zip(row, row[1:]))
        assert len(pairs) == n * (n - 1)
        assert len(set(pairs.values())) == 1


def test_balanced_orders_empty():
    assert harness.balanced_orders(0) == []


def test_round_orders_blocks_are_balanced_and_seeded():
    n, rounds = 4, 12
    orders = harness.round_orders(n, rounds, seed=3)
    assert len(orders) == rounds
    assert orders == harness.round_orders(n, rounds, seed=3)
    assert orders != harness.round_orders(n, rounds, seed=4)
    for start in range(0, rounds, n):  # each block: every function in every place once
        block = orders[start:start + n]
        for place in range(n):
            assert sorted(row[place] for row in block) == list(range(n))
    assert harness.round_orders(3, 0) == []


def test_abba_orders():
    assert harness.abba_orders(6) == [(0, 1), (1, 0), (1, 0), (0, 1), (0, 1), (1, 0)]
    firsts = Counter(order[0] for order in harness.abba_orders(8))
    assert firsts[0] == firsts[1] == 4


def test_stats():
    s = harness.stats([3.0, 1.0, 2.0, 10.0])
    assert s["median"] == 2.5
    assert (s["min"], s["max"], s["repeat"]) == (1.0, 10.0, 4)
    assert s["samples"] == [3.0, 1.0, 2.0, 10.0]  # in round order
    with pytest.raises(ValueError):
        harness.stats([])


def test_ratio_and_paired_ratio():
    assert harness.ratio(1.1, 1.0) == pytest.approx(1.1)
    assert harness.ratio(1.0, 0.0) == float("inf")
    # a drift that slows both alike cancels round by round
    old = [1.0, 2.0, 4.0]
    new = [1.1, 2.2, 4.4]
    assert harness.paired_ratio(new, old) == pytest.approx(1.1)
    assert harness.paired_ratio(new + [9.0], old) == pytest.approx(1.1)  # pairs 3 rounds
    assert harness.paired_ratio([], old) is None


def test_slower():
    rows = [{"title": "a", "ratio": 1.02}, {"title": "b", "ratio": 1.08}, {"title": "c", "ratio": None}]
    assert [r["title"] for r in harness.slower(rows, 1.05)] == ["b"]


def test_markdown_table():
    text = harness.markdown_table(["row", "old", "new"], [["a", 1, "2.0"], ["b", 3, 4]])
    assert text == ("| row | old | new |\n"
                    "|---|---:|---:|\n"
                    "| a | 1 | 2.0 |\n"
                    "| b | 3 | 4 |\n")
    assert "|---|---|---:|" in harness.markdown_table(["x", "y", "z"], [], align="llr")
    with pytest.raises(ValueError):
        harness.markdown_table(["x", "y"], [["only one"]])
    with pytest.raises(ValueError):
        harness.markdown_table(["x", "y"], [], align="l")


def test_time_interleaved_shape():
    calls = []
    fns = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    res = harness.time_interleaved(fns, 4, seed=1)
    assert set(res) == {"a", "b"}
    assert calls.count("a") == calls.count("b") == 5  # a warm-up and 4 rounds
    for s in res.values():
        assert s["repeat"] == 4 and len(s["samples"]) == 4
        assert s["min"] <= s["median"] <= s["max"]
        assert "warmup" in s


def test_publish(tmp_path):
    json_path, md_path = harness.publish("x", {"a": 1}, "| t |\n", out_dir=str(tmp_path / "r"))
    assert json.loads(open(json_path).read()) == {"a": 1}
    assert open(md_path).read() == "| t |\n"
    assert os.path.basename(md_path) == "x.md"


def test_compare_runs_per_round_and_report():

    lo, hi = compare.RUNS[True]
    assert compare.runs_per_round(10.0, True) == lo      # slow call: the fewest runs
    assert compare.runs_per_round(1e-6, True) == hi      # fast call: the most
    row = {"old": harness.stats([1e-3, 1.2e-3]), "new": harness.stats([1.1e-3, 1.3e-3]),
           "rounds": 8, "per_round": 3}
    rows = [dict(row, title="slow row", ratio=1.07, medians_ratio=1.08, first=dict(row, ratio=1.2)),
            dict(row, title="fine row", ratio=1.0, medians_ratio=1.0)]
    info = {"filterkit": "0.1.0", "python": "3.11", "file": "/x/filterkit/__init__.py",
            "build_info": {"simd": "avx2", "openmp": True}}
    report = {"machine": {"cpu": "cpu", "cores": 2}, "old": info, "new": info, "quick": True,
              "limit": 1.05, "rows": rows, "slower": ["slow row"], "only_in": {"old": [], "new": ["x"]},
              "seconds": 1.0}
    text = compare.markdown(report)
    assert "| slow row * | 1.100 | 1.200 | 1.080 | 1.070 | 8 x 3 | **slower than 1.05x** |" in text
    assert "| fine row | 1.100 | 1.200 | 1.000 | 1.000 | 8 x 3 | ok |" in text
    assert "1 slower than 1.05x" in text and "Only in the new build's suite" in text


class FakeWorker:
    """A worker whose calls take `seconds` (`after_restart` once restarted)."""

    def __init__(self, name, seconds, after_restart=None):
        self.name, self.seconds, self.after_restart = name, seconds, after_restart
        self.asked = []
        self.restarts = 0

    def restart(self):
        self.restarts += 1
        if self.after_restart is not None:
            self.seconds = self.after_restart

    def ask(self, op, **req):
        self.asked.append(op)
        if op == "rows":
            return {"rows": ["a", "b"]}
        if op == "warm":
            return {"seconds": self.seconds}
        assert op == "time"
        return {"samples": [self.seconds * 1.5] + [self.seconds] * (req["n"] - 1)}


def test_compare_flags_remeasures_and_decides():

    # 10 % slower at first, equal in fresh processes: re-measured, then fine
    old, new = FakeWorker("old", 0.01), FakeWorker("new", 0.011, after_restart=0.01)
    report = compare.compare([old, new], quick=True, limit=1.05, rounds=4, per_round=3)
    assert report["remeasured"] == ["a", "b"] and report["slower"] == []
    row = report["rows"][0]
    assert row["first"]["ratio"] == pytest.approx(1.1)
    assert row["ratio"] == pytest.approx(1.0) and row["rounds"] == 4 * compare.REMEASURE
    assert new.restarts == old.restarts == compare.REMEASURE  # per block, not per row
    # still slower after the re-measure: reported
    old, new = FakeWorker("old", 0.01), FakeWorker("new", 0.012)
    report = compare.compare([old, new], quick=True, limit=1.05, rounds=2, per_round=2)
    assert report["slower"] == ["a", "b"]
    assert report["rows"][1]["ratio"] == pytest.approx(1.2)

"""The photographs suite (benchmarks/photographs.py) at a tiny size: its
rows, their agreement with OpenCV, its report and its tables.

No timing is asserted.  OpenCV is not in the test extras: without it the
whole file is skipped.
"""

import json

import pytest

cv2 = pytest.importorskip("cv2")

from helpers import benchmarks_module  # noqa: E402

harness = benchmarks_module("harness")
photographs = benchmarks_module("photographs")

import filterkit  # noqa: E402

MAIN = [
    "uint8 correlate 3x3",
    "uint8 correlate 5x5",
    "uint8 correlate 7x7",
    "uint8 RGB correlate 3x3",
    "uint8 gaussian sigma=1 (7x7)",
    "uint8 gaussian sigma=3 (19x19)",
    "uint8 RGB gaussian sigma=2 (13x13)",
    "uint8 mean 3x3",
    "uint8 mean 5x5",
    "uint8 mean 21x21",
    "uint8 RGB mean 5x5",
    "uint8 sobel_x (float32 out)",
    "uint8 gradient (strength + direction)",
    "uint8 laplace 4-neighbour (float32 out)",
    "uint8 RGB to CIELAB",
    "float32 RGB gaussian sigma=2 (13x13)",
    "float32 RGB correlate 3x3",
]
UINT16 = [
    "uint16 correlate 3x3",
    "uint16 gaussian sigma=1 (7x7)",
    "uint16 mean 5x5",
    "uint16 mean 21x21",
    "uint16 RGB mean 5x5",
    "uint16 sobel_x (float32 out)",
]


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """One run of the suite's command at 64 x 64, one round a row, into a
    tmp directory: (the report, the Markdown) as written."""
    out = tmp_path_factory.mktemp("photographs")
    threads = filterkit.get_num_threads(), cv2.getNumThreads()
    assert photographs.main(["--size", "64", "--rounds", "1", "--out", str(out)]) == 0
    # the suite runs on one thread and puts the counts back afterwards
    assert (filterkit.get_num_threads(), cv2.getNumThreads()) == threads
    with open(out / "photographs.json") as fh:
        report = json.load(fh)
    with open(out / "photographs.md") as fh:
        return report, fh.read()


def test_rows_are_the_stable_names():
    rows = photographs.rows()
    assert [r.name for r in rows if r.group == "main"] == MAIN
    assert [r.name for r in rows if r.group == "uint16"] == UINT16
    assert len(rows) == len(MAIN) + len(UINT16)


def test_report_rows_times_and_ratios(published):
    report, _ = published
    assert [e["name"] for e in report["rows"]] == MAIN + UINT16
    assert report["size"] == 64
    assert report["threads"] == {"filterkit": 1, "opencv": 1}
    for e in report["rows"]:
        fk, cv = e["times"]["filterkit"], e["times"]["opencv"]
        assert fk["repeat"] == cv["repeat"] == 1
        assert e["ratio"] == pytest.approx(fk["median"] / cv["median"])
        assert e["meets"] == (e["ratio"] <= photographs.ROW_TARGET)
    main = report["summary"]["main"]
    assert main["rows"] == 17 and report["summary"]["uint16"]["rows"] == len(UINT16)
    ratios = [e["ratio"] for e in report["rows"] if e["group"] == "main"]
    assert main["geometric_mean"] == pytest.approx(photographs.geometric_mean(ratios))
    assert main["geometric_mean_meets"] == (main["geometric_mean"] <= 0.8)
    assert report["machine"]["opencv"] == cv2.__version__
    # filterkit's build as it ran: on one thread
    assert report["machine"]["build_info"] == dict(filterkit.build_info(), threads=1)


def test_every_row_agrees_with_opencv(published):
    report, _ = published
    for e in report["rows"]:
        a = e["agreement"]
        assert a["ok"], e["name"]
        assert a["shape"] == list(photographs.CHECK_SHAPE)


def test_markdown_has_the_rows_and_the_geometric_mean(published):
    _, text = published
    for name in MAIN + UINT16:
        assert f"| {name} |" in text
    assert "Geometric mean of the 17 main ratios: " in text
    assert "(target ≤ 0.8: " in text
    assert "Geometric mean of the 6 uint16 ratios: " in text


def test_check_refuses_a_row_that_computes_something_else():
    row = next(r for r in photographs.rows() if r.name == "uint8 mean 5x5")
    inputs = photographs.Inputs((32, 48))
    assert photographs.check(row, inputs)["ok"]
    # filterkit's 5x5 mean against OpenCV's 3x3: not the same computation
    wrong = photographs.Row(row.name, row.group, row.filterkit_call, "cv2.blur 3x3",
                            lambda inp: (row.build(inp)[0], lambda: cv2.blur(inp.grey8, (3, 3))),
                            row.difference, row.tolerance, row.unit)
    with pytest.raises(AssertionError, match="differ"):
        photographs.check(wrong, inputs)


def test_geometric_mean():
    assert photographs.geometric_mean([0.5, 2.0]) == pytest.approx(1.0)
    assert photographs.geometric_mean([]) is None


def test_harness_is_the_shared_one():
    # the suite times and publishes through the one harness module
    assert photographs.harness is harness

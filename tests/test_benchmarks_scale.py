"""The scale benchmark's verdicts on a made-up cluster section: what each
line says follows from the medians it is given.

No timing is run: the figures are written here, the arithmetic checked by
hand (e.g. 3 x 10 / 40 = 0.75).
"""

import pytest

from helpers import benchmarks_module  # noqa: E402

pytest.importorskip("dask")
scale = benchmarks_module("scale")


def _row(case: str, codec: str, mps: float) -> dict:
    return {"case": case, "where": "LocalCluster", "cores": 2, "codec": codec,
            "mp_s": {"median": mps}}


def _section(fk: float, peer: float, copy: float) -> dict:
    rows = [_row("filterkit store", "uncompressed", 60.0), _row("dask-image", "uncompressed", 12.0),
            _row("copy", "uncompressed", 80.0), _row("filterkit store", "default", fk),
            _row("dask-image", "default", peer), _row("copy", "default", copy)]
    return {"image": [4096, 4096], "chunk": [1024, 1024], "blocks": 16, "rows": rows,
            "codecs": {"uncompressed": {"compressors": [], "stored_chunk": 1024},
                       "default": {"compressors": ["ZstdCodec"], "stored_chunk": 1024}}}


def _line(lines: list, start: str) -> str:
    found = [l for l in lines if l.startswith(start)]
    assert len(found) == 1, lines
    return found[0]


def test_the_cluster_target_is_met_only_at_three_times_dask_image():
    met = _line(scale.cluster_verdicts(_section(33.0, 11.0, 40.0), False), "- **Cluster target**")
    assert "zarr's default compressor (Zstd) met (3.0×: 33.0 against 11.0 MP/s)" in met
    assert "uncompressed met (5.0×: 60.0 against 12.0 MP/s)" in met
    short = _line(scale.cluster_verdicts(_section(32.0, 11.0, 40.0), False), "- **Cluster target**")
    assert "zarr's default compressor (Zstd) NOT met (2.9×: 32.0 against 11.0 MP/s)" in short
    assert "zarr's default compressor (Zstd) met (0.80×: 32.0 against 40.0 MP/s)" in short


def test_the_room_line_says_what_share_of_the_copy_three_times_asks_for():
    room = _line(scale.cluster_verdicts(_section(30.0, 10.0, 40.0), False),
                 "- **Room under the dask-image target**")
    # the copy is 40 / 10 = 4x dask-image, so 3x dask-image is 30 MP/s = 0.75 of it
    assert "zarr's default compressor (Zstd): the copy 4.00× dask-image, so 3× dask-image needs 0.75×" in room
    # uncompressed: 80 / 12 = 6.67x, and 3 x 12 / 80 = 0.45
    assert "uncompressed: the copy 6.67× dask-image, so 3× dask-image needs 0.45× the copy" in room


def test_no_room_line_without_the_copy_and_dask_image():
    section = _section(30.0, 10.0, 40.0)
    section["rows"] = [r for r in section["rows"] if r["case"] != "dask-image"]
    lines = scale.cluster_verdicts(section, False)
    assert not [l for l in lines if l.startswith("- **Room")]
    assert "not measured" in _line(lines, "- **Cluster target**").split("≥ 3× dask-image: ")[1][:14]

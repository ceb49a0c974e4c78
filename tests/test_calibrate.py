"""calibrate and calibration_path (_calibrate.py, _cache.py), and reading
the calibration file (_costs.py): where it goes, what it holds (a set of
FFT constants per installed library), a file written before that split,
and a corrupt file (a warning, then the shipped defaults).
"""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest

import filterkit
from filterkit import _costs
from helpers import check_choice, pyfftw, run_python


def test_calibration_path_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FILTERKIT_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert os.path.abspath(filterkit.calibration_path()) == \
        str(tmp_path / "home" / ".cache" / "filterkit" / "calibration.json")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert os.path.abspath(filterkit.calibration_path()) == str(tmp_path / "xdg" / "filterkit" / "calibration.json")
    monkeypatch.setenv("FILTERKIT_CACHE_DIR", str(tmp_path / "mine"))
    assert os.path.abspath(filterkit.calibration_path()) == str(tmp_path / "mine" / "calibration.json")


def test_calibrate_writes_the_constants(calibrated):
    cache, path, constants, choice = calibrated
    assert os.path.abspath(path) == str(cache / "calibration.json")
    assert os.path.isfile(path)
    assert isinstance(constants, dict) and sorted(constants) == ["float32", "float64"]
    with open(path) as fh:
        data = json.load(fh)
    # read back, the file gives what calibrate returned: what auto then uses
    assert _costs._read(path) == constants
    libraries = ["native", "scipy"] + (["fftw"] if pyfftw is not None else [])
    assert data["version"] == 2 and data["fft_libraries"] == libraries
    for prec, stored in data["constants"].items():
        # each installed library's set measured; the grid's constants (f0,
        # fa, oc) and an absent library's set are left to the defaults
        measured = {k.split(".")[0] for k in stored if "." in k}
        assert measured == set(libraries), (prec, sorted(stored))
        assert {"scipy.f1", "scipy.tb", "scipy.t0", "scipy.f2s", "scipy.f2"} <= set(stored)
        assert {"native.f1", "native.tb", "native.t0"} <= set(stored)
        assert not {"scipy.f0", "scipy.fa", "scipy.oc", "fftw.f0", "fftw.oc", "native.f0",
                    "native.oc"} & set(stored)
        assert all(v >= 0 and np.isfinite(v) for v in stored.values())
    check_choice(choice)


def test_a_calibration_file_from_before_the_split_still_loads(tmp_path):
    # version 1 kept one set of FFT constants, FFTW's blocks as w1, wb, w0;
    # its f0, fa and oc were the defaults of their day (not measured)
    old = {prec: {"d0": 0.3, "d1": 0.05, "d3": 0.6, "s0": 0.1, "s1": 0.06, "b0": 0.3, "b1": 0.04,
                  "f0": 9.0, "f1": 0.45, "f2s": 0.46, "f2": 0.8, "tb": 11.0, "t0": 22.0,
                  "w1": 0.33, "wb": 33.0, "w0": 44.0, "fa": 99.0, "oc": 7e7}
           for prec in ("float32", "float64")}
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps({"version": 1, "constants": old}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning: the file is valid
        got = _costs._read(str(path))
    for prec in old:
        c, o, d = got[prec], old[prec], _costs.DEFAULTS[prec]
        assert {k: c[k] for k in ("d0", "d1", "d3", "s0", "s1", "b0", "b1")} == \
            {k: o[k] for k in ("d0", "d1", "d3", "s0", "s1", "b0", "b1")}
        assert (c["scipy.f1"], c["scipy.tb"], c["scipy.t0"]) == (0.45, 11.0, 22.0)
        assert (c["scipy.f2s"], c["scipy.f2"]) == (0.46, 0.8)
        assert (c["fftw.f1"], c["fftw.tb"], c["fftw.t0"]) == (0.33, 33.0, 44.0)
        for key in ("scipy.f0", "scipy.fa", "scipy.oc", "fftw.f0", "fftw.oc"):
            assert c[key] == d[key], key
        assert sorted(c) == sorted(d)  # no old name left over


def test_a_negative_constant_in_an_old_file_names_it(tmp_path):
    path = tmp_path / "calibration.json"
    stored = {p: dict(v) for p, v in _costs.DEFAULTS.items()}
    stored["float32"] = {"d0": 0.2, "w1": -1.0}
    path.write_text(json.dumps({"version": 1, "constants": stored}))
    with pytest.warns(RuntimeWarning, match=r"float32\.w1 = -1\.0"):
        got = _costs._read(str(path))
    assert got == _costs.DEFAULTS


# The constants are loaded lazily on first use and may be kept for the
# process, so the first use with a given file is observed in a fresh
# interpreter; pytest.warns runs there, and the script reports what it saw.
FIRST_USE = """
import json, warnings
import numpy as np
import pytest
import filterkit
with warnings.catch_warnings(record=True) as seen:
    warnings.simplefilter("always")
    choice = filterkit.choose_method((512, 512), (31, 31))
    out = filterkit.convolve(np.ones((40, 40)), np.ones((9, 9)) / 81.0, method="auto")
assert np.allclose(out, 1.0)
print(json.dumps({"warnings": [str(w.message) for w in seen], "method": choice.method,
                  "costs": choice.costs}))
"""


def first_use(cache, cwd):
    """What FIRST_USE saw, run with `cache` as the cache directory."""
    res = run_python(FIRST_USE, env={"FILTERKIT_CACHE_DIR": str(cache)}, cwd=cwd)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def defaults_first_use(tmp_path_factory):
    """First use with no calibration file: the defaults, and no warning."""
    empty = tmp_path_factory.mktemp("empty")
    default = first_use(empty, empty)
    assert default["warnings"] == []
    return default


@pytest.mark.parametrize("content", ["not json", '{"constants": {"float32": {"d0": "fast"}}}', "[1, 2, 3]"])
def test_corrupt_calibration_file_warns_and_uses_the_defaults(tmp_path, content, defaults_first_use):
    default = defaults_first_use
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "calibration.json").write_text(content)
    seen = first_use(bad, tmp_path)
    assert any("calibration" in w.lower() for w in seen["warnings"]), seen["warnings"]
    assert seen["costs"] == default["costs"]  # the defaults, exactly
    assert seen["method"] == default["method"]


def test_corrupt_calibration_file_in_process(monkeypatch, tmp_path, calibrated):
    # calibrate() stores new constants, so a process that calibrated must not
    # raise on a file broken afterwards either; pytest.warns where the file is
    # actually (re)read, else no exception is the promise.
    monkeypatch.setenv("FILTERKIT_CACHE_DIR", str(tmp_path))
    (tmp_path / "calibration.json").write_text("not json")
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        check_choice(filterkit.choose_method((256, 256), (5, 5)))

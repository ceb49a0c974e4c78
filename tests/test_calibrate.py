"""calibrate and calibration_path (_calibrate.py, _cache.py), and reading
the calibration file (_costs.py): where it goes, what it holds, and a
corrupt file (a warning, then the shipped defaults).
"""

from __future__ import annotations

import json
import os
import warnings

import pytest

import filterkit
from helpers import check_choice, run_python


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


def holds(data, constants):
    """The stored JSON is the constants, or holds them under one key."""
    if data == constants:
        return True
    return isinstance(data, dict) and any(v == constants for v in data.values())


def test_calibrate_writes_the_constants(calibrated):
    cache, path, constants, choice = calibrated
    assert os.path.abspath(path) == str(cache / "calibration.json")
    assert os.path.isfile(path)
    assert isinstance(constants, dict) and constants
    with open(path) as fh:
        data = json.load(fh)
    assert holds(data, constants), (data, constants)
    check_choice(choice)


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

"""`python -m filterkit calibrate --quick`: measures, stores the constants
in the cache directory and prints the file's path and the constants."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from helpers import PKG_ROOT


def test_cli_calibrate_quick(tmp_path, calibrated):
    _, _, constants, _ = calibrated
    env = dict(os.environ, FILTERKIT_CACHE_DIR=str(tmp_path), PYTHONPATH=PKG_ROOT)
    res = subprocess.run([sys.executable, "-m", "filterkit", "calibrate", "--quick"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    path = tmp_path / "calibration.json"
    assert path.is_file()
    assert str(path) in res.stdout, res.stdout
    # it prints the constants: at least their names (the values are this run's)
    names = set(constants)
    for inner in constants.values():
        if isinstance(inner, dict):
            names |= set(inner)
    for name in names:
        assert name in res.stdout, (name, res.stdout)
    with open(path) as fh:
        data = json.load(fh)
    assert isinstance(data, dict)

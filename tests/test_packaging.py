"""The installed package's metadata: one version, the licence, the
command line's --version (the sdist and the wheel themselves are built and
checked by .ci/run).

Oracle: the files of the source tree (filterkit/_version.py, LICENSE,
pyproject.toml) read as text, independent of the installed metadata.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib import metadata

import pytest

import filterkit
from helpers import PKG_ROOT, run_python

TESTS = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(TESTS)  # the checkout (or the unpacked sdist) the tests came from


def source_version() -> str:
    with open(os.path.join(SOURCE, "filterkit", "_version.py")) as fh:
        found = re.findall(r'^__version__ = "([^"]+)"$', fh.read(), flags=re.M)
    assert len(found) == 1
    return found[0]


def test_one_version_everywhere():
    version = source_version()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    assert filterkit.__version__ == version
    assert metadata.version("filterkit") == version
    # pyproject.toml takes it from _version.py and writes no number of its own
    with open(os.path.join(SOURCE, "pyproject.toml")) as fh:
        pyproject = fh.read()
    assert 'dynamic = ["version"]' in pyproject
    assert 'attr = "filterkit._version.__version__"' in pyproject
    assert not re.search(r'^version\s*=\s*"', pyproject, flags=re.M)
    # and CHANGELOG.md has a section for it
    with open(os.path.join(SOURCE, "CHANGELOG.md")) as fh:
        assert f"## [{version}]" in fh.read()


def test_the_command_line_reports_the_version():
    done = subprocess.run([sys.executable, "-m", "filterkit", "--version"], capture_output=True,
                          text=True, timeout=60, env=dict(os.environ, PYTHONPATH=PKG_ROOT),
                          cwd="/")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"filterkit {source_version()}"


def test_the_licence_is_in_the_metadata_and_the_installed_files():
    meta = metadata.metadata("filterkit")
    assert meta["License-Expression"] == "BSD-3-Clause"
    with open(os.path.join(SOURCE, "LICENSE")) as fh:
        licence = fh.read()
    assert licence.startswith("BSD 3-Clause License")
    files = [f for f in (metadata.files("filterkit") or []) if f.name == "LICENSE"]
    assert files, "LICENSE is not among the installed files"
    assert files[0].read_text() == licence


def test_python_versions_in_the_metadata_match_the_classifiers():
    meta = metadata.metadata("filterkit")
    low = re.fullmatch(r">=3\.(\d+)", meta["Requires-Python"])
    assert low is not None
    minors = sorted(int(c.rsplit(".", 1)[1]) for c in meta.get_all("Classifier")
                    if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c))
    assert minors[0] == int(low.group(1))
    assert minors == list(range(minors[0], minors[-1] + 1))
    assert sys.version_info[:2] >= (3, minors[0])


@pytest.mark.parametrize("cpu", ["portable", "auto"])
def test_the_build_runs_on_every_kernel_level_it_has(cpu):
    # a wheel built here must run on a CPU without AVX2: the portable
    # kernels are always in it, and FILTERKIT_CPU=portable runs them
    done = run_python("""
        import filterkit, numpy as np
        img = np.arange(64 * 64, dtype=np.float32).reshape(64, 64)
        out = filterkit.convolve(img, np.ones((3, 3)) / 9, mode="nearest")
        print(filterkit.build_info()["simd"], float(out[10, 10]))
    """, env={"FILTERKIT_CPU": cpu})
    assert done.returncode == 0, done.stderr
    simd, value = done.stdout.split()
    assert float(value) == pytest.approx(650.0)
    if cpu == "portable":
        assert "avx" not in simd

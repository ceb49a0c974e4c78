"""The cost constants of ``method="auto"``: defaults, or this machine's
calibration (:func:`filterkit.calibrate`) read from the cache directory.

Nanoseconds per unit of work, per compute precision; what each constant
multiplies is documented with the method that uses it (``methods/*.py``)
and in :mod:`filterkit._choose`.  The FFT methods' constants come in one
set per FFT library (``scipy.f1`` for pocketfft, ``fftw.f1`` for FFTW):
each method reads the set of the library that will transform its call.
"""

from __future__ import annotations

import json
import os
import warnings
from typing import Dict, Optional, Tuple

import numpy as np

from ._cache import calibration_path
from ._validate import fail

Constants = Dict[str, Dict[str, float]]

#: the FFT libraries, each with a set of FFT constants of its own: pocketfft
#: (``scipy.fft``), FFTW (pyFFTW, the ``fftw`` extra) and filterkit's core
#: (``native``: the tiled method's blocks by default)
FFT_LIBRARIES = ("scipy", "fftw", "native")
#: the FFT constants of each library, by short name: f0 per value of a block
#: (or per extended pixel of the whole image), f1 per value and log2 of a
#: block's transform, tb per block, t0 per band of blocks, oc per tiled call,
#: fc the factor on blocks of more than fb values (their workspace outgrows
#: the second-level cache; 1 where the grid showed no such step);
#: f2s, f2 and fa are the whole-image transform's, which runs on pocketfft
#: whatever the backend (FFTW was no faster there)
FFT_KEYS: Dict[str, Tuple[str, ...]] = {
    "scipy": ("f0", "f1", "tb", "t0", "oc", "fc", "fb", "f2s", "f2", "fa"),
    "fftw": ("f0", "f1", "tb", "t0", "oc", "fc", "fb"),
    "native": ("f0", "f1", "tb", "t0", "oc", "fc", "fb"),
}


def fft_key(library: str, name: str) -> str:
    """The key of the FFT constant `name` of `library` (``'scipy.f1'``)."""
    if library not in FFT_KEYS:
        raise fail("library", "one of 'scipy', 'fftw', 'native'", repr(library))
    if name not in FFT_KEYS[library]:
        raise fail("name", f"one of {', '.join(FFT_KEYS[library])} (the {library} FFT constants)",
                   repr(name))
    return f"{library}.{name}"


#: the spatial constants measured with :func:`filterkit.calibrate` on the
#: development machine; each FFT library's set fitted on the benchmark grid
#: run on that library (benchmarks/fft_grid.py), every time measured against
#: the direct sum in the same rounds and scaled to the direct sum's
#: constants, so that the two are set against each other whatever the
#: machine's load (pocketfft's on 2026-12-05, AVX-512 Xeon, 2 cores; FFTW's
#: from the grids before the split, where its blocks had constants of
#: their own already; the core's: f1 and fc chosen on the grid of
#: 2026-12-06 as the values whose choices came within 1.1x of the fastest
#: method in the most cells, near the least-squares fit).  f0, fa, oc, fb
#: and fc come from the grid only
DEFAULTS: Constants = {
    "float32": {"d0": 0.199, "d1": 0.039, "d3": 0.40, "s0": 0.132, "s1": 0.055, "b0": 0.25, "b1": 0.037,
                "b3": 0.36,
                "scipy.f0": 0.5, "scipy.f1": 0.483, "scipy.tb": 0.0, "scipy.t0": 0.0, "scipy.oc": 1.3e5,
                "scipy.fc": 1.0, "scipy.fb": 65536.0,
                "scipy.f2s": 0.883, "scipy.f2": 0.738, "scipy.fa": 0.0,
                "fftw.f0": 0.5, "fftw.f1": 0.31, "fftw.tb": 0.0, "fftw.t0": 0.0, "fftw.oc": 6e5,
                "fftw.fc": 1.0, "fftw.fb": 65536.0,
                "native.f0": 0.0, "native.f1": 0.24, "native.tb": 0.0, "native.t0": 0.0,
                "native.oc": 3e4, "native.fc": 1.4, "native.fb": 65536.0},
    "float64": {"d0": 0.286, "d1": 0.053, "d3": 0.59, "s0": 0.031, "s1": 0.099, "b0": 0.38, "b1": 0.055,
                "b3": 0.83,
                "scipy.f0": 0.8, "scipy.f1": 0.512, "scipy.tb": 0.0, "scipy.t0": 0.0, "scipy.oc": 2.38e5,
                "scipy.fc": 1.0, "scipy.fb": 32768.0,
                "scipy.f2s": 0.87, "scipy.f2": 0.901, "scipy.fa": 4.28,
                "fftw.f0": 0.8, "fftw.f1": 0.42, "fftw.tb": 0.0, "fftw.t0": 0.0, "fftw.oc": 4e5,
                "fftw.fc": 1.0, "fftw.fb": 32768.0,
                "native.f0": 0.0, "native.f1": 0.32, "native.tb": 0.0, "native.t0": 0.0,
                "native.oc": 3e4, "native.fc": 1.6, "native.fb": 32768.0},
}

#: the measured FFT constants of calibration files before the split (one
#: set with FFTW's blocks as w1, wb, w0): the name each has now.  Their f0,
#: fa and oc were the defaults of their day, not measured: not taken over
LEGACY_KEYS = {"f1": "scipy.f1", "tb": "scipy.tb", "t0": "scipy.t0", "f2s": "scipy.f2s",
               "f2": "scipy.f2", "w1": "fftw.f1", "wb": "fftw.tb", "w0": "fftw.t0"}

_loaded: Optional[Constants] = None


def constants() -> Constants:
    """The cost constants: this machine's calibration if stored, else the
    defaults.  The same object until :func:`forget` (so a cached choice can
    tell whether it was made with the current constants).

    Returns
    -------
    dict
        ``{"float32": {...}, "float64": {...}}``: per precision the spatial
        constants (``d0``, ...) and each FFT library's (``scipy.f1``,
        ``fftw.f1``, ...; :func:`fft_key`)."""
    global _loaded
    if _loaded is None:
        _loaded = _read(calibration_path())
    return _loaded


def forget() -> None:
    """Read the constants again on next use (after a calibration)."""
    global _loaded
    _loaded = None


def _read(path: str) -> Constants:
    """The constants of the calibration file at `path` over the defaults:
    every constant it holds under its name now or, in files written before
    the FFT libraries had a set each, under its old name
    (:data:`LEGACY_KEYS`); an unreadable file warns and gives the defaults."""
    result = {k: dict(v) for k, v in DEFAULTS.items()}
    if not os.path.exists(path):
        return result
    try:
        with open(path) as fh:
            stored = json.load(fh)["constants"]
        for prec in DEFAULTS:
            legacy = {now: old for old, now in LEGACY_KEYS.items() if old in stored[prec]}
            for key in DEFAULTS[prec]:
                name = key if key in stored[prec] else legacy.get(key)
                if name is None:  # not measured (or a constant of a later version)
                    continue
                value = float(stored[prec][name])
                if not np.isfinite(value) or value < 0:
                    raise ValueError(f"{prec}.{name} = {value}")
                result[prec][key] = value
            if "b0" in stored[prec] and "b1" not in stored[prec]:
                # an earlier version's flat box cost (of a 9 x 9 box)
                result[prec]["b1"] = 0.0
            if "d0" in stored[prec] and "d3" not in stored[prec]:
                # an earlier version without the fixed 3 x 3 sums' cost: the
                # general sum's, as it estimated them
                result[prec]["d3"] = result[prec]["d0"] + 9 * result[prec]["d1"]
            if "b0" in stored[prec] and "b3" not in stored[prec]:
                # an earlier version without the three-row box's cost: the
                # default's, scaled as this machine's 3 x 3 direct sum is
                # (the two race each other for 3 x 3 means)
                result[prec]["b3"] = DEFAULTS[prec]["b3"] * result[prec]["d3"] \
                    / DEFAULTS[prec]["d3"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        warnings.warn(f"filterkit: ignoring the calibration file {path} ({exc}); "
                      "using the default cost constants (run filterkit.calibrate() "
                      "to measure this machine)", RuntimeWarning, stacklevel=4)
        return {k: dict(v) for k, v in DEFAULTS.items()}
    return result

"""The cost constants of ``method="auto"``: defaults, or this machine's
calibration (:func:`filterkit.calibrate`) read from the cache directory.

Nanoseconds per unit of work, per compute precision; what each constant
multiplies is documented with the method that uses it (``methods/*.py``)
and in :mod:`filterkit._choose`.
"""

from __future__ import annotations

import json
import os
import warnings
from typing import Dict, Optional

import numpy as np

from ._cache import calibration_path

Constants = Dict[str, Dict[str, float]]

#: measured with :func:`filterkit.calibrate` on the development machines
#: and set against each other by the benchmark grid (benchmarks/fft_grid.py);
#: fa and oc (the first touch of the FFT methods' temporaries) come from the
#: grid only
DEFAULTS: Constants = {
    "float32": {"d0": 0.199, "d1": 0.039, "d3": 0.40, "s0": 0.132, "s1": 0.055, "b0": 0.25, "b1": 0.037,
                "f0": 0.5, "f1": 0.398, "f2s": 0.425, "f2": 0.72, "tb": 0.0, "t0": 0.0,
                "w1": 0.31, "wb": 0.0, "w0": 0.0, "fa": 9.0, "oc": 6e5},
    "float64": {"d0": 0.286, "d1": 0.053, "d3": 0.59, "s0": 0.031, "s1": 0.099, "b0": 0.38, "b1": 0.055,
                "f0": 0.8, "f1": 0.625, "f2s": 0.641, "f2": 1.271, "tb": 0.0, "t0": 0.0,
                "w1": 0.42, "wb": 0.0, "w0": 0.0, "fa": 15.0, "oc": 4e5},
}
#: the overlap-save method's constants for pocketfft and for FFTW blocks
OVERLAP_SAVE_KEYS = {"scipy": ("f1", "tb", "t0"), "fftw": ("w1", "wb", "w0")}

_loaded: Optional[Constants] = None


def constants() -> Constants:
    """The cost constants: this machine's calibration if stored, else the
    defaults.  The same object until :func:`forget` (so a cached choice can
    tell whether it was made with the current constants)."""
    global _loaded
    if _loaded is None:
        _loaded = _read(calibration_path())
    return _loaded


def forget() -> None:
    """Read the constants again on next use (after a calibration)."""
    global _loaded
    _loaded = None


def _read(path: str) -> Constants:
    result = {k: dict(v) for k, v in DEFAULTS.items()}
    if not os.path.exists(path):
        return result
    try:
        with open(path) as fh:
            stored = json.load(fh)["constants"]
        for prec in DEFAULTS:
            for key in DEFAULTS[prec]:
                if key not in stored[prec]:  # a constant of a later version
                    continue
                value = float(stored[prec][key])
                if not np.isfinite(value) or value < 0:
                    raise ValueError(f"{prec}.{key} = {value}")
                result[prec][key] = value
            if "b0" in stored[prec] and "b1" not in stored[prec]:
                # an earlier version's flat box cost (of a 9 x 9 box)
                result[prec]["b1"] = 0.0
            if "d0" in stored[prec] and "d3" not in stored[prec]:
                # an earlier version without the fixed 3 x 3 sums' cost: the
                # general sum's, as it estimated them
                result[prec]["d3"] = result[prec]["d0"] + 9 * result[prec]["d1"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        warnings.warn(f"filterkit: ignoring the calibration file {path} ({exc}); "
                      "using the default cost constants (run filterkit.calibrate() "
                      "to measure this machine)", RuntimeWarning, stacklevel=4)
        return {k: dict(v) for k, v in DEFAULTS.items()}
    return result

"""Where filterkit keeps what it learns about this machine: the cost
constants of ``method="auto"`` and FFTW's plans ("wisdom")."""

from __future__ import annotations

import os

CACHE_ENV = "FILTERKIT_CACHE_DIR"


def cache_dir() -> str:
    """``$FILTERKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/filterkit``, else
    ``~/.cache/filterkit``."""
    base = os.environ.get(CACHE_ENV)
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        base = os.path.join(xdg, "filterkit")
    return base


def calibration_path() -> str:
    """Where :func:`filterkit.calibrate` stores this machine's constants.

    ``$FILTERKIT_CACHE_DIR/calibration.json``, else
    ``$XDG_CACHE_HOME/filterkit/calibration.json``, else
    ``~/.cache/filterkit/calibration.json``.

    Returns
    -------
    str

    Examples
    --------
    >>> import filterkit
    >>> filterkit.calibration_path().endswith("calibration.json")
    True
    """
    return os.path.join(cache_dir(), "calibration.json")

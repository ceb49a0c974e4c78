"""Fixtures shared by the test files: warnings as failures, a private cache
directory (calibration file, FFTW wisdom), the FFT backends and one
calibration per session."""

from __future__ import annotations

import warnings

import pytest

import filterkit
from filterkit import _costs
from helpers import FFT_BACKENDS


@pytest.fixture
def no_warnings():
    """Any warning (e.g. numpy's 'invalid value encountered in cast') is a failure."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


@pytest.fixture
def private_cache(monkeypatch, tmp_path):
    """FILTERKIT_CACHE_DIR is this test's tmp_path (empty unless the test
    writes a calibration or wisdom file there); returns it."""
    monkeypatch.setenv("FILTERKIT_CACHE_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture
def default_costs(private_cache, monkeypatch):
    """The cost constants are read again on first use, from the private
    cache directory: the shipped defaults, unless the test writes a
    calibration file there first.  The process's constants come back after."""
    monkeypatch.setattr(_costs, "_loaded", None)
    return private_cache


@pytest.fixture(params=FFT_BACKENDS)
def fft_backend(request, monkeypatch, private_cache):
    """The FFT methods' blocks through pocketfft and through FFTW (its plans
    stored in the private cache directory)."""
    monkeypatch.setenv("FILTERKIT_FFT", request.param)
    return request.param


@pytest.fixture(scope="session")
def calibrated(tmp_path_factory):
    """One in-process calibrate(quick=True) into a private cache dir:
    (cache dir, calibration_path(), the constants, a choice made with them).
    The process's constants come back afterwards, so later tests see the
    shipped defaults or their own calibration file, never this one."""
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FILTERKIT_CACHE_DIR", str(cache))
        mp.setattr(_costs, "_loaded", _costs._loaded)
        constants = filterkit.calibrate(quick=True)
        path = filterkit.calibration_path()
        # the stored constants are used: choose_method works, without warning
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            choice = filterkit.choose_method((512, 512), (31, 31))
    return cache, path, constants, choice

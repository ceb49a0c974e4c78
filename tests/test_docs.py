"""The docstrings' examples run as doctests against the installed package."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["filterkit", "filterkit._convolve", "filterkit._filters", "filterkit._threads",
           "filterkit.masks", "filterkit.cli", "filterkit.color", "filterkit._choose",
           "filterkit.nn", "filterkit.nn.layers", "filterkit.nn.optim", "filterkit.nn.train",
           "filterkit.dask"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_public_functions_have_examples():
    import filterkit

    for name in ["convolve", "correlate", "set_num_threads", "get_num_threads", "mean",
                 "gaussian", "sobel_x", "sobel_y", "sobel", "gradient", "laplace"]:
        doc = getattr(filterkit, name).__doc__
        assert "Examples" in doc and ">>>" in doc, name
    from filterkit import color

    for name in color.__all__:
        obj = getattr(color, name)
        if callable(obj):
            assert "Examples" in obj.__doc__ and ">>>" in obj.__doc__, name


def test_nn_public_api_has_examples():
    import filterkit.nn as nn

    missing = []
    for name in nn.__all__:
        obj = getattr(nn, name)
        if callable(obj) and not isinstance(obj, type(nn.DATASETS)):
            doc = obj.__doc__ or ""
            if name in ("Layer", "Dataset", "History"):
                continue  # a base class and two result records
            if "Examples" not in doc or ">>>" not in doc:
                missing.append(name)
    assert not missing, missing


def test_dask_public_api_has_examples():
    import filterkit.dask as fkd

    missing = [name for name in fkd.__all__ if callable(getattr(fkd, name))
               and ">>>" not in (getattr(fkd, name).__doc__ or "")]
    assert not missing, missing

"""The docstrings' examples run as doctests against the installed package."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["filterkit", "filterkit._convolve", "filterkit._filters", "filterkit._threads",
           "filterkit.kernels", "filterkit.cli", "filterkit.color"]


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

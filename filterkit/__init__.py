"""filterkit: classic image filtering with exact semantics and a fast core.

The public API:

- :func:`convolve` and :func:`correlate`: 2-D filtering with any odd mask,
  every border mode, every common dtype, multi-threaded.
- :func:`set_num_threads` / :func:`get_num_threads`, :func:`build_info`.
- :func:`mean`, :func:`gaussian`, :func:`sobel_x`, :func:`sobel_y`,
  :func:`sobel`, :func:`gradient`, :func:`laplace`: the lecture's filters.
- :mod:`filterkit.masks`: masks and mask algebra.
- :func:`choose_method`, :func:`calibrate`: the cost model behind
  ``method="auto"`` (direct, separable, box, FFT, tiled FFT).
- :mod:`filterkit.color`: sRGB, XYZ, CIELAB, CIELUV and luma; every filter
  takes ``space=`` for colour images, and :func:`sobel` / :func:`gradient`
  give the colour gradient of all channels.
- :mod:`filterkit.dask` (``pip install 'filterkit[dask]'``): every filter on
  Dask arrays, chunk by chunk with exact halos, equal to the in-memory result.
- :mod:`filterkit.nn`: a small numpy CNN whose fixed first layer is these filters.
"""


import importlib as _importlib
import os as _os
import typing as _typing

from ._version import __version__

# The public names load on first use (PEP 562): ``import filterkit`` itself
# costs nothing, so the command line can take Ctrl-C as one line from its
# first instant (numpy and the core take about 80 ms to import) and a
# ``filterkit.nn`` user does not pay for the filters' modules.
_EXPORTS = {
    "MethodChoice": "_choose", "choose_method": "_choose",
    "calibrate": "_calibrate", "calibration_path": "_cache",
    "convolve": "_convolve", "correlate": "_convolve",
    "gaussian": "_filters", "gradient": "_filters", "laplace": "_filters", "mean": "_filters",
    "sobel": "_filters", "sobel_x": "_filters", "sobel_y": "_filters",
    "cpu_cap": "_threads", "get_num_threads": "_threads", "set_num_threads": "_threads",
}
_SUBMODULES = ("color", "masks")

if _typing.TYPE_CHECKING:  # the names as a type checker or an IDE sees them
    from . import color, masks
    from ._cache import calibration_path
    from ._calibrate import calibrate
    from ._choose import MethodChoice, choose_method
    from ._convolve import convolve, correlate
    from ._filters import gaussian, gradient, laplace, mean, sobel, sobel_x, sobel_y
    from ._threads import get_num_threads, set_num_threads


def _load_core() -> _typing.Any:
    """The compiled core, with a clear message when it was never built."""
    try:
        return _importlib.import_module("._core", __name__)
    except ImportError as exc:  # a source checkout whose core was never compiled
        raise ImportError(
            "filterkit's compiled core (filterkit._core) is missing in "
            f"{_os.path.dirname(_os.path.abspath(__file__))}: this looks like a source "
            "checkout that shadows the installed package.  Build it in place with "
            "`pip install -e .`, or run Python from another directory after `pip install .`."
        ) from exc


def __getattr__(name: str) -> _typing.Any:
    if name in _EXPORTS or name in _SUBMODULES:
        _load_core()
        if name in _SUBMODULES:
            value = _importlib.import_module(f".{name}", __name__)
        else:
            value = getattr(_importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value  # later lookups are plain attribute reads
        return value
    raise AttributeError(f"module 'filterkit' has no attribute {name!r}")


def __dir__() -> list:
    return sorted({n for n in globals() if not n.startswith("_")} | set(__all__)
                  | {"__version__"})


def build_info() -> dict:
    """Describe this build of filterkit's core.

    Returns
    -------
    dict
        ``version``; ``openmp`` (True when the core was compiled with
        OpenMP, else it runs one thread); ``simd`` (``'avx512vl'``,
        ``'avx2+fma'`` or ``'portable'``: the kernels this CPU runs, see
        ``FILTERKIT_CPU``);
        ``threads`` (:func:`get_num_threads`).

    Examples
    --------
    >>> import filterkit
    >>> sorted(filterkit.build_info())
    ['openmp', 'simd', 'threads', 'version']
    """
    from ._threads import cpu_cap, get_num_threads

    _load_core()
    from ._native import openmp_enabled, simd_level

    return {
        "version": __version__,
        "openmp": openmp_enabled(),
        "simd": simd_level(cpu_cap()),
        "threads": get_num_threads(),
    }


__all__ = [
    "MethodChoice",
    "build_info",
    "calibrate",
    "calibration_path",
    "choose_method",
    "color",
    "convolve",
    "correlate",
    "gaussian",
    "get_num_threads",
    "gradient",
    "laplace",
    "masks",
    "mean",
    "set_num_threads",
    "sobel",
    "sobel_x",
    "sobel_y",
]

"""filterkit: classic image filtering with exact semantics and a fast core.

The public API:

- :func:`convolve` and :func:`correlate`: 2-D filtering with any odd mask,
  every border mode, every common dtype, multi-threaded.
- :func:`set_num_threads` / :func:`get_num_threads`, :func:`build_info`.
- :func:`mean`, :func:`gaussian`, :func:`sobel_x`, :func:`sobel_y`,
  :func:`sobel`, :func:`gradient`, :func:`laplace`: the lecture's filters.
- :mod:`filterkit.kernels`: masks and mask algebra.
- :func:`choose_method`, :func:`calibrate`: the cost model behind
  ``method="auto"`` (direct, separable, box, FFT, tiled FFT).
- :mod:`filterkit.color`: sRGB, XYZ, CIELAB, CIELUV and luma; every filter
  takes ``space=`` for colour images, and :func:`sobel` / :func:`gradient`
  give the colour gradient of all channels.
- :mod:`filterkit.dask` (``pip install 'filterkit[dask]'``): every filter on
  Dask arrays, chunk by chunk with exact halos, equal to the in-memory result.
- :mod:`filterkit.nn`: a small numpy CNN whose fixed first layer is these filters.
"""

import os as _os

try:
    from ._core import cpu_path, openmp_enabled
except ImportError as _exc:  # a source checkout whose core was never compiled
    raise ImportError(
        "filterkit's compiled core (filterkit._core) is missing in "
        f"{_os.path.dirname(_os.path.abspath(__file__))}: this looks like a source "
        "checkout that shadows the installed package.  Build it in place with "
        "`pip install -e .`, or run Python from another directory after `pip install .`."
    ) from _exc

from . import color, kernels
from ._choose import MethodChoice, calibrate, calibration_path, choose_method
from ._convolve import convolve, correlate
from ._filters import gaussian, gradient, laplace, mean, sobel, sobel_x, sobel_y
from ._threads import cpu_cap, get_num_threads, set_num_threads

__version__ = "0.1.0"


def build_info() -> dict:
    """Describe this build of filterkit's core.

    Returns
    -------
    dict
        ``version``; ``openmp`` (True when the core was compiled with
        OpenMP, else it runs one thread); ``kernels`` (``'avx512vl'``,
        ``'avx2+fma'`` or ``'portable'``: the kernels this CPU runs, see
        ``FILTERKIT_CPU``);
        ``threads`` (:func:`get_num_threads`).

    Examples
    --------
    >>> import filterkit
    >>> sorted(filterkit.build_info())
    ['kernels', 'openmp', 'threads', 'version']
    """
    return {
        "version": __version__,
        "openmp": openmp_enabled(),
        "kernels": cpu_path(cpu_cap()),
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
    "kernels",
    "laplace",
    "mean",
    "set_num_threads",
    "sobel",
    "sobel_x",
    "sobel_y",
]

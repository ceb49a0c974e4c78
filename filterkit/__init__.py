"""filterkit: classic image filtering with exact semantics and a fast core.

The public API:

- :func:`convolve` and :func:`correlate`: 2-D filtering with any odd mask,
  every border mode, every common dtype, multi-threaded.
- :func:`set_num_threads` / :func:`get_num_threads`.
- :mod:`filterkit.kernels`: masks and mask algebra.
"""

from . import kernels
from ._convolve import convolve, correlate
from ._core import openmp_enabled
from ._threads import get_num_threads, set_num_threads

__version__ = "0.1.0"

__all__ = [
    "convolve",
    "correlate",
    "get_num_threads",
    "kernels",
    "openmp_enabled",
    "set_num_threads",
]

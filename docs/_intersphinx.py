"""Offline intersphinx inventories of the peer libraries' names we cite.

intersphinx fetches ``objects.inv`` from each project's site; a machine
without network (this project's build machine) gets these instead, so a
reference such as :class:`numpy.ndarray` still becomes a link.  Each entry
is (name, role, page relative to the site's root); the sites' URL schemes
are stable.
"""

from __future__ import annotations

import os
import zlib
from typing import Dict, List, Tuple

Entry = Tuple[str, str, str]

SITES: Dict[str, Tuple[str, List[Entry]]] = {
    "numpy": ("https://numpy.org/doc/stable/", [
        ("numpy.ndarray", "py:class", "reference/generated/numpy.ndarray.html"),
        ("numpy.dtype", "py:class", "reference/generated/numpy.dtype.html"),
        ("numpy.memmap", "py:class", "reference/generated/numpy.memmap.html"),
        ("numpy.lib.format.open_memmap", "py:function",
         "reference/generated/numpy.lib.format.open_memmap.html"),
        ("numpy.random.Generator", "py:class",
         "reference/random/generator.html#numpy.random.Generator"),
        ("numpy.arctan2", "py:data", "reference/generated/numpy.arctan2.html"),
        ("numpy.hypot", "py:data", "reference/generated/numpy.hypot.html"),
        ("arrays.dtypes", "std:label", "reference/arrays.dtypes.html"),
    ]),
    "scipy": ("https://docs.scipy.org/doc/scipy/", [
        ("scipy.ndimage.convolve", "py:function",
         "reference/generated/scipy.ndimage.convolve.html"),
        ("scipy.ndimage.correlate", "py:function",
         "reference/generated/scipy.ndimage.correlate.html"),
        ("scipy.ndimage.sobel", "py:function", "reference/generated/scipy.ndimage.sobel.html"),
        ("scipy.ndimage.gaussian_filter", "py:function",
         "reference/generated/scipy.ndimage.gaussian_filter.html"),
        ("scipy.ndimage.uniform_filter", "py:function",
         "reference/generated/scipy.ndimage.uniform_filter.html"),
        ("scipy.ndimage.laplace", "py:function",
         "reference/generated/scipy.ndimage.laplace.html"),
        ("scipy.signal.fftconvolve", "py:function",
         "reference/generated/scipy.signal.fftconvolve.html"),
        ("scipy.signal.oaconvolve", "py:function",
         "reference/generated/scipy.signal.oaconvolve.html"),
        ("scipy.fft", "py:module", "reference/fft.html"),
    ]),
    "skimage": ("https://scikit-image.org/docs/stable/", [
        ("skimage.color.rgb2lab", "py:function", "api/skimage.color.html#skimage.color.rgb2lab"),
        ("skimage.color.rgb2luv", "py:function", "api/skimage.color.html#skimage.color.rgb2luv"),
        ("skimage.filters.sobel", "py:function", "api/skimage.filters.html#skimage.filters.sobel"),
        ("skimage.filters.gaussian", "py:function",
         "api/skimage.filters.html#skimage.filters.gaussian"),
        ("skimage.data", "py:module", "api/skimage.data.html"),
    ]),
    "dask": ("https://docs.dask.org/en/stable/", [
        ("dask.array.Array", "py:class", "generated/dask.array.Array.html"),
        ("dask.array.map_overlap", "py:function", "generated/dask.array.map_overlap.html"),
        ("dask.array.from_zarr", "py:function", "generated/dask.array.from_zarr.html"),
        ("dask.array.to_zarr", "py:function", "generated/dask.array.to_zarr.html"),
    ]),
    "distributed": ("https://distributed.dask.org/en/stable/", [
        ("distributed.Client", "py:class", "api.html#distributed.Client"),
        ("distributed.LocalCluster", "py:class", "api.html#distributed.LocalCluster"),
    ]),
}


def write_inventories(folder: str) -> Dict[str, Tuple[str, str]]:
    """Write one ``<name>.inv`` per site into `folder`; return
    ``{name: (site URL, inventory path)}``."""
    os.makedirs(folder, exist_ok=True)
    out = {}
    for name, (url, entries) in SITES.items():
        lines = [f"{obj} {role} 1 {uri} -\n" for obj, role, uri in entries]
        header = (f"# Sphinx inventory version 2\n# Project: {name}\n# Version: stable\n"
                  "# The remainder of this file is compressed using zlib.\n")
        path = os.path.join(folder, f"{name}.inv")
        with open(path, "wb") as fh:
            fh.write(header.encode() + zlib.compress("".join(lines).encode()))
        out[name] = (url, path)
    return out

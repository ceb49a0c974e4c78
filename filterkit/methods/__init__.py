"""The methods that compute a 2-D correlation, one module each.

Every method module has ``NAME``, ``cost(info, hw, constants, threads,
full)`` (estimated seconds, or None where it does not apply or, without
`full`, cannot win), ``check(info)``
(raises when the method was asked for a mask it cannot compute) and
``run(job, info, flip, target, double, finite)``.  A new method is one
new module and one line in :data:`REGISTRY`.
"""

from __future__ import annotations

from types import ModuleType
from typing import Dict

from . import box, direct, fft, overlap_save, separable
from ._fftlib import NonFinite

#: every method by name, in the order they are documented
REGISTRY: Dict[str, ModuleType] = {m.NAME: m for m in (direct, separable, box, fft, overlap_save)}
#: the methods that sum in the image's domain (no transform)
SPATIAL = ("direct", "separable", "box")
#: the methods that transform
SPECTRAL = ("fft", "overlap_save")

__all__ = ["NonFinite", "REGISTRY", "SPATIAL", "SPECTRAL"]

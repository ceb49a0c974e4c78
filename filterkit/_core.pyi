"""Type stub of the compiled core (src_c/_core.pyx)."""

from typing import Optional

import numpy as np

def openmp_enabled() -> bool: ...
def cpu_path(cpu_cap: int = ...) -> str: ...
def correlate_rows(
    src: np.ndarray,
    dst: np.ndarray,
    src_code: int,
    dst_code: int,
    kernel: Optional[np.ndarray],
    col: Optional[np.ndarray],
    row: Optional[np.ndarray],
    kh: int,
    kw: int,
    oy: int,
    pl: int,
    mode: int,
    cval: float,
    double_precision: bool,
    nthreads: int,
    cpu_cap: int = ...,
    kernel2: Optional[np.ndarray] = ...,
    combine: int = ...,
    dst2: Optional[np.ndarray] = ...,
    dst2_code: int = ...,
    col2: Optional[np.ndarray] = ...,
    row2: Optional[np.ndarray] = ...,
) -> None: ...
def box_rows(
    src: np.ndarray,
    dst: np.ndarray,
    src_code: int,
    dst_code: int,
    kh: int,
    kw: int,
    oy: int,
    pl: int,
    mode: int,
    cval: float,
    double_precision: bool,
    nthreads: int,
    cpu_cap: int = ...,
) -> None: ...

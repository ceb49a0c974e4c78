"""Argument checking shared by every public function.

Every message follows one template, built from the same tables the code
uses: "`name` must be <requirement>; got <actual>."  Only ``ValueError``
and ``TypeError`` are raised.
"""

from __future__ import annotations

import numbers
import os
from typing import Any, Optional, Tuple

import numpy as np

# ----------------------------------------------------------------------------
# dtypes: the codes are the FK_* enum of src_c/fk_core.h
# ----------------------------------------------------------------------------
DTYPE_CODES = {
    np.dtype(np.uint8): 0,
    np.dtype(np.int8): 1,
    np.dtype(np.uint16): 2,
    np.dtype(np.int16): 3,
    np.dtype(np.uint32): 4,
    np.dtype(np.int32): 5,
    np.dtype(np.uint64): 6,
    np.dtype(np.int64): 7,
    np.dtype(np.float32): 8,
    np.dtype(np.float64): 9,
}
SUPPORTED_DTYPES = ", ".join(str(d) for d in DTYPE_CODES)

# ----------------------------------------------------------------------------
# border modes: scipy.ndimage's names, plus other libraries' spellings
# ----------------------------------------------------------------------------
# name -> code of src_c/fk_core.h; "valid" is handled in Python (no padding)
MODE_CODES = {"constant": 0, "nearest": 1, "reflect": 2, "mirror": 3, "wrap": 4, "valid": -1}
MODE_ALIASES = {
    # OpenCV (BORDER_*), numpy.pad, PyTorch and scipy's grid-* spellings
    "replicate": "nearest",
    "border_replicate": "nearest",
    "edge": "nearest",
    "border_reflect": "reflect",
    "symmetric": "reflect",
    "grid-mirror": "reflect",
    "reflect101": "mirror",
    "reflect_101": "mirror",
    "border_reflect101": "mirror",
    "border_reflect_101": "mirror",
    "border_default": "mirror",
    "border_wrap": "wrap",
    "circular": "wrap",
    "grid-wrap": "wrap",
    "border_constant": "constant",
    "grid-constant": "constant",
    "zero": "constant",
    "zeros": "constant",
}
# aliases that fix cval to 0
ZERO_ALIASES = {"zero", "zeros"}
MODE_NAMES = ", ".join(repr(m) for m in MODE_CODES)


def fail(name: str, requirement: str, got: str, exc: type = ValueError) -> Exception:
    """Build the error of the one template: "`name` must be ...; got ..."."""
    return exc(f"`{name}` must be {requirement}; got {got}.")


def describe(value: Any) -> str:
    """A short description of a value for an error message."""
    if isinstance(value, np.ndarray):
        return f"a {value.ndim}-D {value.dtype} array of shape {value.shape}"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def check_mode(mode: Any, cval: Any) -> Tuple[str, float]:
    """Normalise a border-mode name; return (canonical name, cval)."""
    if not isinstance(mode, str):
        raise fail("mode", f"a string, one of {MODE_NAMES}", describe(mode), TypeError)
    key = mode.strip().lower()
    if key in ZERO_ALIASES:
        cval = check_cval(cval)
        if cval != 0.0:
            raise fail("cval", f"0 with mode={mode!r} (use mode='constant' for another value)", repr(cval))
        return "constant", 0.0
    key = MODE_ALIASES.get(key, key)
    if key not in MODE_CODES:
        raise fail(
            "mode",
            f"one of {MODE_NAMES} (or an alias such as 'replicate', 'reflect101', 'circular')",
            repr(mode),
        )
    return key, check_cval(cval)


def check_cval(cval: Any) -> float:
    """`cval` must be a real number (NaN and inf are allowed as fill values)."""
    if isinstance(cval, (bool, np.bool_)) or not isinstance(cval, (numbers.Real, np.floating, np.integer)):
        raise fail("cval", "a real number", describe(cval), TypeError)
    return to_float("cval", cval)


def to_float(name: str, value: Any) -> float:
    """``float(value)`` for a checked real number; an integer beyond the
    float64 range (``10**400``) is a ValueError naming `name`, not
    Python's bare OverflowError."""
    try:
        return float(value)
    except OverflowError:
        raise fail(name, "a real number within the float64 range (about +-1.8e308)",
                   describe(value)) from None


def native(arr: np.ndarray) -> np.ndarray:
    """`arr` in the machine's byte order (a copy only when it is not).

    Every entry point calls this on the image, so that a byte-swapped
    array (big-endian FITS data, say) gets exactly the dtype rules and the
    bits of the native one: ``np.dtype('>f8') == np.float64`` is False."""
    if arr.dtype.isnative:
        return arr
    return arr.astype(arr.dtype.newbyteorder("="))


def is_double(dtype: Any) -> bool:
    """Whether `dtype` is float64 in either byte order (computes in double)."""
    dt = np.dtype(dtype)
    return dt.kind == "f" and dt.itemsize == 8


def check_image(image: Any, channel_axis: Optional[int]) -> Tuple[np.ndarray, Optional[int]]:
    """Validate the image; return it as an array and the normalised channel axis."""
    arr = np.asarray(image)
    if arr.dtype.kind not in "uif":
        raise fail("image", f"an array of real numbers ({SUPPORTED_DTYPES} or float16)",
                   f"dtype {arr.dtype}", TypeError)
    if arr.dtype.kind == "f" and arr.dtype.itemsize > 8:
        raise fail("image", f"an array of one of the dtypes {SUPPORTED_DTYPES} or float16",
                   f"dtype {arr.dtype} (convert it with .astype(np.float64))", TypeError)
    if arr.dtype.itemsize == 2 and arr.dtype.kind == "f":
        arr = arr.astype(np.float32)  # float16 is computed in float32 like the integers
    arr = native(arr)
    axis = check_layout(arr.shape, channel_axis)
    if arr.size == 0:
        raise fail("image", "non-empty", f"shape {arr.shape}")
    return arr, axis


def check_layout(shape: Tuple[int, ...], channel_axis: Any) -> Optional[int]:
    """A 2-D image without `channel_axis`, 3-D with it: the normalised
    channel axis (or None), from the shape alone (also of a lazy array)."""
    ndim = len(shape)
    if channel_axis is None:
        if ndim != 2:
            hint = (" (a colour or multi-channel image needs channel_axis, e.g. channel_axis=-1)"
                    if ndim == 3 else "")
            raise fail("image", f"2-D when channel_axis is None{hint}",
                       f"{ndim}-D with shape {tuple(shape)}")
        return None
    if isinstance(channel_axis, (bool, np.bool_)) or not isinstance(channel_axis, (int, np.integer)):
        raise fail("channel_axis", "None or an integer", describe(channel_axis), TypeError)
    if ndim != 3:
        raise fail("image", "3-D when channel_axis is given", f"{ndim}-D with shape {tuple(shape)}")
    if not -3 <= channel_axis <= 2:
        raise fail("channel_axis", "an axis of a 3-D image (-3 to 2)", repr(channel_axis))
    return int(channel_axis) % 3


#: the largest mask height or width: a Gaussian of sigma up to about 10922
#: at its default size.  Beyond it a mask costs minutes per megapixel and
#: its sizes overflow the core's 32-bit geometry long before that.
MAX_MASK_SIDE = 65537


def check_side(name: str, h: int, w: int) -> None:
    """A mask's height and width must not exceed MAX_MASK_SIDE."""
    if max(h, w) > MAX_MASK_SIDE:
        raise fail(name, f"at most {MAX_MASK_SIDE} high and wide", f"{h} x {w}")


def check_mask(mask: Any) -> np.ndarray:
    """Validate a filter mask: 2-D, odd sides, real and finite; float64 copy."""
    arr = np.asarray(mask)
    if arr.dtype.kind not in "uif":
        raise fail("mask", "an array of real numbers", f"dtype {arr.dtype}", TypeError)
    if arr.ndim != 2:
        hint = ""
        if arr.ndim == 1:
            hint = " (use mask[np.newaxis, :] for a row or mask[:, np.newaxis] for a column)"
        raise fail("mask", f"2-D{hint}", f"{arr.ndim}-D with shape {arr.shape}")
    if arr.size == 0:
        raise fail("mask", "non-empty", f"shape {arr.shape}")
    kh, kw = arr.shape
    if kh % 2 == 0 or kw % 2 == 0:
        raise fail(
            "mask",
            "odd in both height and width so that it has a centre pixel (pad an even side "
            "with a row or column of zeros, e.g. np.pad(mask, ((0, 1), (0, 0))), and mind "
            "which side the centre moves to)",
            f"shape {arr.shape}",
        )
    check_side("mask", kh, kw)
    out = arr.astype(np.float64)
    if not np.all(np.isfinite(out)):
        bad = np.argwhere(~np.isfinite(out))[0]
        raise fail("mask", "finite (no NaN or inf)",
                   f"{out[tuple(bad)]} at index {tuple(int(i) for i in bad)}")
    return out


def check_output_dtype(dtype: Any) -> np.dtype:
    """An `output` given as a dtype must be one of the supported ones."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise fail("output", f"None, an array or a dtype ({SUPPORTED_DTYPES})",
                   describe(dtype), TypeError) from None
    if dt.newbyteorder("=") not in DTYPE_CODES:
        raise fail("output", f"an array or a dtype of {SUPPORTED_DTYPES}", f"dtype {dt}", TypeError)
    return dt


#: the most threads the core may be asked for, per core of the machine:
#: more only queue on the same cores, and tens of thousands crash the
#: OpenMP runtime (it cannot create them)
THREADS_PER_CORE = 4


def max_threads() -> int:
    """The largest thread count :func:`check_threads` accepts:
    ``THREADS_PER_CORE`` times the machine's cores (at least 8)."""
    return max(8, THREADS_PER_CORE * (os.cpu_count() or 1))


def check_threads(n: Any, name: str = "n") -> int:
    """A thread count must be an integer from 1 to :func:`max_threads`."""
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
        raise fail(name, "a positive integer", describe(n), TypeError)
    if n < 1:
        raise fail(name, "a positive integer", repr(int(n)))
    top = max_threads()
    if n > top:
        raise fail(name, f"at most {top} threads ({THREADS_PER_CORE} per core of this machine, "
                   "at least 8)", repr(int(n)))
    return int(n)

"""Results as pictures: high-pass values and gradient directions as images.

A high-pass result (signed, such as Sobel x, or positive, such as the
gradient strength) is scaled by its largest magnitude to the full range
of an 8- or 16-bit picture; the gradient's direction becomes a colour
(hue = angle, brightness = strength).  A low-pass filter keeps the
input's range, so its input must fit the output format first
(:func:`fit_low_pass`).
"""

from __future__ import annotations

import math

import numpy as np

from .images import FORMATS, CLIError


def _full(depth16: bool) -> int:
    """The largest value of an 8- or 16-bit picture."""
    return 65535 if depth16 else 255


def largest_magnitude(values: np.ndarray) -> float:
    """The largest magnitude of a high-pass result: its picture's full scale."""
    return float(np.max(np.abs(values))) if values.size else 0.0


def to_picture(values: np.ndarray, kind: str, depth16: bool, invert: bool, peak: float) -> np.ndarray:
    """A high-pass result as an 8- or 16-bit picture, `peak` at full scale."""
    v = values.astype(np.float64)
    if kind == "signed":
        unit = 0.5 + v / (2 * peak) if peak > 0 else np.full(v.shape, 0.5)
    else:
        unit = v / peak if peak > 0 else np.zeros(v.shape)
    if invert:
        unit = 1.0 - unit
    full = _full(depth16)
    return np.clip(np.rint(unit * full), 0, full).astype(np.uint16 if depth16 else np.uint8)


def direction_picture(strength: np.ndarray, direction: np.ndarray, peak: float) -> np.ndarray:
    """Hue = angle, saturation 1, value = strength / `peak` (the largest
    strength), as 8-bit RGB."""
    h = (direction.astype(np.float64) + np.pi) / (2 * np.pi) * 6.0
    v = strength / peak if peak > 0 else np.zeros(strength.shape)
    i = np.floor(h).astype(int) % 6
    f = h - np.floor(h)
    p, q, t = np.zeros_like(v), v * (1 - f), v * f
    r = np.choose(i, [v, q, p, p, t, v])
    g = np.choose(i, [t, v, v, q, p, p])
    b = np.choose(i, [p, p, t, v, v, q])
    return np.clip(np.rint(np.stack([r, g, b], -1) * 255), 0, 255).astype(np.uint8)


def check_peak(src: str, peak: float) -> None:
    """A result can be scaled to a picture only by a finite largest magnitude."""
    if not math.isfinite(peak):
        raise CLIError(f"{src}: the result has NaN or infinite values (so has the input), "
                       "which cannot be scaled to a picture; --raw writes them as they are")


#: outputs that hold any integer or float values as they are
DEEP_FORMATS = (".tif", ".tiff", ".npy", ".zarr")


def fit_low_pass(src: str, image: np.ndarray, ext: str) -> np.ndarray:
    """The input of a range-keeping filter whose picture goes to `ext`.

    uint8 and uint16 are written as they are; TIFF and .npy hold every
    type.  PNG, JPEG and BMP take integers of 0..255 (as 8 bit) or
    0..65535 (as 16 bit, as uint16 images) and floats in [0, 1]
    (scikit-image's convention, shown as 0..255); anything else would be
    clipped, so it is refused before any filtering.
    """
    if image.dtype in (np.uint8, np.uint16) or ext in DEEP_FORMATS or image.dtype.kind not in "iuf":
        return image
    fmt = FORMATS[ext]
    lo, hi = (np.min(image), np.max(image)) if image.size else (0, 0)
    keep = "; write .tif (or .npy with --raw) to keep them"
    if image.dtype.kind == "f":
        if not (math.isfinite(lo) and math.isfinite(hi) and 0 <= lo and hi <= 1):
            raise CLIError(f"{src}: float values from {float(lo):g} to {float(hi):g} do not fit "
                           f"an 8-bit {fmt} (which shows [0, 1] as 0..255){keep}")
        return image
    lo, hi = int(lo), int(hi)
    if 0 <= lo and hi <= 255:
        return image.astype(np.uint8)
    if 0 <= lo and hi <= 65535:
        return image.astype(np.uint16)
    raise CLIError(f"{src}: {image.dtype} values from {lo} to {hi} do not fit "
                   f"{'a 16-bit' if fmt == 'PNG' else 'an 8-bit'} {fmt}{keep}")

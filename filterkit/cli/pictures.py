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
from typing import Any, Callable, List, Tuple

import numpy as np

from .images import FORMATS, CLIError


def _full(depth16: bool) -> int:
    """The largest value of an 8- or 16-bit picture."""
    return 65535 if depth16 else 255


#: values per band of rows that :func:`to_picture` scales at a time: its
#: float64 scratch (256 KiB) stays in the second-level cache, where whole
#: float64 temporaries of a large image cost 5 times the filter itself
BAND_VALUES = 1 << 15
#: images of fewer values are done on one thread
SMALL_VALUES = 1 << 20


def _parts(values: np.ndarray) -> List[Tuple[int, int]]:
    """The rows of `values` cut into one run per thread (filterkit's thread
    count: ``--threads``), one run for a small image."""
    import filterkit

    n = values.shape[0] if values.ndim else 1
    threads = min(filterkit.get_num_threads(), n) if values.size >= SMALL_VALUES else 1
    cuts = [n * i // max(threads, 1) for i in range(max(threads, 1) + 1)]
    return [(a, b) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]


def _in_threads(fn: Callable[[int, int], Any], parts: List[Tuple[int, int]]) -> List[Any]:
    """fn(a, b) for every part, the parts on threads of their own (numpy
    releases the GIL in its loops)."""
    if len(parts) == 1:
        return [fn(*parts[0])]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(parts)) as pool:
        return list(pool.map(lambda p: fn(*p), parts))


def largest_magnitude(values: np.ndarray) -> float:
    """The largest magnitude of a high-pass result: its picture's full
    scale, max |v| (NaN when `values` holds a NaN), without a temporary
    array of |v|."""
    if not values.size:
        return 0.0
    if values.ndim == 0:
        values = values.reshape(1)

    def extremes(a: int, b: int) -> Tuple[float, float]:
        part = values[a:b]
        return float(np.max(part)), float(np.min(part))

    found = _in_threads(extremes, _parts(values))
    ends = [v for pair in found for v in pair]
    if any(math.isnan(v) for v in ends):
        return math.nan
    return max(abs(v) for v in ends)


def to_picture(values: np.ndarray, kind: str, depth16: bool, invert: bool, peak: float) -> np.ndarray:
    """A high-pass result as an 8- or 16-bit picture, `peak` at full scale:
    round(full * (1/2 + v / (2 peak))) for signed results, round(full * v /
    peak) for positive ones (1 - that inverted), clipped to 0..full, in
    float64.

    Computed a band of rows at a time in a small float64 scratch, the
    bands shared among filterkit's threads: the same operations, in the
    same order, as on whole float64 temporaries, so the same picture,
    without its five image-sized temporaries."""
    full = _full(depth16)
    out = np.empty(values.shape, np.uint16 if depth16 else np.uint8)
    if not values.size:
        return out
    if values.ndim == 0:
        return to_picture(values.reshape(1), kind, depth16, invert, peak).reshape(())
    row = max(int(np.prod(values.shape[1:], dtype=np.int64)), 1)
    step = max(1, BAND_VALUES // row)

    def scale(a: int, b: int) -> None:
        scratch = np.empty((min(step, b - a),) + values.shape[1:], np.float64)
        for r in range(a, b, step):
            v = scratch[:min(step, b - r)]
            if peak > 0:
                np.copyto(v, values[r:r + len(v)], casting="unsafe")
                if kind == "signed":
                    np.divide(v, 2 * peak, out=v)
                    np.add(0.5, v, out=v)
                else:
                    np.divide(v, peak, out=v)
            else:
                v.fill(0.5 if kind == "signed" else 0.0)
            if invert:
                np.subtract(1.0, v, out=v)
            np.multiply(v, full, out=v)
            np.rint(v, out=v)
            np.clip(v, 0, full, out=v)
            np.copyto(out[r:r + len(v)], v, casting="unsafe")

    _in_threads(scale, _parts(values))
    return out


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

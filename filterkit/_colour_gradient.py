"""The colour gradient (Di Zenzo): the structure tensor of every channel's
Sobel derivatives, combined per pixel."""

from __future__ import annotations

from typing import Any, Callable, Optional, Tuple

import numpy as np

from . import _native, masks
from ._convolve import convolve
from ._job import resolve_output, store
from ._threads import cpu_cap, get_num_threads
from ._validate import check_mode, fail, is_double


def _sobel(image: np.ndarray, which: str, **kwargs: Any) -> np.ndarray:
    """f_x or f_y of every channel, as :func:`filterkit.sobel_x` and
    :func:`filterkit.sobel_y` compute them (two 1-D passes)."""
    mask = masks.sobel_x() if which == "x" else masks.sobel_y()
    return convolve(image, mask, method="separable", **kwargs)


# rows of the image per block of the colour gradient: about this many pixels
_STRIP_PIXELS = 1 << 17


def colour_gradient(image: np.ndarray, axis: int, convert: Callable[[np.ndarray], np.ndarray], *,
                    mode: Any, cval: Any, output: Any,
                    direction: bool) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """The Di Zenzo colour gradient of ``convert(rows)`` (channels last).

    Per pixel the structure tensor G = Σ_c ∇f_c ∇f_cᵀ of the channels' Sobel
    derivatives: strength = sqrt(λ_max(G) / C), the root mean square over
    the C channels of the derivative along the direction of greatest
    change (so C equal channels give the grey strength); direction = the
    angle of λ_max's eigenvector in (-π, π], its sign agreeing with Σ_c ∇f_c
    (so equal channels give the grey direction).

    The image is processed in blocks of rows (with a row of context above
    and below), so the converted channels and their derivatives exist a
    block at a time: memory stays bounded and in cache.
    """
    src = np.moveaxis(image, axis, -1)
    H, W = src.shape[:2]
    name = check_mode(mode, cval)[0]
    if name == "valid" and (H < 3 or W < 3):  # let the filter say what is wrong
        _sobel(image, "x", mode=mode, cval=cval, channel_axis=axis)
    Ho, Wo = (H - 2, W - 2) if name == "valid" else (H, W)
    want64 = image.dtype == np.float64
    outs = output if isinstance(output, tuple) else (output, output)
    for o in outs:
        if isinstance(o, np.ndarray):
            want64 = want64 or is_double(o.dtype)
        elif o is not None:
            try:
                want64 = want64 or is_double(o)
            except TypeError:
                pass
    compute = np.dtype(np.float64 if want64 else np.float32)
    strength = np.empty((Ho, Wo), dtype=compute)
    theta = np.empty((Ho, Wo), dtype=compute) if direction else None
    # 'wrap' needs the far rows at the top and bottom: one block
    rows = Ho if name == "wrap" else max(8, _STRIP_PIXELS // max(W, 1))
    for y0 in range(0, Ho, rows):
        y1 = min(y0 + rows, Ho)
        if name == "valid":
            s0, s1, keep = y0, y1 + 2, 0          # output row y is source row y + 1
        else:
            s0, s1 = max(y0 - 1, 0), min(y1 + 1, H)
            keep = y0 - s0                        # the block's first row has no row above
        chans = convert(src[s0:s1])
        C = chans.shape[-1]
        hb = s1 - s0 - (2 if name == "valid" else 0)
        fx = np.empty((C, hb, Wo), dtype=compute)
        fy = np.empty((C, hb, Wo), dtype=compute)
        _sobel(chans, "x", mode=mode, cval=cval, channel_axis=-1, output=np.moveaxis(fx, 0, -1))
        _sobel(chans, "y", mode=mode, cval=cval, channel_axis=-1, output=np.moveaxis(fy, 0, -1))
        n = y1 - y0
        _native.structure_tensor(fx[:, keep:keep + n], fy[:, keep:keep + n], strength[y0:y1],
                                 None if theta is None else theta[y0:y1],
                                 _native.Run(compute == np.float64, get_num_threads(), cpu_cap()))
    name0 = "output[0]" if isinstance(output, tuple) else "output"
    s_target = resolve_output(outs[0], (Ho, Wo), compute, name0)
    s_result = store(strength, s_target) if s_target is not strength else strength
    if theta is None:
        return s_result, None
    name1 = "output[1]" if isinstance(output, tuple) else "output"
    d_target = resolve_output(outs[1], (Ho, Wo), compute, name1)
    if d_target.dtype.kind != "f":
        raise fail("output", "a float dtype for the direction (radians)", f"dtype {d_target.dtype}", TypeError)
    return s_result, store(theta, d_target)

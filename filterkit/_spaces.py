"""Filtering colour images in a colour space: the ``space=`` of every filter,
given by one decorator, :func:`colour_space`.

- Low-pass filters (mean, gaussian) run per channel in ``'rgb'``,
  ``'lab'`` or ``'luv'`` and convert back to sRGB in the input's dtype (or
  `output`'s); ``'gray'`` filters the luma. Alpha passes through unchanged.
- High-pass filters take the channels in the space's units: the image's own
  values for ``'rgb'`` (0-255 for uint8), L/a/b or L/u/v for ``'lab'`` and
  ``'luv'``, and for ``'gray'`` the luma in the input's units (luma × 255
  for uint8), so that a grey image gives the same result however it is
  passed. ``sobel`` and ``gradient`` combine the channels into the colour
  gradient (:func:`colour_gradient`); the others filter each channel.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Optional, Tuple, TypeVar

import numpy as np

from . import color
from ._job import OutputArg, resolve_output
from ._job import store as _store
from ._validate import check_image, describe, fail

F = TypeVar("F", bound=Callable[..., Any])

SPACE_NAMES = ", ".join(repr(s) for s in color.SPACES)


def check_space(space: Any, channel_axis: Any) -> Optional[str]:
    """None, or the lower-case name of a colour space for a colour image."""
    if space is None:
        return None
    if not isinstance(space, str) or space.strip().lower() not in color.SPACES:
        raise fail("space", f"None or one of {SPACE_NAMES}", describe(space),
                   TypeError if not isinstance(space, str) else ValueError)
    if channel_axis is None:
        raise fail("space", "None for an image without channel_axis (a colour space needs "
                   "a colour image: give channel_axis)", repr(space))
    return space.strip().lower()


def _colour_image(image: Any, channel_axis: int) -> Tuple[np.ndarray, int, bool]:
    """A 3-D RGB or RGBA image (float16 as float32), its channel axis and
    whether it has alpha."""
    arr, axis, alpha = color.check_colour_image(image, channel_axis, "rgb2lab")
    if arr.ndim != 3:
        raise fail("image", "3-D (two spatial axes and channel_axis) for a colour space",
                   f"{arr.ndim}-D with shape {arr.shape}")
    return arr, axis, alpha


def _take(arr: np.ndarray, axis: int, channels: slice) -> np.ndarray:
    index: list = [slice(None)] * arr.ndim
    index[axis] = channels
    return arr[tuple(index)]


def in_range_max(dtype: np.dtype) -> float:
    """What 1.0 is in the image's units: the dtype's maximum for integers."""
    return float(np.iinfo(dtype).max) if dtype.kind in "ui" else 1.0


def colour_space(kind: str) -> Callable[[F], F]:
    """Give a filter ``space=``: with None it runs as it is; with a colour
    space it runs on the image's channels in that space.

    `kind` ``'lowpass'`` (smoothing: the result is converted back to sRGB
    in the input's dtype, alpha passes through, ``'gray'`` filters the
    luma) or ``'highpass'`` (derivatives: the result stays in the space's
    units, see :func:`highpass_channels`).  The decorated function takes
    `image` first and `channel_axis`, `output` and `space` by keyword; it
    never sees `space`."""
    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(image: Any, *args: Any, space: Any = None, channel_axis: Any = None,
                    output: Any = None, **kwargs: Any) -> Any:
            name = check_space(space, channel_axis)
            if name is None:
                return fn(image, *args, channel_axis=channel_axis, output=output, **kwargs)
            if kind == "lowpass":
                return lowpass(fn, image, name, channel_axis, output, *args, **kwargs)
            chans, axis = highpass_channels(image, name, channel_axis)
            return fn(chans, *args, channel_axis=axis, output=output, **kwargs)
        return wrapper  # type: ignore[return-value]
    return decorate


def lowpass(fn: Callable[..., np.ndarray], image: Any, space: str, channel_axis: int,
            output: OutputArg, *args: Any, **kwargs: Any) -> np.ndarray:
    """``fn(image, *args, channel_axis=, output=, **kwargs)`` run in
    `space`; the result in sRGB (or luma for 'gray') with the input's dtype
    by default."""
    arr, axis, alpha = _colour_image(image, channel_axis)
    if space == "gray":
        luma = color.rgb_to_gray(arr, channel_axis=axis)
        filtered = fn(luma, *args, channel_axis=None, output=None, **kwargs)
        target = resolve_output(output, filtered.shape, arr.dtype)
        scale = in_range_max(target.dtype) if target.dtype.kind in "ui" else 1.0
        return _store(filtered * scale, target)
    colours_in = _take(arr, axis, slice(0, 3))
    if space == "rgb":
        filtered = fn(colours_in, *args, channel_axis=axis, output=None, **kwargs)
    else:
        to_space = color.rgb_to_lab if space == "lab" else color.rgb_to_luv
        from_space = color.lab_to_rgb if space == "lab" else color.luv_to_rgb
        filtered = fn(to_space(colours_in, channel_axis=axis), *args, channel_axis=axis, output=None,
                      **kwargs)
    out_spatial = tuple(n for i, n in enumerate(filtered.shape) if i != axis)
    shape = list(out_spatial)
    shape.insert(axis, arr.shape[axis])
    target = resolve_output(output, tuple(shape), arr.dtype)
    colours_out = _take(target, axis, slice(0, 3))
    if space == "rgb":
        _store(filtered, colours_out)
    elif target.dtype.kind in "ui" and arr.dtype.kind == "f":
        # float input is in [0, 1]: an integer output keeps those values
        _store(from_space(filtered, channel_axis=axis), colours_out)
    else:
        from_space(filtered, channel_axis=axis, output=colours_out)
    if alpha:
        a_in = _take(arr, axis, slice(3, 4))[_valid_crop(arr.shape, axis, out_spatial)]
        np.copyto(_take(target, axis, slice(3, 4)), a_in, casting="unsafe")
    return target


def _valid_crop(shape: Tuple[int, ...], axis: int, out_spatial: Tuple[int, ...]) -> Tuple[slice, ...]:
    spatial_axes = [i for i in range(len(shape)) if i != axis]
    index = [slice(None)] * len(shape)
    for i, n in zip(spatial_axes, out_spatial):
        lo = (shape[i] - n) // 2
        index[i] = slice(lo, lo + n)
    return tuple(index)


def highpass_channels(image: Any, space: Optional[str],
                      channel_axis: int) -> Tuple[np.ndarray, Optional[int]]:
    """The channels a high-pass filter sees, in the space's units, and their axis.

    None: the image's channels as they are (any number); 'rgb': its colour
    channels (alpha dropped); 'lab'/'luv': converted; 'gray': the luma in
    the input's units, a 2-D image (axis None).
    """
    if space is None:
        arr = np.asarray(image)
        return arr, channel_axis
    arr, axis, alpha = _colour_image(image, channel_axis)
    colours = _take(arr, axis, slice(0, 3))
    if space == "rgb":
        return colours, axis
    if space == "gray":
        luma = color.rgb_to_gray(colours, channel_axis=axis)
        if arr.dtype.kind in "ui":
            luma *= np.float32(in_range_max(arr.dtype))
        return luma, None
    to_space = color.rgb_to_lab if space == "lab" else color.rgb_to_luv
    return to_space(colours, channel_axis=axis), axis


def gradient_channels(image: Any, space: Optional[str],
                      channel_axis: int) -> Tuple[np.ndarray, int, Callable[[np.ndarray], np.ndarray]]:
    """For the colour gradient: the image, its channel axis, and the function
    that turns a block of its rows (channels last) into the channels the
    gradient combines (no conversion of the whole image at once)."""
    if space is None:
        arr, axis = check_image(image, channel_axis)
        assert axis is not None
        return arr, axis, lambda block: block
    arr, axis, _ = _colour_image(image, channel_axis)
    if space == "rgb":
        return arr, axis, lambda block: block[..., :3]
    to_space = color.rgb_to_lab if space == "lab" else color.rgb_to_luv
    return arr, axis, lambda block: to_space(block[..., :3])

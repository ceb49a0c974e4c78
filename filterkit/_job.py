"""One filtering call's image, geometry and outputs.

Every filter (convolve, correlate, mean, gradient, ...) goes through
:class:`Job`: it validates the image, the border mode and the outputs,
prepares arrays the core can read and write, hands the image to a method
(interleaved channels as one array of rows, see :meth:`Job.run`, or one
channel plane at a time) and copies back where an output could not be
written directly.
:func:`store` writes a float result into any output with the core's
rounding and saturation.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from ._native import Border, Run, copy
from ._threads import get_num_threads, cpu_cap
from ._validate import (
    DTYPE_CODES,
    MODE_CODES,
    SUPPORTED_DTYPES,
    check_image,
    check_mode,
    check_output_dtype,
    fail,
    is_double,
    native,
)

OutputArg = Union[None, np.ndarray, type, np.dtype, str]


def _spatial_shape(shape: Tuple[int, ...], axis: Optional[int]) -> Tuple[int, int]:
    rest = [n for i, n in enumerate(shape) if i != axis]
    return rest[0], rest[1]


def _with_channels(hw: Tuple[int, int], shape: Tuple[int, ...], axis: Optional[int]) -> Tuple[int, ...]:
    if axis is None:
        return hw
    out = list(hw)
    out.insert(axis, shape[axis])
    return tuple(out)


def resolve_output(output: OutputArg, shape: Tuple[int, ...], default: np.dtype,
                   name: str = "output") -> np.ndarray:
    """An array to write the result into: `output` itself, or a new one."""
    if output is None:
        return np.empty(shape, dtype=default)
    if isinstance(output, np.ndarray):
        if output.shape != shape:
            raise fail(name, f"an array of shape {shape} (the result's shape)",
                       f"shape {output.shape}")
        if output.dtype.newbyteorder("=") not in DTYPE_CODES:
            raise fail(name, f"an array of one of the dtypes {SUPPORTED_DTYPES}",
                       f"dtype {output.dtype}", TypeError)
        if not output.flags.writeable:
            raise fail(name, "a writeable array", "a read-only array")
        return output
    return np.empty(shape, dtype=check_output_dtype(output))


def store(result: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Copy a float result into `target` with the core's storers, as every
    method's own output is written: integer targets are rounded half to
    even and saturated (NaN becomes 0; 1e300 into int64 is its maximum,
    with no cast warning), float targets are cast.  Any shape, strides and
    byte order; `result` may overlap `target`."""
    result = np.asarray(result)
    if result.shape != target.shape:
        result = np.broadcast_to(result, target.shape)
    if not (result.dtype.kind == "f" and result.dtype.itemsize in (4, 8)):
        result = result.astype(np.float64)
    result = native(result)
    if np.may_share_memory(result, target):
        result = result.copy()
    dst = target if target.dtype.isnative and target.flags.aligned else \
        np.empty(target.shape, target.dtype.newbyteorder("="))
    run = Run(result.dtype == np.float64,
              get_num_threads() if result.size >= SMALL_PLANE else 1, cpu_cap())
    for src2, dst2 in zip(_planes_of(result), _planes_of(dst)):
        copy(src2, dst2, run)
    if dst is not target:
        np.copyto(target, dst, casting="unsafe")
    return target


def _planes_of(a: np.ndarray) -> Iterator[np.ndarray]:
    """`a` as 2-D views: itself, a row for fewer axes, or the planes of its
    two longest axes (a loop over the shortest ones: the channels)."""
    if a.ndim < 2:
        yield a.reshape((1, -1) if a.ndim else (1, 1))
        return
    if a.ndim == 2:
        yield a
        return
    keep = sorted(range(a.ndim), key=lambda i: a.shape[i])[-2:]
    keep.sort()
    moved = np.moveaxis(a, keep, [-2, -1])
    for index in np.ndindex(*moved.shape[:-2]):
        yield moved[index]


#: output pixels per plane below which a call runs on one thread
SMALL_PLANE = 128 * 128

#: the most interleaved channels filtered in one pass (more channels make
#: rows too long to stay in the caches: they go plane by plane)
MAX_LANES = 8


def _rows_of_pixels(a: np.ndarray, axis: int) -> Optional[np.ndarray]:
    """A 3-D array with channels on `axis` as a 2-D array of rows of
    interleaved pixels, (H, W * C), when its memory is laid out so (the
    pixel stride C times the channel stride); else None."""
    C = a.shape[axis]
    ya, xa = [i for i in range(3) if i != axis]
    if C > MAX_LANES or a.strides[xa] != C * a.strides[axis]:
        return None
    return np.lib.stride_tricks.as_strided(
        a, (a.shape[ya], a.shape[xa] * C), (a.strides[ya], a.strides[axis]),
        writeable=a.flags.writeable)


class Job:
    """One filtering call: validated image, geometry and outputs.

    Parameters
    ----------
    image, mode, cval, channel_axis
        As the public functions take them.
    mask_shape : (int, int)
        The (odd) extent of the neighbourhood; with ``mode='valid'`` the
        result shrinks by ``mask_shape - 1``.
    """

    def __init__(self, image: Any, mask_shape: Tuple[int, int], *, mode: Any, cval: Any,
                 channel_axis: Any) -> None:
        arr, axis = check_image(image, channel_axis)
        self.mode, self.cval = check_mode(mode, cval)
        H, W = _spatial_shape(arr.shape, axis)
        kh, kw = mask_shape
        if self.mode == "valid":
            hw = (H - kh + 1, W - kw + 1)
            if hw[0] < 1 or hw[1] < 1:
                raise fail("mask", f"no larger than the image with mode='valid' (image {H}x{W})",
                           f"shape {tuple(mask_shape)}")
            self.top, self.left = 0, 0
        else:
            hw = (H, W)
            self.top, self.left = kh // 2, kw // 2
        self.kh, self.kw = kh, kw
        self.hw = hw  # the output's height and width
        self.axis = axis
        self.shape = _with_channels(hw, arr.shape, axis)
        self.input_dtype = arr.dtype
        if not arr.flags.aligned:  # (check_image made it native)
            arr = arr.copy()
        self.arr = arr
        self.mode_code = MODE_CODES[self.mode] if self.mode != "valid" else 0
        # a plane of fewer than SMALL_PLANE pixels takes microseconds: one
        # thread (waking a second costs as much, and much more when the other
        # core is busy); results are the same for every thread count
        threads = get_num_threads()  # validates $FILTERKIT_NUM_THREADS in any case
        self.nthreads = threads if hw[0] * hw[1] >= SMALL_PLANE else 1
        self.cpu_cap = cpu_cap()

    def default_dtype(self) -> np.dtype:
        """float64 for float64 images, float32 otherwise."""
        return np.dtype(np.float64 if is_double(self.input_dtype) else np.float32)

    def output(self, output: OutputArg, name: str = "output") -> np.ndarray:
        return resolve_output(output, self.shape, self.default_dtype(), name)

    def in_double(self, *targets: np.ndarray) -> bool:
        """Compute in float64 for a float64 image or any float64 output."""
        return is_double(self.input_dtype) or any(is_double(t.dtype) for t in targets)

    @property
    def border(self) -> Border:
        """Where output pixel (0, 0) reads, and the border rule."""
        return Border(self.top, self.left, self.mode_code, self.cval)

    @property
    def channels(self) -> int:
        """The number of channels (1 for a 2-D image)."""
        return 1 if self.axis is None else self.arr.shape[self.axis]

    def settings(self, double: bool) -> Run:
        """How the core runs this job in the given precision."""
        return Run(double, self.nthreads, self.cpu_cap)

    def run(self, targets: Sequence[np.ndarray],
            call: Callable[[np.ndarray, List[np.ndarray], Border], None],
            lanes: bool = False, planes_out: bool = False) -> None:
        """Call ``call(src2d, dsts, border)`` on the image.

        With `lanes` (the core's correlation, separable, Sobel and box
        calls), an image whose channels are interleaved in memory (pixel
        stride = channels x channel stride, as in an (H, W, C) C-order
        array) goes in one call, as rows of pixels of ``border.channels``
        elements; otherwise once per channel plane (``dsts`` 2-D).  In the
        one call a target laid out like the image is a 2-D array of rows
        too; with `planes_out` (calls whose core job scatters channels) a
        target of any other layout goes as an (H, W, C) view; else it is
        computed into a temporary and copied.  So are targets the core
        cannot write at all (overlapping the image, byte-swapped,
        misaligned).
        """
        rows = None
        if lanes and self.axis is not None and self.channels > 1:
            rows = _rows_of_pixels(self.arr, self.axis)
        if rows is not None:
            self._run_rows(rows, targets, call, planes_out)
            return
        dsts = []
        for t in targets:
            direct = t.dtype.isnative and t.flags.aligned and not np.may_share_memory(t, self.arr)
            dsts.append(t if direct else np.empty(t.shape, t.dtype.newbyteorder("=")))
        border = self.border
        for index in self._planes():
            call(self.arr[index], [d[index] for d in dsts], border)
        for t, d in zip(targets, dsts):
            if d is not t:
                np.copyto(t, d, casting="unsafe")

    def _run_rows(self, rows: np.ndarray, targets: Sequence[np.ndarray],
                  call: Callable[[np.ndarray, List[np.ndarray], Border], None],
                  planes_out: bool) -> None:
        """One call on rows of interleaved pixels (see :meth:`run`)."""
        assert self.axis is not None
        C = self.channels
        border = self.border._replace(channels=C)
        dsts, copies = [], []
        for t in targets:
            view = None
            if t.dtype.isnative and t.flags.aligned and not np.may_share_memory(t, self.arr):
                view = _rows_of_pixels(t, self.axis)
                if view is None and planes_out:
                    view = np.moveaxis(t, self.axis, -1)
            if view is None:
                tmp = np.empty(self.hw + (C,), t.dtype.newbyteorder("="))
                copies.append((t, tmp))
                view = tmp.reshape(self.hw[0], -1)
            dsts.append(view)
        call(rows, dsts, border)
        for t, tmp in copies:
            np.copyto(np.moveaxis(t, self.axis, -1), tmp, casting="unsafe")

    def _planes(self) -> Iterator[Tuple[Any, ...]]:
        if self.axis is None:
            yield (slice(None), slice(None))
            return
        for c in range(self.arr.shape[self.axis]):
            index: List[Any] = [slice(None)] * 3
            index[self.axis] = c
            yield tuple(index)

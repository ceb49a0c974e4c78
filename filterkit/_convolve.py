"""2-D convolution and correlation: the public entry points of the core."""

from __future__ import annotations

import functools
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from . import _native
from . import _choose
from ._choose import AUTO_THREADS, SPATIAL, cheapest_cached, fixed_kernel, pick, separable_may_win
from ._engine import Job, OutputArg, store
from ._border import extend
from ._fft import NonFinite, backend_setting, correlate_tiled, correlate_valid
from ._spaces import check_space, lowpass
from ._validate import check_mask, describe, fail
from .masks import separate

METHODS = ("auto", "direct", "separable", "box", "fft", "overlap_save")
_METHOD_NAMES = ", ".join(repr(m) for m in METHODS)


def _check_method(method: Any) -> str:
    if not isinstance(method, str):
        raise fail("method", f"one of {_METHOD_NAMES}", describe(method), TypeError)
    if method not in METHODS:
        raise fail("method", f"one of {_METHOD_NAMES}", repr(method))
    return method


_UNKNOWN = object()


class _MaskTraits:
    """A checked mask (float64, read-only) and what ``auto`` asks of it:
    whether every weight is equal, how many are not zero, (computed on
    first use) its rank-1 factors, and ``auto``'s last choices for it."""

    __slots__ = ("mask", "weights", "constant", "taps", "fixed", "_factors", "choices")

    def __init__(self, mask: Any) -> None:
        weights = check_mask(mask)
        weights.flags.writeable = False
        self.mask = mask  # as given: the rank test's tolerance follows its dtype
        self.weights = weights
        self.constant = bool(np.all(weights == weights.flat[0]))
        self.taps = int(np.count_nonzero(weights))
        self.fixed = fixed_kernel(weights)  # a 3 x 3 mask the core has a kernel for
        self._factors: Any = _UNKNOWN
        #: (plane shape, double) -> (constants, FFT backend or
        #: None, method, costs): see :func:`_auto`
        self.choices: Dict[Any, Tuple[Any, Optional[str], str, Dict[str, float]]] = {}

    @property
    def factors(self) -> Optional[Tuple[np.ndarray, np.ndarray]]:
        """(column, row) whose outer product is the mask, or None (rank > 1)."""
        if self._factors is _UNKNOWN:
            self._factors = separate(self.mask)
        return self._factors


@functools.lru_cache(maxsize=64)
def _traits_key(data: bytes, dtype: str, shape: Tuple[int, ...]) -> _MaskTraits:
    return _MaskTraits(np.frombuffer(data, dtype=np.dtype(dtype)).reshape(shape))


def _traits(mask: Any) -> _MaskTraits:
    """The mask checked, remembered for the last masks by their bytes: a
    filter called again with one mask (on many images, tiles or chunks)
    skips the checks, the constant test, the tap count (about 6 us of a
    60 us call at 256 x 256) and the rank test (an SVD)."""
    m = np.asarray(mask)
    if m.size > 4096 or m.dtype.kind not in "uif" or m.ndim != 2:
        return _MaskTraits(mask)  # refused by check_mask, or too large to key on
    return _traits_key(m.tobytes(), m.dtype.str, m.shape)


def _auto(traits: _MaskTraits, hw: Tuple[int, int], double: bool) -> Tuple[str, Dict[str, float]]:
    """``auto``'s method for this mask on an `hw` plane, and the estimates.

    Decided by one-thread costs (:data:`AUTO_THREADS`): the spatial and the
    FFT methods gain differently from more threads, and a choice that
    followed the thread count would give results that differ in the last
    bits between thread counts (the README promises the same bits).

    Remembered on the mask's traits, so that a call with a mask and a shape
    seen before decides by one dictionary lookup: the rank test's
    precondition, the cost model's key and ``$FILTERKIT_FFT`` cost 15 us
    with cold caches (10 % of a 256 x 256 box filter) when computed.  The
    choice is taken again when the constants change (``calibrate``) and,
    if the FFT methods were in the running, when the FFT backend does."""
    key = (hw, double)
    hit = traits.choices.get(key)
    if (hit is not None and hit[0] is _choose._loaded
            and (hit[1] is None or hit[1] == backend_setting())):
        return hit[2], hit[3]
    kh, kw = traits.weights.shape
    separable = (kh > 1 and kw > 1
                 and separable_may_win((kh, kw), traits.taps, double, traits.fixed)
                 and traits.factors is not None)
    method, costs = cheapest_cached(hw, (kh, kw), traits.taps, double, AUTO_THREADS, separable,
                                    traits.constant, fixed=traits.fixed)
    spectral = "fft" in costs or "overlap_save" in costs
    if len(traits.choices) >= 32:  # many image shapes (tiles): keep the recent ones
        traits.choices.clear()
    traits.choices[key] = (_choose._loaded, backend_setting() if spectral else None,
                           method, costs)
    return method, costs


def _filter2d(image: Any, mask: Any, *, flip: bool, mode: Any, cval: Any,
              output: OutputArg, method: Any, channel_axis: Any) -> np.ndarray:
    traits = _traits(mask)
    weights = traits.weights
    job = Job(image, weights.shape, mode=mode, cval=cval, channel_axis=channel_axis)
    method = _check_method(method)
    kh, kw = weights.shape
    target = job.output(output)
    double = job.double(target)
    auto = method == "auto"
    if auto:
        method, costs = _auto(traits, job.hw, double)
    elif method == "separable" and traits.factors is None:
        raise fail("mask", "rank 1 (an outer product of a column and a row) with "
                   "method='separable'", f"a {kh}x{kw} mask of higher rank")
    elif method == "box" and not traits.constant:
        raise fail("method", "'box' only for a constant mask (every weight equal); "
                   "use 'auto', 'direct' or 'fft'", f"'box' with a {kh}x{kw} mask of unequal weights")
    if flip:
        # true convolution: f'(x, y) = sum_ij f(x - i, y - j) g(i, j) is the
        # correlation with the mask mirrored horizontally and vertically
        weights = weights[::-1, ::-1]
    if method in ("fft", "overlap_save"):
        try:
            return _spectral(job, weights, target, double, tiled=method == "overlap_save", finite=auto)
        except NonFinite:
            # a NaN or inf in the image would spread over a whole FFT block:
            # auto stays spatial (the target is overwritten whole; one that
            # overlaps the image was computed into a temporary, see Job.run,
            # and is still untouched)
            method = pick({m: c for m, c in costs.items() if m in SPATIAL})[0]
    if method == "box":
        return run_box(job, weights.shape, float(weights.flat[0]), target, double)
    if method == "separable":
        col, row = traits.factors
        return run_rows(job, target, double, factors=(col[::-1], row[::-1]) if flip else (col, row))
    return run_rows(job, target, double, kernel=weights)


def run_rows(job: Job, target: np.ndarray, double: bool, *, kernel: Optional[np.ndarray] = None,
             factors: Optional[Tuple[np.ndarray, np.ndarray]] = None) -> np.ndarray:
    """The correlation with a 2-D `kernel` (direct sum) or with the outer
    product of ``factors = (column, row)`` (a vertical then a horizontal
    1-D pass), written into `target` (rounded and saturated there when
    integer)."""
    cdtype = np.float64 if double else np.float32
    border, run = job.border, job.settings(double)
    if factors is not None:
        col = np.ascontiguousarray(factors[0], dtype=cdtype)
        row = np.ascontiguousarray(factors[1], dtype=cdtype)

        def call(src: np.ndarray, dsts: List[np.ndarray]) -> None:
            _native.correlate_factors(src, dsts[0], col, row, border, run)
    else:
        assert kernel is not None
        k2d = np.ascontiguousarray(kernel, dtype=cdtype)

        def call(src: np.ndarray, dsts: List[np.ndarray]) -> None:
            _native.correlate(src, dsts[0], k2d, border, run)

    job.run([target], call)
    return target


def convolve_factors(image: Any, column: np.ndarray, row: np.ndarray, *, mode: Any, cval: Any,
                     output: OutputArg, channel_axis: Any) -> np.ndarray:
    """The convolution with ``np.outer(column, row)`` as two 1-D passes,
    without building that mask or testing its rank (a Gaussian of sigma
    400 has a 2401 x 2401 mask whose SVD took seconds).  `column` and
    `row` are checked float64 vectors of odd lengths."""
    job = Job(image, (len(column), len(row)), mode=mode, cval=cval, channel_axis=channel_axis)
    target = job.output(output)
    return run_rows(job, target, job.double(target), factors=(column[::-1], row[::-1]))


def _spectral(job: Job, weights: np.ndarray, target: np.ndarray, double: bool,
              tiled: bool, finite: bool = False) -> np.ndarray:
    """The correlation with `weights` by FFT, whole or in tiles; with
    `finite`, :class:`NonFinite` is raised as soon as a transformed block
    shows a NaN or inf in the image (a target that overlaps the image is
    then untouched, any other may be partly written).

    Through :meth:`Job.run` like every method: an output that overlaps the
    image (``output=image[:, :, ::-1]``) is computed into a temporary and
    copied at the end, so no plane reads what another has written."""
    cdtype = np.dtype(np.float64 if double else np.float32)
    kh, kw = weights.shape
    w = np.ascontiguousarray(weights, dtype=cdtype)

    def call(src: np.ndarray, dsts: List[np.ndarray]) -> None:
        dst = dsts[0]
        if tiled:
            straight = dst.dtype == cdtype  # written into the output block by block
            result = correlate_tiled(src.astype(cdtype, copy=False), w, job.nthreads,
                                     mode=job.mode, cval=job.cval, oy=job.oy, ox=job.pl,
                                     out=dst if straight else None, finite=finite)
            if straight:
                return
        else:
            padded = extend(src, job.mode, job.cval, kh, kw, job.oy, job.pl, cdtype)
            result = correlate_valid(padded, w, job.nthreads, finite=finite)
        store(result, dst)

    job.run([target], call)
    return target


def run_box(job: Job, shape: Tuple[int, int], weight: float, target: np.ndarray,
            double: bool) -> np.ndarray:
    """A constant `shape` mask of `weight` (``mean``: 1 / its size): running
    window sums times the weight, straight into the target (rounded and
    saturated there when integer)."""
    border, run = job.border, job.settings(double)

    def call(src: np.ndarray, dsts: List[np.ndarray]) -> None:
        _native.box(src, dsts[0], shape, weight, border, run)

    job.run([target], call)
    return target


def convolve(image: Any, mask: Any, *, mode: str = "reflect", cval: float = 0.0,
             output: OutputArg = None, method: str = "auto",
             channel_axis: Optional[int] = None, space: Optional[str] = None) -> np.ndarray:
    r"""Convolve an image with a mask: true 2-D convolution, mask mirrored.

    .. math:: f'(x, y) = \sum_{i=-r}^{r} \sum_{j=-s}^{s} f(x - i, y - j)\, g(i, j)

    with x the column (to the right), y the row (down), and (i, j) the mask
    coordinates with (0, 0) at the mask's centre.

    Parameters
    ----------
    image : array_like, shape (H, W) or (H, W, C)
        The image: uint8, int8, uint16, int16, uint32, int32, uint64, int64,
        float16, float32 or float64 (bool and complex are refused).  Any
        strides, negative ones and Fortran order included.  It is never
        modified.
    mask : array_like, shape (h, w)
        The filter mask, any real dtype.  Height and width must be odd (1, 3,
        5, ...), not necessarily equal; the centre is at (h // 2, w // 2).  It
        may be larger than the image.  NaN or inf is refused.
    mode : str, optional
        How the image is extended beyond its border (default ``'reflect'``),
        scipy.ndimage's names::

            'constant'  k k k | a b c d | k k k    (k = cval; zero padding)
            'nearest'   a a a | a b c d | d d d
            'reflect'   c b a | a b c d | d c b    (edge pixel repeated)
            'mirror'    d c b | a b c d | c b a    (edge pixel not repeated)
            'wrap'      b c d | a b c d | a b c

        Aliases: 'replicate'/'edge' = 'nearest', 'symmetric' = 'reflect',
        'reflect101'/'reflect_101' = 'mirror' (OpenCV's default),
        'circular' = 'wrap', 'zero'/'zeros' = 'constant' with cval 0.
        ``'valid'`` computes only where the mask lies inside the image: the
        result is (H - h + 1) x (W - w + 1), (h - 1) / 2 rows lost at the top
        and at the bottom, as in the lecture's "values lost at the border".
    cval : float, optional
        The value outside the image with ``mode='constant'`` (default 0).
    output : ndarray or dtype, optional
        An array of the result's shape to write into (it may be the image
        itself), or the dtype of a new result.  By default the result is
        float64 for float64 input and float32 otherwise: it never wraps.
        Integer outputs are rounded half to even and saturated (NaN
        becomes 0).
    method : {'auto', 'direct', 'separable', 'box', 'fft', 'overlap_save'}, optional
        ``'direct'`` sums every non-zero tap; ``'separable'`` runs a rank-1
        mask (mean, Gaussian, Sobel) as a vertical then a horizontal 1-D
        pass; ``'box'`` runs a constant mask as running sums (O(1) per
        pixel); ``'fft'`` multiplies real FFTs of the whole image (extended
        by the border mode, so every mode gives the direct result);
        ``'overlap_save'`` does the same in tiles (overlap-save: bounded memory, and
        faster for images much larger than the mask).  ``'separable'`` and
        ``'box'`` refuse other masks with a ``ValueError``.  ``'auto'``
        (default) takes the cheapest by a cost model calibrated on this
        machine (see :func:`filterkit.choose_method` and
        :func:`filterkit.calibrate`).
    channel_axis : int or None, optional
        None (default) for a 2-D image.  For a 3-D image the axis that holds
        the channels (e.g. -1 for (H, W, C)); each channel is filtered on its
        own.  A 3-D image without `channel_axis` is an error: the channels
        are never guessed from the shape.
    space : {None, 'rgb', 'lab', 'luv', 'gray'}, optional
        For a colour image (RGB or RGBA along `channel_axis`): filter each
        channel in this colour space and convert back to sRGB in the
        input's dtype (``'gray'``: the luma, a 2-D result); alpha passes
        through unchanged.  Meant for smoothing masks; None (default)
        filters every channel as it is.

    Returns
    -------
    ndarray
        The filtered image (`output` itself when it is an array).

    Raises
    ------
    ValueError, TypeError
        For any invalid argument; the message names the parameter, what it
        must be and what was given.
    See Also
    --------
    correlate : the same without mirroring the mask.

    Notes
    -----
    The mask is mirrored horizontally and vertically and then slid over the
    image: ``convolve(f, g) == correlate(f, g[::-1, ::-1])``.  This matches
    ``scipy.ndimage.convolve`` and ``scipy.signal.convolve2d`` (with the same
    border handling); OpenCV's ``cv2.filter2D`` and ``scipy.ndimage.correlate``
    do *not* mirror and match :func:`correlate` instead.  For a symmetric
    mask (mean, Gaussian) the two are the same; for Sobel they differ in sign.

    Arithmetic is float32 for integer, float16 and float32 images and
    float64 for float64 images or a float64 `output`.  int32 and 64-bit
    integer values beyond 2**24 lose precision in float32: pass
    ``output=np.float64`` to compute in float64.  Taps whose weight is
    exactly 0 are skipped (as scipy.ndimage does), so a NaN under a zero
    weight does not spread; with ``'fft'`` or ``'overlap_save'`` a NaN or inf spreads
    over its whole block (``'auto'`` stays spatial for such images);
    ``'box'`` gives NaN (or inf) exactly where the window sees one, as
    ``'direct'`` does: its running sums start afresh where one has left.  The
    FFT methods agree with ``'direct'`` within 1e-4 sum|mask| max|image| in
    float32 and 1e-10 sum|mask| max|image| in float64.  The work runs in C without the GIL, on
    :func:`filterkit.get_num_threads` threads; the result does not depend on
    the thread count.
    Examples
    --------
    A mask whose only weight sits left of the centre, g(-1, 0) = 1, gives
    f'(x, y) = f(x + 1, y): every pixel takes the value of its right
    neighbour (the mirrored mask reaches to the right).

    >>> import numpy as np
    >>> import filterkit
    >>> f = np.arange(25, dtype=np.float32).reshape(5, 5)
    >>> f
    array([[ 0.,  1.,  2.,  3.,  4.],
           [ 5.,  6.,  7.,  8.,  9.],
           [10., 11., 12., 13., 14.],
           [15., 16., 17., 18., 19.],
           [20., 21., 22., 23., 24.]], dtype=float32)
    >>> g = [[0, 0, 0],
    ...      [1, 0, 0],
    ...      [0, 0, 0]]
    >>> filterkit.convolve(f, g, mode="constant")
    array([[ 1.,  2.,  3.,  4.,  0.],
           [ 6.,  7.,  8.,  9.,  0.],
           [11., 12., 13., 14.,  0.],
           [16., 17., 18., 19.,  0.],
           [21., 22., 23., 24.,  0.]], dtype=float32)

    The lecture's Sobel mask for f_x on this ramp (f grows by 1 per column):
    f_x = 8 everywhere inside, and ``mode="valid"`` drops the border ring.

    >>> sobel_x = [[1, 0, -1], [2, 0, -2], [1, 0, -1]]
    >>> filterkit.convolve(f, sobel_x, mode="valid")
    array([[8., 8., 8.],
           [8., 8., 8.],
           [8., 8., 8.]], dtype=float32)
    """
    space = check_space(space, channel_axis)
    if space is not None:
        return lowpass(convolve, image, space, channel_axis, output, mask=mask, mode=mode,
                       cval=cval, method=method)
    return _filter2d(image, mask, flip=True, mode=mode, cval=cval, output=output,
                     method=method, channel_axis=channel_axis)


def correlate(image: Any, mask: Any, *, mode: str = "reflect", cval: float = 0.0,
              output: OutputArg = None, method: str = "auto",
              channel_axis: Optional[int] = None, space: Optional[str] = None) -> np.ndarray:
    r"""Correlate an image with a mask: the mask slides over the image unmirrored.

    .. math:: f'(x, y) = \sum_{i=-r}^{r} \sum_{j=-s}^{s} f(x + i, y + j)\, g(i, j)

    with x the column (to the right), y the row (down), and (i, j) the mask
    coordinates with (0, 0) at the mask's centre.

    Parameters
    ----------
    image : array_like, shape (H, W) or (H, W, C)
        The image: uint8, int8, uint16, int16, uint32, int32, uint64, int64,
        float16, float32 or float64 (bool and complex are refused).  Any
        strides, negative ones and Fortran order included.  It is never
        modified.
    mask : array_like, shape (h, w)
        The filter mask, any real dtype.  Height and width must be odd (1, 3,
        5, ...), not necessarily equal; the centre is at (h // 2, w // 2).  It
        may be larger than the image.  NaN or inf is refused.
    mode : str, optional
        How the image is extended beyond its border (default ``'reflect'``),
        scipy.ndimage's names::

            'constant'  k k k | a b c d | k k k    (k = cval; zero padding)
            'nearest'   a a a | a b c d | d d d
            'reflect'   c b a | a b c d | d c b    (edge pixel repeated)
            'mirror'    d c b | a b c d | c b a    (edge pixel not repeated)
            'wrap'      b c d | a b c d | a b c

        Aliases: 'replicate'/'edge' = 'nearest', 'symmetric' = 'reflect',
        'reflect101'/'reflect_101' = 'mirror' (OpenCV's default),
        'circular' = 'wrap', 'zero'/'zeros' = 'constant' with cval 0.
        ``'valid'`` computes only where the mask lies inside the image: the
        result is (H - h + 1) x (W - w + 1), (h - 1) / 2 rows lost at the top
        and at the bottom, as in the lecture's "values lost at the border".
    cval : float, optional
        The value outside the image with ``mode='constant'`` (default 0).
    output : ndarray or dtype, optional
        An array of the result's shape to write into (it may be the image
        itself), or the dtype of a new result.  By default the result is
        float64 for float64 input and float32 otherwise: it never wraps.
        Integer outputs are rounded half to even and saturated (NaN
        becomes 0).
    method : {'auto', 'direct', 'separable', 'box', 'fft', 'overlap_save'}, optional
        ``'direct'`` sums every non-zero tap; ``'separable'`` runs a rank-1
        mask (mean, Gaussian, Sobel) as a vertical then a horizontal 1-D
        pass; ``'box'`` runs a constant mask as running sums (O(1) per
        pixel); ``'fft'`` multiplies real FFTs of the whole image (extended
        by the border mode, so every mode gives the direct result);
        ``'overlap_save'`` does the same in tiles (overlap-save: bounded memory, and
        faster for images much larger than the mask).  ``'separable'`` and
        ``'box'`` refuse other masks with a ``ValueError``.  ``'auto'``
        (default) takes the cheapest by a cost model calibrated on this
        machine (see :func:`filterkit.choose_method` and
        :func:`filterkit.calibrate`).
    channel_axis : int or None, optional
        None (default) for a 2-D image.  For a 3-D image the axis that holds
        the channels (e.g. -1 for (H, W, C)); each channel is filtered on its
        own.  A 3-D image without `channel_axis` is an error: the channels
        are never guessed from the shape.
    space : {None, 'rgb', 'lab', 'luv', 'gray'}, optional
        For a colour image (RGB or RGBA along `channel_axis`): filter each
        channel in this colour space and convert back to sRGB in the
        input's dtype (``'gray'``: the luma, a 2-D result); alpha passes
        through unchanged.  Meant for smoothing masks; None (default)
        filters every channel as it is.

    Returns
    -------
    ndarray
        The filtered image (`output` itself when it is an array).

    Raises
    ------
    ValueError, TypeError
        For any invalid argument; the message names the parameter, what it
        must be and what was given.
    See Also
    --------
    convolve : true convolution, the mask mirrored.

    Notes
    -----
    ``correlate(f, g) == convolve(f, g[::-1, ::-1])``.  This is what OpenCV's
    ``cv2.filter2D``, ``scipy.ndimage.correlate`` and the "convolution" layers
    of deep-learning frameworks compute.

    Arithmetic is float32 for integer, float16 and float32 images and
    float64 for float64 images or a float64 `output`.  int32 and 64-bit
    integer values beyond 2**24 lose precision in float32: pass
    ``output=np.float64`` to compute in float64.  Taps whose weight is
    exactly 0 are skipped (as scipy.ndimage does), so a NaN under a zero
    weight does not spread; with ``'fft'`` or ``'overlap_save'`` a NaN or inf spreads
    over its whole block (``'auto'`` stays spatial for such images);
    ``'box'`` gives NaN (or inf) exactly where the window sees one, as
    ``'direct'`` does: its running sums start afresh where one has left.  The
    FFT methods agree with ``'direct'`` within 1e-4 sum|mask| max|image| in
    float32 and 1e-10 sum|mask| max|image| in float64.  The work runs in C without the GIL, on
    :func:`filterkit.get_num_threads` threads; the result does not depend on
    the thread count.
    Examples
    --------
    The same mask as in :func:`convolve`'s example, g(-1, 0) = 1, now gives
    f'(x, y) = f(x - 1, y): every pixel takes its left neighbour's value.

    >>> import numpy as np
    >>> import filterkit
    >>> f = np.arange(25, dtype=np.float32).reshape(5, 5)
    >>> g = [[0, 0, 0],
    ...      [1, 0, 0],
    ...      [0, 0, 0]]
    >>> filterkit.correlate(f, g, mode="constant")
    array([[ 0.,  0.,  1.,  2.,  3.],
           [ 0.,  5.,  6.,  7.,  8.],
           [ 0., 10., 11., 12., 13.],
           [ 0., 15., 16., 17., 18.],
           [ 0., 20., 21., 22., 23.]], dtype=float32)
    >>> filterkit.correlate(f, g, mode="nearest", output=np.uint8)[0]
    array([0, 0, 1, 2, 3], dtype=uint8)
    """
    space = check_space(space, channel_axis)
    if space is not None:
        return lowpass(correlate, image, space, channel_axis, output, mask=mask, mode=mode,
                       cval=cval, method=method)
    return _filter2d(image, mask, flip=False, mode=mode, cval=cval, output=output,
                     method=method, channel_axis=channel_axis)

"""2-D convolution and correlation: validate, describe the mask, choose a
method, run it."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from . import methods
from ._choose import choose
from ._docstrings import shared_doc
from ._job import Job, OutputArg
from ._maskinfo import describe_mask
from ._spaces import colour_space
from ._validate import describe, fail
from .methods import SPATIAL, NonFinite

METHODS = ("auto",) + tuple(methods.REGISTRY)
_METHOD_NAMES = ", ".join(repr(m) for m in METHODS)


def _check_method(method: Any) -> str:
    if not isinstance(method, str):
        raise fail("method", f"one of {_METHOD_NAMES}", describe(method), TypeError)
    if method not in METHODS:
        raise fail("method", f"one of {_METHOD_NAMES}", repr(method))
    return method


def _filter2d(image: Any, mask: Any, *, flip: bool, mode: Any, cval: Any,
              output: OutputArg, method: Any, channel_axis: Any) -> np.ndarray:
    info = describe_mask(mask)
    job = Job(image, info.shape, mode=mode, cval=cval, channel_axis=channel_axis)
    method = _check_method(method)
    target = job.output(output)
    double = job.in_double(target)
    auto = method == "auto"
    if auto:
        method, costs = choose(info, job.hw, double)
    else:
        methods.REGISTRY[method].check(info)
    try:
        return methods.REGISTRY[method].run(job, info, flip, target, double, finite=auto)
    except NonFinite:
        # a NaN or inf in the image would spread over a whole FFT block:
        # auto stays spatial (the target is overwritten whole; one that
        # overlaps the image was computed into a temporary, see Job.run,
        # and is still untouched)
        spatial = {m: c for m, c in costs.items() if m in SPATIAL}
        method = min(spatial, key=spatial.__getitem__)
        return methods.REGISTRY[method].run(job, info, flip, target, double)


#: the parameters, returns and errors of convolve and correlate
_PARAMETERS = """
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
"""
#: how they compute
_ARITHMETIC = """
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
"""


@colour_space("lowpass")
@shared_doc(parameters=_PARAMETERS, arithmetic=_ARITHMETIC)
def convolve(image: Any, mask: Any, *, mode: str = "reflect", cval: float = 0.0,
             output: OutputArg = None, method: str = "auto",
             channel_axis: Optional[int] = None, space: Optional[str] = None) -> np.ndarray:
    r"""Convolve an image with a mask: true 2-D convolution, mask mirrored.

    .. math:: f'(x, y) = \sum_{i=-r}^{r} \sum_{j=-s}^{s} f(x - i, y - j)\, g(i, j)

    with x the column (to the right), y the row (down), and (i, j) the mask
    coordinates with (0, 0) at the mask's centre.

    %(parameters)s

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

    %(arithmetic)s
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
    return _filter2d(image, mask, flip=True, mode=mode, cval=cval, output=output,
                     method=method, channel_axis=channel_axis)


@colour_space("lowpass")
@shared_doc(parameters=_PARAMETERS, arithmetic=_ARITHMETIC)
def correlate(image: Any, mask: Any, *, mode: str = "reflect", cval: float = 0.0,
              output: OutputArg = None, method: str = "auto",
              channel_axis: Optional[int] = None, space: Optional[str] = None) -> np.ndarray:
    r"""Correlate an image with a mask: the mask slides over the image unmirrored.

    .. math:: f'(x, y) = \sum_{i=-r}^{r} \sum_{j=-s}^{s} f(x + i, y + j)\, g(i, j)

    with x the column (to the right), y the row (down), and (i, j) the mask
    coordinates with (0, 0) at the mask's centre.

    %(parameters)s

    See Also
    --------
    convolve : true convolution, the mask mirrored.

    Notes
    -----
    ``correlate(f, g) == convolve(f, g[::-1, ::-1])``.  This is what OpenCV's
    ``cv2.filter2D``, ``scipy.ndimage.correlate`` and the "convolution" layers
    of deep-learning frameworks compute.

    %(arithmetic)s
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
    return _filter2d(image, mask, flip=False, mode=mode, cval=cval, output=output,
                     method=method, channel_axis=channel_axis)

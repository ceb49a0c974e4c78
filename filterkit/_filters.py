"""The lecture's classic filters, all on the one core.

Conventions (the lecture's): x is the column (to the right), y the row
(down); the Sobel masks are exactly the lecture's convolution masks,
unnormalised, so a unit ramp along x gives f_x = 8; the gradient direction
is atan2(f_y, f_x) in radians, in (-pi, pi].
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple, Union

import numpy as np

from . import _native, masks
from ._colour_gradient import colour_gradient
from ._convolve import convolve
from ._docstrings import shared_doc
from ._job import Job, OutputArg
from ._spaces import check_space, colour_space, gradient_channels, highpass_channels
from ._validate import describe, fail
from .methods import box, direct, separable

#: the `space` parameter of the filters that take derivatives per channel
HIGHPASS_SPACE = """
space : {None, 'rgb', 'lab', 'luv', 'gray'}, optional
    For a colour image (RGB or RGBA along `channel_axis`): filter each
    channel of this colour space (``'rgb'``: the image's values, alpha
    dropped; ``'lab'``/``'luv'``: L, a, b or L, u, v), or the luma in
    the input's units (``'gray'``: a 2-D result). None (default):
    every channel as it is.
"""

GradientOutput = Union[None, type, np.dtype, str, Tuple[np.ndarray, np.ndarray]]


@colour_space("lowpass")
def mean(image: Any, size: masks.Size = 3, *, mode: str = "reflect", cval: float = 0.0,
         output: OutputArg = None, channel_axis: Optional[int] = None,
         space: Optional[str] = None) -> np.ndarray:
    """Mean (box) filter: the average over a size x size window.

    Runs in O(1) work per pixel whatever the size (running sums: in
    integers for uint8 and uint16 images, in float64 for others, so
    integer images are summed exactly and float images do not drift), and
    equals ``convolve(image, masks.mean(size))``.  A NaN or an infinity
    makes NaN (or inf) exactly where the window sees it, as a direct sum
    does; it does not stay in the running sums once it has left.

    Parameters
    ----------
    image : array_like, shape (H, W) or with a channel axis
        Any supported dtype, as in :func:`filterkit.convolve`.
    size : int or (int, int), optional
        Odd window height and width (default 3).
    mode, cval, output, channel_axis
        As in :func:`filterkit.convolve` (default mode ``'reflect'``).
    space : {None, 'rgb', 'lab', 'luv', 'gray'}, optional
        For a colour image (RGB or RGBA along `channel_axis`): filter in
        this colour space and convert back to sRGB in the input's dtype
        (``'gray'``: filter the luma, a 2-D result); alpha passes through
        unchanged. None (default) filters every channel as it is.

    Returns
    -------
    ndarray
        float32 (float64 for float64 input) unless `output` says otherwise;
        with a `space`, the input's dtype.

    Examples
    --------
    >>> import numpy as np
    >>> import filterkit
    >>> f = np.zeros((5, 5), dtype=np.uint8)
    >>> f[2, 2] = 90
    >>> filterkit.mean(f, 3, mode="constant")
    array([[ 0.,  0.,  0.,  0.,  0.],
           [ 0., 10., 10., 10.,  0.],
           [ 0., 10., 10., 10.,  0.],
           [ 0., 10., 10., 10.,  0.],
           [ 0.,  0.,  0.,  0.,  0.]], dtype=float32)
    """
    kh, kw = masks.check_size(size)
    job = Job(image, (kh, kw), mode=mode, cval=cval, channel_axis=channel_axis)
    target = job.output(output)
    return box.sums(job, (kh, kw), 1.0 / (kh * kw), target, job.in_double(target))


@colour_space("lowpass")
def gaussian(image: Any, sigma: Any = 1.0, *, size: Optional[masks.Size] = None,
             sampling: str = "integral", mode: str = "reflect", cval: float = 0.0,
             output: OutputArg = None, channel_axis: Optional[int] = None,
             space: Optional[str] = None) -> np.ndarray:
    """Gaussian low-pass filter, run as two 1-D passes.

    Parameters
    ----------
    image : array_like
        As in :func:`filterkit.convolve`.
    sigma : float or (float, float), optional
        Standard deviation in pixels (default 1), or (sigma_y, sigma_x).
    size : int or (int, int), optional
        Odd mask size; default ``2 * ceil(3 * sigma) + 1`` (7 for sigma = 1,
        31 for sigma = 5, the lecture's "Gaussian 11x11, sigma = 5" needs
        ``size=11``).  At most 65537 (``filterkit.masks.MAX_MASK_SIDE``),
        so without `size` sigma may be at most about 10922.
    sampling : {'integral', 'point'}, optional
        How the mask is made, see :func:`filterkit.masks.gaussian`.
    mode, cval, output, channel_axis
        As in :func:`filterkit.convolve`.
    space : {None, 'rgb', 'lab', 'luv', 'gray'}, optional
        As in :func:`mean`: filter a colour image in this space and convert
        back to sRGB in the input's dtype.

    Returns
    -------
    ndarray

    Examples
    --------
    >>> import numpy as np
    >>> import filterkit
    >>> f = np.zeros((5, 5))
    >>> f[2, 2] = 256.0
    >>> np.round(filterkit.gaussian(f, sigma=1.0, size=3, mode="constant"), 1)
    array([[ 0. ,  0. ,  0. ,  0. ,  0. ],
           [ 0. , 19.9, 31.6, 19.9,  0. ],
           [ 0. , 31.6, 50. , 31.6,  0. ],
           [ 0. , 19.9, 31.6, 19.9,  0. ],
           [ 0. ,  0. ,  0. ,  0. ,  0. ]])
    """
    col, row = masks.gaussian_factors(size, sigma=sigma, sampling=sampling)
    # from the 1-D factors: no 2-D mask and no rank test (the SVD of a large
    # Gaussian's mask costs seconds); mirrored for the convolution
    job = Job(image, (len(col), len(row)), mode=mode, cval=cval, channel_axis=channel_axis)
    target = job.output(output)
    return separable.correlate(job, col[::-1], row[::-1], target, job.in_double(target))


@colour_space("highpass")
@shared_doc(highpass_space=HIGHPASS_SPACE)
def sobel_x(image: Any, *, mode: str = "reflect", cval: float = 0.0, output: OutputArg = None,
            channel_axis: Optional[int] = None, space: Optional[str] = None) -> np.ndarray:
    """f_x: convolution with the lecture's Sobel mask [[1, 0, -1], [2, 0, -2], [1, 0, -1]].

    Unnormalised: a unit ramp along x (f grows by 1 per column, to the
    right) gives f_x = 8.  A flat image gives exactly 0.

    Parameters
    ----------
    image, mode, cval, output, channel_axis
        As in :func:`filterkit.convolve`.
    %(highpass_space)s

    Returns
    -------
    ndarray

    Examples
    --------
    >>> import numpy as np
    >>> import filterkit
    >>> ramp = np.tile(np.arange(5.0), (5, 1))
    >>> filterkit.sobel_x(ramp, mode="valid")
    array([[8., 8., 8.],
           [8., 8., 8.],
           [8., 8., 8.]])
    """
    # as two 1-D passes: the antisymmetric one takes differences of equal
    # neighbours, so a flat image gives exactly 0
    return convolve(image, masks.sobel_x(), mode=mode, cval=cval, output=output,
                    method="separable", channel_axis=channel_axis)


@colour_space("highpass")
@shared_doc(highpass_space=HIGHPASS_SPACE)
def sobel_y(image: Any, *, mode: str = "reflect", cval: float = 0.0, output: OutputArg = None,
            channel_axis: Optional[int] = None, space: Optional[str] = None) -> np.ndarray:
    """f_y: convolution with the lecture's Sobel mask [[1, 2, 1], [0, 0, 0], [-1, -2, -1]].

    Unnormalised: a unit ramp along y (f grows by 1 per row, downwards)
    gives f_y = 8.

    Parameters
    ----------
    image, mode, cval, output, channel_axis
        As in :func:`filterkit.convolve`.
    %(highpass_space)s

    Returns
    -------
    ndarray

    Examples
    --------
    >>> import numpy as np
    >>> import filterkit
    >>> ramp = np.tile(np.arange(5.0), (5, 1)).T
    >>> filterkit.sobel_y(ramp, mode="valid")
    array([[8., 8., 8.],
           [8., 8., 8.],
           [8., 8., 8.]])
    """
    return convolve(image, masks.sobel_y(), mode=mode, cval=cval, output=output,
                    method="separable", channel_axis=channel_axis)


def _gradient_input(image: Any, space: Any, channel_axis: Any, per_channel: Any) -> Tuple[Any, ...]:
    """What sobel and gradient compute on: ``(image, channel_axis, None)``
    for the grey or per-channel gradient, or ``(image, channel_axis,
    convert)`` for the colour gradient of ``convert(rows)``."""
    if not isinstance(per_channel, (bool, np.bool_)):
        raise fail("per_channel", "True or False", describe(per_channel), TypeError)
    space = check_space(space, channel_axis)
    if channel_axis is None:
        return image, None, None
    if space == "gray" or per_channel:
        return (*highpass_channels(image, space, channel_axis), None)
    return gradient_channels(image, space, channel_axis)


def _gradient_job(image: Any, mode: Any, cval: Any, channel_axis: Any) -> Job:
    return Job(image, (3, 3), mode=mode, cval=cval, channel_axis=channel_axis)


#: the numerators of the Sobel masks (f_x's; f_y's are its transpose)
_SOBEL = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])


def _run_gradient(job: Job, targets: List[np.ndarray]) -> None:
    double = job.in_double(*targets)
    run = job.settings(double)
    # f_x and f_y exactly in integers where the float path is exact too
    lanes = direct.integer_lanes(job, _SOBEL, double)
    sums = None if lanes is None else _native.IntSums(None, None, None, 0, *lanes[:2])

    def call(src: np.ndarray, dsts: List[np.ndarray], border: _native.Border) -> None:
        _native.sobel(src, dsts[0], dsts[1] if len(dsts) == 2 else None, border, run, sums)

    job.run(targets, call, lanes=True, planes_out=True)


def sobel(image: Any, *, mode: str = "reflect", cval: float = 0.0, output: OutputArg = None,
          channel_axis: Optional[int] = None, space: Optional[str] = None,
          per_channel: bool = False) -> np.ndarray:
    """Gradient strength s = sqrt(f_x^2 + f_y^2) with the lecture's Sobel masks.

    Computed in one pass: f_x and f_y exist only a row at a time.  The range
    of s for an image in [0, 1] is [0, 2 sqrt(5)] (4.472, reached by a
    corner such as [[0, 0, 0], [0, 0, 1], [1, 1, 1]]: abs(f_x) and abs(f_y) are
    each at most 4, but not together); a flat image gives exactly 0 (no
    epsilon anywhere).  A multi-channel image gives the
    colour gradient, see :func:`gradient`.

    Parameters
    ----------
    image, mode, cval, output, channel_axis
        As in :func:`filterkit.convolve`.
    space : {None, 'rgb', 'lab', 'luv', 'gray'}, optional
        As in :func:`gradient`.
    per_channel : bool, optional
        As in :func:`gradient`.

    Returns
    -------
    ndarray

    Examples
    --------
    >>> import numpy as np
    >>> import filterkit
    >>> ramp = np.tile(np.arange(5.0), (5, 1))
    >>> filterkit.sobel(ramp + ramp.T, mode="valid")[0]
    array([11.3137085, 11.3137085, 11.3137085])
    """
    image, channel_axis, convert = _gradient_input(image, space, channel_axis, per_channel)
    if convert is not None:
        return colour_gradient(image, channel_axis, convert, mode=mode, cval=cval, output=output,
                               direction=False)[0]
    job = _gradient_job(image, mode, cval, channel_axis)
    target = job.output(output)
    _run_gradient(job, [target])
    return target


def gradient(image: Any, *, mode: str = "reflect", cval: float = 0.0,
             output: GradientOutput = None, channel_axis: Optional[int] = None,
             space: Optional[str] = None,
             per_channel: bool = False) -> Tuple[np.ndarray, np.ndarray]:
    """Gradient strength and direction, fused in one pass.

    strength = sqrt(f_x^2 + f_y^2) and direction = atan2(f_y, f_x), with the
    lecture's Sobel masks.  f_x and f_y exist only a row at a time.

    A multi-channel image (`channel_axis` given) gives the colour gradient
    of Di Zenzo: per pixel the structure tensor G = sum_c grad f_c
    grad f_c^T of all channels; strength = sqrt(lambda_max(G) / C), the
    root mean square over the C channels of the derivative along the
    direction of greatest change; direction = the angle of lambda_max's
    eigenvector, its sign agreeing with sum_c grad f_c.  C equal channels
    give exactly the grey result's meaning (the same values up to
    rounding).  Its f_x, f_y are full-size intermediates (2 C planes).

    Parameters
    ----------
    image, mode, cval, channel_axis
        As in :func:`filterkit.convolve`.
    output : dtype or (ndarray, ndarray), optional
        A float dtype for both results, or two arrays (strength, direction)
        to write into.  The direction must be a float array.
    space : {None, 'rgb', 'lab', 'luv', 'gray'}, optional
        For a colour image (RGB or RGBA along `channel_axis`): the colour
        gradient of the sRGB values as they are (``'rgb'``, alpha dropped),
        of L, a, b (``'lab'``) or L, u, v (``'luv'``), or the grey gradient
        of the luma in the input's units (``'gray'``).  None (default):
        the colour gradient of all channels as they are.
    per_channel : bool, optional
        True: one strength and direction per channel (of `space`) instead
        of the colour gradient, with the channel axis kept.

    Returns
    -------
    strength : ndarray
        >= 0; exactly 0 on a flat image.
    direction : ndarray
        Radians in (-pi, pi]: 0 where the image grows to the right (+x),
        pi/2 where it grows downwards (+y), pi to the left, -pi/2 upwards;
        0 where the gradient is 0.  In float32 within 5e-7 rad of the exact
        atan2 (a vectorised polynomial), so a direction that close to pi
        from below may come out as float32(-pi); in float64 the C
        library's atan2.

    Examples
    --------
    >>> import numpy as np
    >>> import filterkit
    >>> ramp = np.tile(np.arange(5.0), (5, 1))          # grows to the right
    >>> s, theta = filterkit.gradient(ramp.T, mode="valid")  # grows downwards
    >>> s[0], theta[0]
    (array([8., 8., 8.]), array([1.57079633, 1.57079633, 1.57079633]))
    """
    image, channel_axis, convert = _gradient_input(image, space, channel_axis, per_channel)
    if convert is not None:
        if isinstance(output, tuple) and len(output) != 2:
            raise fail("output", "a dtype or a pair (strength, direction) of arrays",
                       f"a tuple of {len(output)}", TypeError)
        if isinstance(output, tuple) and np.may_share_memory(output[0], output[1]):
            raise fail("output", "two arrays that do not overlap (strength, direction)",
                       "overlapping arrays")
        s, d = colour_gradient(image, channel_axis, convert, mode=mode, cval=cval, output=output,
                               direction=True)
        assert d is not None
        return s, d
    job = _gradient_job(image, mode, cval, channel_axis)
    if isinstance(output, tuple):
        if len(output) != 2:
            raise fail("output", "a dtype or a pair (strength, direction) of arrays",
                       f"a tuple of {len(output)}", TypeError)
        strength = job.output(output[0], "output[0]")
        direction = job.output(output[1], "output[1]")
        if np.may_share_memory(strength, direction):
            raise fail("output", "two arrays that do not overlap (strength, direction)",
                       "overlapping arrays")
    else:
        strength = job.output(output)
        direction = job.output(output if output is not None else None, "output")
    if direction.dtype.kind != "f":
        raise fail("output", "a float dtype for the direction (radians)",
                   f"dtype {direction.dtype}", TypeError)
    _run_gradient(job, [strength, direction])
    return strength, direction


@colour_space("highpass")
@shared_doc(highpass_space=HIGHPASS_SPACE)
def laplace(image: Any, *, neighbours: int = 4, mode: str = "reflect", cval: float = 0.0,
            output: OutputArg = None, channel_axis: Optional[int] = None,
            space: Optional[str] = None) -> np.ndarray:
    """Laplace filter: the second derivatives f_xx + f_yy; edges are zero crossings.

    Parameters
    ----------
    image, mode, cval, output, channel_axis
        As in :func:`filterkit.convolve`.
    neighbours : {4, 8}, optional
        [[0, 1, 0], [1, -4, 1], [0, 1, 0]] (default) or the 8-neighbour
        mask [[1, 1, 1], [1, -8, 1], [1, 1, 1]].
    %(highpass_space)s

    Returns
    -------
    ndarray

    Examples
    --------
    >>> import numpy as np
    >>> import filterkit
    >>> y, x = np.mgrid[0:5, 0:5].astype(float)
    >>> filterkit.laplace(x ** 2 + y ** 2, mode="valid")
    array([[4., 4., 4.],
           [4., 4., 4.],
           [4., 4., 4.]])
    """
    return convolve(image, masks.laplace(neighbours), mode=mode, cval=cval, output=output,
                    channel_axis=channel_axis)

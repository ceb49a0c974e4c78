"""The layers of :mod:`filterkit.nn`: forward and backward side by side.

Batches are NCHW arrays ``(N, C, H, W)``; :class:`Dense` takes ``(N, F)``.
Every layer, :class:`Sequential` and :class:`Residual` included, follows
one protocol (see :class:`Layer`): ``forward``, ``backward``, and the flat
lists ``params``, ``grads``, ``param_names`` and ``param_shapes`` in one
order.  Shapes follow the lecture: ``W' = (W - F + 2P) / S + 1``
(:func:`output_size`), and a stride that does not fit is an error, never a
silent crop.  Conv2D, the one layer that needs im2col, has one
(:func:`_im2col` and its adjoint :func:`_col2im`) for every stride and
padding.  filterkit itself is called through its public API
(``filterkit.convolve``, ``filterkit.correlate``, ``filterkit.masks``),
looked up when a FilterBank first runs.
"""

from __future__ import annotations

import abc
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

import filterkit

Shape = Tuple[int, ...]
#: output pixels per chunk of Conv2D's im2col columns (fits the L2 cache)
CHUNK_COLUMNS = 4096


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _positive_int(name: str, value: Any, owner: str, minimum: int = 1) -> int:
    if not _is_int(value):
        raise TypeError(f"{owner}: `{name}` must be an integer; got {value!r} ({type(value).__name__}).")
    if value < minimum:
        raise ValueError(f"{owner}: `{name}` must be at least {minimum}; got {value}.")
    return int(value)


def output_size(n: int, f: int, *, stride: int = 1, padding: int = 0) -> int:
    """The output size (N - F + 2P) / S + 1 of a convolution or pooling layer.

    Parameters
    ----------
    n : int
        Input size N (height or width).
    f : int
        Filter (or pooling window) size F.
    stride : int, optional
        Stride S (default 1).
    padding : int, optional
        Zero padding P on each side (default 0).

    Returns
    -------
    int

    Raises
    ------
    ValueError
        When the stride does not fit (the result is not an integer), names
        N, F, S, P and the fraction, e.g. 2.33 for N = 7, F = 3, S = 3.

    Examples
    --------
    >>> from filterkit.nn import output_size
    >>> output_size(7, 3), output_size(7, 3, stride=2), output_size(32, 5, padding=2)
    (5, 3, 32)
    """
    owner = "output_size"
    n = _positive_int("n", n, owner)
    f = _positive_int("f", f, owner)
    stride = _positive_int("stride", stride, owner)
    padding = _positive_int("padding", padding, owner, minimum=0)
    span = n - f + 2 * padding
    if span < 0:
        raise ValueError(f"output_size: the filter (f={f}) is larger than the padded input "
                         f"(n={n} + 2*padding={2 * padding}).")
    if span % stride:
        raise ValueError(f"output_size: the stride does not fit: (n - f + 2p)/s + 1 = "
                         f"({n} - {f} + 2*{padding})/{stride} + 1 = {span / stride + 1:.2f} "
                         f"is not an integer (n={n}, f={f}, stride={stride}, padding={padding}).")
    return span // stride + 1


def _fmt_shape(shape: Sequence[Any]) -> str:
    return str(tuple(int(s) if _is_int(s) else s for s in shape))


class Layer(abc.ABC):
    """The protocol of every layer, :class:`Sequential` and :class:`Residual` included.

    - ``forward(x)`` returns the output for a batch and keeps what
      ``backward`` needs; ``backward(grad)`` takes the gradient with respect
      to that output, overwrites ``grads`` and returns the gradient with
      respect to the input.
    - ``params``, ``grads``, ``param_names`` and ``param_shapes`` are flat
      lists in one order: ``grads[i]`` has the shape and dtype of
      ``params[i]``, ``param_names[i]`` names it (``'weight'``; in a
      container ``'<layer index>.<name>'``, e.g. ``'3.0.bias'``) and
      ``param_shapes[i]`` is its shape.  A layer without parameters has
      empty lists.
    - The arrays in ``params`` and ``grads`` are the layer's own and stay
      the same objects for the layer's life: an optimiser holds them,
      updates ``params`` in place and reads the ``grads`` that every
      ``backward`` overwrites in place.  The lists are new on every access;
      there are no setters: :meth:`load_params` copies values in.
    - Parameters are allocated on first use of ``params`` or ``grads``
      (``n_params`` and :meth:`Sequential.summary` of a VGG16 allocate
      nothing); ``n_params`` counts them from ``param_shapes``.
    - ``output_shape(input_shape)`` maps one sample's shape; ``training``
      selects batch (True) or running (False) statistics.

    Examples
    --------
    >>> import numpy as np
    >>> from filterkit.nn import Dense
    >>> layer = Dense(3, 2)
    >>> layer.param_names, [p.shape for p in layer.params], [g.shape for g in layer.grads]
    (['weight', 'bias'], [(3, 2), (2,)], [(3, 2), (2,)])
    """

    #: the names of a leaf layer's parameters, in the order of ``params``
    PARAM_NAMES: Tuple[str, ...] = ()
    #: the attributes holding non-trainable arrays a model file keeps
    #: (BatchNorm2D's running statistics)
    STATE_NAMES: Tuple[str, ...] = ()

    def __init__(self) -> None:
        self.training = True
        self._params: Optional[List[np.ndarray]] = None
        self._grads: Optional[List[np.ndarray]] = None

    def _init_params(self) -> List[np.ndarray]:
        """Freshly initialised parameters, in the order of ``PARAM_NAMES``."""
        return []

    @property
    def param_shapes(self) -> List[Shape]:
        """The shape of every parameter, known without allocating any."""
        return []

    @property
    def param_names(self) -> List[str]:
        return list(self.PARAM_NAMES)

    @property
    def params(self) -> List[np.ndarray]:
        if self._params is None:
            self._params = self._init_params()
        return list(self._params)

    @property
    def grads(self) -> List[np.ndarray]:
        if self._grads is None:
            self._grads = [np.zeros_like(p) for p in self.params]
        return list(self._grads)

    @property
    def n_params(self) -> int:
        return sum(int(np.prod(shape)) for shape in self.param_shapes)

    def load_params(self, values: Sequence[Any]) -> None:
        """Copy `values` (in the order of ``params``) into the parameters.

        The arrays in ``params`` stay the same objects (an optimiser holding
        them sees the new values); parameters not allocated yet are
        allocated without a random initialisation.  Every shape is checked
        before anything is written.

        Parameters
        ----------
        values : sequence of array_like
            One array per parameter, of the shape in ``param_shapes``.

        Raises
        ------
        ValueError
            For a wrong number of arrays or a wrong shape (naming the
            parameter).

        Examples
        --------
        >>> import numpy as np
        >>> from filterkit.nn import Dense
        >>> layer = Dense(2, 1, dtype=np.float64)
        >>> layer.load_params([[[1.0], [2.0]], [0.5]])
        >>> layer.forward(np.array([[1.0, 1.0]]))
        array([[3.5]])
        """
        arrays = self._check_values(values)
        if self._params is None:
            self._params = [np.empty(a.shape, dtype=getattr(self, "dtype")) for a in arrays]
        for p, a in zip(self._params, arrays):
            p[...] = a

    def _check_values(self, values: Sequence[Any]) -> List[np.ndarray]:
        arrays = [np.asarray(v) for v in values]
        shapes, names = self.param_shapes, self.param_names
        if len(arrays) != len(shapes):
            raise ValueError(f"{self.name}.load_params: `values` must hold {len(shapes)} arrays "
                             f"({', '.join(names) or 'none'}); got {len(arrays)}.")
        for i, (a, shape) in enumerate(zip(arrays, shapes)):
            if a.shape != tuple(shape):
                raise ValueError(f"{self.name}.load_params: `values[{i}]` ({names[i]}) must have "
                                 f"shape {_fmt_shape(shape)}; got {_fmt_shape(a.shape)}.")
        return arrays

    def _write_grads(self, *values: np.ndarray) -> None:
        """Overwrite ``grads`` in place (in the order of ``params``)."""
        for g, v in zip(self.grads, values):
            g[...] = v

    @property
    def name(self) -> str:
        return type(self).__name__

    def output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)

    @abc.abstractmethod
    def forward(self, x: np.ndarray) -> np.ndarray:
        """The layer's output for a batch; keeps what backward needs."""

    @abc.abstractmethod
    def backward(self, grad: np.ndarray) -> np.ndarray:
        """The gradient with respect to the last forward's input; overwrites ``grads``."""

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def config(self) -> Dict[str, Any]:
        """The constructor arguments, for saving the architecture."""
        return {}

    def state(self) -> Dict[str, np.ndarray]:
        """Non-trainable arrays a saved model must keep, by ``STATE_NAMES``."""
        return {name: getattr(self, name) for name in self.STATE_NAMES}

    def describe(self) -> str:
        return self.name

    def _need_forward(self, attr: str) -> Any:
        value = getattr(self, attr, None)
        if value is None:
            raise RuntimeError(f"{self.name}.backward: call forward first")
        return value

    def _check_4d(self, x: Any, channels: Optional[int] = None) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim != 4 or (channels is not None and x.shape[1] != channels):
            c = "C" if channels is None else str(channels)
            raise ValueError(f"{self.name}: the input must have shape (N, {c}, H, W); "
                             f"got {_fmt_shape(x.shape)}.")
        if x.dtype.kind not in "uifb":
            raise TypeError(f"{self.name}: the input must be a real array; got dtype {x.dtype}.")
        return x


def _float_dtype(dtype: Any, owner: str) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise TypeError(f"{owner}: `dtype` must be float32 or float64; got {dt}.")
    return dt


class FilterBank(Layer):
    """A fixed (not trained) bank of k masks from :mod:`filterkit.masks`.

    Every input channel is filtered by every mask with filterkit's own
    :func:`filterkit.convolve` (true convolution, zero border), so output
    channel ``c * k + j`` is input channel c filtered by mask j.

    Parameters
    ----------
    masks : sequence of 2-D arrays, optional
        Odd-sized masks; default ``masks.mean(3)``, ``masks.gaussian(3,
        sigma=1.0)``, ``masks.sobel_x()``, ``masks.sobel_y()``,
        ``masks.laplace(4)``.
    padding : {'same', 'valid'}, optional
        ``'same'`` keeps H x W (zero padding); ``'valid'`` keeps only the
        pixels whose mask lies inside the image.
    dtype : float32 or float64, optional

    Examples
    --------
    >>> import numpy as np
    >>> from filterkit.nn import FilterBank
    >>> bank = FilterBank()
    >>> bank.forward(np.zeros((2, 1, 8, 8))).shape
    (2, 5, 8, 8)
    """

    def __init__(self, masks: Optional[Sequence[Any]] = None, *, padding: str = "same",
                 dtype: Any = np.float32) -> None:
        super().__init__()
        if masks is None:
            fm = filterkit.masks
            masks = [fm.mean(3), fm.gaussian(3, sigma=1.0), fm.sobel_x(), fm.sobel_y(), fm.laplace(4)]
        if isinstance(masks, np.ndarray) and masks.ndim == 2:
            masks = [masks]
        checked = []
        for i, m in enumerate(masks):
            a = np.asarray(m, dtype=np.float64)
            if a.ndim != 2 or a.shape[0] % 2 == 0 or a.shape[1] % 2 == 0:
                raise ValueError(f"FilterBank: `masks[{i}]` must be a 2-D array of odd height and "
                                 f"width; got shape {_fmt_shape(a.shape)}.")
            if not np.all(np.isfinite(a)):
                raise ValueError(f"FilterBank: `masks[{i}]` must be finite.")
            checked.append(a.copy())
        if not checked:
            raise ValueError("FilterBank: `masks` must hold at least one mask; got none.")
        if padding not in ("same", "valid"):
            raise ValueError(f"FilterBank: `padding` must be 'same' or 'valid'; got {padding!r}.")
        self.masks: List[np.ndarray] = checked
        self.padding = padding
        self.dtype = _float_dtype(dtype, "FilterBank")
        self._in_shape: Optional[Shape] = None

    @property
    def k(self) -> int:
        return len(self.masks)

    def _radius(self) -> Tuple[int, int]:
        if self.padding == "same":
            return 0, 0
        return (max(m.shape[0] for m in self.masks) // 2, max(m.shape[1] for m in self.masks) // 2)

    def output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 3:
            raise ValueError(f"FilterBank: the input must have shape (C, H, W) per sample; "
                             f"got {_fmt_shape(input_shape)}.")
        c, h, w = input_shape
        if self.padding == "valid":
            mh = max(m.shape[0] for m in self.masks)
            mw = max(m.shape[1] for m in self.masks)
            if h < mh or w < mw:
                raise ValueError(f"FilterBank: a {mh}x{mw} mask with padding='valid' needs an "
                                 f"input of at least {mh}x{mw}; got {h}x{w}.")
            return (c * self.k, h - mh + 1, w - mw + 1)
        return (c * self.k, h, w)

    def forward(self, x: Any) -> np.ndarray:
        x = self._check_4d(x)
        n, c, h, w = x.shape
        out_c, oh, ow = self.output_shape((c, h, w))
        planes = np.ascontiguousarray(x, dtype=self.dtype).reshape(n * c, h, w)
        y = np.empty((n, c, self.k, oh, ow), dtype=self.dtype)
        ry, rx = (h - oh) // 2, (w - ow) // 2
        for j, m in enumerate(self.masks):
            # the same public convolution users call, every plane in one call
            f = filterkit.convolve(planes, m, mode="constant", cval=0.0, channel_axis=0, output=None)
            y[:, :, j] = f.reshape(n, c, h, w)[:, :, ry:ry + oh, rx:rx + ow]
        self._in_shape = x.shape
        return y.reshape(n, out_c, oh, ow)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        n, c, h, w = self._need_forward("_in_shape")
        out_c, oh, ow = self.output_shape((c, h, w))
        grad = np.asarray(grad, dtype=self.dtype)
        if grad.shape != (n, out_c, oh, ow):
            raise ValueError(f"FilterBank.backward: the gradient must have shape "
                             f"{_fmt_shape((n, out_c, oh, ow))}; got {_fmt_shape(grad.shape)}.")
        g = grad.reshape(n, c, self.k, oh, ow)
        ry, rx = (h - oh) // 2, (w - ow) // 2
        dx = np.zeros((n * c, h, w), dtype=self.dtype)
        for j, m in enumerate(self.masks):
            # the adjoint of a zero-border convolution is the zero-border
            # correlation with the same mask (the valid part: the gradient
            # placed back at its pixels, zeros around)
            gj = np.zeros((n * c, h, w), dtype=self.dtype)
            gj[:, ry:ry + oh, rx:rx + ow] = g[:, :, j].reshape(n * c, oh, ow)
            dx += filterkit.correlate(gj, m, mode="constant", cval=0.0, channel_axis=0)
        return dx.reshape(n, c, h, w)

    def config(self) -> Dict[str, Any]:
        return {"masks": [m.tolist() for m in self.masks], "padding": self.padding,
                "dtype": self.dtype.name}

    def describe(self) -> str:
        sizes = sorted({f"{m.shape[0]}x{m.shape[1]}" for m in self.masks})
        return f"FilterBank({self.k} fixed masks {','.join(sizes)}, {self.padding})"


def _he(rng: np.random.Generator, shape: Shape, fan_in: int, dtype: np.dtype) -> np.ndarray:
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(dtype)


class _Grid(NamedTuple):
    """The column space of :func:`_im2col` for one input shape.

    A stride-`stride` window over the zero-padded input (HP x WP) reads,
    at filter tap (u, v), pixel ``xpad[i*stride + u, j*stride + v]``.  Split
    the padded input into its stride x stride phases, ``phase[a, b][r, t]
    = xpad[r*stride + a, t*stride + b]`` (HQ x WQ each, zeros past the
    edge), and tap (u, v) reads ``phase[u % stride, v % stride]`` at (i +
    u // stride, j + v // stride): a stride-1 window.  Flattened row by
    row, every tap is then one offset into one phase, and every im2col
    copy and col2im add is one contiguous run over all outputs, whatever
    the stride.  The outputs are computed on a grid of OH x WQ, WQ >= OW;
    the WQ - OW extra columns of every row are dropped.
    """

    n: int
    c: int
    h: int
    w: int
    size: int
    stride: int
    padding: int
    oh: int
    ow: int
    hq: int
    wq: int

    @property
    def grid(self) -> int:
        """Columns per sample: OH x WQ outputs on the padded-width grid."""
        return self.oh * self.wq

    @property
    def run(self) -> int:
        """The columns every tap copies; the last (size-1)//stride are extra
        columns that would read past the end of a phase (zeros)."""
        return self.grid - (self.size - 1) // self.stride

    def offset(self, u: int, v: int) -> int:
        """Tap (u, v)'s offset into its flattened phase."""
        return (u // self.stride) * self.wq + v // self.stride

    def phases(self) -> List[Tuple[int, int, slice, slice, slice, slice]]:
        """Per phase (a, b): its rows and columns that hold input pixels
        and those input rows and columns (the padding is the rest)."""
        s, p = self.stride, self.padding

        def span(a: int, n: int) -> Tuple[slice, slice]:
            r0 = max(0, -(-(p - a) // s))     # the first phase row inside the input
            r1 = max(r0, (n - 1 + p - a) // s + 1)
            return slice(r0, r1), slice(r0 * s + a - p, (r1 - 1) * s + a - p + 1 if r1 > r0 else 0, s)

        out = []
        for a in range(s):
            qr, xr = span(a, self.h)
            for b in range(s):
                qc, xc = span(b, self.w)
                out.append((a, b, qr, qc, xr, xc))
        return out


def _grid(shape: Shape, size: int, stride: int, padding: int) -> _Grid:
    """The :class:`_Grid` of an input (N, C, H, W) whose output size fits."""
    n, c, h, w = shape
    hp, wp = h + 2 * padding, w + 2 * padding
    return _Grid(n, c, h, w, size, stride, padding, (hp - size) // stride + 1,
                 (wp - size) // stride + 1, -(-hp // stride), -(-wp // stride))


def _workspace(work: Optional[np.ndarray], shape: Shape, dtype: np.dtype) -> np.ndarray:
    """`work` viewed as `shape` (a C-contiguous array of that many elements
    of `dtype`), or a new array."""
    if work is None:
        return np.empty(shape, dtype=dtype)
    if work.dtype != dtype or work.size != int(np.prod(shape)) or not work.flags.c_contiguous:
        raise ValueError(f"a workspace of {int(np.prod(shape))} C-contiguous {dtype} values is "
                         f"needed; got {work.size} {work.dtype} values.")
    return work.reshape(shape)


def _im2col(x: np.ndarray, g: _Grid, out: Optional[np.ndarray] = None,
            work: Optional[np.ndarray] = None) -> np.ndarray:
    """The im2col of filterkit.nn: the windows of a batch x (N, C, H, W) as columns.

    A (C*F*F, N*OH*WQ) matrix, rows (c, u, v) channels first, columns
    (n, i, j) on the grid of `g` (see :class:`_Grid`)::

        cols[(c, u, v), (n, i, j)] = xpad[n, c, i*stride + u, j*stride + v]  for j < OW

    so that a convolution is one product ``weight.reshape(K, -1) @ cols``;
    the columns j >= OW hold no window (drop them).  `out` (C*F*F*N*OH*WQ
    values) and `work` (the phases, C*S*S*N*HQ*WQ values) are optional
    workspaces a caller keeps from call to call: fresh multi-megabyte
    arrays on every call cost their page faults.
    """
    s, f, run = g.stride, g.size, g.run
    if s == 1 and not g.padding:  # the input is its own single phase: read it in place
        flat = x.reshape(g.n, g.c, 1, 1, g.h * g.w).transpose(1, 2, 3, 0, 4)
    else:
        q = _workspace(work, (g.c, s, s, g.n, g.hq, g.wq), x.dtype)
        q[...] = 0
        xt = x.transpose(1, 0, 2, 3)  # (C, N, H, W): channels first, as the rows of cols
        for a, b, qr, qc, xr, xc in g.phases():
            q[:, a, b, :, qr, qc] = xt[:, :, xr, xc]
        flat = q.reshape(g.c, s, s, g.n, g.hq * g.wq)
    cols = _workspace(out, (g.c, f, f, g.n, g.grid), x.dtype)
    cols[..., run:] = 0
    for u in range(f):
        for v in range(f):
            o = g.offset(u, v)
            cols[:, u, v, :, :run] = flat[:, u % s, v % s, :, o:o + run]
    return cols.reshape(g.c * f * f, g.n * g.grid)


def _col2im(cols: np.ndarray, g: _Grid, out: Optional[np.ndarray] = None,
            work: Optional[np.ndarray] = None) -> np.ndarray:
    """The adjoint of :func:`_im2col`: every column entry added back at the
    input pixel its window read (the padding dropped); (N, C, H, W),
    written into `out` when given.  The extra columns (j >= OW) of `cols`
    must be zero; `work` is an optional workspace of C*S*S*N*HQ*WQ values.
    """
    s, f, run = g.stride, g.size, g.run
    acc = _workspace(work, (g.c, s, s, g.n, g.hq * g.wq), cols.dtype)
    acc[...] = 0
    windows = cols.reshape(g.c, f, f, g.n, g.grid)
    for u in range(f):
        for v in range(f):
            o = g.offset(u, v)
            acc[:, u % s, v % s, :, o:o + run] += windows[:, u, v, :, :run]
    q = acc.reshape(g.c, s, s, g.n, g.hq, g.wq)
    dx = np.empty((g.n, g.c, g.h, g.w), dtype=cols.dtype) if out is None else out
    dxt = dx.transpose(1, 0, 2, 3)
    for a, b, qr, qc, xr, xc in g.phases():  # every input pixel lies in exactly one phase
        dxt[:, :, xr, xc] = q[:, a, b, :, qr, qc]
    return dx


class Conv2D(Layer):
    """A trainable convolution layer (cross-correlation, as in every framework).

    ``y[n, k, i, j] = bias[k] + sum_c sum_u sum_v weight[k, c, u, v] *
    xpad[n, c, i*stride + u, j*stride + v]``, xpad the input zero-padded by
    `padding`; computed by im2col and one BLAS matrix product.
    ``params`` is ``[weight (K, C, F, F), bias (K,)]``.

    Parameters
    ----------
    in_channels, out_channels : int
        Depth D of the input and number K of filters.
    size : int
        Filter size F (F x F).
    stride : int, optional
    padding : int, optional
        Zeros added on each side.
    seed : int, optional
        Seed of the He-normal initialisation.
    dtype : float32 or float64, optional

    Examples
    --------
    >>> from filterkit.nn import Conv2D
    >>> Conv2D(3, 10, 5).n_params      # (5*5*3)*10 + 10, as in the lecture
    760
    >>> Conv2D(1, 4, 3, padding=1).output_shape((1, 8, 8))
    (4, 8, 8)
    >>> Conv2D(1, 4, 3).param_names, Conv2D(1, 4, 3).param_shapes
    (['weight', 'bias'], [(4, 1, 3, 3), (4,)])
    """

    PARAM_NAMES = ("weight", "bias")

    def __init__(self, in_channels: int, out_channels: int, size: int, *, stride: int = 1,
                 padding: int = 0, seed: Optional[int] = None, dtype: Any = np.float32) -> None:
        super().__init__()
        self.in_channels = _positive_int("in_channels", in_channels, "Conv2D")
        self.out_channels = _positive_int("out_channels", out_channels, "Conv2D")
        self.size = _positive_int("size", size, "Conv2D")
        self.stride = _positive_int("stride", stride, "Conv2D")
        self.padding = _positive_int("padding", padding, "Conv2D", minimum=0)
        self.seed = seed
        self.dtype = _float_dtype(dtype, "Conv2D")
        self._cols: Optional[List[np.ndarray]] = None

    @property
    def param_shapes(self) -> List[Shape]:
        f, c, k = self.size, self.in_channels, self.out_channels
        return [(k, c, f, f), (k,)]

    def _init_params(self) -> List[np.ndarray]:
        rng = np.random.default_rng(self.seed)
        f, c = self.size, self.in_channels
        weight, bias = self.param_shapes
        return [_he(rng, weight, f * f * c, self.dtype), np.zeros(bias, dtype=self.dtype)]

    def output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 3 or input_shape[0] != self.in_channels:
            raise ValueError(f"Conv2D: the input must have shape (N, {self.in_channels}, H, W); "
                             f"got (N, {', '.join(map(str, input_shape))}).")
        _, h, w = input_shape
        try:
            oh = output_size(h, self.size, stride=self.stride, padding=self.padding)
            ow = output_size(w, self.size, stride=self.stride, padding=self.padding)
        except ValueError as exc:
            raise ValueError(f"Conv2D: {exc}") from None
        return (self.out_channels, oh, ow)

    def _buffer(self, name: str, shape: Shape) -> np.ndarray:
        """A workspace kept from call to call while the batch shape stays:
        fresh multi-megabyte arrays every step cost their page faults."""
        ws = self.__dict__.setdefault("_ws", {})
        buf = ws.get(name)
        if buf is None or buf.shape != tuple(shape):
            buf = ws[name] = np.empty(shape, dtype=self.dtype)
        return buf

    def _chunks(self, x_shape: Shape) -> List[Tuple[int, int, _Grid]]:
        """The im2col chunks of a batch: (first sample, end, grid).  Each
        chunk of columns is multiplied while it is in the cache (1.5x
        faster than one product of the whole batch) and kept for backward."""
        n, c, h, w = x_shape
        per_sample = _grid((1, c, h, w), self.size, self.stride, self.padding).grid
        nb = max(1, min(n, CHUNK_COLUMNS // per_sample))
        return [(n0, min(n, n0 + nb), _grid((min(n, n0 + nb) - n0, c, h, w), self.size,
                                            self.stride, self.padding))
                for n0 in range(0, n, nb)]

    def forward(self, x: Any) -> np.ndarray:
        x = self._check_4d(x, self.in_channels)
        _, oh, ow = self.output_shape(x.shape[1:])
        x = np.asarray(x, dtype=self.dtype)
        n, c = x.shape[:2]
        f, k, s = self.size, self.out_channels, self.stride
        weight, bias = self.params
        w = weight.reshape(k, -1)
        y = np.empty((n, k, oh, ow), dtype=self.dtype)
        cols = []
        for i, (n0, n1, g) in enumerate(self._chunks(x.shape)):
            chunk = _im2col(x[n0:n1], g, out=self._buffer(f"cols{i}", (c * f * f, g.n * g.grid)),
                            work=self._buffer("phases", (c, s, s, g.n, g.hq, g.wq)))
            yc = np.matmul(w, chunk, out=self._buffer("yc", (k, g.n * g.grid)))
            yc += bias[:, None]
            y[n0:n1] = yc.reshape(k, g.n, oh, g.wq)[:, :, :, :ow].transpose(1, 0, 2, 3)
            cols.append(chunk)
        self._cols = cols
        self._xshape = x.shape
        return y

    def backward(self, grad: np.ndarray) -> np.ndarray:
        cols = self._need_forward("_cols")
        n, c, h, wd = self._xshape
        _, oh, ow = self.output_shape((c, h, wd))
        f, k, s = self.size, self.out_channels, self.stride
        grad = np.asarray(grad, dtype=self.dtype)
        if grad.shape != (n, k, oh, ow):
            raise ValueError(f"Conv2D.backward: the gradient must have shape "
                             f"{_fmt_shape((n, k, oh, ow))}; got {_fmt_shape(grad.shape)}.")
        weight, _ = self.params
        wt = self._buffer("wt", (c * f * f, k))
        wt[...] = weight.reshape(k, -1).T
        dw = np.zeros((k, c * f * f), dtype=self.dtype)
        dx = np.empty((n, c, h, wd), dtype=self.dtype)
        # per chunk of samples, while its columns are in the cache: the
        # weight gradient g cols^T and the input gradient col2im(w^T g)
        for (n0, n1, g), chunk in zip(self._chunks(self._xshape), cols):
            # the gradient on the grid: zeros in the extra columns, so they
            # add nothing to dw, and col2im gets zero extra columns
            gq = self._buffer("grad", (k, g.n, oh, g.wq))
            gq[..., ow:] = 0
            gq[..., :ow] = grad[n0:n1].transpose(1, 0, 2, 3)
            g2 = gq.reshape(k, g.n * g.grid)
            dw += g2 @ chunk.T
            dcols = np.matmul(wt, g2, out=self._buffer("dcols", (c * f * f, g.n * g.grid)))
            _col2im(dcols, g, out=dx[n0:n1], work=self._buffer("dphases", (c, s, s, g.n, g.hq, g.wq)))
        self._write_grads(dw.reshape(weight.shape), grad.sum(axis=(0, 2, 3)))
        return dx

    def config(self) -> Dict[str, Any]:
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "size": self.size, "stride": self.stride, "padding": self.padding,
                "dtype": self.dtype.name}

    def describe(self) -> str:
        return (f"Conv2D({self.in_channels}->{self.out_channels}, {self.size}x{self.size}, "
                f"stride {self.stride}, pad {self.padding})")


class ReLU(Layer):
    """max(x, 0), elementwise.

    Examples
    --------
    >>> import numpy as np
    >>> from filterkit.nn import ReLU
    >>> ReLU().forward(np.array([[-1.0, 2.0]]))
    array([[0., 2.]])
    """

    def forward(self, x: Any) -> np.ndarray:
        x = np.asarray(x)
        self._mask = x > 0
        return np.maximum(x, 0).astype(x.dtype, copy=False)  # NaN stays NaN (training stops)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        mask = self._need_forward("_mask")
        return np.where(mask, grad, 0).astype(np.asarray(grad).dtype, copy=False)


class _Pool(Layer):
    kind = "pool"

    def __init__(self, size: int = 2, stride: Optional[int] = None) -> None:
        super().__init__()
        self.size = _positive_int("size", size, self.name)
        self.stride = self.size if stride is None else _positive_int("stride", stride, self.name)

    def output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 3:
            raise ValueError(f"{self.name}: the input must have shape (N, C, H, W); "
                             f"got (N, {', '.join(map(str, input_shape))}).")
        c, h, w = input_shape
        try:
            return (c, output_size(h, self.size, stride=self.stride),
                    output_size(w, self.size, stride=self.stride))
        except ValueError as exc:
            raise ValueError(f"{self.name}: {exc}") from None

    def _taps(self, oh: int, ow: int) -> List[Tuple[slice, slice]]:
        s, f = self.stride, self.size
        return [(slice(u, u + s * (oh - 1) + 1, s), slice(v, v + s * (ow - 1) + 1, s))
                for u in range(f) for v in range(f)]

    def config(self) -> Dict[str, Any]:
        return {"size": self.size, "stride": self.stride}

    def describe(self) -> str:
        return f"{self.name}({self.size}x{self.size}, stride {self.stride})"


class MaxPool2D(_Pool):
    """The largest value in each size x size window (stride default: size).

    Examples
    --------
    >>> import numpy as np
    >>> from filterkit.nn import MaxPool2D
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> MaxPool2D(2).forward(x)[0, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    """

    def forward(self, x: Any) -> np.ndarray:
        x = self._check_4d(x)
        _, oh, ow = self.output_shape(x.shape[1:])
        taps = self._taps(oh, ow)
        out = x[:, :, taps[0][0], taps[0][1]].copy()
        arg = np.zeros(out.shape, dtype=np.int32)
        for t, (su, sv) in enumerate(taps[1:], 1):
            v = x[:, :, su, sv]
            # ties: the first window position takes the gradient; NaN wins
            # (it must reach the loss, which then stops training)
            better = (v > out) | (v != v)
            out[better] = v[better]
            arg[better] = t
        self._arg, self._xshape, self._xdtype = arg, x.shape, x.dtype
        return out

    def backward(self, grad: np.ndarray) -> np.ndarray:
        arg = self._need_forward("_arg")
        dx = np.zeros(self._xshape, dtype=np.result_type(self._xdtype, np.asarray(grad).dtype))
        for t, (su, sv) in enumerate(self._taps(*arg.shape[2:])):
            dx[:, :, su, sv] += np.where(arg == t, grad, 0)
        return dx


class AvgPool2D(_Pool):
    """The mean of each size x size window (stride default: size).

    Examples
    --------
    >>> import numpy as np
    >>> from filterkit.nn import AvgPool2D
    >>> AvgPool2D(2).forward(np.arange(16.0).reshape(1, 1, 4, 4))[0, 0]
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    """

    def forward(self, x: Any) -> np.ndarray:
        x = self._check_4d(x)
        _, oh, ow = self.output_shape(x.shape[1:])
        x = x.astype(np.result_type(x.dtype, np.float32), copy=False)
        out = np.zeros(x.shape[:2] + (oh, ow), dtype=x.dtype)
        for su, sv in self._taps(oh, ow):
            out += x[:, :, su, sv]
        out /= self.size * self.size
        self._xshape, self._xdtype = x.shape, x.dtype
        return out

    def backward(self, grad: np.ndarray) -> np.ndarray:
        shape = self._need_forward("_xshape")
        grad = np.asarray(grad)
        dx = np.zeros(shape, dtype=np.result_type(self._xdtype, grad.dtype))
        share = grad / (self.size * self.size)
        for su, sv in self._taps(*grad.shape[2:]):
            dx[:, :, su, sv] += share
        return dx


class Flatten(Layer):
    """(N, C, H, W) -> (N, C*H*W), in C order.

    Examples
    --------
    >>> import numpy as np
    >>> from filterkit.nn import Flatten
    >>> Flatten().forward(np.zeros((2, 3, 4, 5))).shape
    (2, 60)
    """

    def output_shape(self, input_shape: Shape) -> Shape:
        return (int(np.prod(input_shape)),)

    def forward(self, x: Any) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim < 2:
            raise ValueError(f"Flatten: the input must have shape (N, ...); got {_fmt_shape(x.shape)}.")
        self._xshape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return np.asarray(grad).reshape(self._need_forward("_xshape"))


class Dense(Layer):
    """A fully connected layer: ``y = x @ weight + bias``, weight (in, out).

    ``params`` is ``[weight (in, out), bias (out,)]``.

    Examples
    --------
    >>> from filterkit.nn import Dense
    >>> Dense(4096, 1000).n_params
    4097000
    """

    PARAM_NAMES = ("weight", "bias")

    def __init__(self, in_features: int, out_features: int, *, seed: Optional[int] = None,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        self.in_features = _positive_int("in_features", in_features, "Dense")
        self.out_features = _positive_int("out_features", out_features, "Dense")
        self.seed = seed
        self.dtype = _float_dtype(dtype, "Dense")

    @property
    def param_shapes(self) -> List[Shape]:
        return [(self.in_features, self.out_features), (self.out_features,)]

    def _init_params(self) -> List[np.ndarray]:
        rng = np.random.default_rng(self.seed)
        weight, bias = self.param_shapes
        return [_he(rng, weight, self.in_features, self.dtype), np.zeros(bias, dtype=self.dtype)]

    def output_shape(self, input_shape: Shape) -> Shape:
        if tuple(input_shape) != (self.in_features,):
            raise ValueError(f"Dense: the input must have shape (N, {self.in_features}); "
                             f"got (N, {', '.join(map(str, input_shape))}).")
        return (self.out_features,)

    def forward(self, x: Any) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"Dense: the input must have shape (N, {self.in_features}); "
                             f"got {_fmt_shape(x.shape)}.")
        x = x.astype(self.dtype, copy=False)
        self._x = x
        weight, bias = self.params
        return x @ weight + bias

    def backward(self, grad: np.ndarray) -> np.ndarray:
        x = self._need_forward("_x")
        grad = np.asarray(grad, dtype=self.dtype)
        weight, _ = self.params
        self._write_grads(x.T @ grad, grad.sum(axis=0))
        return grad @ weight.T

    def config(self) -> Dict[str, Any]:
        return {"in_features": self.in_features, "out_features": self.out_features,
                "dtype": self.dtype.name}

    def describe(self) -> str:
        return f"Dense({self.in_features}->{self.out_features})"


class BatchNorm2D(Layer):
    """Batch normalisation per channel: batch statistics over (N, H, W) in
    training, the running ones in evaluation (``training = False``).

    ``params`` is ``[gamma (C,), beta (C,)]``; the running statistics
    ``running_mean`` and ``running_var`` are state, not parameters.

    Examples
    --------
    >>> import numpy as np
    >>> from filterkit.nn import BatchNorm2D
    >>> y = BatchNorm2D(2, dtype=np.float64).forward(np.random.rand(4, 2, 3, 3))
    >>> bool(abs(y.mean()) < 1e-12)
    True
    """

    PARAM_NAMES = ("gamma", "beta")
    STATE_NAMES = ("running_mean", "running_var")

    def __init__(self, channels: int, *, momentum: float = 0.9, eps: float = 1e-5,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        self.channels = _positive_int("channels", channels, "BatchNorm2D")
        if not 0.0 <= float(momentum) < 1.0:
            raise ValueError(f"BatchNorm2D: `momentum` must be in [0, 1); got {momentum!r}.")
        if not float(eps) > 0:
            raise ValueError(f"BatchNorm2D: `eps` must be positive; got {eps!r}.")
        self.momentum, self.eps = float(momentum), float(eps)
        self.dtype = _float_dtype(dtype, "BatchNorm2D")
        self.running_mean = np.zeros(self.channels, dtype=self.dtype)
        self.running_var = np.ones(self.channels, dtype=self.dtype)

    @property
    def param_shapes(self) -> List[Shape]:
        return [(self.channels,), (self.channels,)]

    def _init_params(self) -> List[np.ndarray]:
        return [np.ones(self.channels, dtype=self.dtype), np.zeros(self.channels, dtype=self.dtype)]

    def output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 3 or input_shape[0] != self.channels:
            raise ValueError(f"BatchNorm2D: the input must have shape (N, {self.channels}, H, W); "
                             f"got (N, {', '.join(map(str, input_shape))}).")
        return tuple(input_shape)

    def forward(self, x: Any) -> np.ndarray:
        x = self._check_4d(x, self.channels).astype(self.dtype, copy=False)
        gamma, beta = (p[None, :, None, None] for p in self.params)
        if self.training:
            mean = x.mean(axis=(0, 2, 3))
            var = x.var(axis=(0, 2, 3))
            m = self.momentum
            self.running_mean = (m * self.running_mean + (1 - m) * mean).astype(self.dtype)
            self.running_var = (m * self.running_var + (1 - m) * var).astype(self.dtype)
        else:
            mean, var = self.running_mean, self.running_var
        inv = 1.0 / np.sqrt(var + self.eps)
        xhat = (x - mean[None, :, None, None]) * inv[None, :, None, None]
        self._cache = (xhat, inv, self.training)
        return (gamma * xhat + beta).astype(self.dtype, copy=False)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        xhat, inv, training = self._need_forward("_cache")
        grad = np.asarray(grad, dtype=self.dtype)
        gamma, _ = self.params
        self._write_grads((grad * xhat).sum(axis=(0, 2, 3)), grad.sum(axis=(0, 2, 3)))
        gx = grad * gamma[None, :, None, None]
        if not training:
            return gx * inv[None, :, None, None]
        m = grad.shape[0] * grad.shape[2] * grad.shape[3]
        return (inv[None, :, None, None] / m) * (
            m * gx - gx.sum(axis=(0, 2, 3), keepdims=True)
            - xhat * (gx * xhat).sum(axis=(0, 2, 3), keepdims=True))

    def config(self) -> Dict[str, Any]:
        return {"channels": self.channels, "momentum": self.momentum, "eps": self.eps,
                "dtype": self.dtype.name}



class SoftmaxCrossEntropy:
    """Softmax and the mean cross-entropy of integer labels, stable for any logits.

    Examples
    --------
    >>> import numpy as np
    >>> from filterkit.nn import SoftmaxCrossEntropy
    >>> loss = SoftmaxCrossEntropy()
    >>> round(loss.forward(np.array([[0.0, 0.0]]), np.array([1])), 6)
    0.693147
    """

    def forward(self, logits: Any, labels: Any) -> float:
        z = np.asarray(logits)
        y = np.asarray(labels)
        if z.ndim != 2:
            raise ValueError(f"SoftmaxCrossEntropy: `logits` must have shape (N, K); "
                             f"got {_fmt_shape(z.shape)}.")
        if y.shape != (z.shape[0],) or y.dtype.kind not in "iu":
            raise ValueError(f"SoftmaxCrossEntropy: `labels` must be {z.shape[0]} integers; "
                             f"got {'dtype ' + str(y.dtype) if y.dtype.kind not in 'iu' else 'shape ' + _fmt_shape(y.shape)}.")
        if y.size and (y.min() < 0 or y.max() >= z.shape[1]):
            raise ValueError(f"SoftmaxCrossEntropy: `labels` must be in [0, {z.shape[1] - 1}]; "
                             f"got values from {y.min()} to {y.max()}.")
        shifted = z - z.max(axis=1, keepdims=True)
        logsum = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        logp = shifted - logsum
        self._p = np.exp(logp)
        self._y = y
        return float(-logp[np.arange(len(y)), y].mean())

    def backward(self) -> np.ndarray:
        p = getattr(self, "_p", None)
        if p is None:
            raise RuntimeError("SoftmaxCrossEntropy.backward: call forward first")
        g = p.copy()
        g[np.arange(len(self._y)), self._y] -= 1
        return g / len(self._y)


class Sequential(Layer):
    """Layers applied in order.

    ``params``, ``grads``, ``param_names`` and ``param_shapes`` are the
    inner layers' lists one after the other (the same arrays), the names
    prefixed with the layer's index.

    Examples
    --------
    >>> from filterkit.nn import Sequential, FilterBank, Conv2D, ReLU, MaxPool2D, Flatten, Dense
    >>> model = Sequential(FilterBank(), Conv2D(5, 8, 3, padding=1), ReLU(), MaxPool2D(2),
    ...                    Flatten(), Dense(8 * 4 * 4, 10))
    >>> model.output_shape((1, 8, 8)), model.n_params
    ((10,), 1658)
    >>> model.param_names
    ['1.weight', '1.bias', '5.weight', '5.bias']
    >>> model.params[2] is model.layers[5].params[0]
    True
    """

    def __init__(self, *layers: Layer) -> None:
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"{self.name}: layer {i} must be a filterkit.nn layer; "
                                f"got {type(layer).__name__}.")
        self.layers: List[Layer] = list(layers)

    # the protocol's lists: the inner layers' lists one after the other, so
    # that an optimiser built on a model holds the inner layers' own arrays
    @property
    def params(self) -> List[np.ndarray]:
        return [p for layer in self.layers for p in layer.params]

    @property
    def grads(self) -> List[np.ndarray]:
        return [g for layer in self.layers for g in layer.grads]

    @property
    def param_names(self) -> List[str]:
        return [f"{i}.{name}" for i, layer in enumerate(self.layers) for name in layer.param_names]

    @property
    def param_shapes(self) -> List[Shape]:
        return [shape for layer in self.layers for shape in layer.param_shapes]

    @property
    def n_params(self) -> int:
        return sum(layer.n_params for layer in self.layers)

    def load_params(self, values: Sequence[Any]) -> None:
        arrays = self._check_values(values)
        start = 0
        for layer in self.layers:
            count = len(layer.param_shapes)
            layer.load_params(arrays[start:start + count])
            start += count

    def train(self) -> "Sequential":
        """Training mode (batch statistics), for this and every inner layer."""
        self._set_training(True)
        return self

    def eval(self) -> "Sequential":
        """Evaluation mode (running statistics), for this and every inner layer."""
        self._set_training(False)
        return self

    def _set_training(self, flag: bool) -> None:
        self.training = flag
        for layer in self.layers:
            if isinstance(layer, Sequential):
                layer._set_training(flag)
            else:
                layer.training = flag

    def output_shape(self, input_shape: Shape) -> Shape:
        shape = tuple(input_shape)
        for layer in self.layers:
            shape = layer.output_shape(shape)
        return shape

    def forward(self, x: Any) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, grad: np.ndarray) -> np.ndarray:
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

    def summary(self, input_shape: Shape) -> str:
        """One line per layer (name, output shape, parameters) and the total.

        Parameters
        ----------
        input_shape : tuple
            One sample's shape, (C, H, W).

        Returns
        -------
        str
        """
        rows = [("layer", "output shape", "parameters")]
        shape = tuple(input_shape)
        for layer in self.layers:
            shape = layer.output_shape(shape)
            rows.append((layer.describe(), _fmt_shape(shape), f"{layer.n_params:,}"))
        w0 = max(len(r[0]) for r in rows)
        w1 = max(len(r[1]) for r in rows)
        lines = [f"{a:<{w0}}  {b:<{w1}}  {c:>12}" for a, b, c in rows]
        lines.append(f"Total parameters: {self.n_params:,}")
        return "\n".join(lines)

    def describe(self) -> str:
        return f"{self.name}({len(self.layers)} layers)"


class Residual(Sequential):
    """A ResNet shortcut: ``y = x + body(x)``; the body keeps the shape.

    The parameters are the body's, listed as in :class:`Sequential`.

    Examples
    --------
    >>> import numpy as np
    >>> from filterkit.nn import Residual, Conv2D, ReLU
    >>> block = Residual(Conv2D(4, 4, 3, padding=1), ReLU())
    >>> block.output_shape((4, 8, 8)), block.param_names
    ((4, 8, 8), ['0.weight', '0.bias'])
    """

    def output_shape(self, input_shape: Shape) -> Shape:
        out = super().output_shape(input_shape)
        if tuple(out) != tuple(input_shape):
            raise ValueError(f"Residual: the body must keep the input shape "
                             f"{_fmt_shape(input_shape)}; it gives {_fmt_shape(out)}.")
        return out

    def forward(self, x: Any) -> np.ndarray:
        x = np.asarray(x)
        y = super().forward(x)
        if y.shape != x.shape:
            raise ValueError(f"Residual: the body must keep the input shape "
                             f"{_fmt_shape(x.shape)}; it gives {_fmt_shape(y.shape)}.")
        return x + y

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad + super().backward(grad)

    def describe(self) -> str:
        return "Residual(" + ", ".join(layer.describe() for layer in self.layers) + ")"


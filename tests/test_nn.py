"""filterkit.nn: the CNN layers of the lecture, forward and backward.

Oracles, none of which is filterkit.nn itself:

- the lecture's numbers (output size (N - F + 2P)/S + 1 with N=7, F=3;
  760 and 4016 weights; VGG16's 138,357,544 parameters);
- explicit numpy loops written from the formulas in the API (convolution
  as cross-correlation with stride and zero padding, pooling windows, the
  Dense product, BatchNorm, a float64 log-sum-exp);
- filterkit.convolve / filterkit.correlate (tested against scipy elsewhere)
  and oracle.naive_convolve for the fixed filter bank;
- central-difference numerical gradients in float64 for every backward, of
  a random linear functional L = sum(r * y) of the layer's output (so one
  check covers the whole Jacobian-vector product), for the input and for
  every parameter;
- hand-written recurrences for SGD (PyTorch's momentum convention) and
  Adam (Kingma & Ba, Algorithm 1);
- explicit loops for im2col and col2im at every stride and padding.

Sections 7 to 9 check the layer protocol itself (``params``, ``grads``,
``param_names`` and ``param_shapes`` as aligned flat lists for every layer,
containers included; optimisers updating the layers' own arrays) and that
filterkit.nn imports filterkit's public API only, without a circle.

Gradient checks run the layers in float64 (dtype=np.float64) with float64
inputs, on small shapes (batch 2, 2-3 channels, 5x6 or 5x7 images).  Every
parameter used in a gradient check is set explicitly from the test's own
generator, so the data cannot depend on the implementation's initialisation.
"""

from __future__ import annotations

import re
import time
import tracemalloc

import numpy as np
import pytest

import filterkit
import filterkit.nn as nn
from filterkit import masks as fkm
from filterkit.nn.layers import _col2im, _grid, _im2col
from oracle import error_bound, naive_convolve

F64 = np.float64
U64 = 2.0 ** -53

# Central differences of L = sum(r * y) with step EPS = 1e-6, the two outputs
# subtracted elementwise before the weighted sum.  Truncation error
# O(EPS**2 |L'''|) ~ 1e-12 (zero for the layers that are linear in the
# perturbed array); rounding error ~ u |y| sqrt(m) / EPS ~ 1e-16 * 3 * 8 / 1e-6
# ~ 3e-9 for the m touched outputs (a throwaway reference implementation
# stayed below 1/10 of the tolerance).  Gradient entries are O(0.1..10), so
# rtol 1e-6 with atol 1e-8 sits above both errors and five orders below any
# real mistake (a wrong index, sign, flip or missing term changes entries by
# O(0.1)).
EPS = 1e-6
GRAD_RTOL = 1e-6
GRAD_ATOL = 1e-8


# --------------------------------------------------------------------------
# helpers

def numerical_gradient(f, a, weight=None, eps=EPS):
    """Central differences of sum(weight * f()) with respect to `a`, perturbing `a` in place.

    The two outputs are subtracted elementwise before the weighted sum, so that
    outputs a perturbation does not reach cancel exactly and only the touched
    entries contribute rounding error.
    """
    g = np.zeros(a.shape, dtype=F64)
    for idx in np.ndindex(a.shape):
        old = a[idx]
        a[idx] = old + eps
        fp = np.array(f(), dtype=F64, copy=True)
        a[idx] = old - eps
        fm = np.array(f(), dtype=F64, copy=True)
        a[idx] = old
        diff = fp - fm if weight is None else weight * (fp - fm)
        g[idx] = np.sum(diff) / (2 * eps)
    return g


def param_of(layer, name):
    """The parameter array `name` of `layer` (``params`` is aligned with ``param_names``)."""
    return layer.params[layer.param_names.index(name)]


def grad_of(layer, name):
    """The gradient array of the parameter `name` (``grads`` is aligned with ``param_names``)."""
    return layer.grads[layer.param_names.index(name)]


def set_params(layer, rng, scale=1.0):
    """Overwrite every parameter of `layer` with the test's own random values."""
    for p in layer.params:
        p[...] = scale * rng.standard_normal(p.shape)


def check_layer_gradients(layer, x, rng):
    """backward(r) == the numerical gradient of sum(r * forward(x)), for x and every parameter."""
    assert x.dtype == F64
    y = layer.forward(x)
    assert y.dtype == F64, "a float64 layer on float64 input must compute in float64"
    r = rng.standard_normal(y.shape)
    gx = np.array(layer.backward(r.copy()), copy=True)
    assert gx.shape == x.shape
    assert len(layer.grads) == len(layer.params) == len(layer.param_names)
    analytic = [np.array(g, copy=True) for g in layer.grads]

    def y_of():
        return layer.forward(x)

    # GRAD_RTOL / GRAD_ATOL: see the comment at EPS
    np.testing.assert_allclose(gx, numerical_gradient(y_of, x, r), rtol=GRAD_RTOL, atol=GRAD_ATOL,
                               err_msg="dL/dx")
    for k, g, p in zip(layer.param_names, analytic, layer.params):
        assert g.shape == p.shape
        np.testing.assert_allclose(g, numerical_gradient(y_of, p, r), rtol=GRAD_RTOL,
                                   atol=GRAD_ATOL, err_msg=f"dL/d{k}")


def away_from_zero(rng, shape, gap=0.1):
    """Random values with |v| >= gap: a perturbation of 1e-6 never crosses ReLU's kink."""
    return rng.choice([-1.0, 1.0], size=shape) * (gap + rng.random(shape))


def distinct_values(rng, shape):
    """All values distinct, 0.01 apart: no ties or near-ties inside any pooling window."""
    n = int(np.prod(shape))
    return (rng.permutation(n).astype(F64) - 0.5 * n).reshape(shape) * 0.01


def naive_conv2d(x, weight, bias, stride, padding):
    """y[n,k,i,j] = bias[k] + sum_c,u,v weight[k,c,u,v] * xpad[n,c,i*s+u,j*s+v], by explicit loops."""
    x = np.asarray(x, F64)
    N, C, H, W = x.shape
    K, C2, F, F2 = weight.shape
    assert C == C2 and F == F2
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    assert (H - F + 2 * padding) % stride == 0 and (W - F + 2 * padding) % stride == 0
    Ho = (H - F + 2 * padding) // stride + 1
    Wo = (W - F + 2 * padding) // stride + 1
    y = np.empty((N, K, Ho, Wo))
    for n in range(N):
        for k in range(K):
            for i in range(Ho):
                for j in range(Wo):
                    acc = float(bias[k])
                    for c in range(C):
                        for u in range(F):
                            for v in range(F):
                                acc += weight[k, c, u, v] * xp[n, c, i * stride + u, j * stride + v]
                    y[n, k, i, j] = acc
    return y


def naive_pool(x, size, stride, reduce):
    N, C, H, W = x.shape
    Ho = (H - size) // stride + 1
    Wo = (W - size) // stride + 1
    y = np.empty((N, C, Ho, Wo))
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    window = x[n, c, i * stride:i * stride + size, j * stride:j * stride + size]
                    y[n, c, i, j] = reduce(window)
    return y


def dot_bound(n_terms, scale):
    """Rounding bound of an n-term float64 dot product, sum |a b| <= scale (Higham 3.1), x4 margin."""
    return 4 * (n_terms + 1) * U64 * scale


DEFAULT_MASKS = [fkm.mean(3), fkm.gaussian(3, sigma=1.0), fkm.sobel_x(),
                 fkm.sobel_y(), fkm.laplace(4)]

VGG16_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


def vgg16_expected():
    """(layer name, output shape, parameter count) of VGG16, from the lecture's formulas."""
    rows, c, h = [], 3, 224
    for v in VGG16_CFG:
        if v == "M":
            h = (h - 2) // 2 + 1
            rows.append(("MaxPool2D", (c, h, h), 0))
        else:
            rows += [("Conv2D", (v, h, h), 3 * 3 * c * v + v), ("ReLU", (v, h, h), 0)]
            c = v
    rows += [("Flatten", (c * h * h,), 0), ("Dense", (4096,), c * h * h * 4096 + 4096),
             ("ReLU", (4096,), 0), ("Dense", (4096,), 4096 * 4096 + 4096), ("ReLU", (4096,), 0),
             ("Dense", (1000,), 4096 * 1000 + 1000)]
    return rows


VGG16_EXPECTED = vgg16_expected()


def test_vgg16_reference_numbers():
    # the oracle itself: 138,357,544 parameters and a 512 x 7 x 7 last feature map
    assert sum(row[2] for row in VGG16_EXPECTED) == 138_357_544
    assert VGG16_EXPECTED[-7][1] == (512, 7, 7)


def vgg16_layers():
    layers, c = [], 3
    for v in VGG16_CFG:
        if v == "M":
            layers.append(nn.MaxPool2D(2))
        else:
            layers += [nn.Conv2D(c, v, 3, padding=1), nn.ReLU()]
            c = v
    layers += [nn.Flatten(), nn.Dense(512 * 7 * 7, 4096), nn.ReLU(), nn.Dense(4096, 4096), nn.ReLU(),
               nn.Dense(4096, 1000)]
    return layers


# --------------------------------------------------------------------------
# 1. output size and the lecture's numbers

@pytest.mark.parametrize("stride, expected", [(1, 5), (2, 3)])
def test_output_size_lecture_7x7_with_3x3(stride, expected):
    got = nn.output_size(7, 3, stride=stride)
    assert got == expected
    assert type(got) is int


def test_output_size_lecture_stride_3_does_not_fit():
    # (7 - 3)/3 + 1 = 2.33: the message shows the value and names n = 7
    with pytest.raises(ValueError, match=r"(?=.*2\.33)(?=.*\b7\b)"):
        nn.output_size(7, 3, stride=3)


def test_output_size_non_integer_message_has_the_numbers():
    # (10 - 3)/4 + 1 = 2.75
    with pytest.raises(ValueError, match=r"(?=.*2\.75)(?=.*\b10\b)"):
        nn.output_size(10, 3, stride=4)


@pytest.mark.parametrize("n, f, stride, padding, expected", [
    (7, 3, 1, 1, 7),      # lecture: F = 3, padding 1 keeps the size
    (7, 5, 1, 2, 7),      # F = 5, padding 2
    (7, 7, 1, 3, 7),      # F = 7, padding 3
    (7, 5, 2, 1, 3),      # F = 5, S = 2, matching padding
    (7, 3, 2, 1, 4),
    (7, 3, 3, 1, 3),      # padding makes stride 3 fit: (7 - 3 + 2)/3 + 1
    (32, 5, 1, 0, 28),    # ten 5x5x3 filters on 32x32x3 -> 28x28x10
    (224, 3, 1, 1, 224),  # VGG's 3x3 pad 1
    (224, 2, 2, 0, 112),  # VGG's 2x2 max-pool stride 2
    (5, 5, 1, 0, 1),
    (1, 1, 1, 0, 1),
])
def test_output_size_formula(n, f, stride, padding, expected):
    assert nn.output_size(n, f, stride=stride, padding=padding) == expected


def test_output_size_accepts_numpy_integers():
    assert nn.output_size(np.int64(7), np.int32(3), stride=np.int64(2)) == 3


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(n=4, f=9), r"(?=.*\b9\b)(?=.*\b4\b)"),       # f > n + 2 padding: names both numbers
    (dict(n=3, f=6, padding=1), r"(?=.*\b6\b)(?=.*\b3\b)"),
    (dict(n=7, f=3, stride=0), r"stride"),
    (dict(n=7, f=3, stride=-2), r"stride"),
    (dict(n=7, f=3, padding=-1), r"padding"),
    (dict(n=0, f=1, padding=1), r"\bn\b"),                # n < 1 even when padding would fit
    (dict(n=5, f=0), r"\bf\b"),
])
def test_output_size_value_errors(kwargs, pattern):
    kwargs = dict(kwargs)
    n, f = kwargs.pop("n"), kwargs.pop("f")
    with pytest.raises(ValueError, match=pattern):
        nn.output_size(n, f, **kwargs)


@pytest.mark.parametrize("args, kwargs, pattern", [
    ((7, 3.0), {}, r"\bf\b"),
    (("7", 3), {}, r"\bn\b"),
    ((7.0, 3), {}, r"\bn\b"),
    ((7, 3), dict(stride=2.0), r"stride"),
    ((7, 3), dict(padding=1.0), r"padding"),
    ((7, 3), dict(stride="2"), r"stride"),
])
def test_output_size_type_errors(args, kwargs, pattern):
    with pytest.raises(TypeError, match=pattern):
        nn.output_size(*args, **kwargs)


def test_lecture_parameter_counts():
    # (F*F*D)*K + K: ten 5x5x3 filters -> 760, sixteen 5x5x10 -> 4016
    assert nn.Conv2D(3, 10, 5).n_params == 760
    assert nn.Conv2D(10, 16, 5).n_params == 4016
    assert nn.Conv2D(3, 10, 5).output_shape((3, 32, 32)) == (10, 28, 28)
    assert nn.Dense(25088, 4096).n_params == 25088 * 4096 + 4096
    assert nn.BatchNorm2D(7).n_params == 14
    for layer in (nn.ReLU(), nn.MaxPool2D(2), nn.AvgPool2D(3, stride=2), nn.Flatten(), nn.FilterBank()):
        assert layer.n_params == 0
        assert layer.params == [] and layer.grads == [] and layer.param_names == []


def test_lecture_three_3x3_vs_one_7x7():
    # "one 7x7 layer with depth d has 49 d^2 + d weights, three 3x3 layers only 27 d^2 + d"
    # (the lecture's 27 d^2 + d counts the bias once; three layers have 3 d biases)
    d = 64
    assert nn.Conv2D(d, d, 7).n_params == 49 * d * d + d
    assert sum(nn.Conv2D(d, d, 3).n_params for _ in range(3)) == 27 * d * d + 3 * d


def test_vgg16_parameter_count_and_summary_without_allocating():
    tracemalloc.start()
    try:
        t0 = time.perf_counter()
        model = nn.Sequential(*vgg16_layers())
        total = model.n_params
        text = model.summary((3, 224, 224))
        out = model.output_shape((3, 224, 224))
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 138_357_544
    assert out == (1000,)
    # 37 layer objects and a few-kB string need far less than 4 MB; allocating any
    # weight of the 512-channel convolutions (9.4 MB in float32) or the 25088x4096
    # Dense (411 MB) would exceed it.
    assert peak < 4 * 2 ** 20, f"n_params/summary allocated {peak / 2**20:.1f} MB"
    assert elapsed < 2.0  # allocating and initialising 138M weights takes seconds

    lines = [line for line in text.splitlines() if line.strip()]
    assert "138,357,544" in lines[-1]
    names = [type(layer).__name__ for layer in model.layers]
    layer_lines = [line for line in lines[:-1] if any(name in line for name in set(names))]
    assert len(layer_lines) == len(names) == len(VGG16_EXPECTED), "one line per layer"
    # each layer's line, in order: its name, its output shape, its parameter count
    for (name, shape, count), line in zip(VGG16_EXPECTED, layer_lines):
        assert name in line
        assert (str(shape) if len(shape) == 3 else str(shape[0])) in line, (shape, line)
        assert re.search(rf"\b({count:,}|{count})\b", line), (count, line)
    assert "(512, 14, 14)" in [line for line in layer_lines if "Conv2D" in line][-1]
    assert "(512, 7, 7)" in [line for line in layer_lines if "MaxPool2D" in line][-1]


@pytest.mark.parametrize("stride, expected", [(1, (5, 5)), (2, (3, 3))])
def test_conv2d_lecture_7x7_with_3x3(stride, expected):
    layer = nn.Conv2D(1, 1, 3, stride=stride, dtype=F64)
    x = np.random.default_rng(1).standard_normal((2, 1, 7, 7))
    assert layer.output_shape((1, 7, 7)) == (1, *expected)
    assert layer.forward(x).shape == (2, 1, *expected)


def test_conv2d_lecture_stride_3_is_an_error_not_a_crop():
    layer = nn.Conv2D(1, 1, 3, stride=3)
    with pytest.raises(ValueError, match=r"2\.33"):
        layer.output_shape((1, 7, 7))
    with pytest.raises(ValueError, match=r"2\.33"):
        layer.forward(np.zeros((1, 1, 7, 7)))


def test_conv2d_zero_padding_keeps_the_size():
    # lecture: F = 3 padding 1, F = 5 padding 2, F = 7 padding 3
    x = np.zeros((1, 2, 7, 9))
    for f in (3, 5, 7):
        layer = nn.Conv2D(2, 4, f, padding=(f - 1) // 2)
        assert layer.output_shape((2, 7, 9)) == (4, 7, 9)
        assert layer.forward(x).shape == (1, 4, 7, 9)


def test_maxpool_2x2_stride_2_block_maxima():
    x = np.array([[1, 3, 2, 9],
                  [7, 4, 1, 5],
                  [8, 0, 3, 6],
                  [2, 5, 4, 1]], dtype=F64)[None, None]
    assert nn.MaxPool2D(2, stride=2).output_shape((1, 4, 4)) == (1, 2, 2)
    np.testing.assert_array_equal(nn.MaxPool2D(2, stride=2).forward(x)[0, 0], [[7, 9], [8, 6]])
    np.testing.assert_array_equal(nn.MaxPool2D(2).forward(x)[0, 0], [[7, 9], [8, 6]])  # stride = size
    # the mean of the same blocks; quarters of small integers are exact in binary
    np.testing.assert_array_equal(nn.AvgPool2D(2).forward(x)[0, 0], [[3.75, 4.25], [3.75, 3.5]])


def test_maxpool_3x3_stride_2_overlapping():
    # the lecture's other typical pooling, F = 3, S = 2: 7 -> 3
    x = np.arange(49, dtype=F64).reshape(1, 1, 7, 7)
    assert nn.MaxPool2D(3, stride=2).output_shape((1, 7, 7)) == (1, 3, 3)
    np.testing.assert_array_equal(nn.MaxPool2D(3, stride=2).forward(x)[0, 0],
                                  [[16, 18, 20], [30, 32, 34], [44, 46, 48]])


# --------------------------------------------------------------------------
# 3. forward oracles

CONV_CASES = [
    # (N, C, K, F, stride, padding, H, W)
    (2, 1, 1, 3, 1, 0, 5, 6),
    (2, 3, 4, 3, 1, 1, 5, 6),
    (1, 2, 3, 5, 1, 2, 6, 5),
    (2, 2, 3, 3, 2, 0, 5, 7),
    (2, 3, 2, 3, 2, 1, 5, 7),
    (1, 2, 2, 3, 2, 2, 5, 7),
    (1, 2, 3, 5, 2, 1, 7, 9),
    (1, 2, 2, 3, 3, 0, 9, 6),
    (2, 3, 4, 1, 1, 0, 4, 5),
]


@pytest.mark.parametrize("N, C, K, F, stride, padding, H, W", CONV_CASES)
def test_conv2d_forward_matches_naive_loops(N, C, K, F, stride, padding, H, W):
    rng = np.random.default_rng(100 + F * 10 + stride * 3 + padding)
    layer = nn.Conv2D(C, K, F, stride=stride, padding=padding, dtype=F64)
    w = rng.standard_normal((K, C, F, F))
    b = rng.standard_normal(K)
    param_of(layer, "weight")[...] = w
    param_of(layer, "bias")[...] = b
    x = rng.standard_normal((N, C, H, W))
    got = layer.forward(x)
    want = naive_conv2d(x, w, b, stride, padding)
    assert got.shape == want.shape
    assert layer.output_shape((C, H, W)) == want.shape[1:]
    # each output is a (C*F*F + 1)-term float64 dot product: its rounding bound
    scale = np.abs(w).sum(axis=(1, 2, 3)).max() * np.abs(x).max() + np.abs(b).max()
    np.testing.assert_allclose(got, want, rtol=0, atol=dot_bound(C * F * F + 1, scale))


@pytest.mark.parametrize("F", [1, 3, 5])
def test_conv2d_single_channel_equals_filterkit_correlate(F):
    rng = np.random.default_rng(7 + F)
    w = rng.standard_normal((F, F))  # asymmetric: a flipped mask would not pass
    x = rng.standard_normal((1, 1, 9, 11))
    layer = nn.Conv2D(1, 1, F, padding=F // 2, dtype=F64)
    param_of(layer, "weight")[...] = w
    param_of(layer, "bias")[...] = 0.0
    got = layer.forward(x)[0, 0]
    want = filterkit.correlate(x[0, 0], w, mode="constant", cval=0.0)
    # two float64 F*F-term dot products summed in different orders: oracle.error_bound
    np.testing.assert_allclose(got, want, rtol=0, atol=error_bound(w, x[0, 0], dtype=F64))
    if F > 1:  # and it is not the true convolution
        assert not np.allclose(got, filterkit.convolve(x[0, 0], w, mode="constant"))


def test_conv2d_params_shapes_dtype_and_seed():
    layer = nn.Conv2D(3, 5, 3, seed=4)
    assert layer.param_names == ["weight", "bias"]
    assert param_of(layer, "weight").shape == (5, 3, 3, 3)
    assert param_of(layer, "bias").shape == (5,)
    assert param_of(layer, "weight").dtype == np.float32 and param_of(layer, "bias").dtype == np.float32
    assert np.all(np.isfinite(param_of(layer, "weight"))) and np.any(param_of(layer, "weight") != 0)
    # float32 by default: a float64 input is computed (and returned) in float32
    assert layer.forward(np.ones((1, 3, 5, 5))).dtype == np.float32
    same = nn.Conv2D(3, 5, 3, seed=4)
    other = nn.Conv2D(3, 5, 3, seed=5)
    np.testing.assert_array_equal(param_of(layer, "weight"), param_of(same, "weight"))
    assert not np.array_equal(param_of(layer, "weight"), param_of(other, "weight"))
    assert param_of(nn.Conv2D(3, 5, 3, dtype=F64), "weight").dtype == F64


def test_dense_params_shapes_dtype_and_seed():
    layer = nn.Dense(6, 4, seed=1)
    assert param_of(layer, "weight").shape == (6, 4) and param_of(layer, "bias").shape == (4,)
    assert param_of(layer, "weight").dtype == np.float32
    assert layer.n_params == 28
    assert layer.output_shape((6,)) == (4,)
    np.testing.assert_array_equal(param_of(layer, "weight"), param_of(nn.Dense(6, 4, seed=1), "weight"))
    assert not np.array_equal(param_of(layer, "weight"), param_of(nn.Dense(6, 4, seed=2), "weight"))
    assert layer.forward(np.ones((2, 6))).dtype == np.float32


def test_conv2d_params_can_be_set_in_place():
    layer = nn.Conv2D(1, 1, 3, dtype=F64)
    param_of(layer, "weight")[...] = 0.0
    param_of(layer, "weight")[0, 0, 1, 1] = 2.0  # identity x 2 on the interior
    param_of(layer, "bias")[...] = 0.5
    x = np.random.default_rng(3).standard_normal((1, 1, 5, 5))
    np.testing.assert_array_equal(layer.forward(x)[0, 0], 2.0 * x[0, 0, 1:-1, 1:-1] + 0.5)


def test_dense_forward_is_x_at_w_plus_b():
    rng = np.random.default_rng(11)
    layer = nn.Dense(7, 3, dtype=F64)
    w, b = rng.standard_normal((7, 3)), rng.standard_normal(3)
    param_of(layer, "weight")[...] = w
    param_of(layer, "bias")[...] = b
    x = rng.standard_normal((4, 7))
    # a 7-term float64 dot product: any other association order is within dot_bound
    np.testing.assert_allclose(layer.forward(x), x @ w + b, rtol=0,
                               atol=dot_bound(8, np.abs(x).max() * np.abs(w).sum(0).max() + 3))


def test_flatten_is_c_order_and_relu_is_max_zero():
    x = np.random.default_rng(12).standard_normal((2, 3, 4, 5))
    np.testing.assert_array_equal(nn.Flatten().forward(x), x.reshape(2, 60))
    assert nn.Flatten().output_shape((3, 4, 5)) == (60,)
    np.testing.assert_array_equal(nn.ReLU().forward(x), np.maximum(x, 0))
    assert nn.ReLU().output_shape((3, 4, 5)) == (3, 4, 5)


@pytest.mark.parametrize("size, stride, H, W", [(2, None, 6, 8), (2, 1, 5, 6), (3, 2, 7, 5),
                                                 (3, 3, 6, 9), (3, 1, 5, 6)])
def test_pooling_matches_naive_loops(size, stride, H, W):
    rng = np.random.default_rng(size * 10 + (stride or 0))
    x = rng.standard_normal((2, 3, H, W))
    s = size if stride is None else stride
    maxp, avgp = nn.MaxPool2D(size, stride), nn.AvgPool2D(size, stride)
    want_max = naive_pool(x, size, s, np.max)
    want_avg = naive_pool(x, size, s, np.mean)
    assert maxp.output_shape((3, H, W)) == want_max.shape[1:] == avgp.output_shape((3, H, W))
    np.testing.assert_array_equal(maxp.forward(x), want_max)  # a max is exact
    # a mean of size*size values in float64, summed in any order
    np.testing.assert_allclose(avgp.forward(x), want_avg, rtol=0,
                               atol=dot_bound(size * size, np.abs(x).max()))


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_filterbank_default_matches_filterkit_convolve_and_naive(padding):
    rng = np.random.default_rng(21)
    x = rng.standard_normal((2, 3, 9, 11))
    fb = nn.FilterBank(padding=padding, dtype=F64)
    y = fb.forward(x)
    k = len(DEFAULT_MASKS)
    crop = (slice(None), slice(None)) if padding == "same" else (slice(1, -1), slice(1, -1))
    assert y.shape == (2, 3 * k, *np.empty((9, 11))[crop].shape)
    assert fb.output_shape((3, 9, 11)) == y.shape[1:]
    for n in range(2):
        for c in range(3):
            for j, mask in enumerate(DEFAULT_MASKS):
                tol = error_bound(mask, x[n, c], dtype=F64)  # float64 9-tap sums, any order
                want = filterkit.convolve(x[n, c], mask, mode="constant", cval=0.0)[crop]
                np.testing.assert_allclose(y[n, c * k + j], want, rtol=0, atol=tol,
                                           err_msg=f"channel {c}, mask {j}")
                naive = naive_convolve(x[n, c], mask, mode="constant")[crop]
                np.testing.assert_allclose(y[n, c * k + j], naive, rtol=0, atol=tol)


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_filterbank_non_square_masks_true_convolution(padding):
    rng = np.random.default_rng(22)
    masks = [rng.standard_normal((3, 5)), rng.standard_normal((3, 5)), rng.standard_normal((3, 5))]
    if padding == "same":  # any odd sizes may be mixed with 'same'
        masks += [rng.standard_normal((1, 3)), rng.standard_normal((5, 1)), rng.standard_normal((7, 3))]
    x = rng.standard_normal((2, 2, 8, 9))
    fb = nn.FilterBank(masks, padding=padding, dtype=F64)
    y = fb.forward(x)
    k = len(masks)
    H, W = (8, 9) if padding == "same" else (6, 5)
    assert y.shape == (2, 2 * k, H, W)
    assert fb.output_shape((2, 8, 9)) == (2 * k, H, W)
    for n in range(2):
        for c in range(2):
            for j, mask in enumerate(masks):
                want = naive_convolve(x[n, c], mask, mode="constant")
                if padding == "valid":
                    want = want[1:-1, 2:-2]
                # float64 dot products of up to 21 taps, any order: oracle.error_bound
                np.testing.assert_allclose(y[n, c * k + j], want, rtol=0,
                                           atol=error_bound(mask, x[n, c], dtype=F64))


def test_filterbank_channel_order_is_c_times_k_plus_j():
    # channel 0 holds an impulse, channel 1 is zero: output channels 0..k-1 carry
    # the k masks themselves (convolution of an impulse), channels k..2k-1 are zero
    x = np.zeros((1, 2, 7, 7))
    x[0, 0, 3, 3] = 1.0
    fb = nn.FilterBank(dtype=F64)
    y = fb.forward(x)
    k = len(DEFAULT_MASKS)
    assert y.shape == (1, 2 * k, 7, 7)
    for j, mask in enumerate(DEFAULT_MASKS):
        np.testing.assert_allclose(y[0, j, 2:5, 2:5], mask, rtol=0, atol=1e-15)  # one product each
        assert np.count_nonzero(y[0, j]) == np.count_nonzero(mask)
        assert not np.any(y[0, k + j])


def test_filterbank_impulse_shows_the_mirror():
    # true convolution of an impulse reproduces the mask unflipped; correlation would flip it
    mask = np.arange(15, dtype=F64).reshape(3, 5) + 1
    x = np.zeros((1, 1, 7, 9))
    x[0, 0, 3, 4] = 1.0
    y = nn.FilterBank([mask], dtype=F64).forward(x)[0, 0]
    np.testing.assert_array_equal(y[2:5, 2:7], mask)


def test_filterbank_default_masks_and_properties():
    fb = nn.FilterBank()
    assert len(fb.masks) == 5
    for got, want in zip(fb.masks, DEFAULT_MASKS):
        assert got.dtype == F64
        np.testing.assert_array_equal(got, want)
    assert fb.params == [] and fb.n_params == 0
    x = np.random.default_rng(2).standard_normal((1, 2, 6, 6))
    y = fb.forward(x)
    assert y.dtype == np.float32  # float32 by default
    # float32 compute against the float64 oracle: oracle.error_bound for float32
    for j, mask in enumerate(DEFAULT_MASKS):
        np.testing.assert_allclose(y[0, j], filterkit.convolve(x[0, 0], mask, mode="constant"),
                                   rtol=0, atol=error_bound(mask, x[0, 0], dtype=np.float32))
    fb.backward(np.ones_like(y))
    assert fb.grads == []
    int_masks = nn.FilterBank([np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]])]).masks
    assert int_masks[0].dtype == F64


def test_softmax_cross_entropy_matches_log_sum_exp():
    rng = np.random.default_rng(31)
    logits = rng.standard_normal((6, 4)) * 3
    labels = np.array([0, 3, 1, 2, 2, 0])
    loss_fn = nn.SoftmaxCrossEntropy()
    loss = loss_fn.forward(logits, labels)
    assert isinstance(loss, float)
    # direct formula, no shift: fine for |logits| ~ 10 in float64
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    want = -np.mean(np.log(p[np.arange(6), labels]))
    assert loss == pytest.approx(want, rel=1e-13)  # a handful of float64 exp/log/sum
    onehot = np.eye(4)[labels]
    # softmax probabilities from float64 exp and one division: a few ulps each
    np.testing.assert_allclose(loss_fn.backward(), (p - onehot) / 6, rtol=1e-12, atol=1e-15)


def test_softmax_cross_entropy_is_stable_at_1000():
    logits = np.array([[1000.0, 0.0, -1000.0],
                       [1000.0, 1000.0, 1000.0],
                       [1000.0, 999.0, 998.0],
                       [-1000.0, 1000.0, 0.0]])
    labels = np.array([0, 1, 2, 0])
    loss_fn = nn.SoftmaxCrossEntropy()
    loss = loss_fn.forward(logits, labels)
    # per-row losses from the closed forms: log(1 + e^-1000 + e^-2000) = 0 in float64,
    # log 3, 2 + log(1 + e^-1 + e^-2), 2000 + log(1 + e^-1000 + e^-2000) = 2000
    rows = [0.0, np.log(3.0), 2.0 + np.log1p(np.exp(-1.0) + np.exp(-2.0)), 2000.0]
    assert np.isfinite(loss)
    # a max-shifted log-sum-exp is exact to a few ulps of the row losses (<= 2000)
    assert loss == pytest.approx(np.mean(rows), rel=1e-13)
    grad = loss_fn.backward()
    assert np.all(np.isfinite(grad))
    e = np.exp([0.0, -1.0, -2.0])
    softmax = np.array([[1, 0, 0], [1 / 3, 1 / 3, 1 / 3], e / e.sum(), [0, 1, 0]])
    # a few ulps; e^-1000 and e^-2000 underflow to 0 on both sides
    np.testing.assert_allclose(grad, (softmax - np.eye(3)[labels]) / 4, rtol=1e-12, atol=1e-15)


# --------------------------------------------------------------------------
# BatchNorm2D forward and the running statistics

def test_batchnorm_training_and_eval_forward():
    rng = np.random.default_rng(41)
    bn = nn.BatchNorm2D(3, momentum=0.8, eps=1e-3, dtype=F64)
    assert bn.training is True
    np.testing.assert_array_equal(param_of(bn, "gamma"), np.ones(3))
    np.testing.assert_array_equal(param_of(bn, "beta"), np.zeros(3))
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    param_of(bn, "gamma")[...] = gamma
    param_of(bn, "beta")[...] = beta
    # the initial running statistics: mean 0 and variance 1 (as PyTorch and Keras)
    np.testing.assert_array_equal(bn.running_mean, np.zeros(3))
    np.testing.assert_array_equal(bn.running_var, np.ones(3))
    run_mean, run_var = np.zeros(3), np.ones(3)
    # sums of 2*4*5 = 40 values and a sqrt in float64: 1e-12 relative is ~100 u per step
    tol = dict(rtol=1e-12, atol=1e-12)
    for step in range(2):
        x = rng.standard_normal((2, 3, 4, 5)) * [[[[2.0]], [[0.5]], [[3.0]]]] + [[[[1.0]], [[-2.0]], [[0.0]]]]
        y = bn.forward(x)
        mu = x.mean(axis=(0, 2, 3))
        var = ((x - mu[None, :, None, None]) ** 2).mean(axis=(0, 2, 3))  # biased
        want = gamma[None, :, None, None] * (x - mu[None, :, None, None]) / np.sqrt(
            var[None, :, None, None] + 1e-3) + beta[None, :, None, None]
        np.testing.assert_allclose(y, want, **tol)
        run_mean = 0.8 * run_mean + 0.2 * mu
        run_var = 0.8 * run_var + 0.2 * var
        np.testing.assert_allclose(bn.running_mean, run_mean, **tol)
        np.testing.assert_allclose(bn.running_var, run_var, **tol)
    bn.training = False
    x = rng.standard_normal((3, 3, 2, 2))
    y = bn.forward(x)
    want = gamma[None, :, None, None] * (x - run_mean[None, :, None, None]) / np.sqrt(
        run_var[None, :, None, None] + 1e-3) + beta[None, :, None, None]
    np.testing.assert_allclose(y, want, **tol)
    # eval does not touch the running statistics
    np.testing.assert_allclose(bn.running_mean, run_mean, **tol)
    np.testing.assert_allclose(bn.running_var, run_var, **tol)


def test_batchnorm_default_momentum_is_0_9_and_dtype_float32():
    bn = nn.BatchNorm2D(2)
    assert param_of(bn, "gamma").dtype == np.float32
    x = np.random.default_rng(42).standard_normal((4, 2, 3, 3))
    bn.forward(x)
    # float32 statistics of 36 values: 1e-5 relative is ~100 float32 ulps
    np.testing.assert_allclose(bn.running_mean, 0.1 * x.mean(axis=(0, 2, 3)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.running_var, 0.9 + 0.1 * x.var(axis=(0, 2, 3)), rtol=1e-5)


def test_train_and_eval_set_every_layer_including_inside_residual():
    bn_inner = nn.BatchNorm2D(2)
    layers = [nn.Conv2D(2, 2, 3, padding=1), nn.BatchNorm2D(2), nn.ReLU(),
              nn.Residual(nn.Conv2D(2, 2, 1), bn_inner), nn.MaxPool2D(2), nn.Flatten(), nn.Dense(8, 2)]
    model = nn.Sequential(*layers)
    assert all(layer.training is True for layer in layers) and bn_inner.training is True
    model.eval()
    assert all(layer.training is False for layer in layers) and bn_inner.training is False
    model.train()
    assert all(layer.training is True for layer in layers) and bn_inner.training is True


def test_sequential_eval_uses_running_statistics():
    rng = np.random.default_rng(43)
    bn = nn.BatchNorm2D(2, dtype=F64)
    model = nn.Sequential(bn)
    x = rng.standard_normal((3, 2, 4, 4)) + 5.0
    model.forward(x)  # training: the output is normalised with the batch statistics
    rm, rv = bn.running_mean.copy(), bn.running_var.copy()
    model.eval()
    y = model.forward(x)
    want = (x - rm[None, :, None, None]) / np.sqrt(rv[None, :, None, None] + 1e-5)
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)  # a few float64 operations
    np.testing.assert_array_equal(bn.running_mean, rm)


# --------------------------------------------------------------------------
# 2. every backward against central differences (float64)

@pytest.mark.parametrize("padding", ["same", "valid"])
def test_filterbank_backward_default_masks(padding):
    rng = np.random.default_rng(51)
    check_layer_gradients(nn.FilterBank(padding=padding, dtype=F64), rng.standard_normal((2, 2, 5, 6)), rng)


@pytest.mark.parametrize("padding, masks", [
    ("same", [(3, 5), (1, 3), (5, 1), (3, 3)]),
    ("valid", [(3, 5), (3, 5)]),
    ("valid", [(1, 3)]),
])
def test_filterbank_backward_non_square_masks(padding, masks):
    rng = np.random.default_rng(52)
    fb = nn.FilterBank([rng.standard_normal(s) for s in masks], padding=padding, dtype=F64)
    check_layer_gradients(fb, rng.standard_normal((2, 3, 5, 7)), rng)


@pytest.mark.parametrize("N, C, K, F, stride, padding, H, W", [
    (2, 2, 3, 3, 1, 0, 5, 6),
    (2, 3, 2, 3, 1, 1, 5, 6),
    (2, 2, 2, 5, 1, 2, 5, 6),
    (2, 2, 3, 3, 2, 0, 5, 7),
    (2, 3, 2, 3, 2, 1, 5, 7),
    (1, 2, 2, 3, 2, 2, 5, 7),
    (2, 3, 4, 1, 1, 0, 4, 5),
])
def test_conv2d_backward(N, C, K, F, stride, padding, H, W):
    rng = np.random.default_rng(60 + 7 * F + 3 * stride + padding)
    layer = nn.Conv2D(C, K, F, stride=stride, padding=padding, dtype=F64)
    set_params(layer, rng)
    check_layer_gradients(layer, rng.standard_normal((N, C, H, W)), rng)


def test_relu_backward():
    rng = np.random.default_rng(61)
    check_layer_gradients(nn.ReLU(), away_from_zero(rng, (2, 3, 5, 6)), rng)


@pytest.mark.parametrize("size, stride, H, W", [(2, None, 6, 4), (3, 2, 5, 7), (2, 1, 5, 6)])
def test_maxpool_backward(size, stride, H, W):
    rng = np.random.default_rng(62)
    check_layer_gradients(nn.MaxPool2D(size, stride), distinct_values(rng, (2, 3, H, W)), rng)


@pytest.mark.parametrize("size, stride, H, W", [(2, None, 6, 4), (3, 2, 5, 7), (2, 1, 5, 6)])
def test_avgpool_backward(size, stride, H, W):
    rng = np.random.default_rng(63)
    check_layer_gradients(nn.AvgPool2D(size, stride), rng.standard_normal((2, 3, H, W)), rng)


def test_flatten_backward():
    rng = np.random.default_rng(64)
    check_layer_gradients(nn.Flatten(), rng.standard_normal((2, 3, 5, 6)), rng)


def test_dense_backward():
    rng = np.random.default_rng(65)
    layer = nn.Dense(7, 4, dtype=F64)
    set_params(layer, rng)
    check_layer_gradients(layer, rng.standard_normal((3, 7)), rng)


def test_batchnorm_backward_training_mode():
    rng = np.random.default_rng(66)
    bn = nn.BatchNorm2D(3, dtype=F64)
    set_params(bn, rng)
    check_layer_gradients(bn, rng.standard_normal((2, 3, 5, 6)) * 2 + 1, rng)


def test_batchnorm_backward_eval_mode():
    rng = np.random.default_rng(67)
    bn = nn.BatchNorm2D(3, dtype=F64)
    set_params(bn, rng)
    bn.forward(rng.standard_normal((4, 3, 5, 6)) * 2 + 1)  # some running statistics
    bn.training = False
    check_layer_gradients(bn, rng.standard_normal((2, 3, 5, 6)), rng)


def test_residual_backward_and_params():
    rng = np.random.default_rng(68)
    conv1 = nn.Conv2D(2, 2, 3, padding=1, dtype=F64)
    conv2 = nn.Conv2D(2, 2, 1, dtype=F64)
    set_params(conv1, rng)
    set_params(conv2, rng)
    res = nn.Residual(conv1, nn.ReLU(), conv2)
    assert res.n_params == conv1.n_params + conv2.n_params == 38 + 6
    # the inner parameters, in order, are the layers' own arrays
    inner = [param_of(conv1, "weight"), param_of(conv1, "bias"), param_of(conv2, "weight"), param_of(conv2, "bias")]
    assert len(res.params) == 4
    assert all(a is b for a, b in zip(res.params, inner))
    x = rng.standard_normal((2, 2, 5, 6))
    # guard: no pre-activation within 1e-3 of ReLU's kink (depends only on the data above)
    assert np.abs(conv1.forward(x)).min() > 1e-3
    assert res.output_shape((2, 5, 6)) == (2, 5, 6)
    y = res.forward(x)
    want = x + conv2.forward(np.maximum(conv1.forward(x), 0))
    np.testing.assert_allclose(y, want, rtol=1e-13, atol=1e-13)  # the same float64 operations
    check_layer_gradients(res, x, rng)
    assert len(res.grads) == len(res.params)
    assert res.param_names == ["0.weight", "0.bias", "2.weight", "2.bias"]
    np.testing.assert_array_equal(res.grads[0], grad_of(conv1, "weight"))


def test_softmax_cross_entropy_backward():
    rng = np.random.default_rng(69)
    logits = rng.standard_normal((3, 5)) * 2
    labels = np.array([4, 0, 2])
    loss_fn = nn.SoftmaxCrossEntropy()
    loss_fn.forward(logits, labels)
    grad = np.array(loss_fn.backward(), copy=True)
    assert grad.shape == (3, 5)
    num = numerical_gradient(lambda: loss_fn.forward(logits, labels), logits)
    np.testing.assert_allclose(grad, num, rtol=GRAD_RTOL, atol=GRAD_ATOL)  # see EPS above


def test_sequential_backward_whole_model():
    rng = np.random.default_rng(71)
    conv, bn, inner_conv = (nn.Conv2D(2, 3, 3, padding=1, dtype=F64), nn.BatchNorm2D(3, dtype=F64),
                            nn.Conv2D(3, 3, 3, padding=1, dtype=F64))
    model = nn.Sequential(conv, bn, nn.ReLU(), nn.Residual(inner_conv, nn.ReLU()),
                          nn.MaxPool2D(2), nn.Flatten(), nn.Dense(3 * 2 * 3, 4, dtype=F64))
    assert len(model.params) == 2 + 2 + 2 + 2
    for p in model.params:
        p[...] = rng.standard_normal(p.shape)
    x = rng.standard_normal((2, 2, 4, 6))
    labels = np.array([1, 3])
    loss_fn = nn.SoftmaxCrossEntropy()

    # guards on this data (they depend only on the values set above): no ReLU input
    # within 1e-3 of 0 and no near-tie inside a max-pool window, so a 1e-6 step
    # never crosses a kink
    h = bn.forward(conv.forward(x))
    assert np.abs(h).min() > 1e-3
    a = np.maximum(h, 0)
    inner = inner_conv.forward(a)
    assert np.abs(inner).min() > 1e-3
    r = a + np.maximum(inner, 0)
    windows = np.sort(r.reshape(2, 3, 2, 2, 3, 2).transpose(0, 1, 2, 4, 3, 5).reshape(2, 3, 2, 3, 4), -1)
    top, gap = windows[..., -1], windows[..., -1] - windows[..., -2]
    # a window of ReLU zeros ties harmlessly: every path into it has zero derivative
    assert np.all((top == 0) | (gap > 1e-3))
    assert np.count_nonzero(top) >= 30  # and most windows (of 36) are live

    loss_fn.forward(model.forward(x), labels)
    gx = np.array(model.backward(loss_fn.backward()), copy=True)
    analytic = [np.array(g, copy=True) for g in model.grads]
    assert len(analytic) == len(model.params)
    for g, p in zip(analytic, model.params):
        assert g.shape == p.shape

    def L():
        return loss_fn.forward(model.forward(x), labels)

    # the tolerance of every gradient check: see EPS above
    np.testing.assert_allclose(gx, numerical_gradient(L, x), rtol=GRAD_RTOL, atol=GRAD_ATOL)
    for i, p in enumerate(model.params):
        np.testing.assert_allclose(analytic[i], numerical_gradient(L, p), rtol=GRAD_RTOL,
                                   atol=GRAD_ATOL, err_msg=f"parameter {i}")


def test_sequential_params_and_grads_are_the_layers_arrays():
    conv, bn, dense = nn.Conv2D(1, 2, 3, padding=1), nn.BatchNorm2D(2), nn.Dense(8, 3)
    model = nn.Sequential(conv, nn.ReLU(), bn, nn.MaxPool2D(2), nn.Flatten(), dense)
    assert model.layers[0] is conv and len(model.layers) == 6
    want = [param_of(conv, "weight"), param_of(conv, "bias"), param_of(bn, "gamma"), param_of(bn, "beta"),
            param_of(dense, "weight"), param_of(dense, "bias")]
    assert len(model.params) == 6 and all(a is b for a, b in zip(model.params, want))
    assert model.n_params == conv.n_params + bn.n_params + dense.n_params == 20 + 4 + 27
    assert model.output_shape((1, 4, 4)) == (3,)
    grads_before = model.grads
    want_grads = [grad_of(conv, "weight"), grad_of(conv, "bias"), grad_of(bn, "gamma"), grad_of(bn, "beta"),
                  grad_of(dense, "weight"), grad_of(dense, "bias")]
    assert all(a is b for a, b in zip(grads_before, want_grads))
    # backward writes into the same gradient arrays, so an optimiser built before the
    # first step sees every new gradient
    x = np.random.default_rng(71).standard_normal((2, 1, 4, 4))
    model.backward(np.ones_like(model.forward(x)))
    assert all(a is b for a, b in zip(model.grads, grads_before))
    assert all(a is b for a, b in zip(model.params, want))
    assert np.any(grads_before[-1] != 0)


def test_backward_overwrites_gradients_instead_of_accumulating():
    rng = np.random.default_rng(72)
    layer = nn.Dense(3, 2, dtype=F64)
    set_params(layer, rng)
    x, g = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    layer.forward(x)
    layer.backward(g)
    first = grad_of(layer, "weight").copy()
    layer.forward(x)
    layer.backward(g)
    np.testing.assert_array_equal(grad_of(layer, "weight"), first)
    np.testing.assert_allclose(first, x.T @ g, rtol=1e-13, atol=1e-14)  # a 4-term float64 product


# --------------------------------------------------------------------------
# 4. optimisers

def test_sgd_without_momentum_is_exact():
    rng = np.random.default_rng(81)
    params = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    grads = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    objects = list(params)
    want = [p - 0.05 * g for p, g in zip(params, grads)]
    nn.SGD(params, grads, lr=0.05).step()
    for p, obj, w in zip(params, objects, want):
        assert p is obj
        np.testing.assert_array_equal(obj, w)  # the same two float64 operations: bit-exact


def test_sgd_momentum_follows_pytorch_recurrence():
    # PyTorch's convention (no dampening): v = momentum * v + g; p -= lr * v, v starting at 0
    rng = np.random.default_rng(82)
    params = [rng.standard_normal((2, 3)), rng.standard_normal(4)]
    grads = [np.zeros((2, 3)), np.zeros(4)]
    objects = list(params)
    ref_p = [p.copy() for p in params]
    ref_v = [np.zeros_like(p) for p in params]
    opt = nn.SGD(params, grads, lr=0.1, momentum=0.9)
    for _ in range(3):
        for g in grads:
            g[...] = rng.standard_normal(g.shape)  # new gradients, written in place
        for i, g in enumerate(grads):
            ref_v[i] = 0.9 * ref_v[i] + g
            ref_p[i] = ref_p[i] - 0.1 * ref_v[i]
        opt.step()
        for obj, w in zip(objects, ref_p):
            # three steps of three float64 operations; only their association may differ
            np.testing.assert_allclose(obj, w, rtol=1e-14, atol=1e-15)
    assert all(p is o for p, o in zip(params, objects))


@pytest.mark.parametrize("kwargs", [dict(), dict(lr=0.1, betas=(0.8, 0.9), eps=1e-6)])
def test_adam_matches_reference(kwargs):
    # Kingma & Ba, Algorithm 1: m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
    # p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps), t = 1, 2, 3
    lr = kwargs.get("lr", 1e-3)
    b1, b2 = kwargs.get("betas", (0.9, 0.999))
    eps = kwargs.get("eps", 1e-8)
    rng = np.random.default_rng(83)
    params = [rng.standard_normal((2, 3)), rng.standard_normal(4)]
    grads = [np.zeros((2, 3)), np.zeros(4)]
    objects = list(params)
    ref_p = [p.copy() for p in params]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    opt = nn.Adam(params, grads, **kwargs)
    for t in range(1, 4):
        for g in grads:
            g[...] = rng.standard_normal(g.shape)
        grads[1][0] = 1e-9 * t  # a gradient ~eps: pins where eps enters the update
        for i, g in enumerate(grads):
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            mhat = m[i] / (1 - b1 ** t)
            vhat = v[i] / (1 - b2 ** t)
            ref_p[i] = ref_p[i] - lr * mhat / (np.sqrt(vhat) + eps)
        opt.step()
        for obj, w in zip(objects, ref_p):
            # ~10 float64 operations per step in another order: ~1e-15 relative on the
            # update; eps placed elsewhere (e.g. the paper's eps-hat form) moves the
            # 1e-9 component's update by tens of percent and the others by ~1e-8 * lr
            np.testing.assert_allclose(obj, w, rtol=1e-12, atol=1e-14)
    assert all(p is o for p, o in zip(params, objects))


# --------------------------------------------------------------------------
# 5. error paths

def test_conv2d_wrong_ndim():
    layer = nn.Conv2D(3, 4, 3)
    with pytest.raises(ValueError, match=r"Conv2D.*\(N, 3, H, W\)"):
        layer.forward(np.zeros((3, 7, 7)))
    with pytest.raises(ValueError, match=r"Conv2D.*\(N, 3, H, W\)"):
        layer.forward(np.zeros((1, 1, 3, 7, 7)))


def test_conv2d_wrong_channel_count():
    with pytest.raises(ValueError, match=r"Conv2D.*\(N, 3, H, W\)"):
        nn.Conv2D(3, 4, 3).forward(np.zeros((2, 2, 7, 7)))
    with pytest.raises(ValueError, match=r"Conv2D.*\(N, 3, H, W\)"):
        nn.Conv2D(3, 4, 3).forward(np.zeros((2, 7, 7, 3)))  # NHWC is not NCHW


def test_filterbank_wrong_ndim():
    with pytest.raises(ValueError, match=r"FilterBank.*\(N, C, H, W\)"):
        nn.FilterBank().forward(np.zeros((7, 7)))
    with pytest.raises(ValueError, match=r"FilterBank.*\(N, C, H, W\)"):
        nn.FilterBank().forward(np.zeros((3, 7, 7)))


def test_filterbank_bad_masks():
    with pytest.raises(ValueError, match=r"odd.*\(2, 3\)"):
        nn.FilterBank([np.ones((3, 3)), np.ones((2, 3))])
    with pytest.raises(ValueError, match=r"odd.*\(3, 4\)"):
        nn.FilterBank([np.ones((3, 4))])
    with pytest.raises(ValueError, match=r"2-D"):
        nn.FilterBank([np.ones(3)])
    with pytest.raises(ValueError, match=r"padding"):
        nn.FilterBank(padding="full")


def test_dense_wrong_width():
    with pytest.raises(ValueError, match=r"Dense.*\(N, 4\)"):
        nn.Dense(4, 2).forward(np.zeros((3, 5)))
    with pytest.raises(ValueError, match=r"Dense.*\(N, 4\)"):
        nn.Dense(4, 2).forward(np.zeros((3, 1, 2, 2)))  # forgot Flatten


@pytest.mark.parametrize("make", [lambda: nn.MaxPool2D(2), lambda: nn.AvgPool2D(2)])
def test_pool_stride_not_fitting(make):
    # (5 - 2)/2 + 1 = 2.5
    with pytest.raises(ValueError, match=r"2\.5"):
        make().forward(np.zeros((1, 1, 5, 6)))
    with pytest.raises(ValueError, match=r"2\.5"):
        make().output_shape((1, 6, 5))
    with pytest.raises(ValueError, match=r"2\.5"):
        nn.MaxPool2D(3, stride=2).forward(np.zeros((1, 1, 7, 6)))  # (6 - 3)/2 + 1


def test_conv2d_stride_not_fitting_with_padding():
    # (8 - 3 + 2)/2 + 1 = 4.5
    with pytest.raises(ValueError, match=r"4\.5"):
        nn.Conv2D(1, 1, 3, stride=2, padding=1).forward(np.zeros((1, 1, 7, 8)))
    with pytest.raises(ValueError, match=r"4\.5"):
        nn.Conv2D(1, 1, 3, stride=2, padding=1).output_shape((1, 8, 7))


def test_softmax_cross_entropy_bad_labels():
    logits = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"labels"):
        nn.SoftmaxCrossEntropy().forward(logits, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match=r"labels"):
        nn.SoftmaxCrossEntropy().forward(logits, np.array([0, -1, 1]))  # no wrap-around
    with pytest.raises(ValueError, match=r"labels"):
        nn.SoftmaxCrossEntropy().forward(logits, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"labels"):
        nn.SoftmaxCrossEntropy().forward(logits, np.array([0, 1, 2, 3]))


@pytest.mark.parametrize("make", [
    lambda p, g, lr: nn.SGD(p, g, lr=lr),
    lambda p, g, lr: nn.SGD(p, g, lr=lr, momentum=0.9),
    lambda p, g, lr: nn.Adam(p, g, lr=lr),
])
@pytest.mark.parametrize("lr", [0.0, -0.01])
def test_optimiser_lr_must_be_positive(make, lr):
    with pytest.raises(ValueError, match=r"\blr\b"):
        make([np.zeros(2)], [np.zeros(2)], lr)


def test_residual_shape_mismatch():
    res = nn.Residual(nn.Conv2D(2, 3, 3, padding=1))
    with pytest.raises(ValueError, match=r"Residual"):
        res.forward(np.zeros((1, 2, 5, 5)))
    with pytest.raises(ValueError, match=r"Residual"):
        res.output_shape((2, 5, 5))
    with pytest.raises(ValueError, match=r"Residual"):
        nn.Residual(nn.MaxPool2D(2)).forward(np.zeros((1, 2, 4, 4)))


# --------------------------------------------------------------------------
# 6. training sanity and inputs left untouched

def bars(rng, n):
    """8x8 images with one horizontal (label 0) or vertical (label 1) bar, plus noise."""
    x = 0.1 * rng.standard_normal((n, 1, 8, 8))
    labels = rng.integers(0, 2, n)
    pos = rng.integers(0, 8, n)
    for i in range(n):
        if labels[i] == 0:
            x[i, 0, pos[i], :] += 1.0
        else:
            x[i, 0, :, pos[i]] += 1.0
    return x, labels


def train_bars(seed, steps=100):
    rng = np.random.default_rng(seed)
    x, labels = bars(rng, 64)
    model = nn.Sequential(nn.Conv2D(1, 4, 3, padding=1, seed=seed), nn.ReLU(), nn.MaxPool2D(2),
                          nn.Flatten(), nn.Dense(4 * 4 * 4, 2, seed=seed + 1))
    loss_fn = nn.SoftmaxCrossEntropy()
    opt = nn.Adam(model.params, model.grads, lr=0.01)
    losses = []
    for _ in range(steps):
        losses.append(loss_fn.forward(model.forward(x), labels))
        model.backward(loss_fn.backward())
        opt.step()
    accuracy = np.mean(np.argmax(model.forward(x), axis=1) == labels)
    return model, losses, accuracy


def test_training_separates_bars_and_is_deterministic():
    model, losses, accuracy = train_bars(seed=0)
    assert accuracy >= 0.95
    assert losses[-1] < 0.5 * losses[0]
    again, losses2, _ = train_bars(seed=0)
    assert losses == losses2
    for a, b in zip(model.params, again.params):
        np.testing.assert_array_equal(a, b)


def _bn_eval():
    bn = nn.BatchNorm2D(2)
    bn.training = False
    return bn


# built inside the test, so that one failing constructor cannot break collection
LAYER_FACTORIES = {
    "FilterBank": lambda: nn.FilterBank(),
    "FilterBank-valid": lambda: nn.FilterBank(padding="valid"),
    "Conv2D": lambda: nn.Conv2D(2, 3, 3, stride=1, padding=1, seed=0),
    "Conv2D-float64-stride3": lambda: nn.Conv2D(2, 3, 3, stride=3, seed=0, dtype=F64),
    "ReLU": lambda: nn.ReLU(),
    "MaxPool2D": lambda: nn.MaxPool2D(2),
    "AvgPool2D": lambda: nn.AvgPool2D(3, stride=3),
    "Flatten": lambda: nn.Flatten(),
    "Dense": lambda: nn.Dense(72, 3, seed=0),
    "BatchNorm2D": lambda: nn.BatchNorm2D(2),
    "BatchNorm2D-float64": lambda: nn.BatchNorm2D(2, dtype=F64),
    "BatchNorm2D-eval": _bn_eval,
    "Residual": lambda: nn.Residual(nn.Conv2D(2, 2, 3, padding=1, seed=0), nn.ReLU()),
    "Sequential": lambda: nn.Sequential(nn.Conv2D(2, 2, 3, padding=1, seed=0), nn.ReLU(),
                                        nn.MaxPool2D(2), nn.Flatten(), nn.Dense(18, 2, seed=0)),
}


@pytest.mark.parametrize("name", list(LAYER_FACTORIES))
def test_forward_and_backward_do_not_modify_their_inputs(name):
    layer = LAYER_FACTORIES[name]()
    x = np.random.default_rng(90).standard_normal((2, 2, 6, 6))
    if name == "Dense":
        x = x.reshape(2, 72)
    x_copy = x.copy()
    y = layer.forward(x)
    np.testing.assert_array_equal(x, x_copy)
    g = np.random.default_rng(91).standard_normal(y.shape)
    g_copy = g.copy()
    layer.backward(g)
    np.testing.assert_array_equal(g, g_copy)
    np.testing.assert_array_equal(x, x_copy)


@pytest.mark.parametrize("name", [name for name in LAYER_FACTORIES if name != "Sequential"])
def test_layers_are_in_training_mode_by_default(name):
    assert LAYER_FACTORIES[name]().training is (name != "BatchNorm2D-eval")


def test_softmax_cross_entropy_does_not_modify_its_inputs():
    logits = np.random.default_rng(92).standard_normal((4, 3)) * 100
    labels = np.array([0, 2, 1, 2])
    lc, yc = logits.copy(), labels.copy()
    loss_fn = nn.SoftmaxCrossEntropy()
    loss_fn.forward(logits, labels)
    loss_fn.backward()
    np.testing.assert_array_equal(logits, lc)
    np.testing.assert_array_equal(labels, yc)


# --------------------------------------------------------------------------
# 7. one layer protocol: params, grads, param_names and param_shapes

WITH_PARAMS = {"Conv2D", "Conv2D-float64-stride3", "Dense", "BatchNorm2D", "BatchNorm2D-float64",
               "BatchNorm2D-eval", "Residual", "Sequential"}


def layer_input(name, rng):
    x = rng.standard_normal((2, 2, 6, 6))
    return x.reshape(2, 72) if name == "Dense" else x


@pytest.mark.parametrize("name", list(LAYER_FACTORIES))
def test_params_and_grads_are_aligned_flat_lists_of_arrays(name):
    layer = LAYER_FACTORIES[name]()
    params, grads, names, shapes = layer.params, layer.grads, layer.param_names, layer.param_shapes
    for value in (params, grads, names, shapes):
        assert type(value) is list
    assert len(params) == len(grads) == len(names) == len(shapes)
    assert (len(params) > 0) == (name in WITH_PARAMS)
    assert len(set(names)) == len(names) and all(isinstance(n, str) and n for n in names)
    for p, g, shape in zip(params, grads, shapes):
        assert isinstance(p, np.ndarray) and isinstance(g, np.ndarray)
        assert p.shape == g.shape == tuple(shape) and p.dtype == g.dtype
        assert not np.shares_memory(p, g)
    assert layer.n_params == sum(p.size for p in params)
    # the same arrays on every access, and after forward and backward: an
    # optimiser built before the first step holds what backward writes
    assert all(a is b for a, b in zip(params, layer.params))
    assert all(a is b for a, b in zip(grads, layer.grads))
    rng = np.random.default_rng(95)
    y = layer.forward(layer_input(name, rng))
    layer.backward(rng.standard_normal(y.shape))
    assert all(a is b for a, b in zip(params, layer.params))
    assert all(a is b for a, b in zip(grads, layer.grads))
    if params:
        assert any(np.any(g != 0) for g in grads)


@pytest.mark.parametrize("name", list(LAYER_FACTORIES))
def test_the_protocol_lists_have_no_setter(name):
    layer = LAYER_FACTORIES[name]()
    for attr in ("params", "grads", "param_names", "param_shapes"):
        with pytest.raises(AttributeError):
            setattr(layer, attr, [])


def test_containers_list_the_inner_layers_arrays_in_order():
    conv, bn, inner, dense = (nn.Conv2D(1, 2, 3, padding=1), nn.BatchNorm2D(2), nn.Conv2D(2, 2, 1),
                              nn.Dense(2 * 4 * 4, 3))
    res = nn.Residual(inner, nn.ReLU())
    model = nn.Sequential(conv, bn, nn.ReLU(), res, nn.Flatten(), dense)
    for attr in ("params", "grads"):
        want = [a for layer in (conv, bn, inner, dense) for a in getattr(layer, attr)]
        got = getattr(model, attr)
        assert len(got) == len(want) == 8 and all(a is b for a, b in zip(got, want))
        assert all(a is b for a, b in zip(getattr(res, attr), getattr(inner, attr)))
    assert model.param_names == ["0.weight", "0.bias", "1.gamma", "1.beta", "3.0.weight", "3.0.bias",
                                 "5.weight", "5.bias"]
    assert res.param_names == ["0.weight", "0.bias"]
    assert model.param_shapes == [p.shape for p in model.params]
    assert conv.param_shapes == [(2, 1, 3, 3), (2,)] and bn.param_names == ["gamma", "beta"]


def test_param_shapes_and_n_params_allocate_nothing():
    layer = nn.Dense(25088, 4096)
    assert layer.param_shapes == [(25088, 4096), (4096,)]
    assert layer.n_params == 25088 * 4096 + 4096
    assert layer._params is None  # 411 MB in float32 if allocated


def test_load_params_copies_into_the_same_arrays_and_checks_first():
    rng = np.random.default_rng(96)
    model = nn.Sequential(nn.Conv2D(1, 2, 3, dtype=F64), nn.ReLU(), nn.Flatten(), nn.Dense(8, 3, dtype=F64))
    arrays = model.params
    values = [rng.standard_normal(shape) for shape in model.param_shapes]
    model.load_params(values)
    assert all(a is b for a, b in zip(model.params, arrays))
    for a, v in zip(model.params, values):
        np.testing.assert_array_equal(a, v)
        assert not np.shares_memory(a, v)
    before = [a.copy() for a in arrays]
    with pytest.raises(ValueError, match=r"must hold 4 arrays \(0\.weight, 0\.bias, 3\.weight, 3\.bias\); got 3"):
        model.load_params(values[:3])
    bad = values[:3] + [np.zeros(4)]
    with pytest.raises(ValueError, match=r"`values\[3\]` \(3\.bias\) must have shape \(3,\); got \(4,\)"):
        model.load_params(bad)
    for a, b in zip(arrays, before):  # nothing written: every shape is checked first
        np.testing.assert_array_equal(a, b)


def test_load_params_into_a_new_layer_skips_the_initialisation():
    w, b = np.arange(6.0).reshape(3, 2), np.array([0.5, -0.5])
    layer = nn.Dense(3, 2, dtype=F64)
    layer.load_params([w, b])
    np.testing.assert_array_equal(layer.forward(np.ones((1, 3))), [[6.5, 8.5]])
    assert [g.shape for g in layer.grads] == [(3, 2), (2,)] and not any(g.any() for g in layer.grads)
    with pytest.raises(ValueError, match=r"must hold 0 arrays \(none\); got 1"):
        nn.ReLU().load_params([w])


OPTIMISERS = {
    "SGD": lambda p, g: nn.SGD(p, g, lr=0.1),
    "SGD-momentum": lambda p, g: nn.SGD(p, g, lr=0.1, momentum=0.9),
    "Adam": lambda p, g: nn.Adam(p, g, lr=0.01),
}


@pytest.mark.parametrize("name", list(OPTIMISERS))
def test_optimiser_steps_update_the_layers_arrays_in_place(name):
    rng = np.random.default_rng(97)
    conv = nn.Conv2D(1, 2, 3, padding=1, seed=0, dtype=F64)
    bn = nn.BatchNorm2D(2, dtype=F64)
    inner = nn.Conv2D(2, 2, 1, seed=1, dtype=F64)
    dense = nn.Dense(2 * 4 * 4, 3, seed=2, dtype=F64)
    model = nn.Sequential(conv, bn, nn.ReLU(), nn.Residual(inner), nn.Flatten(), dense)
    params, grads = model.params, model.grads
    opt = OPTIMISERS[name](params, grads)
    x, labels = rng.standard_normal((4, 1, 4, 4)), np.array([0, 1, 2, 1])
    loss_fn = nn.SoftmaxCrossEntropy()
    for _ in range(3):
        before = [p.copy() for p in params]
        loss_fn.forward(model.forward(x), labels)
        model.backward(loss_fn.backward())
        now = [g.copy() for g in model.grads]
        opt.step()
        # the layers' own arrays moved, in place
        assert all(a is b for a, b in zip(model.params, params))
        assert params[0] is conv.params[0] and params[-1] is dense.params[1]
        for p, b, g in zip(params, before, now):
            if name == "SGD":
                np.testing.assert_array_equal(p, b - 0.1 * g)  # the same float64 operations
            else:
                assert np.any(p != b) or not np.any(g)
    # and the model computes with them
    weight, bias = dense.params
    h = model.layers[4].forward(model.layers[3].forward(np.maximum(bn.forward(conv.forward(x)), 0)))
    np.testing.assert_allclose(dense.forward(h), h @ weight + bias, rtol=1e-13, atol=1e-13)


# --------------------------------------------------------------------------
# 8. the one im2col (Conv2D at every stride) against explicit loops

IM2COL_CASES = [
    # (N, C, H, W, F, stride, padding)
    (2, 2, 5, 6, 3, 1, 0),
    (2, 3, 5, 6, 3, 1, 1),
    (1, 2, 6, 5, 5, 1, 2),
    (2, 2, 5, 7, 3, 2, 0),
    (2, 3, 5, 7, 3, 2, 1),
    (1, 2, 5, 7, 3, 2, 2),
    (1, 2, 7, 9, 5, 2, 1),
    (1, 2, 9, 6, 3, 3, 0),
    (2, 3, 4, 5, 1, 1, 0),
    (2, 2, 6, 6, 4, 2, 1),   # an even filter
    (1, 1, 3, 3, 3, 1, 3),   # padding wider than the filter
    (1, 2, 8, 8, 2, 2, 0),
]


def naive_im2col(x, F, stride, padding):
    """cols[(c, u, v), (n, i, j)] = xpad[n, c, i*stride + u, j*stride + v], by explicit loops."""
    N, C, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    Ho = (H - F + 2 * padding) // stride + 1
    Wo = (W - F + 2 * padding) // stride + 1
    cols = np.empty((C, F, F, N, Ho, Wo), x.dtype)
    for c in range(C):
        for u in range(F):
            for v in range(F):
                for n in range(N):
                    for i in range(Ho):
                        for j in range(Wo):
                            cols[c, u, v, n, i, j] = xp[n, c, i * stride + u, j * stride + v]
    return cols.reshape(C * F * F, N * Ho * Wo)


def naive_col2im(cols, shape, F, stride, padding):
    """dx[n, c, i*stride + u - padding, j*stride + v - padding] += cols[(c, u, v), (n, i, j)]."""
    N, C, H, W = shape
    Ho = (H - F + 2 * padding) // stride + 1
    Wo = (W - F + 2 * padding) // stride + 1
    cols = cols.reshape(C, F, F, N, Ho, Wo)
    dx = np.zeros(shape)
    for c in range(C):
        for u in range(F):
            for v in range(F):
                for n in range(N):
                    for i in range(Ho):
                        for j in range(Wo):
                            r, t = i * stride + u - padding, j * stride + v - padding
                            if 0 <= r < H and 0 <= t < W:
                                dx[n, c, r, t] += cols[c, u, v, n, i, j]
    return dx


@pytest.mark.parametrize("N, C, H, W, F, stride, padding", IM2COL_CASES)
def test_im2col_and_col2im_match_explicit_loops(N, C, H, W, F, stride, padding):
    rng = np.random.default_rng(200 + F * 10 + stride * 3 + padding)
    x = rng.standard_normal((N, C, H, W))
    g = _grid(x.shape, F, stride, padding)
    assert (g.oh, g.ow) == (nn.output_size(H, F, stride=stride, padding=padding),
                            nn.output_size(W, F, stride=stride, padding=padding))
    assert g.wq >= g.ow
    # workspaces full of NaN: every entry used must be written
    out = np.full(C * F * F * N * g.grid, np.nan)
    work = np.full(C * stride * stride * N * g.hq * g.wq, np.nan)
    cols = _im2col(x, g, out=out, work=work)
    assert cols.shape == (C * F * F, N * g.grid)
    valid = cols.reshape(C * F * F, N, g.oh, g.wq)[..., :g.ow].reshape(C * F * F, -1)
    np.testing.assert_array_equal(valid, naive_im2col(x, F, stride, padding))  # copies: exact
    assert not np.any(np.isnan(cols))
    # col2im: integer-valued columns, so that every sum is exact in any order;
    # the extra columns (j >= OW) are zero, as col2im requires
    d = rng.integers(-8, 9, size=(C * F * F, N, g.oh, g.wq)).astype(F64)
    d[..., g.ow:] = 0
    d_valid = d[..., :g.ow].reshape(C * F * F, -1)
    dx = _col2im(d.reshape(C * F * F, -1), g, out=np.full((N, C, H, W), np.nan), work=work)
    np.testing.assert_array_equal(dx, naive_col2im(d_valid, x.shape, F, stride, padding))
    # the adjoint: <im2col(x), d> == <x, col2im(d)>
    assert np.sum(valid * d_valid) == pytest.approx(np.sum(x * dx), rel=1e-12)


@pytest.mark.parametrize("N, C, H, W, F, stride, padding", IM2COL_CASES)
def test_conv2d_matches_naive_loops_on_the_im2col_cases(N, C, H, W, F, stride, padding):
    # the same cases through the layer: forward against the loops, backward
    # against central differences
    rng = np.random.default_rng(300 + F * 10 + stride * 3 + padding)
    layer = nn.Conv2D(C, 2, F, stride=stride, padding=padding, dtype=F64)
    set_params(layer, rng)
    x = rng.standard_normal((N, C, H, W))
    w, b = layer.params
    want = naive_conv2d(x, w, b, stride, padding)
    np.testing.assert_allclose(layer.forward(x), want, rtol=0,
                               atol=dot_bound(C * F * F + 1, np.abs(w).sum(axis=(1, 2, 3)).max()
                                              * np.abs(x).max() + np.abs(b).max()))
    check_layer_gradients(layer, x, rng)


def test_conv2d_chunks_give_the_same_result_as_one_chunk(monkeypatch):
    # more samples than one chunk holds, and a last chunk of another size
    import filterkit.nn.layers as layers_module

    rng = np.random.default_rng(98)
    x = rng.standard_normal((7, 2, 6, 6))
    layer = nn.Conv2D(2, 3, 3, stride=1, padding=1, seed=3, dtype=F64)
    y = layer.forward(x)
    r = rng.standard_normal(y.shape)
    dx = layer.backward(r)
    dw = [g.copy() for g in layer.grads]
    monkeypatch.setattr(layers_module, "CHUNK_COLUMNS", 2 * 6 * 8)  # two samples per chunk
    assert len(layer._chunks(x.shape)) == 4
    np.testing.assert_allclose(layer.forward(x), y, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(layer.backward(r), dx, rtol=1e-13, atol=1e-13)
    for a, b in zip(layer.grads, dw):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)


# --------------------------------------------------------------------------
# 9. imports run one way

def _nn_imports():
    """(module, imported module, function-local?) for every import in filterkit/nn."""
    import ast
    import pathlib

    folder = pathlib.Path(nn.__file__).parent
    found = []
    for path in sorted(folder.glob("*.py")):
        module = "filterkit.nn" if path.stem == "__init__" else f"filterkit.nn.{path.stem}"
        package = "filterkit.nn"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        local = {id(node) for fn in ast.walk(tree) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
                 for node in ast.walk(fn)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = package.rsplit(".", node.level - 1)[0] if node.level else ""
                target = ".".join(part for part in (base, node.module) if part)
                # "from . import train" imports the module filterkit.nn.train;
                # "from .layers import Conv2D" the module filterkit.nn.layers
                names = [f"{target}.{alias.name}" for alias in node.names]
                submodules = [n for n in names if (folder / f"{n.rsplit('.', 1)[1]}.py").exists()
                              and target == package]
                targets = submodules or [target] + names
            else:
                continue
            for target in targets:
                found.append((module, target, id(node) in local))
    return found


def test_nn_calls_filterkits_public_api_only():
    private = sorted({(m, t) for m, t, _ in _nn_imports()
                      if t.startswith("filterkit.") and not t.startswith("filterkit.nn")
                      and any(part.startswith("_") for part in t.split(".")[1:])
                      and t not in ("filterkit._validate", "filterkit._validate.describe",
                                    "filterkit._validate.fail")})
    assert not private, private


def test_nn_has_no_import_circle_and_no_hidden_local_import():
    imports = _nn_imports()
    local = sorted({(m, t) for m, t, is_local in imports if is_local and t.startswith("filterkit")})
    assert not local, local
    modules = {m for m, _, _ in imports}
    graph = {m: {t for mm, t, _ in imports if mm == m and t in modules and t != m} for m in modules}
    del graph["filterkit.nn"]  # the package imports its modules; they never import it
    assert all("filterkit.nn" not in targets for targets in graph.values())
    done, active = set(), []

    def visit(m):
        assert m not in active, " -> ".join(active + [m])
        if m in done:
            return
        active.append(m)
        for t in graph.get(m, ()):
            visit(t)
        active.pop()
        done.add(m)

    for m in graph:
        visit(m)

"""
CNN arithmetic: output sizes and parameter counts
=================================================

The lecture's numbers for convolution layers: a 7x7 input with a 3x3 filter
gives a 5x5 output at stride 1, 3x3 at stride 2, and at stride 3
(7 − 3)/3 + 1 = 2.33 — not an integer, so that stride does not fit; a layer
of ten 5x5 filters on a 3-channel input has 760 parameters, one of sixteen
5x5 filters on its 10 feature maps 4016; VGG16 has 138 million parameters
(VGG19 144 million).

This example computes each of them with :func:`filterkit.nn.output_size` and
the parameter counts of :mod:`filterkit.nn`'s layers, asserts every number the
lecture states, prints them as a table, and draws the lecture's stride
picture.
"""

# %%
# Output size: (N − F + 2P) / S + 1
# ---------------------------------
# :func:`filterkit.nn.output_size` computes it and refuses a stride that does
# not fit with a ``ValueError`` naming the fraction.

from fractions import Fraction
from typing import List, Tuple

import matplotlib.pyplot as plt
import numpy as np

import filterkit.nn as nn
from filterkit import masks

table: List[Tuple[str, str, str]] = []  # (what, computed, the lecture)

N, F = 7, 3
for stride, lecture in [(1, 5), (2, 3)]:
    size = nn.output_size(N, F, stride=stride)
    assert size == lecture
    table.append((f"7x7 input, 3x3 filter, stride {stride}", f"{size}x{size}",
                  f"{lecture}x{lecture}"))

try:
    nn.output_size(N, F, stride=3)
except ValueError as exc:
    refused = str(exc)
else:
    raise AssertionError("stride 3 must not fit a 7x7 input with a 3x3 filter")
exact = Fraction(N - F, 3) + 1  # 7/3
assert f"{float(exact):.2f}" == "2.33" and "2.33" in refused
table.append(("7x7 input, 3x3 filter, stride 3", f"{float(exact):.2f} (refused)",
              "2,33: does not fit"))
print(refused)

# Padding: F = 3, 5, 7 need P = 1, 2, 3 = (F - 1) / 2 to keep the size, and
# without padding (F - 1) / 2 values are lost on each side.
for f, p in [(3, 1), (5, 2), (7, 3)]:
    assert (f - 1) // 2 == p
    assert nn.output_size(32, f, padding=p) == 32
    assert nn.output_size(32, f) == 32 - 2 * p
    table.append((f"F = {f}: padding that keeps the size", f"P = {p}", f"P = {p}"))

# %%
# Parameters of a convolution layer: (F · F · D) · K + K
# ------------------------------------------------------
# The lecture's two example layers: ten 5x5 filters over a 3-channel (RGB)
# input — each filter 5 · 5 · 3 + 1 = 76 parameters (+1: the bias) — and
# sixteen 5x5 filters over the ten feature maps of the first: 5 · 5 · 10 + 1
# = 251 each.  :class:`filterkit.nn.Conv2D` counts them from the shapes of its
# weight (K, D, F, F) and bias (K,), without allocating anything.

first = nn.Conv2D(3, 10, 5, padding=2)
second = nn.Conv2D(10, 16, 5, padding=2)
assert first.param_shapes == [(10, 3, 5, 5), (10,)]
assert first.n_params == 760 == (5 * 5 * 3 + 1) * 10
assert second.n_params == 4016 == (5 * 5 * 10 + 1) * 16
table.append(("10 filters 5x5x3 (+ bias)", f"{first.n_params:,}", "76 · 10 = 760"))
table.append(("16 filters 5x5x10 (+ bias)", f"{second.n_params:,}", "251 · 16 = 4016"))

# Pooling has no weights; 2x2 max-pooling with stride 2 halves the size.
pool = nn.MaxPool2D(2, 2)
assert pool.n_params == 0 and pool.output_shape((10, 32, 32)) == (10, 16, 16)
table.append(("2x2 max-pool, stride 2", f"{pool.n_params} weights", "none"))

# %%
# Three 3x3 layers or one 7x7 layer
# ---------------------------------
# Three stacked 3x3 convolutions see a 7x7 region (compose three 3x3 masks:
# a 7x7 mask) with fewer weights.  For depth d the lecture gives 49d² + d for
# one 7x7 layer, and 27d² + d for three 3x3 layers.  The weights agree
# (49d² against 27d²); the biases are d per *layer*, so three layers have
# 27d² + 3d parameters — 2d more than the slide says, which does not change
# its point.

assert masks.compose(np.ones((3, 3)), np.ones((3, 3)), np.ones((3, 3))).shape == (7, 7)
for d in (64, 256, 512):
    one = nn.Conv2D(d, d, 7, padding=3).n_params
    three = 3 * nn.Conv2D(d, d, 3, padding=1).n_params
    assert one == 49 * d * d + d
    assert three == 27 * d * d + 3 * d
    assert three < one
table.append(("one 7x7 layer, depth d", "49d² + d", "49d² + d"))
table.append(("three 3x3 layers, depth d", "27d² + 3d", "27d² + d (biases of one layer)"))

# %%
# VGG16 and VGG19
# ---------------
# VGG: 3x3 convolutions only (stride 1, padding 1), 2x2 max-pooling with
# stride 2, then three fully connected layers, on 224 x 224 RGB images.
# Built from filterkit's layers; ``summary`` and ``n_params`` count the
# parameters from the shapes, without allocating the half-gigabyte of
# weights.

VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M",
         512, 512, 512, "M", 512, 512, 512, "M"]
VGG19 = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
         512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]


def vgg(config: list, classes: int = 1000) -> nn.Sequential:
    """VGG from its layer list: numbers are 3x3 convolutions, "M" a max-pool."""
    layers: list = []
    depth, side = 3, 224
    for item in config:
        if item == "M":
            layers.append(nn.MaxPool2D(2, 2))
            side = nn.output_size(side, 2, stride=2)
        else:
            layers += [nn.Conv2D(depth, item, 3, padding=1), nn.ReLU()]
            depth = item
    layers += [nn.Flatten(), nn.Dense(depth * side * side, 4096), nn.ReLU(),
               nn.Dense(4096, 4096), nn.ReLU(), nn.Dense(4096, classes)]
    return nn.Sequential(*layers)


vgg16, vgg19 = vgg(VGG16), vgg(VGG19)
assert vgg16.output_shape((3, 224, 224)) == (1000,)
assert vgg16.n_params == 138_357_544
assert round(vgg16.n_params / 1e6) == 138  # the lecture: "138 million"
assert round(vgg19.n_params / 1e6) == 144  # the lecture: "144 million"
table.append(("VGG16 parameters", f"{vgg16.n_params:,}", "138 million"))
table.append(("VGG19 parameters", f"{vgg19.n_params:,}", "144 million"))

print(vgg16.summary((3, 224, 224)))

# %%
# The table
# ---------
# Every number the lecture states, computed (each one is asserted above):

width = max(len(row[0]) for row in table)
print(f"{'':<{width}}  {'computed':<22}the lecture")
for what, computed, lecture in table:
    print(f"{what:<{width}}  {computed:<22}{lecture}")

# %%
# The stride picture
# ------------------
# The lecture's figure: a 3x3 filter moved over a 7x7 input, an ``x`` at the
# centre of every position it takes.  At stride 3 the second step ends at
# column 5: column 6 (and row 6) is never covered — "asymmetric border,
# stride does not match".


def stride_panel(ax: plt.Axes, n: int, f: int, stride: int) -> None:
    """Grid of n x n pixels, an x where the f x f filter's centre lands."""
    starts = list(range(0, n - f + 1, stride))
    covered = np.zeros((n, n), bool)
    for r in starts:
        for c in starts:
            covered[r:r + f, c:c + f] = True
    # covered pixels white, pixels the filter never reaches light red
    rgb = np.where(covered[..., None], [1.0, 1.0, 1.0], [0.97, 0.62, 0.58])
    ax.imshow(rgb, extent=(-0.5, n - 0.5, n - 0.5, -0.5))
    for k in range(n + 1):
        ax.plot([k - 0.5, k - 0.5], [-0.5, n - 0.5], color="0.3", linewidth=0.8)
        ax.plot([-0.5, n - 0.5], [k - 0.5, k - 0.5], color="0.3", linewidth=0.8)
    for r in starts:
        for c in starts:
            ax.text(c + f // 2, r + f // 2, "x", ha="center", va="center", fontsize=13)
    for c in starts[:2]:  # the first two positions of the filter in the top row
        ax.add_patch(plt.Rectangle((c - 0.5, -0.5), f, f, fill=False, linewidth=2.5,
                                   edgecolor="tab:blue" if c == 0 else "tab:orange"))
    size = Fraction(n - f, stride) + 1
    shown = f"{size}x{size}" if size.denominator == 1 else f"{float(size):.2f}: does not fit"
    ax.set_title(f"stride {stride}: ({n} - {f})/{stride} + 1 = {shown}", fontsize=10)
    ax.set_xlim(-0.6, n - 0.4)
    ax.set_ylim(n - 0.4, -0.6)
    ax.set_axis_off()


fig, axes = plt.subplots(1, 3, figsize=(12, 4.2), layout="constrained")
for ax, stride in zip(axes, (1, 2, 3)):
    stride_panel(ax, N, F, stride)
fig.suptitle("7x7 input, 3x3 filter: blue its first position, orange the next; "
             "red: pixels it never covers")
plt.show()

# %%
# Where VGG16's parameters are
# ----------------------------
# Per layer with weights: the 13 convolutions hold 14.7 million parameters,
# the first fully connected layer alone (512 · 7 · 7 inputs, 4096 outputs)
# 102.8 million — three quarters of the network.

names, counts = [], []
conv_k = dense_k = 0
for layer in vgg16.layers:
    if layer.n_params:
        if isinstance(layer, nn.Conv2D):
            conv_k += 1
            names.append(f"conv{conv_k} {layer.in_channels}→{layer.out_channels}")
        else:
            dense_k += 1
            names.append(f"dense{dense_k}")
        counts.append(layer.n_params)
conv_total = sum(c for name, c in zip(names, counts) if name.startswith("conv"))
print(f"VGG16: convolutions {conv_total:,}, fully connected {vgg16.n_params - conv_total:,} "
      f"({(vgg16.n_params - conv_total) / vgg16.n_params:.0%})")
assert counts[13] == 512 * 7 * 7 * 4096 + 4096  # the first Dense layer

fig, ax = plt.subplots(figsize=(10, 5), layout="constrained")
ax.barh(range(len(counts)), counts, color=["tab:blue"] * conv_k + ["tab:red"] * dense_k)
ax.set_yticks(range(len(counts)), names, fontsize=8)
ax.invert_yaxis()
ax.set_xscale("log")
ax.set_xlabel("parameters (log scale)")
ax.set_title(f"VGG16: {vgg16.n_params:,} parameters, by layer")
for k, c in enumerate(counts):
    ax.text(c * 1.1, k, f"{c:,}", va="center", fontsize=7)
ax.set_xlim(1e3, 1e9)
plt.show()

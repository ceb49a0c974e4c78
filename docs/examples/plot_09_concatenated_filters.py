"""
Concatenated filters as one mask, and separable masks
=====================================================

The lecture's summary of linear filters: *"filters can be concatenated,
resulting in a single new linear filter mask (cf. convolution equation)"*.
Convolution is associative, so filtering with a mask a and then with b is the
same as filtering once with the mask a * b (the full convolution of the two
masks); :func:`filterkit.masks.compose` makes it.  This example composes
mean 3x3 with itself (a triangle 5x5) and a Gaussian with Sobel (a
derivative-of-Gaussian 7x7), checks numerically where the two ways agree —
it depends on the border mode — and, the other way round, splits separable
masks into a column and a row with :func:`filterkit.masks.separate`.
"""

# %%
# Composing masks
# ---------------
# ``compose(a, b)`` is the full 2-D convolution of the masks: sizes
# (h1 + h2 - 1) x (w1 + w2 - 1), so two 3x3 masks give a 5x5 one.  Mean 3x3
# twice is the triangle (tent) filter 1/81 [1 2 3 2 1]ᵀ[1 2 3 2 1].

from typing import Optional

import matplotlib.pyplot as plt
import numpy as np
from skimage import data

import filterkit
from filterkit import masks

mean3 = masks.mean(3)
triangle = masks.compose(mean3, mean3)
tent = np.array([1.0, 2.0, 3.0, 2.0, 1.0])
assert triangle.shape == (5, 5)
assert np.allclose(triangle * 81, np.outer(tent, tent), rtol=0, atol=1e-12)

gauss5 = masks.gaussian(5, sigma=1.0)  # the lecture's 5x5, sigma = 1
sobel_x = masks.sobel_x()              # [[1, 0, -1], [2, 0, -2], [1, 0, -1]]
dog = masks.compose(gauss5, sobel_x)   # smooth, then differentiate: 7x7
assert dog.shape == (7, 7)
assert abs(dog.sum()) < 1e-12          # a derivative mask: no response to a constant
print("mean 3x3 composed with itself, x 81:")
print(np.rint(triangle * 81).astype(int))


def heatmap(ax: plt.Axes, mask: np.ndarray, title: str, scale: float = 1.0,
            fmt: str = "{:.0f}", signed: Optional[bool] = None) -> None:
    """A mask as a heatmap with each weight written in its cell (times `scale`)."""
    values = np.atleast_2d(mask) * scale
    if signed is None:
        signed = bool((values < 0).any())
    top = float(np.abs(values).max()) or 1.0
    # signed masks: blue negative, red positive, white 0; others: light to dark
    # blue, the top of the scale a little beyond the largest weight
    cmap, vmin, vmax = ("RdBu_r", -top, top) if signed else ("Blues", 0.0, 1.3 * top)
    ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax)
    size = 10 if max(values.shape) <= 5 else 8
    for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=size,
                color="white" if abs(v) > 0.6 * vmax else "black")
    ax.set_title(title, fontsize=10)
    ax.set_axis_off()


fig, axes = plt.subplots(1, 4, figsize=(13, 3.6), layout="constrained",
                         gridspec_kw={"width_ratios": [3, 5, 5, 7]})
heatmap(axes[0], mean3, "mean 3x3 (x 9)", scale=9)
heatmap(axes[1], triangle, "mean ⊛ mean = triangle 5x5\n(x 81)", scale=81)
heatmap(axes[2], gauss5, "Gaussian 5x5, σ = 1 (x 273)", scale=273)
heatmap(axes[3], dog, "Gaussian 5x5 ⊛ Sobel x\n(x 273, one decimal)", scale=273, fmt="{:.1f}")
plt.show()

# %%
# One mask or two filters in sequence: where they agree
# -----------------------------------------------------
# ``convolve(convolve(f, a), b)`` equals ``convolve(f, compose(a, b))`` only
# where the border mode does not get in the way.  The first filter's result
# is extended by the border mode before the second filter reads beyond the
# image; the composed mask extends the original image instead.  The two
# agree:
#
# * with ``mode="wrap"`` everywhere (circular convolution is associative),
# * with ``mode="reflect"`` or ``"mirror"`` everywhere *if the first mask is
#   mirror-symmetric* left-right and up-down (mean, Gaussian): its result is
#   again a mirrored image,
# * in every mode at least r_b pixels from the border, r_b the radius of the
#   second mask (1 for Sobel, 2 for the 5x5 Gaussian).
#
# Measured on the camera man (float64, so equal means equal up to rounding:
# 1e-12 is a few hundred times the rounding error of a 49-tap sum of values
# in [0, 1], about 49 · 1.1e-16):

image = data.camera()[::2, ::2].astype(np.float64) / 255.0  # 256 x 256
MODES = ("wrap", "reflect", "mirror", "nearest", "constant")
TOL = 1e-12


def border_distance(shape: tuple) -> np.ndarray:
    """Each pixel's distance (in pixels) to the nearest image border."""
    rows = np.arange(shape[0])[:, None]
    cols = np.arange(shape[1])[None, :]
    return np.minimum(np.minimum(rows, shape[0] - 1 - rows),
                      np.minimum(cols, shape[1] - 1 - cols))


dist = border_distance(image.shape)
cases = [("mean, then mean", mean3, mean3), ("Gaussian, then Sobel x", gauss5, sobel_x),
         ("Sobel x, then Gaussian", sobel_x, gauss5)]
profiles = {}
print(f"{'first, then second':<24}{'mode':<10}{'max |diff|':>12}{'  exact from distance':>22}")
for name, a, b in cases:
    composed = masks.compose(a, b)
    r_b = b.shape[0] // 2
    for mode in MODES:
        in_sequence = filterkit.convolve(filterkit.convolve(image, a, mode=mode), b, mode=mode)
        at_once = filterkit.convolve(image, composed, mode=mode)
        diff = np.abs(in_sequence - at_once)
        bad = dist[diff > TOL]
        exact_from = 0 if bad.size == 0 else int(bad.max()) + 1
        print(f"{name:<24}{mode:<10}{diff.max():>12.2e}{exact_from:>22d}")
        profiles[name, mode] = [diff[dist == d].max() for d in range(8)]
        # away from the border: equal in every mode
        assert diff[dist >= r_b].max() < TOL, (name, mode)
        if mode == "wrap":
            assert diff.max() < TOL, (name, mode)
        mirror_symmetric = np.array_equal(a, a[::-1, :]) and np.array_equal(a, a[:, ::-1])
        if mode in ("reflect", "mirror") and mirror_symmetric:
            assert diff.max() < TOL, (name, mode)

# %%
# The largest difference at each distance from the border, for the Gaussian
# and Sobel in both orders (a difference below 1e-16 is drawn at 1e-16):

fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), layout="constrained", sharey=True)
for ax, name in zip(axes, ["Gaussian, then Sobel x", "Sobel x, then Gaussian"]):
    for mode, marker in zip(MODES, "osD^v"):
        ax.semilogy(range(8), np.maximum(profiles[name, mode], 1e-16), marker=marker,
                    label=mode)
    ax.axhline(TOL, color="0.5", linestyle=":", linewidth=1)
    ax.set_title(f"{name}: sequence vs composed 7x7 mask", fontsize=10)
    ax.set_xlabel("distance from the image border (pixels)")
axes[0].set_ylabel("max |difference|")
axes[1].legend(title="border mode", fontsize=9)
plt.show()

# %%
# Separable masks: one column times one row
# -----------------------------------------
# A rank-1 mask is the outer product of a column and a row, and filtering with
# it costs h + w operations per pixel instead of h · w (a vertical then a
# horizontal pass: ``method="separable"``).  :func:`filterkit.masks.separate`
# finds the factors, taken from the mask itself so that Sobel splits into
# integers; it returns None for a mask that is not rank 1, such as Laplace.

for name, mask in [("Sobel x", sobel_x), ("triangle 5x5", triangle),
                   ("Gaussian 5x5", gauss5), ("Gaussian 5x5 ⊛ Sobel x", dog)]:
    column, row = masks.separate(mask)
    assert np.allclose(np.outer(column, row), mask, rtol=0, atol=1e-12), name
    print(f"{name:<24} column {np.array2string(column, precision=3)}  "
          f"row {np.array2string(row, precision=3)}")
assert masks.separate(masks.laplace(4)) is None
assert masks.separate(masks.laplace(8)) is None
print("Laplace (4- and 8-neighbourhood): not separable (None)")

# Filtering with the factors in two passes is filtering with the mask.
column, row = masks.separate(dog)
two_passes = filterkit.convolve(filterkit.convolve(image, column[:, None]), row[None, :])
assert np.abs(two_passes - filterkit.convolve(image, dog)).max() < TOL

# %%
# The factors of Sobel x and of the triangle, drawn as a column and a row
# beside their outer product.  ``separate`` puts the triangle's 1/81 into
# the factors as 1/27 and 1/3; they are drawn times 27 and times 3, so that
# all three show the integers [1 2 3 2 1].

fig = plt.figure(figsize=(11, 3.8), layout="constrained")
grid = fig.add_gridspec(2, 5, width_ratios=[1, 3, 0.8, 1, 5], height_ratios=[1, 5])
for left, name, mask, col_scale, row_scale in [(0, "Sobel x", sobel_x, 1, 1),
                                                (3, "triangle", triangle, 27, 3)]:
    column, row = masks.separate(mask)
    signed = bool((mask < 0).any())
    suffix = lambda k: "" if k == 1 else f" (x {k})"  # noqa: E731
    heatmap(fig.add_subplot(grid[1, left]), column[:, None], "column" + suffix(col_scale),
            scale=col_scale, signed=signed)
    heatmap(fig.add_subplot(grid[0, left + 1]), row[None, :], "row" + suffix(row_scale),
            scale=row_scale, signed=signed)
    heatmap(fig.add_subplot(grid[1, left + 1]), mask,
            f"{name} = column x row" + suffix(col_scale * row_scale),
            scale=col_scale * row_scale)
    fig.add_subplot(grid[0, left]).set_axis_off()
fig.add_subplot(grid[:, 2]).set_axis_off()
plt.show()

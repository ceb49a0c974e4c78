r"""
The mirrored mask: convolution versus correlation
=================================================

The lecture defines 2-D convolution as

.. math:: f'(x, y) = f * g = \sum_{i=-r}^{r} \sum_{j=-r}^{r} f(x - i, y - j)\, g(i, j)

and describes it as "mirror filter mask horizontally and vertically, move filter mask
over image, compute weighted sum". This example makes the mirroring visible:
:func:`filterkit.convolve` applies the formula above, :func:`filterkit.correlate` slides the
mask over the image *without* mirroring it (what OpenCV's ``filter2D`` and the "convolution"
layers of CNN frameworks compute).

An image that is 0 everywhere except a single 1 (an impulse) shows the difference best:
convolution stamps the mask itself onto the image, correlation stamps the mask rotated by
180°. For symmetric masks (mean, Gaussian) the two are the same; for an asymmetric mask such
as an emboss filter, the result on a photograph changes visibly.
"""

# %%
# An asymmetric mask and an impulse
# ---------------------------------
# A 3x3 mask with nine distinct weights, so every mirroring is visible, and a 7x7
# image with a single 1 in its centre. ``mode="constant"`` pads with zeros, so nothing
# from the border leaks into the result.

import matplotlib.pyplot as plt
import numpy as np
from skimage import data

import filterkit

mask = np.arange(1.0, 10.0).reshape(3, 3)  # g(i, j): i to the right, j down, (0, 0) = 5
impulse = np.zeros((7, 7))
impulse[3, 3] = 1.0

conv = filterkit.convolve(impulse, mask, mode="constant")
corr = filterkit.correlate(impulse, mask, mode="constant")

print("mask g:\n", mask.astype(int))
print("convolve(impulse, g), centre 3x3:\n", conv[2:5, 2:5].astype(int))
print("correlate(impulse, g), centre 3x3:\n", corr[2:5, 2:5].astype(int))

# Convolution of an impulse reproduces the mask; correlation its 180-degree rotation.
assert np.array_equal(conv[2:5, 2:5], mask)
assert np.array_equal(corr[2:5, 2:5], mask[::-1, ::-1])
# ... and nothing else: outside the 3x3 neighbourhood both are exactly 0.
assert conv.sum() == corr.sum() == mask.sum()
# The general identity behind it, on an arbitrary image.
rng = np.random.default_rng(0)
noise = rng.random((16, 16))
assert np.allclose(filterkit.convolve(noise, mask), filterkit.correlate(noise, mask[::-1, ::-1]))

# %%
# Why: the impulse sits at (x, y) = (0, 0), so f(x - i, y - j) is 1 only for
# (i, j) = (x, y) and the sum leaves f'(x, y) = g(x, y): the mask, the right way up.
# Correlation computes f(x + i, y + j) g(i, j), which leaves f'(x, y) = g(-x, -y).


def show_matrix(ax: plt.Axes, values: np.ndarray, title: str) -> None:
    """A small integer matrix as an image with its numbers written in."""
    ax.imshow(values, cmap="Blues", vmin=0, vmax=1.25 * values.max())
    # thin lines between the pixels
    ax.set_xticks(np.arange(-0.5, values.shape[1]), minor=True)
    ax.set_yticks(np.arange(-0.5, values.shape[0]), minor=True)
    ax.grid(which="minor", color="white", linewidth=1)
    ax.tick_params(which="both", length=0)
    for (row, col), v in np.ndenumerate(values):
        if v:
            ax.text(col, row, f"{v:g}", ha="center", va="center", fontsize=10)
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])


fig, axes = plt.subplots(1, 4, figsize=(10, 2.9))
show_matrix(axes[0], np.pad(mask, 2), "mask g (padded to 7x7)")
show_matrix(axes[1], impulse, "impulse image f")
show_matrix(axes[2], conv, "convolve(f, g) = g")
show_matrix(axes[3], corr, "correlate(f, g) = g rotated 180°")
fig.tight_layout()

# %%
# An asymmetric mask on a photograph
# ----------------------------------
# The emboss mask makes the image look like a relief lit from one side. Mirroring it moves
# the light to the opposite side: what looks raised in one result looks sunken in the
# other. The mask is 1 (the identity) plus an antisymmetric part A, so
# convolve = f + A*f and correlate = f - A*f: their difference is 2 A*f, an edge image.

emboss = np.array([[-2.0, -1.0, 0.0],
                   [-1.0, 1.0, 1.0],
                   [0.0, 1.0, 2.0]])
photo = data.camera()[60:220, 200:360].astype(np.float32) / 255.0  # face and camera, 160x160

embossed_conv = filterkit.convolve(photo, emboss)
embossed_corr = filterkit.correlate(photo, emboss)
difference = embossed_conv - embossed_corr

antisymmetric = emboss - np.pad([[1.0]], 1)  # A = g - identity
assert np.array_equal(antisymmetric[::-1, ::-1], -antisymmetric)
assert np.allclose(difference, 2 * filterkit.convolve(photo, antisymmetric), atol=1e-5)
print(f"max |convolve - correlate| on the photograph: {np.abs(difference).max():.3f}")

fig, axes = plt.subplots(1, 4, figsize=(10, 2.9))
panels = [(photo, "photograph", (0, 1)),
          (embossed_conv, "convolve(f, emboss)", (-0.5, 1.5)),
          (embossed_corr, "correlate(f, emboss)", (-0.5, 1.5)),
          (difference, "difference", (-2, 2))]
for ax, (image, title, (lo, hi)) in zip(axes, panels):
    ax.imshow(image, cmap="gray", vmin=lo, vmax=hi)
    ax.set_title(title, fontsize=10)
    ax.axis("off")
fig.tight_layout()
plt.show()

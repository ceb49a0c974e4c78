r"""
High-pass filter: Sobel
=======================

The lecture's Sobel filter computes the first order partial derivatives with two masks,

.. math::

   f_x = \frac{\partial f}{\partial x}:\;
   \begin{bmatrix} 1 & 0 & -1 \\ 2 & 0 & -2 \\ 1 & 0 & -1 \end{bmatrix}, \qquad
   f_y = \frac{\partial f}{\partial y}:\;
   \begin{bmatrix} 1 & 2 & 1 \\ 0 & 0 & 0 \\ -1 & -2 & -1 \end{bmatrix},

and the gradient strength :math:`s = \sqrt{f_x^2 + f_y^2}`. Its figure "High-pass Filter –
Sobel" shows three edge images of one photograph, "converted to gray-scale range &
inverted" so that edges are dark on white: *horizontal* (the f_y mask, which responds to
horizontal edges), *vertical* (the f_x mask, vertical edges) and *combined* (the gradient
strength). This example reproduces that figure with :func:`filterkit.sobel_y`,
:func:`filterkit.sobel_x` and :func:`filterkit.sobel`, and answers the lecture's question
"Range?" for the gradient strength.
"""

# %%
# The masks, and which way round they are
# ---------------------------------------
# The lecture's masks are *convolution* masks. The convolution mirrors them, so the
# weights +1, +2, +1 printed in the left column of the f_x mask land on the pixels to the
# *right* and the -1, -2, -1 on those to the left:
# f_x = sum over the three rows, weighted 1, 2, 1, of f(x+1, y) - f(x-1, y), positive where
# the image grows to the right (x is the column, y the row, downwards), and 8 on a ramp
# that grows by 1 per column. :mod:`filterkit.masks` returns them as the lecture prints
# them, and :func:`filterkit.sobel_x`/:func:`filterkit.sobel_y` convolve with them.
# A *correlation* (OpenCV's ``filter2D``, CNN layers) with the same masks gives the opposite
# sign; to correlate, use the masks rotated by 180°, i.e. [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]].

import itertools

import matplotlib.pyplot as plt
import numpy as np
from skimage import data

import filterkit
from filterkit import masks

lecture_fx = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]])
lecture_fy = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]])
print("masks.sobel_x():\n", masks.sobel_x().astype(int))
print("masks.sobel_y():\n", masks.sobel_y().astype(int))
assert np.array_equal(masks.sobel_x(), lecture_fx)
assert np.array_equal(masks.sobel_y(), lecture_fy)
assert np.array_equal(masks.sobel_y(), masks.sobel_x().T)

# A unit ramp along x (one grey level more per column) and along y (per row).
ramp_x = np.tile(np.arange(6.0), (6, 1))
ramp_y = ramp_x.T
conv_fx = filterkit.convolve(ramp_x, lecture_fx, mode="valid")
corr_fx = filterkit.correlate(ramp_x, lecture_fx, mode="valid")
print("unit ramp along x: convolve with f_x mask =", np.unique(conv_fx),
      "; correlate with it =", np.unique(corr_fx))
assert np.all(conv_fx == 8) and np.all(corr_fx == -8)
assert np.all(filterkit.sobel_x(ramp_x, mode="valid") == 8)
assert np.all(filterkit.sobel_y(ramp_y, mode="valid") == 8)

# %%
# The edge images
# ---------------
# The cameraman, downsampled to 256x256. :func:`filterkit.sobel` computes the strength in
# one pass; it equals the square root of the two derivative images squared and summed.

photo = data.camera()[::2, ::2].astype(np.float32) / 255.0  # grey values in [0, 1]
fx = filterkit.sobel_x(photo)
fy = filterkit.sobel_y(photo)
strength = filterkit.sobel(photo)

assert np.allclose(fx, filterkit.convolve(photo, lecture_fx), atol=1e-5)
assert np.allclose(fx, filterkit.correlate(photo, lecture_fx[::-1, ::-1]), atol=1e-5)
assert np.allclose(strength, np.sqrt(fx ** 2 + fy ** 2), atol=1e-5)


def grey_inverted(edges: np.ndarray) -> np.ndarray:
    """The lecture's display: |edges| scaled to the grey range [0, 1] and inverted.

    The scale is the 99th percentile rather than the maximum, so that the few strongest
    edges do not leave every other edge a barely visible light grey.
    """
    magnitude = np.abs(edges)
    return 1.0 - np.clip(magnitude / np.percentile(magnitude, 99), 0.0, 1.0)


fig, axes = plt.subplots(2, 2, figsize=(8, 8.4))
panels = [(photo, "original"),
          (grey_inverted(fy), "horizontal: |f_y|, mask [1 2 1; 0 0 0; -1 -2 -1]"),
          (grey_inverted(fx), "vertical: |f_x|, mask [1 0 -1; 2 0 -2; 1 0 -1]"),
          (grey_inverted(strength), "combined: s = sqrt(f_x² + f_y²)")]
for ax, (image, title) in zip(axes.flat, panels):
    ax.imshow(image, cmap="gray", vmin=0, vmax=1)
    ax.set_title(title, fontsize=10)
    ax.axis("off")
fig.tight_layout()

# %%
# "Range?": how large can the gradient strength get?
# --------------------------------------------------
# Each mask has weights summing to +4 and -4, so for grey values in [0, 1] each derivative
# lies in [-4, 4] and s <= 4 sqrt(2) = 5.66. But both cannot reach 4 at once: the corner
# pixels count in both masks with opposite needs. s is a norm of a linear function of the
# nine pixels, hence convex, so its maximum over the cube [0, 1]^9 is at a corner: a 3x3
# patch of only 0s and 1s. All 512 such patches, side by side in one 3 x 1536 image,
# filtered in one call with ``mode="valid"`` (column 3k of the result is patch k):

patches = np.array(list(itertools.product((0.0, 1.0), repeat=9))).reshape(-1, 3, 3)
strip = np.concatenate(list(patches), axis=1)  # 3 x (3 * 512)
s_all = filterkit.sobel(strip, mode="valid")[0, ::3]
best = patches[np.argmax(s_all)]
print(f"largest gradient strength for grey values in [0, 1]: {s_all.max():.4f} "
      f"= 2 sqrt(5) = {2 * np.sqrt(5):.4f} (the bound 4 sqrt(2) = {4 * np.sqrt(2):.4f})")
print("reached by the patch\n", best.astype(int))
reach = 255 * lecture_fx.clip(min=0).sum()  # all positive weights on 255, the others on 0
print(f"so for 8-bit images s lies in [0, {255 * s_all.max():.1f}] and f_x, f_y in "
      f"[{-reach}, {reach}]")
assert np.isclose(s_all.max(), 2 * np.sqrt(5))
assert s_all.min() == 0.0  # a flat patch
print(f"on the photograph: s in [{strength.min():.3f}, {strength.max():.3f}]")
assert 0.0 <= strength.min() and strength.max() <= 2 * np.sqrt(5) + 1e-5
plt.show()

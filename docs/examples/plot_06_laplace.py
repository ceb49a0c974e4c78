r"""
The Laplace filter and its zero crossings
=========================================

The lecture's second high-pass filter, the Laplace filter, is "based on computing the
second order derivatives (the Laplace operator)", :math:`\nabla^2 f = f_{xx} + f_{yy}`;
its "edges = zero crossings", and it is "more subject to noise compared to Sobel".

This example shows the two usual 3x3 masks, with the 4- and the 8-neighbourhood, and
finds edges as the zero crossings of the Laplacian: on the raw photograph, where noise
makes crossings everywhere, and after Gaussian smoothing (the "Laplacian of Gaussian"),
where the crossings trace the outlines. On a synthetic disk the crossings are checked to
lie on the disk's edge.
"""

# %%
# The masks
# ---------
# :func:`filterkit.masks.laplace` gives the 4-neighbour mask (f(x+1) + f(x-1) - 2 f(x) in
# x, plus the same in y) and the 8-neighbour mask, which adds the diagonals. Both are
# symmetric, so convolution and correlation agree, and both sum to 0, so a flat image
# gives 0. On f = x² + y², whose Laplacian is 4 everywhere, the 4-neighbour mask gives
# exactly 4 and the 8-neighbour mask 12: it measures 3 times the Laplacian, because it is
# the 4-neighbour mask plus the same mask turned by 45°, whose neighbours are sqrt(2) away
# and so measure 2 times the Laplacian.

import matplotlib.pyplot as plt
import numpy as np
from skimage import data

import filterkit
from filterkit import masks

laplace4 = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]])
laplace8 = np.array([[1, 1, 1], [1, -8, 1], [1, 1, 1]])
print("masks.laplace(4):\n", masks.laplace(4).astype(int))
print("masks.laplace(8):\n", masks.laplace(8).astype(int))
assert np.array_equal(masks.laplace(4), laplace4)
assert np.array_equal(masks.laplace(8), laplace8)
assert masks.laplace(4).sum() == masks.laplace(8).sum() == 0

y, x = np.mgrid[0:7, 0:7].astype(np.float64)
paraboloid = x ** 2 + y ** 2
on_paraboloid = {k: np.unique(filterkit.laplace(paraboloid, neighbours=k, mode="valid"))
                 for k in (4, 8)}
print("on x² + y²: 4-neighbour", on_paraboloid[4], ", 8-neighbour", on_paraboloid[8])
assert np.array_equal(on_paraboloid[4], [4.0]) and np.array_equal(on_paraboloid[8], [12.0])
assert np.allclose(filterkit.laplace(paraboloid, neighbours=8),
                   filterkit.convolve(paraboloid, laplace8))

# %%
# Zero crossings
# --------------
# A zero crossing lies between two neighbouring pixels (left/right or above/below) whose
# Laplacians have opposite signs. Noise makes tiny crossings everywhere, so a crossing
# counts as an edge only if the jump across it, :math:`|L(p) - L(q)|`, is at least a
# threshold (a share of the image's largest :math:`|L|`); the edge is marked on the first
# pixel of the pair.


def zero_crossings(lap: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Boolean maps of the sign changes to the right neighbour and to the one below."""
    right = (lap[:, :-1] * lap[:, 1:] < 0) & (np.abs(lap[:, :-1] - lap[:, 1:]) >= threshold)
    below = (lap[:-1, :] * lap[1:, :] < 0) & (np.abs(lap[:-1, :] - lap[1:, :]) >= threshold)
    return right, below


def edge_map(lap: np.ndarray, share: float) -> np.ndarray:
    """Edge pixels: the zero crossings whose jump is at least `share` of max |L|."""
    right, below = zero_crossings(lap, share * np.abs(lap).max())
    edges = np.zeros(lap.shape, dtype=bool)
    edges[:, :-1] |= right
    edges[:-1, :] |= below
    return edges


# %%
# On a disk the edge is known: a bright disk of radius 50 whose anti-aliased edge has the
# value 1/2 exactly at distance 50 from the centre, smoothed with a Gaussian of sigma 2.
# Each crossing is placed between its two pixels by linear interpolation of the
# Laplacian; all of them lie within a quarter pixel of the true edge. (The small outward
# shift of the mean is the curvature's: for a circle of radius R the zero crossing of the
# Laplacian of Gaussian moves out by about sigma² / (2 R).)

n, centre, radius, sigma = 161, 80.0, 50.0, 2.0
yy, xx = np.mgrid[0:n, 0:n].astype(np.float64)
disk = np.clip(radius - np.hypot(xx - centre, yy - centre) + 0.5, 0.0, 1.0)
log_disk = filterkit.laplace(filterkit.gaussian(disk, sigma))
right, below = zero_crossings(log_disk, 0.01 * np.abs(log_disk).max())

rows, cols = np.nonzero(right)
a, b = log_disk[rows, cols], log_disk[rows, cols + 1]
r_right = np.hypot(cols + a / (a - b) - centre, rows - centre)
rows, cols = np.nonzero(below)
a, b = log_disk[rows, cols], log_disk[rows + 1, cols]
r_below = np.hypot(cols - centre, rows + a / (a - b) - centre)
r_cross = np.concatenate([r_right, r_below])
print(f"disk: {r_cross.size} zero crossings at distance {r_cross.min():.3f} .. "
      f"{r_cross.max():.3f} from the centre (edge at {radius:g}), mean {r_cross.mean():.3f}; "
      f"sigma²/(2R) = {sigma ** 2 / (2 * radius):.3f}")
assert np.all(np.abs(r_cross - radius) <= 0.25)

# %%
# The photograph
# --------------
# The cameraman at 256x256. The Laplacian of the raw image (top row) crosses zero all over
# the grass, where the fine texture acts like noise;
# after smoothing with a Gaussian of sigma 2 (bottom row) the zero crossings are the
# outlines. The Laplacians are shown with blue for negative and red for positive values.

photo = data.camera()[::2, ::2].astype(np.float32) / 255.0
smoothed = filterkit.gaussian(photo, sigma)
lap_raw = filterkit.laplace(photo)
lap_log = filterkit.laplace(smoothed)
share = 0.04  # of the largest |L|: the same rule for both rows
edges_raw, edges_log = edge_map(lap_raw, share), edge_map(lap_log, share)
print(f"edge pixels (crossings with a jump >= {share:.0%} of max |L|): "
      f"raw {edges_raw.mean():.1%}, after smoothing {edges_log.mean():.1%} of the image")
assert edges_raw.mean() > edges_log.mean()  # "more subject to noise" without smoothing

fig, axes = plt.subplots(2, 3, figsize=(9.5, 6.6))
for row, (image, lap, edges, label) in enumerate(
        [(photo, lap_raw, edges_raw, "raw"),
         (smoothed, lap_log, edges_log, f"Gaussian sigma {sigma:g}")]):
    limit = np.percentile(np.abs(lap), 99)
    axes[row, 0].imshow(image, cmap="gray", vmin=0, vmax=1)
    axes[row, 0].set_title("photograph" if row == 0 else f"smoothed: {label}", fontsize=10)
    axes[row, 1].imshow(lap, cmap="RdBu_r", vmin=-limit, vmax=limit)
    axes[row, 1].set_title("Laplacian (4-neighbour)" if row == 0 else
                           "Laplacian of Gaussian", fontsize=10)
    axes[row, 2].imshow(~edges, cmap="gray", vmin=0, vmax=1)  # edges dark on white
    axes[row, 2].set_title(f"zero crossings ({edges.mean():.0%} of pixels)", fontsize=10)
for ax in axes.flat:
    ax.axis("off")
fig.tight_layout()
plt.show()

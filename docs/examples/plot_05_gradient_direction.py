r"""
Gradient direction as colour
============================

Besides the gradient strength, the lecture's Sobel slide gives the gradient direction

.. math:: \theta = \arctan\left(\frac{f_y}{f_x}\right) \qquad \text{(note: use atan2(y, x))}

``atan2(f_y, f_x)`` gives the full circle (-pi, pi], where ``arctan(f_y / f_x)`` could not
tell a gradient pointing right from one pointing left. This example shows the direction from
:func:`filterkit.gradient` as colour: the hue is the direction, the brightness the strength,
so flat regions, where the direction means nothing, stay black. A colour wheel is the
legend. On a synthetic disk the right answer is known (the gradient points towards the
brighter side, so on a bright disk's rim it points to the centre) and is checked.
"""

# %%
# Direction to colour
# -------------------
# x is the column (to the right), y the row (downwards), as in the lecture. So
# theta = 0 means the image grows to the right, pi/2 that it grows *downwards*, and the
# colour wheel below is drawn the same way: each colour sits where its direction points.

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import hsv_to_rgb
from skimage import data

import filterkit


def direction_colour(strength: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """RGB image: hue = direction (0 = red, to the right), value = strength.

    The strength is scaled by its 99th percentile, so that the strongest 1 % are at full
    brightness and weaker edges stay visible.
    """
    hue = np.mod(direction, 2 * np.pi) / (2 * np.pi)
    value = np.clip(strength / np.percentile(strength, 99), 0.0, 1.0)
    return hsv_to_rgb(np.stack([hue, np.ones_like(hue), value], axis=-1))


def colour_wheel(ax: plt.Axes, n: int = 201) -> None:
    """The legend: direction atan2(y, x) around the centre, strength growing outwards."""
    y, x = np.mgrid[-1:1:n * 1j, -1:1:n * 1j]  # row index grows downwards, as in an image
    radius = np.hypot(x, y)
    wheel = direction_colour(np.minimum(radius, 1.0), np.arctan2(y, x))
    wheel[radius > 1] = 1.0  # white outside the wheel
    ax.imshow(wheel, extent=(-1, 1, 1, -1))
    for angle, label in [(0, "0 (+x)"), (np.pi / 2, "π/2 (+y)"), (np.pi, "±π"),
                         (-np.pi / 2, "−π/2")]:
        tip = np.array([np.cos(angle), np.sin(angle)])
        ax.annotate("", xy=0.9 * tip, xytext=(0, 0),
                    arrowprops=dict(arrowstyle="->", color="white", lw=1))
        ax.text(*(1.45 * tip), label, ha="center", va="center", fontsize=9)
    ax.set_xlim(-1.9, 1.9)
    ax.set_ylim(1.7, -1.7)
    ax.set_title("legend: hue = direction,\nbrightness = strength", fontsize=10)
    ax.axis("off")


# %%
# A photograph
# ------------
# Coins from scikit-image: every coin's rim shows the full circle of hues, because the
# gradient points into the brighter coin from every side.

coins = data.coins()[5:175, 15:205].astype(np.float32) / 255.0  # the top left six coins
strength, direction = filterkit.gradient(coins)
fx, fy = filterkit.sobel_x(coins), filterkit.sobel_y(coins)
assert np.allclose(direction, np.arctan2(fy, fx), atol=1e-5)  # the same as atan2(f_y, f_x)
assert np.abs(direction).max() <= np.float32(np.pi)  # (-pi, pi], pi rounded to float32



def show(image: np.ndarray, strength: np.ndarray, direction: np.ndarray, left: str,
         right: str) -> None:
    """The image, its gradient direction as colour, and the colour wheel."""
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.4), width_ratios=[1, 1, 0.55])
    axes[0].imshow(image, cmap="gray")
    axes[0].set_title(left, fontsize=10)
    axes[1].imshow(direction_colour(strength, direction))
    axes[1].set_title(right, fontsize=10)
    for ax in axes[:2]:
        ax.axis("off")
    colour_wheel(axes[2])
    fig.tight_layout()


show(coins, strength, direction, "photograph", "gradient direction atan2(f_y, f_x)")

# %%
# A disk, where the direction is known
# ------------------------------------
# A bright disk of radius 50 on a dark background, anti-aliased (each pixel covered by
# the disk's edge gets its share of brightness) and smoothed with a Gaussian of sigma 1.5,
# as an image from a camera would be. By symmetry the true gradient on the rim points
# exactly to the centre: its direction is atan2(c - y, c - x).
#
# The tolerance. Sobel is exact on images that are polynomials of degree 2, so its
# direction is off only through the third and higher derivatives of the edge profile, and
# by an amount that depends on the edge's angle (none along the axes and diagonals). On a
# step that is only anti-aliased these are large and the worst error on the rim is several
# degrees (printed below); smoothing with sigma = 1.5 makes the profile smooth at the
# scale of the 3x3 mask and brings the worst case down to about 1°. We assert at most 2°
# everywhere on the rim (where the strength is at least half its maximum) and at most
# 0.5° on average, which fails if the direction were mirrored, swapped (atan2(x, y)) or
# off by any multiple of 90°.

n, centre, radius = 161, 80.0, 50.0
y, x = np.mgrid[0:n, 0:n].astype(np.float64)
r = np.hypot(x - centre, y - centre)
sharp_disk = np.clip(radius - r + 0.5, 0.0, 1.0)  # anti-aliased step
disk = filterkit.gaussian(sharp_disk, 1.5)

inward = np.arctan2(centre - y, centre - x)  # the known direction: to the centre


def rim_errors(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Strength, direction and the angle error in degrees on the rim."""
    s, theta = filterkit.gradient(image)
    rim = s >= 0.5 * s.max()
    error = np.degrees(np.angle(np.exp(1j * (theta - inward))))  # wrapped to (-180, 180]
    return s, theta, np.where(rim, error, np.nan)


_, _, sharp_error = rim_errors(sharp_disk)
s_disk, theta_disk, error = rim_errors(disk)
worst, average = np.nanmax(np.abs(error)), np.nanmean(np.abs(error))
print(f"rim pixels: {np.count_nonzero(~np.isnan(error))}")
print(f"direction error on the rim, sharp disk:    worst {np.nanmax(np.abs(sharp_error)):.2f}°")
print(f"direction error on the rim, smoothed disk: worst {worst:.2f}°, mean {average:.2f}°")
assert worst <= 2.0 and average <= 0.5

show(disk, s_disk, theta_disk, "bright disk, smoothed", "gradient direction: towards the centre")

# %%
# The error around the rim, against the polar angle of the rim pixel. It has the fourfold
# symmetry of the square grid: close to 0 along the axes, the largest errors (of opposite
# signs) just beside the diagonals, and a scatter of a few tenths of a degree from the
# way the circle falls on the pixel grid.

polar = np.degrees(np.arctan2(y - centre, x - centre))
on_rim = ~np.isnan(error)
fig, ax = plt.subplots(figsize=(8, 2.8))
ax.plot(polar[on_rim], error[on_rim], ".", markersize=2, color="tab:blue")
ax.axhline(2.0, color="tab:red", linestyle="--", linewidth=0.8, label="tolerance ±2°")
ax.axhline(-2.0, color="tab:red", linestyle="--", linewidth=0.8)
ax.set_xlabel("position on the rim: polar angle (degrees)")
ax.set_ylabel("direction error (°)")
ax.set_xticks(np.arange(-180, 181, 45))
ax.set_title("smoothed disk: Sobel direction minus the true (radial) direction", fontsize=10)
ax.legend(fontsize=8, loc="upper right")
fig.tight_layout()
plt.show()

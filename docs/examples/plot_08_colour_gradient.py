"""
The colour gradient: one edge strength from all channels
========================================================

The lecture's colour caution for high-pass filters: *"filtering channels
separately does not really make sense — combine all channels"*.  A grey
Sobel of the luma is blind to an edge between two colours of equal
luminance; per-channel Sobel sees it but gives three edge images (or an
ad-hoc max or sum of them); the colour gradient of Di Zenzo combines the
channels into one strength.  :func:`filterkit.sobel` and
:func:`filterkit.gradient` compute it for any image with a channel axis: per
pixel the structure tensor G = Σ_c ∇f_c ∇f_cᵀ, strength √(λ_max(G) / C).

This example builds an image with an *isoluminant* red/green edge, where the
grey Sobel sees nothing, checks that the colour gradient (in CIELAB) finds it
with exactly the strength the Sobel masks predict, and compares the three
kinds of edge image on a photograph.
"""

# %%
# An isoluminant red/green pair
# -----------------------------
# The grey image of a colour photograph is its luma
# Y' = 0.2126 R' + 0.7152 G' + 0.0722 B' (:func:`filterkit.color.rgb_to_gray`).
# Pick a red, then solve for the green component of a green with the same
# luma.  A third patch, dark grey, has a *different* luma: an ordinary
# luminance edge for comparison.

import matplotlib.pyplot as plt
import numpy as np
from skimage import data

import filterkit
from filterkit import color

RED = np.array([0.80, 0.25, 0.25])
Y_RED = float(color.rgb_to_gray(RED))
GREEN = np.array([0.20, 0.0, 0.20])
GREEN[1] = (Y_RED - 0.2126 * GREEN[0] - 0.0722 * GREEN[2]) / 0.7152  # same luma as RED
DARK = np.full(3, 0.15)
print(f"luma: red {Y_RED:.6f}, green {float(color.rgb_to_gray(GREEN)):.6f}, "
      f"dark grey {float(color.rgb_to_gray(DARK)):.6f}")
assert abs(float(color.rgb_to_gray(GREEN)) - Y_RED) < 1e-12

# A red field with a green square (isoluminant edges) and a dark grey square
# (luminance edges); straight edges, so the Sobel response is known exactly.
card = np.empty((96, 192, 3))
card[:] = RED
card[24:72, 24:72] = GREEN
card[24:72, 120:168] = DARK

# %%
# Three edge detectors
# --------------------
# All with the lecture's Sobel masks:
#
# * the grey Sobel of the luma (``space="gray"``),
# * per-channel Sobel of R, G, B (``per_channel=True``), combined by the max
#   or the sum over the channels,
# * the colour gradient of L*, a*, b* (``space="lab"``).

grey = filterkit.sobel(card, channel_axis=-1, space="gray")
per_channel = filterkit.sobel(card, channel_axis=-1, per_channel=True)  # (H, W, 3)
colour = filterkit.sobel(card, channel_axis=-1, space="lab")

# The edges of each square, two pixels wide (the Sobel mask straddles a
# step edge at the pixels on both sides of it); corners excluded.
iso_edge = np.zeros(card.shape[:2], bool)
iso_edge[28:68, [23, 24, 71, 72]] = True
iso_edge[[23, 24, 71, 72], 28:68] = True
lum_edge = np.roll(iso_edge, 96, axis=1)  # the same pixels around the grey square

# %%
# What the Sobel masks predict, and the checks
# --------------------------------------------
# Across a straight step of height Δ the Sobel derivative is
# (1 + 2 + 1) Δ = 4Δ on both sides of the edge.  For C channels with steps
# Δ_c the structure tensor has λ_max = Σ_c (4Δ_c)², so the colour gradient is
# 4 ‖Δ‖ / √C: in CIELAB, 4 ΔE / √3 with ΔE the colour difference of the two
# sides.  The grey Sobel gives 4 ΔY'; for the isoluminant pair ΔY' = 0 up to
# floating-point rounding (about 1e-16 in float64).
#
# Thresholds: 1e-6 for "sees nothing" is ten orders of magnitude above that
# rounding and still four orders below the smallest visible step (one 8-bit
# code value, 1/255, gives a Sobel response of 4/255 ≈ 0.016).

lab = color.rgb_to_lab(np.stack([RED, GREEN, DARK]))
delta_e_rg = float(np.linalg.norm(lab[0] - lab[1]))
expected_colour = 4 * delta_e_rg / np.sqrt(3)
expected_grey_lum = 4 * abs(float(color.rgb_to_gray(DARK)) - Y_RED)

rows = [
    ("grey Sobel of the luma", grey),
    ("per-channel Sobel, max", per_channel.max(axis=-1)),
    ("per-channel Sobel, sum", per_channel.sum(axis=-1)),
    ("colour gradient (Lab)", colour),
]
print(f"ΔE(red, green) = {delta_e_rg:.2f}; predicted colour gradient 4ΔE/√3 = "
      f"{expected_colour:.3f}; predicted grey response at the dark square 4ΔY' = "
      f"{expected_grey_lum:.4f}")
print(f"{'detector':<26}{'isoluminant edge':>18}{'luminance edge':>16}")
for name, strength in rows:
    print(f"{name:<26}{strength[iso_edge].min():>18.3g}{strength[lum_edge].min():>16.3g}")

assert grey[iso_edge].max() < 1e-6, "the grey Sobel must not see the isoluminant edge"
assert np.allclose(grey[lum_edge], expected_grey_lum, rtol=1e-9)
assert np.allclose(colour[iso_edge], expected_colour, rtol=1e-6)
assert colour[iso_edge].min() > 1e6 * grey[iso_edge].max()
assert per_channel.max(axis=-1)[iso_edge].min() > 0.1  # per channel sees it too

# %%
# Each edge image is shown dark on white as in the lecture ("converted to
# gray-scale range and inverted"), scaled to its own maximum: the grey Sobel
# shows only the dark square.


def dark_on_white(strength: np.ndarray, top: float) -> np.ndarray:
    """Edge strength mapped to [0, 1] by `top` and inverted: edges dark."""
    return 1.0 - np.clip(strength / top, 0.0, 1.0)


def show_edges(ax: plt.Axes, strength: np.ndarray, top: float, title: str) -> None:
    """An edge image, dark on white, in a thin grey frame (axes off)."""
    ax.imshow(dark_on_white(strength, top), cmap="gray", vmin=0, vmax=1)
    ax.add_patch(plt.Rectangle((0, 0), 1, 1, transform=ax.transAxes, fill=False,
                               edgecolor="0.6", linewidth=1, clip_on=False))
    ax.set_title(title, fontsize=9)
    ax.set_axis_off()


fig, axes = plt.subplots(1, 5, figsize=(14, 2.4), layout="constrained")
axes[0].imshow(card)
axes[0].set_title("red | green: equal luma\ndark grey: lower luma", fontsize=9)
axes[0].set_axis_off()
for ax, (name, strength) in zip(axes[1:], rows):
    show_edges(ax, strength, float(strength.max()), name)
plt.show()

# %%
# On a photograph
# ---------------
# On a natural image most colour edges are luminance edges too, so the three
# detectors look alike; the colour gradient adds edges between colours of
# similar brightness — here the orange shoulder against the pale grey
# background, the flag's blue canton and the purple badge at the bottom.  The
# last panel shows where it sees more than the grey Sobel (both scaled to
# their 99th percentile).

photo = data.astronaut()[96:352, 0:256]  # uint8 sRGB: flag, suit, face
p_grey = filterkit.sobel(photo, channel_axis=-1, space="gray")
p_max = filterkit.sobel(photo, channel_axis=-1, per_channel=True).max(axis=-1)
p_colour = filterkit.sobel(photo, channel_axis=-1, space="lab")

top = {name: float(np.percentile(s, 99)) for name, s in
       [("grey", p_grey), ("max", p_max), ("colour", p_colour)]}
extra = np.clip(p_colour / top["colour"], 0, 1) - np.clip(p_grey / top["grey"], 0, 1)
print(f"photograph: colour gradient exceeds the (scaled) grey Sobel by more than 0.25 "
      f"on {(extra > 0.25).mean():.1%} of the pixels")

fig, axes = plt.subplots(1, 5, figsize=(14, 3.2), layout="constrained")
axes[0].imshow(photo)
axes[0].set_title("photograph", fontsize=9)
axes[0].set_axis_off()
show_edges(axes[1], p_grey, top["grey"], "grey Sobel of the luma")
show_edges(axes[2], p_max, top["max"], "per-channel Sobel (RGB), max")
show_edges(axes[3], p_colour, top["colour"], "colour gradient (Di Zenzo, Lab)")
im = axes[4].imshow(np.clip(extra, 0, 1), cmap="magma", vmin=0, vmax=1)
axes[4].set_title("colour minus grey (scaled)", fontsize=9)
axes[4].set_axis_off()
fig.colorbar(im, ax=axes[4], shrink=0.8)
plt.show()

# %%
# :func:`filterkit.gradient` returns the direction as well (the angle of
# λ_max's eigenvector); ``per_channel=True`` gives the separate channels the
# lecture advises against.  See :doc:`/guide/colour`.

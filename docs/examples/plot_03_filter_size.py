"""
Influence of filter size
========================

The lecture's figure "Influence of Filter Size" shows one photograph and the same
photograph under the mean filter of sizes 3x3, 5x5, 11x11 and 21x21: the larger the mask,
the more of the fine detail (the high frequencies) is averaged away.

This example reproduces it with :func:`filterkit.mean`, which runs as running sums in
O(1) work per pixel, so the 21x21 mask costs about as much as the 3x3. A row profile across
the photograph shows what happens to an edge: it turns into a ramp as wide as the mask.
"""

# %%
# The photograph and the four sizes
# ---------------------------------
# Chelsea the cat from scikit-image, converted to grey (luma) with
# :func:`filterkit.color.rgb_to_gray` and cropped to 256x256.

import matplotlib.pyplot as plt
import numpy as np
from skimage import data

import filterkit
from filterkit import masks

grey = filterkit.color.rgb_to_gray(data.chelsea())[20:276, 60:316]  # float32 in [0, 1]
sizes = (3, 5, 11, 21)  # the lecture's sizes
smoothed = {k: filterkit.mean(grey, k) for k in sizes}

# The box filter equals convolution with the mean mask 1/k^2 (a matrix of ones).
for k in sizes:
    assert np.allclose(smoothed[k], filterkit.convolve(grey, masks.mean(k), method="direct"),
                       atol=1e-5)

# %%
# How much detail is left: the mean gradient strength (Sobel, see the Sobel example)
# falls with every step up in size.

detail = {0: float(filterkit.sobel(grey).mean())}
detail.update({k: float(filterkit.sobel(smoothed[k]).mean()) for k in sizes})
for k, value in detail.items():
    name = "original" if k == 0 else f"{k}x{k} mean"
    print(f"{name:>12}: mean gradient strength {value:.4f}")
values = list(detail.values())
assert all(a > b for a, b in zip(values, values[1:]))

# %%
# The lecture's figure: the original and the mean filter of each size. The dashed line
# marks the row whose profile is plotted in the last panel.

row = 95  # through the pupil of the cat's left eye (on the left of the picture)

fig, axes = plt.subplots(2, 3, figsize=(9, 6.4))
panels = [("original", grey), *((f"mean {k}x{k}", smoothed[k]) for k in sizes)]
for ax, (title, image) in zip(axes.flat, panels):
    ax.imshow(image, cmap="gray", vmin=0, vmax=1)
    ax.axhline(row, color="tab:orange", linestyle="--", linewidth=0.8)
    ax.set_title(title, fontsize=10)
    ax.axis("off")

profile_ax = axes.flat[-1]
profile_ax.plot(grey[row], color="black", linewidth=1, label="original")
for k, colour in zip(sizes, ("tab:blue", "tab:green", "tab:red", "tab:purple")):
    profile_ax.plot(smoothed[k][row], color=colour, linewidth=1.2, label=f"{k}x{k}")
profile_ax.set_title(f"grey values along row {row}", fontsize=10)
profile_ax.set_xlabel("column x")
profile_ax.set_ylim(0, 1)
profile_ax.legend(fontsize=8, loc="upper center", ncol=3, handlelength=1.2,
                  columnspacing=0.8)
fig.tight_layout()
plt.show()

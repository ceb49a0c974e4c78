"""
Low-pass filters: mean and Gaussian
===================================

The lecture's low-pass filters "remove high frequencies, reduce image noise, result in
smoothing of image". It gives four masks: the 3x3 and 5x5 mean, 1/9 and 1/25 times a
matrix of ones; the 3x3 Gaussian 1/16 [1 2 1; 2 4 2; 1 2 1]; and the 5x5 Gaussian with
sigma = 1 as an integer table with the factor 1/273.

This example builds these masks with :mod:`filterkit.masks`, checks them against the
lecture's tables, and applies all four to a noisy photograph side by side.
"""

# %%
# The lecture's masks
# -------------------
# The mean masks are :func:`filterkit.masks.mean`; the lecture's "3x3 Gaussian" is the
# binomial mask :func:`filterkit.masks.binomial` (Pascal's triangle, a discrete Gaussian
# of variance 1/2).

import matplotlib.pyplot as plt
import numpy as np
from skimage import data

import filterkit
from filterkit import masks

mean3, mean5, gauss3 = masks.mean(3), masks.mean(5), masks.binomial(3)
assert np.allclose(mean3 * 9, np.ones((3, 3)))
assert np.allclose(mean5 * 25, np.ones((5, 5)))
assert np.array_equal(gauss3 * 16, [[1, 2, 1], [2, 4, 2], [1, 2, 1]])
print("3x3 Gaussian = 1/16 *\n", (gauss3 * 16).astype(int))

# %%
# The 5x5 Gaussian table, factor 1/273
# ------------------------------------
# :func:`filterkit.masks.gaussian` with ``sampling="integral"`` (the default) makes each
# weight the Gaussian integrated over that pixel's square, then normalises the 5x5 mask to
# sum 1. Times 273 it is *nearly* the lecture's table, but not exactly: the four entries
# the lecture gives as 7 are 6.495 here, and round to 6. No filterkit call gives the
# integers 1/273 exactly, so the table below is typed in from the lecture and checked
# against filterkit within a stated tolerance: every lecture integer lies within 0.51 of
# 273 g (half a unit of the table, plus the 0.005 by which the 7s miss), i.e. the
# normalised masks differ by less than 0.51 / 273 = 0.0019 per weight.
# ``sampling="point"`` (the Gaussian sampled at the pixel centres, as OpenCV and scipy do)
# is further off.

lecture_5x5 = np.array([[1, 4, 7, 4, 1],
                        [4, 16, 26, 16, 4],
                        [7, 26, 41, 26, 7],
                        [4, 16, 26, 16, 4],
                        [1, 4, 7, 4, 1]])
assert lecture_5x5.sum() == 273  # the lecture's factor 1/273 makes it sum to 1

integral = masks.gaussian(5, sigma=1.0)  # sampling="integral"
point = masks.gaussian(5, sigma=1.0, sampling="point")
err_integral = np.abs(273 * integral - lecture_5x5).max()
err_point = np.abs(273 * point - lecture_5x5).max()

with np.printoptions(precision=3, suppress=True):
    print("273 * masks.gaussian(5, sigma=1.0):\n", 273 * integral)
print("rounded:\n", np.rint(273 * integral).astype(int),
      "sum", np.rint(273 * integral).astype(int).sum())
print(f"largest |273 g - lecture|: integral sampling {err_integral:.3f}, "
      f"point sampling {err_point:.3f}")
print(f"largest |g - lecture / 273|: {np.abs(integral - lecture_5x5 / 273).max():.4f}")

assert err_integral <= 0.51
assert err_point > err_integral
# where filterkit and the lecture disagree after rounding: exactly the four 7s
disagree = np.rint(273 * integral) != lecture_5x5
assert disagree.sum() == 4 and np.all(lecture_5x5[disagree] == 7)

gauss5 = lecture_5x5 / 273.0

# sphinx_gallery_thumbnail_number = 2

# %%
# The two 5x5 tables side by side: the lecture's integers and filterkit's weights times
# 273 (the four cells where they round differently are outlined).

fig, axes = plt.subplots(1, 2, figsize=(8, 3.8))
for ax, table, title, fmt in [(axes[0], lecture_5x5, "lecture: 5x5 Gaussian x 273", "{:d}"),
                              (axes[1], 273 * integral,
                               "273 x masks.gaussian(5, sigma=1)", "{:.3f}")]:
    ax.imshow(table, cmap="Oranges", vmin=0, vmax=55)
    for (row, col), v in np.ndenumerate(table):
        ax.text(col, row, fmt.format(v), ha="center", va="center", fontsize=10)
        if disagree[row, col]:
            ax.add_patch(plt.Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False,
                                       edgecolor="tab:blue", linewidth=2))
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
fig.tight_layout()

# %%
# Smoothing a noisy photograph
# ----------------------------
# Gaussian noise (standard deviation 0.1 on a 0..1 scale) on the cameraman; each mask is
# applied with :func:`filterkit.convolve`. The root-mean-square error against the clean
# photograph shows the noise going down, and the larger masks trading noise for blur.

clean = data.camera()[40:296, 180:436].astype(np.float32) / 255.0  # 256x256
rng = np.random.default_rng(1)
noisy = (clean + rng.normal(0.0, 0.1, clean.shape)).astype(np.float32)


def rms(image: np.ndarray) -> float:
    """Root-mean-square difference from the clean photograph."""
    return float(np.sqrt(np.mean((image - clean) ** 2)))


filtered = {
    "3x3 mean": filterkit.convolve(noisy, mean3),
    "3x3 Gaussian (1/16)": filterkit.convolve(noisy, gauss3),
    "5x5 mean": filterkit.convolve(noisy, mean5),
    "5x5 Gaussian (1/273)": filterkit.convolve(noisy, gauss5),
}
# The filters give the same as the masks: mean() as a box filter, gaussian() as two
# 1-D passes of the integral mask (within the 0.0019 per weight found above).
assert np.allclose(filterkit.mean(noisy, 3), filtered["3x3 mean"], atol=1e-5)
assert np.allclose(filterkit.mean(noisy, 5), filtered["5x5 mean"], atol=1e-5)
gap = np.abs(filterkit.gaussian(noisy, 1.0, size=5) - filtered["5x5 Gaussian (1/273)"]).max()
print(f"max |gaussian(sigma=1, size=5) - lecture table| on the photograph: {gap:.4f}")

print(f"RMS error, noisy: {rms(noisy):.4f}")
for name, image in filtered.items():
    print(f"RMS error, {name}: {rms(image):.4f}")
    assert rms(image) < rms(noisy)  # every low-pass filter removes noise here

fig, axes = plt.subplots(2, 3, figsize=(9, 6.3))
panels = [("original", clean), ("noisy", noisy), *filtered.items()]
order = [0, 2, 4, 1, 3, 5]  # top row: original and the means; bottom: noisy and the Gaussians
for ax, k in zip(axes.flat, order):
    name, image = panels[k]
    label = name if name == "original" else f"{name}\nRMS error {rms(image):.3f}"
    ax.imshow(image, cmap="gray", vmin=0, vmax=1)
    ax.set_title(label, fontsize=10)
    ax.axis("off")
fig.tight_layout()
plt.show()

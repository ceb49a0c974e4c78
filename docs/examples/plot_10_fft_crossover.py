"""
Spatial or FFT: where the crossover lies
========================================

The lecture: *"in image processing, convolution is usually computed in image
space — convolution using FFT makes sense with large filter sizes only"*.
Direct convolution costs h · w multiply-adds per pixel, growing with the
square of the mask side; an FFT costs about the same for any mask.  This
example times :func:`filterkit.convolve` with ``method="direct"``, the two
FFT methods (``"fft"``: one transform of the whole extended image;
``"overlap_save"``: tiles) and ``"auto"`` on a 1024 x 1024 float32 image with
one thread, for square masks from 3 x 3 to 63 x 63, and marks which method
:func:`filterkit.choose_method` (the cost model behind ``"auto"``) picks.

The timings are measured on the machine that built this page, while it was
doing other work too, so expect some noise; the systematic grid over image
sizes, dtypes and other libraries is on the results page
:doc:`/results/fft_grid`.
"""

# %%
# The image, the masks and the timer
# ----------------------------------
# Random masks are used on purpose: they are not separable (rank 1) and not
# constant, so ``auto`` chooses between the direct sum and the FFT methods
# only.  (A Gaussian or a mean mask would go to ``"separable"`` or ``"box"``,
# which beat all three; see the last cell.)  Every method writes into the
# same preallocated output.  Each time is the median of 4, 8 or 12 rounds
# after a warm-up (more for the quick small masks, to about 0.3 s per size).
# Within a round the methods take turns in a balanced order: over four rounds
# each method follows each other method once (what ran just before a method
# changes the caches and the memory it finds: the whole-image FFT leaves
# them quite different from the tiled one).

import time
from typing import Dict, List

import matplotlib.pyplot as plt
import numpy as np

import filterkit
from filterkit import masks

rng = np.random.default_rng(0)
image = rng.random((1024, 1024), dtype=np.float32)
out = np.empty_like(image)
SIDES = [3, 5, 7, 9, 11, 13, 15, 19, 23, 27, 31, 39, 47, 55, 63]
METHODS = ["direct", "fft", "overlap_save", "auto"]
# a Williams square: every ordered pair of neighbours occurs once in 4 rounds
ORDERS = [[METHODS[i] for i in row] for row in ([0, 1, 3, 2], [1, 2, 0, 3],
                                                 [2, 3, 1, 0], [3, 0, 2, 1])]
BUDGET = 0.3  # seconds of timed rounds per mask size, roughly

threads_before = filterkit.get_num_threads()
filterkit.set_num_threads(1)  # one thread: the cost model decides by one-thread costs
times: Dict[str, List[float]] = {m: [] for m in METHODS}
picks: List[str] = []
worst_ratio = 0.0  # largest |FFT - direct| / documented tolerance
try:
    for side in SIDES:
        mask = rng.standard_normal((side, side))
        picks.append(filterkit.choose_method(image.shape, mask=mask, dtype=np.float32).method)
        results = {}
        start = time.perf_counter()
        for method in METHODS:  # warm-up (FFT plans, caches), and the results
            results[method] = filterkit.convolve(image, mask, method=method, output=out).copy()
        one_round = time.perf_counter() - start
        cycles = int(np.clip(BUDGET / (len(METHODS) * one_round), 1, 3))
        runs: Dict[str, List[float]] = {m: [] for m in METHODS}
        for r in range(cycles * len(ORDERS)):
            for method in ORDERS[r % len(ORDERS)]:
                start = time.perf_counter()
                filterkit.convolve(image, mask, method=method, output=out)
                runs[method].append(time.perf_counter() - start)
        for method in METHODS:
            times[method].append(float(np.median(runs[method])) * 1e3)  # ms

        # The methods must agree: the FFT methods within the documented
        # tolerance of float32, 1e-4 * sum|mask| * max|image| (rounding in the
        # transforms grows with the sum of the weights and the largest value).
        tolerance = 1e-4 * np.abs(mask).sum() * np.abs(image).max()
        for method in ("fft", "overlap_save", "auto"):
            err = float(np.abs(results[method].astype(np.float64) - results["direct"]).max())
            assert err <= tolerance, (side, method, err, tolerance)
            worst_ratio = max(worst_ratio, err / tolerance)
finally:
    filterkit.set_num_threads(threads_before)

# %%
# The results
# -----------

print(f"{'mask':>7} {'direct':>9} {'fft':>9} {'overlap':>9} {'auto':>9}  "
      f"{'auto picks':<13}{'fastest measured':<16}")
for k, side in enumerate(SIDES):
    row = {m: times[m][k] for m in METHODS}
    fastest = min(("direct", "fft", "overlap_save"), key=row.get)
    print(f"{side:>3}x{side:<3} {row['direct']:9.2f} {row['fft']:9.2f} "
          f"{row['overlap_save']:9.2f} {row['auto']:9.2f}  {picks[k]:<13}{fastest:<16}")
print("(milliseconds, median of 4 to 12 rounds, one thread)")
print(f"largest difference from 'direct': {worst_ratio:.2g} of the documented tolerance")

first_fft = next(s for s, p in zip(SIDES, picks) if p in ("fft", "overlap_save"))
print(f"choose_method switches from 'direct' to an FFT method at {first_fft}x{first_fft}")
# the cost model must keep the smallest masks spatial and the largest in FFT
assert picks[0] == "direct" and picks[-1] in ("fft", "overlap_save")

# %%
# Time against mask size.  The direct sum grows with the square of the side;
# both FFT methods stay nearly flat; overlap-save (small tiles, transforms
# that fit in the cache) undercuts the whole-image FFT.  The markers on the
# ``auto`` curve show the method the cost model picked for each size.
# ``auto`` runs the same code as the method it picks (after a few
# microseconds of choosing), so on the right its time over the fastest
# method's scatters around 1 with the noise of the measurement; a point well
# above 1 would be a wrong pick.

colours = {"direct": "tab:blue", "fft": "tab:orange", "overlap_save": "tab:green"}
fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), layout="constrained")
ax = axes[0]
for method in ("direct", "fft", "overlap_save"):
    ax.plot(SIDES, times[method], color=colours[method], marker=".", label=method)
ax.plot(SIDES, times["auto"], color="black", linestyle="--", linewidth=1, label="auto")
for method in ("direct", "overlap_save", "fft"):
    chosen = [k for k, p in enumerate(picks) if p == method]
    if chosen:
        ax.scatter([SIDES[k] for k in chosen], [times["auto"][k] for k in chosen], s=60,
                   facecolor="none", edgecolor=colours[method], linewidth=2, zorder=3,
                   label=f"auto picks {method}")
ax.axvline(first_fft, color="0.6", linestyle=":", linewidth=1)
ax.set_yscale("log")
ax.set_xlabel("mask side n (n x n mask)")
ax.set_ylabel("time (ms, one thread)")
ax.set_title("1024 x 1024 float32, random mask: time per convolve")
ax.legend(fontsize=8)

ax = axes[1]
best = np.minimum.reduce([np.array(times[m]) for m in ("direct", "fft", "overlap_save")])
ax.plot(SIDES, np.array(times["auto"]) / best, color="black", marker="o")
ax.axhline(1.0, color="0.6", linewidth=1)
ax.set_ylim(0.5, max(2.0, float((np.array(times["auto"]) / best).max()) * 1.1))
ax.set_xlabel("mask side n (n x n mask)")
ax.set_ylabel("auto / fastest of the three")
ax.set_title("how close 'auto' comes to the fastest method")
plt.show()

# %%
# Masks that are cheaper still
# ----------------------------
# With the mask itself, ``choose_method`` also considers ``"separable"`` (a
# rank-1 mask as two 1-D passes, h + w operations per pixel) and ``"box"``
# (a constant mask as running sums, O(1) per pixel); neither needs an FFT at
# any size.

for name, mask in [("Gaussian 63x63", masks.gaussian(63, sigma=10.0)),
                   ("mean 63x63", masks.mean(63)),
                   ("random 63x63", rng.standard_normal((63, 63)))]:
    choice = filterkit.choose_method(image.shape, mask=mask)
    print(f"{name:<16} -> {choice.method}")
assert filterkit.choose_method(image.shape, mask=masks.gaussian(63, sigma=10.0)).method \
    == "separable"
assert filterkit.choose_method(image.shape, mask=masks.mean(63)).method == "box"

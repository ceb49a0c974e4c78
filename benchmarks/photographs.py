"""Photographs: filterkit against OpenCV on 8-bit and 16-bit pictures.

    python -m benchmarks photographs            # 2048 x 2048 (under a minute on 2 cores)
    python -m benchmarks photographs --quick    # 512 x 512, few rounds (under 30 s)
    python -m benchmarks photographs --out DIR  # default benchmarks/results

The filters of a photo editor on the pictures it opens: uint8 grey and
interleaved RGB (H x W x 3) images, two float32 RGB rows, and uint16 rows
reported on their own.  Every row times one filterkit call against the
OpenCV call that computes the same thing, in the same interleaved rounds
(:func:`benchmarks.harness.time_interleaved`), one thread on every side
(``filterkit.set_num_threads(1)``, ``cv2.setNumThreads(1)``).  Both sides
allocate their result, as a caller who asks for ``output=np.uint8`` (or
for OpenCV's ``dst``-less call) does.  The images are random with a fixed
seed (:class:`Inputs`).

The ratio of a row is filterkit's median time / OpenCV's (lower is
better).  The targets: every one of the 17 main rows at or below 1.0, and
the geometric mean of their ratios at or below 0.8.  The uint16 rows are
not in the geometric mean.

Same work on both sides
-----------------------
- Border: OpenCV's default, ``BORDER_REFLECT_101``, is filterkit's
  ``mode="mirror"``, which every filterkit call here passes.
- ``correlate``: ``cv2.filter2D`` correlates too (no flip).  The masks are
  random, non-negative and sum to 1 (a smoothing mask of no special form:
  neither side can take a separable or box shortcut, and the 8-bit outputs
  stay inside [0, 255], so the agreement check compares values rather than
  saturated pixels).
- ``gaussian``: filterkit's default mask is ``2 * ceil(3 * sigma) + 1``
  pixels wide (``filterkit.masks.gaussian_size``: 7 for sigma = 1, 13 for
  sigma = 2, 19 for sigma = 3), i.e. truncated at ``ceil(3 sigma)`` pixels
  on each side, normalised to sum 1.  ``cv2.GaussianBlur`` gets that same
  ksize (its own default, for ksize (0, 0), is 6 sigma + 1 for 8-bit and
  8 sigma + 1 for other images, rounded and made odd).  filterkit's
  default weights integrate the Gaussian over each pixel
  (``sampling="integral"``); OpenCV samples it at the pixel centres, so
  the rows pass ``sampling="point"``: the same size and the same two 1-D
  passes either way, and with point sampling the same weights.
- ``sobel_x``: filterkit *convolves* with the lecture's mask
  [[1, 0, -1], [2, 0, -2], [1, 0, -1]], which is correlating with
  [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]: exactly ``cv2.Sobel(img, CV_32F, 1,
  0)`` (ksize 3), the same sign.
- ``gradient``: strength sqrt(f_x^2 + f_y^2) and direction atan2(f_y, f_x)
  in (-pi, pi]; OpenCV's ``cv2.phase`` gives the same angle in [0, 2 pi),
  so directions are compared modulo 2 pi.  ``cv2.phase`` is an
  approximation (documented to about 0.3 degrees).
- ``laplace``: filterkit's default is the 4-neighbour mask
  [[0, 1, 0], [1, -4, 1], [0, 1, 0]], which is ``cv2.Laplacian(img,
  CV_32F)`` with its default ksize=1.
- RGB to CIELAB: ``filterkit.color.rgb_to_lab`` of a uint8 image gives
  **float32** L in [0, 100], a, b; ``cv2.cvtColor(img, COLOR_RGB2Lab)``
  gives **uint8** (L * 255 / 100, a + 128, b + 128) through fixed-point
  tables.  OpenCV writes a quarter of the bytes and rounds more; the row
  compares filterkit's result in OpenCV's 8-bit encoding.

Agreement
---------
Before a row is timed, both calls run once on a small (96 x 128) image and
must agree within the row's tolerance (:data:`ROWS`; the table lists the
differences found): 1 level for 8- and 16-bit outputs, exact for Sobel and
Laplace (integer sums), 1e-5 for float32 images in [0, 1].  Two kinds of
row differ by more, because of OpenCV's fixed point, not filterkit:

- uint8 Gaussians with sigma >= 2: ``GaussianBlur`` on 8-bit images rounds
  its weights to 8 fractional bits, which puts its result up to about 1.5
  levels from the exactly rounded one (filterkit's is within 0.5): the two
  differ by up to 2 levels.
- RGB to CIELAB: OpenCV's 8-bit a and b are up to about 2.7 levels from the
  exact values over all 2^24 colours (filterkit's float32 is within 0.02):
  tolerance 3 levels.

Only filterkit's public API is used.
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

if __name__ == "__main__" and not __package__:  # python benchmarks/photographs.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import harness  # noqa: E402  (before numpy: BLAS on one thread)
from benchmarks.harness import say  # noqa: E402

import numpy as np  # noqa: E402

import filterkit  # noqa: E402

try:  # the peer of every row; not in the test extras
    import cv2
except ImportError:  # pragma: no cover
    cv2 = None

NAME = "photographs"
SIZE, QUICK_SIZE = 2048, 512
SEED = 16  # the number: the images and masks are the same in every run
#: the small image of the agreement check: not square, so that swapped axes show
CHECK_SHAPE = (96, 128)
#: each side of a row must be at or below this ratio; the main rows' geometric mean below the other
ROW_TARGET, GEOMEAN_TARGET = 1.0, 0.8
#: rounds per row: as many as fit in the budget (seconds, from the warm-up calls), within the bounds
BUDGET = {False: (2.0, 15, 41), True: (0.5, 5, 21)}

Call = Callable[[], Any]


# --------------------------------------------------------------------------
# inputs


class Inputs:
    """The images of one size, made on first use from :data:`SEED`.

    Uniform random values: the filters' time does not depend on the content,
    and noise keeps every rounding case of the agreement check busy.
    """

    def __init__(self, shape: Tuple[int, int]):
        self.shape = tuple(shape)

    def _rng(self, which: int) -> np.random.Generator:
        return np.random.default_rng([SEED, which])

    @functools.cached_property
    def grey8(self) -> np.ndarray:
        return self._rng(0).integers(0, 256, self.shape, dtype=np.uint8)

    @functools.cached_property
    def rgb8(self) -> np.ndarray:
        return self._rng(1).integers(0, 256, self.shape + (3,), dtype=np.uint8)

    @functools.cached_property
    def rgbf(self) -> np.ndarray:
        return self._rng(2).random(self.shape + (3,), dtype=np.float32)

    @functools.cached_property
    def grey16(self) -> np.ndarray:
        return self._rng(3).integers(0, 65536, self.shape, dtype=np.uint16)

    @functools.cached_property
    def rgb16(self) -> np.ndarray:
        return self._rng(4).integers(0, 65536, self.shape + (3,), dtype=np.uint16)


def smoothing_mask(k: int) -> np.ndarray:
    """A k x k float32 mask of random non-negative weights summing to 1
    (full rank: no separable or box shortcut), the same in every run."""
    m = np.random.default_rng([SEED, 100 + k]).random((k, k))
    return (m / m.sum()).astype(np.float32)


# --------------------------------------------------------------------------
# agreement: the largest difference of the two results, by kind of output


def levels(a: np.ndarray, b: np.ndarray) -> float:
    """Largest difference of two integer images, in levels."""
    return float(np.abs(a.astype(np.int64) - b.astype(np.int64)).max())


def absolute(a: np.ndarray, b: np.ndarray) -> float:
    """Largest absolute difference of two float images."""
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())


def gradient_difference(fk: Tuple[np.ndarray, np.ndarray], cv: Tuple[np.ndarray, np.ndarray]
                        ) -> Dict[str, float]:
    """The strengths' largest difference relative to the largest strength,
    and the directions' largest difference in radians modulo 2 pi (filterkit
    gives (-pi, pi], ``cv2.phase`` [0, 2 pi))."""
    (s, d), (m, p) = fk, cv
    turn = (d.astype(np.float64) - p + np.pi) % (2 * np.pi) - np.pi
    return {"strength (relative)": absolute(s, m) / max(float(np.abs(m).max()), 1.0),
            "direction (rad)": float(np.abs(turn).max())}


def lab_difference(fk: np.ndarray, cv: np.ndarray) -> float:
    """filterkit's float Lab in OpenCV's 8-bit encoding (L * 255 / 100,
    a + 128, b + 128) against OpenCV's, in levels."""
    enc = np.stack([fk[..., 0] * (255 / 100), fk[..., 1] + 128, fk[..., 2] + 128], axis=-1)
    return absolute(enc, cv)


# --------------------------------------------------------------------------
# the rows


@dataclass(frozen=True)
class Row:
    """One filterkit call against one OpenCV call.

    `build` makes the two zero-argument calls from the inputs (each returns
    its result); `difference` measures how far the results are apart (a
    number, or a dict of named numbers), `tolerance` bounds it (a number,
    or a dict with the same names); `note` says why a tolerance is above
    the default.
    """

    name: str
    group: str                  # "main" (in the geometric mean) or "uint16"
    filterkit_call: str
    opencv_call: str
    build: Callable[[Inputs], Tuple[Call, Call]] = field(repr=False)
    difference: Callable[[Any, Any], Any] = field(repr=False)
    tolerance: Any
    unit: str
    note: str = ""


def _gauss(sigma: float) -> Tuple[int, str]:
    k = filterkit.masks.gaussian_size(sigma)
    return k, f"sigma={sigma:g} ({k}x{k})"


def _correlate_row(name: str, group: str, image: str, k: int, out: Any, axis: Optional[int],
                   difference: Callable[[Any, Any], Any], tolerance: float, unit: str) -> Row:
    mask = smoothing_mask(k)
    axis_arg = "" if axis is None else ", channel_axis=-1"
    out_arg = "" if out is None else f", output=np.{np.dtype(out).name}"

    def build(inp: Inputs) -> Tuple[Call, Call]:
        img = getattr(inp, image)
        return (lambda: filterkit.correlate(img, mask, mode="mirror", output=out, channel_axis=axis),
                lambda: cv2.filter2D(img, -1, mask))
    return Row(name, group, f"correlate({k}x{k}, mode='mirror'{out_arg}{axis_arg})",
               "cv2.filter2D(img, -1, k)", build, difference, tolerance, unit)


def _gaussian_row(name: str, group: str, image: str, sigma: float, out: Any, axis: Optional[int],
                  difference: Callable[[Any, Any], Any], tolerance: float, unit: str,
                  note: str = "") -> Row:
    k, _ = _gauss(sigma)
    axis_arg = "" if axis is None else ", channel_axis=-1"
    out_arg = "" if out is None else f", output=np.{np.dtype(out).name}"

    def build(inp: Inputs) -> Tuple[Call, Call]:
        img = getattr(inp, image)
        return (lambda: filterkit.gaussian(img, sigma, sampling="point", mode="mirror", output=out,
                                           channel_axis=axis),
                lambda: cv2.GaussianBlur(img, (k, k), sigma))
    return Row(name, group,
               f"gaussian({sigma:g}, sampling='point', mode='mirror'{out_arg}{axis_arg})",
               f"cv2.GaussianBlur(img, ({k}, {k}), {sigma:g})", build, difference, tolerance, unit,
               note)


def _mean_row(name: str, group: str, image: str, size: int, out: Any, axis: Optional[int]) -> Row:
    axis_arg = "" if axis is None else ", channel_axis=-1"

    def build(inp: Inputs) -> Tuple[Call, Call]:
        img = getattr(inp, image)
        return (lambda: filterkit.mean(img, size, mode="mirror", output=out, channel_axis=axis),
                lambda: cv2.blur(img, (size, size)))
    return Row(name, group, f"mean({size}, mode='mirror', output=np.{np.dtype(out).name}{axis_arg})",
               f"cv2.blur(img, ({size}, {size}))", build, levels, 1, "levels")


def _sobel_row(name: str, group: str, image: str) -> Row:
    def build(inp: Inputs) -> Tuple[Call, Call]:
        img = getattr(inp, image)
        return (lambda: filterkit.sobel_x(img, mode="mirror", output=np.float32),
                lambda: cv2.Sobel(img, cv2.CV_32F, 1, 0))
    # integer sums below 2^24: exact in float32 in any order, on both sides
    return Row(name, group, "sobel_x(mode='mirror', output=np.float32)",
               "cv2.Sobel(img, cv2.CV_32F, 1, 0)", build, absolute, 0.0, "absolute")


def _gradient_row(name: str) -> Row:
    def build(inp: Inputs) -> Tuple[Call, Call]:
        img = inp.grey8

        def opencv() -> Tuple[np.ndarray, np.ndarray]:
            fx = cv2.Sobel(img, cv2.CV_32F, 1, 0)
            fy = cv2.Sobel(img, cv2.CV_32F, 0, 1)
            return cv2.magnitude(fx, fy), cv2.phase(fx, fy)
        return (lambda: filterkit.gradient(img, mode="mirror")), opencv
    return Row(name, "main", "gradient(mode='mirror') (float32 strength, direction)",
               "2x cv2.Sobel(CV_32F) + cv2.magnitude + cv2.phase", build, gradient_difference,
               {"strength (relative)": 1e-5, "direction (rad)": 0.01}, "",
               "cv2.phase approximates atan2 (documented to about 0.3 degrees); directions "
               "compared modulo 2 pi")


def _laplace_row(name: str) -> Row:
    def build(inp: Inputs) -> Tuple[Call, Call]:
        img = inp.grey8
        return (lambda: filterkit.laplace(img, mode="mirror", output=np.float32),
                lambda: cv2.Laplacian(img, cv2.CV_32F))
    return Row(name, "main", "laplace(mode='mirror', output=np.float32) (4 neighbours)",
               "cv2.Laplacian(img, cv2.CV_32F) (ksize=1)", build, absolute, 0.0, "absolute")


def _lab_row(name: str) -> Row:
    def build(inp: Inputs) -> Tuple[Call, Call]:
        img = inp.rgb8
        return (lambda: filterkit.color.rgb_to_lab(img)), (lambda: cv2.cvtColor(img, cv2.COLOR_RGB2Lab))
    return Row(name, "main", "color.rgb_to_lab(img) (float32 out)",
               "cv2.cvtColor(img, cv2.COLOR_RGB2Lab) (uint8 out)", build, lab_difference, 3.0,
               "levels of OpenCV's 8-bit Lab",
               "different outputs: float32 Lab against OpenCV's 8-bit encoding, whose a and b "
               "are up to ~2.7 levels from the exact values (fixed-point tables)")


FIXED_POINT_GAUSSIAN = ("OpenCV's 8-bit GaussianBlur rounds its weights to 8 fractional bits: "
                        "up to ~1.5 levels from the exactly rounded result (filterkit: 0.5)")


def rows() -> List[Row]:
    """The suite's rows in the order they run: the 17 main rows, then the uint16 rows.

    The names are stable: documents quote them.
    """
    k1, s1 = _gauss(1.0)
    k2, s2 = _gauss(2.0)
    k3, s3 = _gauss(3.0)
    main = [
        _correlate_row("uint8 correlate 3x3", "main", "grey8", 3, np.uint8, None, levels, 1, "levels"),
        _correlate_row("uint8 correlate 5x5", "main", "grey8", 5, np.uint8, None, levels, 1, "levels"),
        _correlate_row("uint8 correlate 7x7", "main", "grey8", 7, np.uint8, None, levels, 1, "levels"),
        _correlate_row("uint8 RGB correlate 3x3", "main", "rgb8", 3, np.uint8, -1, levels, 1, "levels"),
        _gaussian_row(f"uint8 gaussian {s1}", "main", "grey8", 1.0, np.uint8, None, levels, 1, "levels"),
        _gaussian_row(f"uint8 gaussian {s3}", "main", "grey8", 3.0, np.uint8, None, levels, 2, "levels",
                      FIXED_POINT_GAUSSIAN),
        _gaussian_row(f"uint8 RGB gaussian {s2}", "main", "rgb8", 2.0, np.uint8, -1, levels, 2,
                      "levels", FIXED_POINT_GAUSSIAN),
        _mean_row("uint8 mean 3x3", "main", "grey8", 3, np.uint8, None),
        _mean_row("uint8 mean 5x5", "main", "grey8", 5, np.uint8, None),
        _mean_row("uint8 mean 21x21", "main", "grey8", 21, np.uint8, None),
        _mean_row("uint8 RGB mean 5x5", "main", "rgb8", 5, np.uint8, -1),
        _sobel_row("uint8 sobel_x (float32 out)", "main", "grey8"),
        _gradient_row("uint8 gradient (strength + direction)"),
        _laplace_row("uint8 laplace 4-neighbour (float32 out)"),
        _lab_row("uint8 RGB to CIELAB"),
        _gaussian_row(f"float32 RGB gaussian {s2}", "main", "rgbf", 2.0, None, -1, absolute, 1e-5,
                      "absolute"),
        _correlate_row("float32 RGB correlate 3x3", "main", "rgbf", 3, None, -1, absolute, 1e-5,
                       "absolute"),
    ]
    uint16 = [
        _correlate_row("uint16 correlate 3x3", "uint16", "grey16", 3, np.uint16, None, levels, 1,
                       "levels"),
        _gaussian_row(f"uint16 gaussian {s1}", "uint16", "grey16", 1.0, np.uint16, None, levels, 1,
                      "levels"),
        _mean_row("uint16 mean 5x5", "uint16", "grey16", 5, np.uint16, None),
        _mean_row("uint16 mean 21x21", "uint16", "grey16", 21, np.uint16, None),
        _mean_row("uint16 RGB mean 5x5", "uint16", "rgb16", 5, np.uint16, -1),
        _sobel_row("uint16 sobel_x (float32 out)", "uint16", "grey16"),
    ]
    return main + uint16


# --------------------------------------------------------------------------
# running


def check(row: Row, inputs: Inputs) -> Dict[str, Any]:
    """Run both calls of `row` once on `inputs` and compare their results.

    Returns
    -------
    dict
        ``difference`` and ``tolerance`` (numbers, or dicts of named
        numbers), ``unit``, ``note`` and ``ok``.

    Raises
    ------
    AssertionError
        When the results are further apart than the row's tolerance: the
        row would time two different computations.
    """
    fk, cv = row.build(inputs)
    diff = row.difference(fk(), cv())
    tol = row.tolerance
    if isinstance(diff, dict):
        ok = all(diff[k] <= tol[k] for k in tol)
    else:
        ok = diff <= tol
    result = {"shape": list(inputs.shape), "difference": diff, "tolerance": tol, "unit": row.unit,
              "note": row.note, "ok": bool(ok)}
    if not ok:
        raise AssertionError(f"{row.name}: filterkit and OpenCV differ by {diff} "
                             f"(tolerance {tol} {row.unit})")
    return result


def repeat_for(quick: bool) -> Callable[[float], int]:
    """The rounds of a row from the seconds of its warm-up calls (:data:`BUDGET`)."""
    budget, lo, hi = BUDGET[quick]
    return lambda warm: int(min(hi, max(lo, round(budget / max(warm, 1e-9)))))


def geometric_mean(values: Sequence[float]) -> Optional[float]:
    """The geometric mean of positive numbers (None for none)."""
    v = [float(x) for x in values]
    return math.exp(sum(math.log(x) for x in v) / len(v)) if v else None


def run(size: int = SIZE, quick: bool = False, rounds: Optional[int] = None) -> Dict[str, Any]:
    """Check and time every row on `size` x `size` images.

    Parameters
    ----------
    size : int, optional
        The side of the timed images (default 2048).
    quick : bool, optional
        Fewer rounds per row (:data:`BUDGET`).
    rounds : int, optional
        Exactly this many rounds per row instead.

    Returns
    -------
    dict
        The report: the machine, the settings, every row with its
        agreement check, its times (:func:`benchmarks.harness.stats`), its
        ratio and whether it meets :data:`ROW_TARGET`, and the summary of
        each group (geometric mean of the ratios).
    """
    if cv2 is None:
        raise RuntimeError("the photographs suite needs OpenCV: pip install -e '.[bench]'")
    before = filterkit.get_num_threads(), cv2.getNumThreads()
    filterkit.set_num_threads(1)
    cv2.setNumThreads(1)
    try:
        return _run(size, quick, rounds)
    finally:  # leave the process as it was (the tests call this)
        filterkit.set_num_threads(before[0])
        cv2.setNumThreads(before[1])


def _run(size: int, quick: bool, rounds: Optional[int]) -> Dict[str, Any]:
    small, timed = Inputs(CHECK_SHAPE), Inputs((size, size))
    repeat: Any = rounds if rounds is not None else repeat_for(quick)
    report: Dict[str, Any] = {
        "machine": harness.machine(opencv=cv2.__version__),
        "threads": {"filterkit": filterkit.get_num_threads(), "opencv": cv2.getNumThreads()},
        "quick": quick, "size": size, "seed": SEED, "check_shape": list(CHECK_SHAPE),
        "targets": {"row": ROW_TARGET, "geometric_mean": GEOMEAN_TARGET}, "rows": []}
    for i, row in enumerate(rows()):
        agreement = check(row, small)
        say(f"{row.name} ...")
        fk, cv = row.build(timed)
        times = harness.time_interleaved({"filterkit": fk, "opencv": cv}, repeat, seed=i)
        r = harness.ratio(times["filterkit"]["median"], times["opencv"]["median"])
        report["rows"].append({
            "name": row.name, "group": row.group, "filterkit": row.filterkit_call,
            "opencv": row.opencv_call, "agreement": agreement, "times": times, "ratio": r,
            "paired_ratio": harness.paired_ratio(times["filterkit"]["samples"],
                                                 times["opencv"]["samples"]),
            "meets": r <= ROW_TARGET})
    report["summary"] = {group: summary(report["rows"], group) for group in ("main", "uint16")}
    return report


def summary(entries: List[Dict[str, Any]], group: str) -> Dict[str, Any]:
    """The rows of `group`: how many, how many meet :data:`ROW_TARGET`, the
    geometric mean of their ratios and whether it meets :data:`GEOMEAN_TARGET`."""
    ratios = [e["ratio"] for e in entries if e["group"] == group]
    g = geometric_mean(ratios)
    return {"rows": len(ratios), "rows_meeting": sum(r <= ROW_TARGET for r in ratios),
            "geometric_mean": g, "geometric_mean_meets": g is not None and g <= GEOMEAN_TARGET}


# --------------------------------------------------------------------------
# the tables


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _number(x: float) -> str:
    return f"{x:.3g}" if x else "0"


def _agreement(a: Dict[str, Any]) -> str:
    d, t = a["difference"], a["tolerance"]
    if isinstance(d, dict):
        return "; ".join(f"{k} {_number(d[k])} ≤ {_number(t[k])}" for k in d)
    return f"{_number(d)} ≤ {_number(t)} {a['unit']}"


def markdown(report: Dict[str, Any]) -> str:
    """The report's tables: the main rows with the geometric mean and the
    targets, the uint16 rows, and the agreement of every row."""
    m = report["machine"]
    n = report["size"]
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores; filterkit {m['filterkit']} "
        f"({m['filterkit_kernels']} kernels, OpenMP {'on' if m['filterkit_openmp'] else 'off'}), "
        f"OpenCV {m['opencv']}, NumPy {m['numpy']}.  Images {n}x{n} (RGB: {n}x{n}x3 interleaved), "
        f"random (seed {report['seed']}); border BORDER_REFLECT_101 = mode 'mirror'; one thread "
        f"each; medians of interleaved rounds; ratio = filterkit / OpenCV (lower is better).",
        "",
    ]

    def table(group: str) -> str:
        body = []
        for e in report["rows"]:
            if e["group"] != group:
                continue
            t = e["times"]
            body.append([e["name"], e["opencv"], f"{t['filterkit']['median'] * 1e3:.3f}",
                         f"{t['opencv']['median'] * 1e3:.3f}", f"{e['ratio']:.2f}",
                         t["filterkit"]["repeat"], _met(e["meets"])])
        return harness.markdown_table(
            ["row", "OpenCV", "filterkit ms", "OpenCV ms", "ratio", "rounds",
             f"≤ {ROW_TARGET:g}"], body, align="llrrrrl").rstrip("\n")

    s = report["summary"]["main"]
    lines += [table("main"), "",
              f"Geometric mean of the {s['rows']} main ratios: {s['geometric_mean']:.3f} "
              f"(target ≤ {GEOMEAN_TARGET:g}: {'met' if s['geometric_mean_meets'] else 'not met'}).  "
              f"Rows at or below {ROW_TARGET:g}: {s['rows_meeting']} of {s['rows']} "
              f"(target: all, {'met' if s['rows_meeting'] == s['rows'] else 'not met'}).",
              "", "uint16 (not in the geometric mean):", ""]
    u = report["summary"]["uint16"]
    lines += [table("uint16"), "",
              f"Geometric mean of the {u['rows']} uint16 ratios: {u['geometric_mean']:.3f}.", "",
              f"Agreement, checked before timing on a {report['check_shape'][0]}x"
              f"{report['check_shape'][1]} image (largest difference ≤ tolerance):", ""]
    body = [[e["name"], e["filterkit"], _agreement(e["agreement"]), e["agreement"]["note"]]
            for e in report["rows"]]
    lines.append(harness.markdown_table(["row", "filterkit call", "difference", "why"], body,
                                        align="llll"))
    return "\n".join(lines)  # the last table ends with its newline


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m benchmarks photographs``: run, print and publish the tables."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks photographs",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_SIZE}x{QUICK_SIZE} images and few rounds (under 30 s)")
    parser.add_argument("--out", default=harness.RESULTS,
                        help=f"directory of {NAME}.{{json,md}} (default benchmarks/results)")
    parser.add_argument("--size", type=int, default=None,
                        help=f"image side (default {SIZE}, --quick {QUICK_SIZE})")
    parser.add_argument("--rounds", type=int, default=None,
                        help="rounds per row (default: from each row's warm-up time)")
    args = parser.parse_args(argv)
    if cv2 is None:
        parser.error("OpenCV is not installed: pip install -e '.[bench]'")
    size = args.size if args.size is not None else QUICK_SIZE if args.quick else SIZE
    t0 = time.perf_counter()
    report = run(size, args.quick, args.rounds)
    report["seconds"] = time.perf_counter() - t0
    table = markdown(report)
    written = harness.publish(NAME, report, table, args.out)
    print(table)
    say(f"({report['seconds']:.0f} s; written: {', '.join(written)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

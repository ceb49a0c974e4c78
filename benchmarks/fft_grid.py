"""Spatial vs FFT: filterkit's convolution methods on a grid of masks and images.

    python -m benchmarks.fft_grid                  # the default grid (under 10 minutes per backend)
    python -m benchmarks.fft_grid --quick          # under 30 s per backend
    python -m benchmarks.fft_grid --backends scipy # one FFT backend only
    python -m benchmarks.fft_grid --out DIR

The grid runs once per FFT backend filterkit has here (``$FILTERKIT_FFT``):
``native`` (the tiled method's blocks transformed in filterkit's core, the
default) and ``scipy`` (pocketfft) always, ``fftw`` when pyFFTW is
installed; each backend has cost constants of its own, so ``auto`` is held
against the fastest method on each.  The whole-image ``fft`` method runs on
pocketfft in every one.

Every cell is one image (256^2 ... 4096^2, float32 and float64) and one odd
mask (3x3 ... 63x63, plus 3x31, 31x3 and 15x41).  In each cell every
filterkit method is timed with ``convolve(..., mode="reflect", output=out)``:
``direct``, ``fft``, ``overlap_save`` and ``auto`` on a random normal mask (not
separable), ``separable`` (and ``auto``) on a rank-1 Gaussian mask of the same
size, ``box`` (and ``auto``) on a constant mask of the same size; beside them,
interleaved in the same runs, the peers: ``scipy.ndimage.convolve``
(reflect), ``scipy.signal.fftconvolve`` / ``oaconvolve`` (``mode="same"``:
zero border, so they compute less) and OpenCV's ``filter2D`` (DFT from 11x11
on), ``sepFilter2D`` and ``blur`` when installed.  One thread on every side.

A call whose predicted time exceeds ``--max-call`` seconds (predicted from the
same call on a smaller image, or from a smaller mask on this image) is not
run: it is estimated from the same call on a smaller image, time scaled by the
pixel count, and marked ``estimated``.

Outputs (default ``benchmarks/results/fft_grid.*``): JSON (every backend's
report under ``backends``) and CSV (a ``fft_backend`` column) of every cell, a
Markdown section per backend (a summary of every backend first) with a table
(crossover mask sizes; the 2048^2 float32 times and
the ratios auto / fastest filterkit method and auto / best peer; over the
whole grid, how many auto cells are within 1.1x of the fastest filterkit
method for their mask, by medians, by minimum times and by the median of
each round's paired ratio) and, when matplotlib is installed, a PNG plot per
backend (``fft_grid.png`` for the default, ``fft_grid_scipy.png`` for
pocketfft's blocks, ``fft_grid_fftw.png`` for FFTW's).
The JSON keeps every sample in round order.  Only filterkit's public API is
used.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import math
import os
import sys
import time
import zlib
from typing import Callable, Dict, Iterator, List, Optional, Tuple

if __name__ == "__main__" and not __package__:  # python benchmarks/fft_grid.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import harness  # noqa: E402  (before numpy: BLAS on one thread)
from benchmarks.harness import say, time_interleaved  # noqa: E402

import numpy as np  # noqa: E402

import filterkit  # noqa: E402

try:  # optional peers
    import cv2
except ImportError:  # pragma: no cover
    cv2 = None
try:
    import scipy.ndimage as ndi
    import scipy.signal as signal
except ImportError:  # pragma: no cover
    ndi = signal = None

RESULTS = harness.RESULTS

SQUARE = [3, 5, 7, 9, 11, 15, 21, 31, 41, 51, 63]
NON_SQUARE = [(3, 31), (31, 3), (15, 41)]
IMAGES = [256, 512, 1024, 2048, 4096]
DTYPES = ["float32", "float64"]
QUICK_IMAGES = [512, 2048]
QUICK_MASKS = [3, 9, 21, 41]
FFT_METHODS = ("fft", "overlap_save")
#: filterkit's FFT backends ($FILTERKIT_FFT), in the order they run
BACKENDS = ("native", "scipy", "fftw")
BACKEND_TITLES = {"native": "filterkit's own block transforms (the default, every install)",
                  "scipy": "pocketfft blocks (`scipy.fft`, `FILTERKIT_FFT=scipy`)",
                  "fftw": "FFTW blocks (pyFFTW, the `fftw` extra, `FILTERKIT_FFT=fftw`)"}
#: each backend's plot (the default's keeps the name the docs link)
PLOT_NAMES = {"native": "fft_grid.png", "scipy": "fft_grid_scipy.png",
              "fftw": "fft_grid_fftw.png"}

Shape = Tuple[int, int]


class Spec:
    """One timed function of a cell: a filterkit method or a peer."""

    def __init__(self, label: str, kind: str, library: str, short: str, note: str = "",
                 area_scaled: bool = False):
        self.label = label          # key in the results
        self.kind = kind            # the mask it runs on: random, rank1 or constant
        self.library = library
        self.short = short          # column title
        self.note = note
        self.area_scaled = area_scaled  # time grows with the mask's area (for predictions)


SPECS = [
    Spec("direct", "random", "filterkit", "direct", area_scaled=True),
    Spec("fft", "random", "filterkit", "fft"),
    Spec("overlap_save", "random", "filterkit", "overlap_save"),
    Spec("auto", "random", "filterkit", "auto"),
    Spec("separable", "rank1", "filterkit", "separable", "rank-1 Gaussian mask"),
    Spec("auto rank-1", "rank1", "filterkit", "auto (rank-1)", "rank-1 Gaussian mask"),
    Spec("box", "constant", "filterkit", "box", "constant mask"),
    Spec("auto constant", "constant", "filterkit", "auto (constant)", "constant mask"),
    Spec("scipy.ndimage.convolve", "random", "scipy", "ndimage", "reflect border",
         area_scaled=True),
    Spec("scipy.signal.fftconvolve", "random", "scipy", "fftconvolve",
         "mode='same': zero border, computes less"),
    Spec("scipy.signal.oaconvolve", "random", "scipy", "oaconvolve",
         "mode='same': zero border, computes less"),
    Spec("cv2.filter2D", "random", "opencv", "cv2.filter2D",
         "correlates the flipped mask; switches to a DFT from 11x11 on", area_scaled=True),
    Spec("cv2.sepFilter2D", "rank1", "opencv", "cv2.sepFilter2D", "rank-1 Gaussian mask"),
    Spec("cv2.blur", "constant", "opencv", "cv2.blur", "constant mask"),
]
SPEC = {s.label: s for s in SPECS}
FK_GENERAL = ("direct", "fft", "overlap_save")          # the filterkit methods for any mask
PEERS_GENERAL = ("scipy.ndimage.convolve", "scipy.signal.fftconvolve",
                 "scipy.signal.oaconvolve", "cv2.filter2D")


# --------------------------------------------------------------------------
# FFT backends


def available_backends() -> List[str]:
    """The FFT backends filterkit can use here: pocketfft always, FFTW when
    pyFFTW is installed."""
    import importlib.util

    return [b for b in BACKENDS if b != "fftw" or importlib.util.find_spec("pyfftw") is not None]


@contextlib.contextmanager
def fft_backend(name: str) -> Iterator[None]:
    """Run filterkit on the FFT backend `name` inside the block, by
    ``$FILTERKIT_FFT`` (the public switch; the memory subprocesses inherit
    it), and restore the variable after."""
    old = os.environ.get(FFT_ENV)
    os.environ[FFT_ENV] = name
    try:
        yield
    finally:
        if old is None:
            del os.environ[FFT_ENV]
        else:
            os.environ[FFT_ENV] = old


FFT_ENV = "FILTERKIT_FFT"


# --------------------------------------------------------------------------
# masks and timed functions


def gaussian_1d(k: int) -> np.ndarray:
    sigma = 0.3 * ((k - 1) * 0.5 - 1) + 0.8  # OpenCV's default sigma for this size
    x = np.arange(k) - k // 2
    g = np.exp(-x ** 2 / (2 * sigma ** 2))
    return g / g.sum()


def make_masks(shape: Shape, dtype) -> Dict[str, np.ndarray]:
    kh, kw = shape
    rng = np.random.default_rng(1000 * kh + kw)
    col, row = gaussian_1d(kh), gaussian_1d(kw)
    m = {
        "random": rng.standard_normal(shape).astype(dtype),   # not separable
        # float64 for filterkit: whether a float32-rounded outer product counts
        # as rank 1 is tested on its own in check_methods
        "rank1": np.outer(col, row),
        "constant": np.full(shape, 1.0 / (kh * kw), dtype=dtype),
        "col": col.astype(dtype),
        "row": row.astype(dtype),
    }
    # filter2D correlates: the flipped mask makes it the same convolution
    m["random flipped"] = np.ascontiguousarray(m["random"][::-1, ::-1])
    return m


def make_image(shape: Shape, dtype) -> np.ndarray:
    return np.random.default_rng(shape[0] * 7 + shape[1]).standard_normal(shape).astype(dtype)


def build(label: str, image: np.ndarray, out: np.ndarray, masks: Dict[str, np.ndarray]
          ) -> Callable[[], object]:
    """The zero-argument function that runs `label` once on this cell."""
    spec = SPEC[label]
    mask = masks[spec.kind]
    if spec.library == "filterkit":
        method = label.split()[0]
        return lambda: filterkit.convolve(image, mask, mode="reflect", output=out, method=method)
    if label == "scipy.ndimage.convolve":
        return lambda: ndi.convolve(image, mask, output=out, mode="reflect")
    if label == "scipy.signal.fftconvolve":
        return lambda: signal.fftconvolve(image, mask, mode="same")
    if label == "scipy.signal.oaconvolve":
        return lambda: signal.oaconvolve(image, mask, mode="same")
    flipped = masks["random flipped"]
    kh, kw = mask.shape
    if label == "cv2.filter2D":
        return lambda: cv2.filter2D(image, -1, flipped, dst=out, borderType=cv2.BORDER_REFLECT)
    if label == "cv2.sepFilter2D":
        col, row = masks["col"], masks["row"]
        return lambda: cv2.sepFilter2D(image, -1, row, col, dst=out, borderType=cv2.BORDER_REFLECT)
    if label == "cv2.blur":
        return lambda: cv2.blur(image, (kw, kh), dst=out, borderType=cv2.BORDER_REFLECT)
    raise KeyError(label)


def available_specs() -> Tuple[List[str], Dict[str, str]]:
    """The labels that run here, and why the others do not."""
    labels, missing = [], {}
    image = make_image((40, 48), np.float32)
    masks = make_masks((5, 7), np.float32)
    for spec in SPECS:
        if spec.library == "scipy" and ndi is None:
            missing[spec.label] = "scipy is not installed"
            continue
        if spec.library == "opencv" and cv2 is None:
            missing[spec.label] = "OpenCV is not installed"
            continue
        try:
            build(spec.label, image, np.empty_like(image), masks)()
        except Exception as exc:  # a method that is not there (yet)
            missing[spec.label] = f"{type(exc).__name__}: {exc}"
            continue
        labels.append(spec.label)
    return labels, missing


def choices(image_shape: Shape, masks: Dict[str, np.ndarray], dtype) -> Dict[str, dict]:
    """What ``filterkit.choose_method`` picks for each mask of a cell."""
    if not hasattr(filterkit, "choose_method"):
        return {}
    res = {}
    for kind in ("random", "rank1", "constant"):
        try:
            c = filterkit.choose_method(image_shape, mask=masks[kind], dtype=dtype)
        except Exception as exc:
            res[kind] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        res[kind] = {"method": c.method, "reason": c.reason,
                     "costs": {k: float(v) for k, v in dict(c.costs).items()}}
    return res


# --------------------------------------------------------------------------
# timing


#: auto columns above this ratio to the fastest filterkit method after a
#: cell's rounds get rounds of their own (:meth:`Grid.confirm`)
CONFIRM_ABOVE = 1.05
#: ... and the random mask's auto above this ratio to the fastest peer
PEER_CONFIRM_ABOVE = 0.9
PEER_KEY = "auto against the best peer"
#: the peer target's cells: masks from 15 x 15 on, 2048^2, float32
PEER_TARGET_AREA = 15 * 15
PEER_TARGET_IMAGE = (2048, 2048)
CONFIRM_SECONDS = 1.5
CONFIRM_MIN, CONFIRM_MAX = 7, 41


class Grid:
    """Runs the cells, keeps the measurements and predicts unmeasured calls."""

    def __init__(self, labels: List[str], max_call: float, target_round: float, max_repeat: int):
        self.labels = labels
        self.max_call = max_call
        self.target_round = target_round
        self.max_repeat = max_repeat
        # (label, mask shape, dtype) -> {image shape: stats}, measured only
        self.measured: Dict[Tuple[str, Shape, str], Dict[Shape, dict]] = {}

    def repeat_for(self, warm_total: float) -> int:
        return int(min(self.max_repeat, max(3, round(self.target_round / max(warm_total, 1e-9)))))

    def fast_repeat_for(self, warm_total: float) -> int:
        """Runs of a cell's fast functions in all: 0.4 of a round's budget."""
        return int(min(self.max_repeat, round(0.4 * self.target_round / max(warm_total, 1e-9))))

    def record(self, label: str, mask: Shape, dtype: str, image: Shape, stats: dict) -> None:
        self.measured.setdefault((label, mask, dtype), {})[image] = stats

    def smaller_image(self, label: str, mask: Shape, dtype: str, image: Shape
                      ) -> Optional[Tuple[Shape, dict]]:
        """The largest image smaller than `image` this call was measured on."""
        runs = self.measured.get((label, mask, dtype), {})
        px = image[0] * image[1]
        below = [s for s in runs if s[0] * s[1] < px]
        if not below:
            return None
        s = max(below, key=lambda s: s[0] * s[1])
        return s, runs[s]

    def predict(self, label: str, mask: Shape, dtype: str, image: Shape) -> Optional[float]:
        """Seconds of one call, from a smaller image or a smaller mask; None if unknown."""
        px = image[0] * image[1]
        got = self.smaller_image(label, mask, dtype, image)
        if got is not None:
            s, stats = got
            return stats["median"] * px / (s[0] * s[1])
        area = mask[0] * mask[1]
        best = None
        for (lab, m, dt), runs in self.measured.items():
            if lab == label and dt == dtype and image in runs and m[0] * m[1] <= area:
                if best is None or m[0] * m[1] > best[0][0] * best[0][1]:
                    best = (m, runs[image])
        if best is None:
            return None
        m, stats = best
        scale = area / (m[0] * m[1]) if SPEC[label].area_scaled else 1.0
        return stats["median"] * scale

    def estimate(self, label: str, mask: Shape, dtype: str, image: Shape, predicted: float) -> dict:
        """Time × pixel ratio from the same call on a smaller image (probed if need be)."""
        got = self.smaller_image(label, mask, dtype, image)
        if got is None:
            # nothing smaller measured: time it on a smaller image made for the purpose
            ratio = predicted / (self.max_call / 3)
            halvings = max(1, math.ceil(math.log(max(ratio, 1.0), 4)))
            shape = (max(16, image[0] >> halvings), max(16, image[1] >> halvings))
            img = make_image(shape, np.dtype(dtype))
            masks = make_masks(mask, np.dtype(dtype))
            stats = time_interleaved({label: build(label, img, np.empty_like(img), masks)}, 3)[label]
            self.record(label, mask, dtype, shape, stats)
            got = (shape, stats)
        s, stats = got
        f = image[0] * image[1] / (s[0] * s[1])
        return {"median": stats["median"] * f, "min": stats["min"] * f, "max": stats["max"] * f,
                "repeat": stats["repeat"], "estimated": True, "estimated_from": list(s)}

    def cell(self, image: np.ndarray, mask: Shape) -> dict:
        dtype = image.dtype.name
        shape = image.shape
        out = np.empty_like(image)
        masks = make_masks(mask, image.dtype)
        run, skip = {}, {}
        for label in self.labels:
            p = self.predict(label, mask, dtype, shape)
            if p is not None and p > self.max_call:
                skip[label] = p
            else:
                run[label] = build(label, image, out, masks)
        key = f"{dtype} {shape} {mask}".encode()
        times = time_interleaved(run, self.repeat_for, seed=zlib.crc32(key),
                                 fast_repeat=self.fast_repeat_for) if run else {}
        for label, stats in times.items():
            stats["estimated"] = False
            self.record(label, mask, dtype, shape, stats)
        confirmed = self.confirm(run, times, seed=zlib.crc32(key + b" confirm"),
                                 peer_target=(shape == PEER_TARGET_IMAGE and dtype == "float32"
                                              and mask[0] * mask[1] >= PEER_TARGET_AREA))
        for label, p in skip.items():
            times[label] = self.estimate(label, mask, dtype, shape, p)
        times = {label: times[label] for label in self.labels}  # the grid's order
        return {"image": list(shape), "dtype": dtype, "mask": list(mask),
                "choices": choices(shape, masks, image.dtype), "times": times,
                "confirm": confirmed}

    def confirm(self, run: Dict[str, Callable[[], object]], times: Dict[str, dict],
                seed: int, peer_target: bool = False) -> Dict[str, dict]:
        """Rounds of their own for the close verdicts of a cell.

        The cell's rounds are few where slow peers fill them (3 from 1024^2
        up): a 10 % verdict is then at the mercy of the machine.  Each auto
        column above :data:`CONFIRM_ABOVE` times the fastest filterkit
        method for its mask runs again with its contenders only (the
        methods within 1.15 times the fastest); and the random mask's auto,
        where it is above :data:`PEER_CONFIRM_ABOVE` times the fastest peer,
        with that peer (in the peer target's cells: `peer_target`).  Each contender is held against
        auto round by round: ``ratio`` is the largest of the medians of
        those paired ratios."""
        out: Dict[str, dict] = {}
        for auto, against in AUTO_COLUMNS.items():
            own = [k for k in against if k in run]
            if auto not in run or not own:
                continue
            best = min(times[k]["median"] for k in own)
            first = max(times[auto]["median"] / best, paired_ratio({"times": times}, auto) or 0.0)
            if first > CONFIRM_ABOVE:
                contenders = [k for k in own if times[k]["median"] <= 1.15 * best]
                out[auto] = self._paired(run, times, auto, contenders, seed + len(out), first)
        peers = [k for k in PEERS_GENERAL if k in run]
        if "auto" in run and peers and peer_target:
            best_peer = min(peers, key=lambda k: times[k]["median"])
            first = times["auto"]["median"] / times[best_peer]["median"]
            if first > PEER_CONFIRM_ABOVE:
                out[PEER_KEY] = self._paired(run, times, "auto", [best_peer], seed + 7, first)
        return out

    @staticmethod
    def _paired(run: Dict[str, Callable[[], object]], times: Dict[str, dict], subject: str,
                contenders: List[str], seed: int, first: float) -> dict:
        names = [subject] + contenders
        per_round = sum(times[k]["median"] for k in names)
        rounds = int(min(CONFIRM_MAX, max(CONFIRM_MIN, round(CONFIRM_SECONDS / per_round))))
        t = time_interleaved({k: run[k] for k in names}, rounds, seed=seed)
        a = np.array(t[subject]["samples"])
        ratios = {k: float(np.median(a / np.array(t[k]["samples"]))) for k in contenders}
        worst = max(ratios, key=ratios.__getitem__)
        return {"first": first, "rounds": rounds, "against": worst, "ratio": ratios[worst],
                "ratios": ratios, "samples": {k: t[k]["samples"] for k in names}}


# --------------------------------------------------------------------------
# checks: every method against direct in float64, on a small image


def check_methods(labels: List[str], mask: Shape, dtype: str) -> List[dict]:
    dt = np.dtype(dtype)
    image = make_image((160, 192), dt)
    masks = make_masks(mask, dt)
    found = []
    for label in labels:
        spec = SPEC[label]
        if spec.library != "filterkit" or label == "direct":
            continue
        method = label.split()[0]
        m = masks[spec.kind]
        ref = filterkit.convolve(image.astype(np.float64), m.astype(np.float64), method="direct")
        try:
            res = filterkit.convolve(image, m, mode="reflect", method=method)
        except Exception as exc:
            found.append({"method": label, "mask": list(mask), "dtype": dtype,
                          "error": f"{type(exc).__name__}: {exc}"})
            continue
        err = float(np.max(np.abs(res.astype(np.float64) - ref)) / max(np.max(np.abs(ref)), 1e-300))
        tol = 1e-4 if dt == np.float32 else 1e-9
        entry = {"method": label, "mask": list(mask), "dtype": dtype, "relative_error": err,
                 "output_dtype": res.dtype.name}
        if err > tol or res.dtype != dt:
            entry["problem"] = (f"relative error {err:.2g} > {tol:g}" if err > tol else
                                f"{dtype} in, {res.dtype.name} out")
        found.append(entry)
    if "separable" in labels and dt == np.float32 and min(mask) > 1:
        # the rank-1 mask as the user would have it in float32 (rounded entries)
        m = masks["rank1"].astype(np.float32)
        entry = {"method": "separable (float32 mask)", "mask": list(mask), "dtype": dtype}
        try:
            filterkit.convolve(image, m, method="separable")
            picks = filterkit.choose_method((2048, 2048), mask=m, dtype=dt).method \
                if hasattr(filterkit, "choose_method") else None
            entry["choose_method_2048"] = picks
        except Exception as exc:
            entry["problem"] = f"refused: {type(exc).__name__}: {exc}"
        found.append(entry)
    return found


# --------------------------------------------------------------------------
# peak memory in a fresh process (Linux only)


def _memory_child(label: str, h: str, w: str, dtype: str, kh: str, kw: str) -> None:
    """Print the peak RSS growth of one call (after a warm-up call), in bytes."""
    if SPEC[label].library == "filterkit":
        filterkit.set_num_threads(1)
    elif cv2 is not None:
        cv2.setNumThreads(1)
    image = make_image((int(h), int(w)), np.dtype(dtype))
    fn = build(label, image, np.empty_like(image), make_masks((int(kh), int(kw)), np.dtype(dtype)))
    fn()  # load everything once: plans, caches
    print(harness.measure_peak(fn))


def peak_memory(label: str, image: Shape, dtype: str, mask: Shape) -> Optional[dict]:
    if not harness.peak_supported():
        return None
    extra, why = harness.run_child("benchmarks.fft_grid", "_memory_child",
                                   [label, image[0], image[1], dtype, mask[0], mask[1]])
    if why is not None:
        say(f"memory {label}: failed: {why}")
        return None
    image_bytes = image[0] * image[1] * np.dtype(dtype).itemsize
    return {"method": label, "image": list(image), "dtype": dtype, "mask": list(mask),
            "extra_bytes": extra, "fraction_of_image": extra / image_bytes,
            "note": "returns a new array" if label.startswith("scipy.signal") else "output= given"}


# --------------------------------------------------------------------------
# the run


def single_thread() -> None:
    filterkit.set_num_threads(1)
    if cv2 is not None:
        cv2.setNumThreads(1)


def machine_info() -> Dict[str, object]:
    return harness.machine(
        scipy=harness.version("scipy") if ndi is not None else None,
        opencv=cv2.__version__ if cv2 is not None else None,
        threads="1 everywhere (filterkit.set_num_threads(1), cv2.setNumThreads(1), scipy.fft workers=1)")


def mask_list(quick: bool) -> List[Shape]:
    if quick:
        return [(k, k) for k in QUICK_MASKS]
    masks = [(k, k) for k in SQUARE] + NON_SQUARE
    return sorted(masks, key=lambda m: (m[0] * m[1], m))  # small first: predictions


def run(quick: bool, images: List[int], dtypes: List[str], max_call: float, memory: bool) -> dict:
    t_start = time.perf_counter()
    single_thread()
    labels, missing = available_specs()
    for label, why in missing.items():
        say(f"skipped {label}: {why}")
    masks = mask_list(quick)
    # fast cells get up to 101 rounds: the medians of sub-millisecond calls
    # are otherwise at the mercy of the machine's noise
    grid = Grid(labels, max_call, target_round=0.4 if quick else 1.0, max_repeat=9 if quick else 101)
    checks = []
    for dtype in dtypes:
        for mask in masks:
            checks += check_methods(labels, mask, dtype)
    failed: Dict[str, List[dict]] = {}
    for x in checks:
        if "problem" in x or "error" in x:
            failed.setdefault(x["method"], []).append(x)
    for label, xs in failed.items():
        x = xs[0]
        say(f"warning: check {label}: {len(xs)} mask/dtype case(s) failed, e.g. "
            f"{x['mask'][0]}x{x['mask'][1]} {x['dtype']}: {x.get('problem') or x.get('error')}")
    cells = []
    n_cells = len(images) * len(dtypes) * len(masks)
    for size in images:
        for dtype in dtypes:
            image = make_image((size, size), np.dtype(dtype))
            for mask in masks:
                cell = grid.cell(image, mask)
                cells.append(cell)
                t = cell["times"]
                parts = [f"{SPEC[k].short} {v['median'] * 1e3:.3g}{'~' if v['estimated'] else ''}"
                         for k, v in t.items()]
                pick = cell["choices"].get("random", {}).get("method", "?")
                say(f"[{len(cells)}/{n_cells} {time.perf_counter() - t_start:.0f} s] "
                    f"{size}x{size} {dtype} {mask[0]}x{mask[1]} (ms, ~ estimated; auto picks {pick}): "
                    + ", ".join(parts))
            del image
    mem = []
    if memory:
        big = max(images)
        size = 2048 if 2048 in images else big
        plan = ([((21, 21), ["fft", "overlap_save"])] if quick else
                [((9, 9), ["direct", "fft", "overlap_save", "auto"]),
                 ((41, 41), ["direct", "fft", "overlap_save", "auto", "scipy.signal.fftconvolve",
                             "scipy.signal.oaconvolve", "cv2.filter2D"])])
        for mask, which in plan:
            for label in which:
                if label in labels:
                    say(f"memory {label} {size}x{size} float32 {mask[0]}x{mask[1]} ...")
                    m = peak_memory(label, (size, size), "float32", mask)
                    if m is not None:
                        mem.append(m)
    return {"machine": machine_info(), "quick": quick,
            "grid": {"images": [[s, s] for s in images], "dtypes": dtypes,
                     "masks": [list(m) for m in masks]},
            "settings": {"mode": "reflect", "max_call_seconds": max_call,
                         "before_each_call": "malloc_trim(0) (glibc): order-independent allocation costs",
                         "order": "balanced (Williams): every function follows every other equally often",
                         "estimate": "time of the same call on a smaller image x pixel ratio"},
            "methods": {s.label: {"mask": s.kind, "library": s.library, "note": s.note}
                        for s in SPECS if s.label in labels},
            "skipped": missing, "cells": cells, "checks": checks, "memory": mem,
            "crossovers": crossovers(cells)}


# --------------------------------------------------------------------------
# analysis


def crossover(ks: List[int], slow: List[float], fast: List[float]) -> dict:
    """The mask size from which `fast` stays faster than `slow`."""
    r = [math.log(a / b) for a, b in zip(slow, fast)]  # > 0: fast wins
    i = len(ks)
    while i > 0 and r[i - 1] > 0:
        i -= 1
    if i == len(ks):
        return {"from": None, "text": f"none up to {ks[-1]}", "interpolated": None}
    if i == 0:
        return {"from": ks[0], "text": f"<= {ks[0]}", "interpolated": None}
    lo, hi = ks[i - 1], ks[i]
    t = -r[i - 1] / (r[i] - r[i - 1])
    k = math.exp(math.log(lo) + t * (math.log(hi) - math.log(lo)))
    return {"from": hi, "between": [lo, hi], "interpolated": k, "text": f"{lo}-{hi} (~{k:.0f})"}


def crossovers(cells: List[dict]) -> List[dict]:
    res = []
    groups: Dict[Tuple[Tuple[int, ...], str], List[dict]] = {}
    for c in cells:
        if c["mask"][0] == c["mask"][1]:
            groups.setdefault((tuple(c["image"]), c["dtype"]), []).append(c)
    for (image, dtype), cs in groups.items():
        cs = sorted(cs, key=lambda c: c["mask"][0])
        ks = [c["mask"][0] for c in cs]
        entry = {"image": list(image), "dtype": dtype}
        for fast in FFT_METHODS:
            if all("direct" in c["times"] and fast in c["times"] for c in cs):
                x = crossover(ks, [c["times"]["direct"]["median"] for c in cs],
                              [c["times"][fast]["median"] for c in cs])
                x["uses_estimates"] = any(c["times"]["direct"]["estimated"] or c["times"][fast]["estimated"]
                                          for c in cs)
                entry[f"direct_to_{fast}"] = x
        picks = [(k, c["choices"].get("random", {}).get("method")) for k, c in zip(ks, cs)]
        first = next((k for k, p in picks if p in FFT_METHODS), None)
        entry["auto_picks"] = {str(k): p for k, p in picks}
        entry["auto_switches_at"] = first
        res.append(entry)
    return res


def fmt_ms(stats: Optional[dict]) -> str:
    if stats is None:
        return ""
    ms = stats["median"] * 1e3
    s = f"{ms:.3g}" if ms < 1000 else f"{ms:.0f}"
    return f"≈{s}" if stats["estimated"] else s


def ratio_stats(cell: dict) -> Tuple[Optional[float], Optional[float]]:
    """auto (random mask) over the fastest filterkit method and over the
    fastest general peer: from their own rounds where they had them
    (:meth:`Grid.confirm`), else by medians."""
    t = cell["times"]
    if "auto" not in t:
        return None, None
    peers = [t[k]["median"] for k in PEERS_GENERAL if k in t]
    confirmed = cell.get("confirm", {}).get(PEER_KEY)
    r_peer = (confirmed["ratio"] if confirmed
              else t["auto"]["median"] / min(peers) if peers else None)
    return verdict(cell, "auto"), r_peer


#: each auto column, the filterkit methods it is held against (the general
#: methods' times hold for any mask of the size: they do not depend on the values)
AUTO_COLUMNS = {"auto": FK_GENERAL, "auto rank-1": FK_GENERAL + ("separable",),
                "auto constant": FK_GENERAL + ("box",)}


def auto_ratios(cell: dict, stat: str = "median") -> Dict[str, float]:
    """Each auto column's median (or `stat`) over the fastest filterkit method for its mask."""
    t = cell["times"]
    out = {}
    for auto, against in AUTO_COLUMNS.items():
        fk = [t[k][stat] for k in against if k in t]
        if auto in t and fk:
            out[auto] = t[auto][stat] / min(fk)
    return out


def paired_ratio(cell: dict, auto: str) -> Optional[float]:
    """The median over rounds of auto's time over the time, in the same
    round, of the method fastest by medians: slow drifts of the machine
    (another tenant's load, seconds long) cancel in each round's ratio."""
    t = cell["times"]
    fk = [k for k in AUTO_COLUMNS[auto] if k in t]
    if auto not in t or not fk or "samples" not in t[auto]:
        return None
    best = min(fk, key=lambda k: t[k]["median"])
    a, b = t[auto].get("samples"), t[best].get("samples")
    if not a or not b:  # estimated, not run
        return None
    n = min(len(a), len(b))  # the rounds both ran in (extra rounds: the fast ones)
    return float(np.median(np.array(a[:n]) / np.array(b[:n])))


def verdict(cell: dict, auto: str) -> Optional[float]:
    """The auto column's ratio to the fastest filterkit method for its mask:
    from its own rounds where it had them (:meth:`Grid.confirm`), else the
    medians'."""
    got = cell.get("confirm", {}).get(auto)
    return got["ratio"] if got else auto_ratios(cell).get(auto)


def within_target(cells: List[dict], target: float = 1.1) -> str:
    """How many (cell, auto column) pairs are within `target` of the fastest
    filterkit method and the ones that are not; the counts by medians
    alone, by minimum times and by paired ratios in the cell's rounds too."""
    cases = [(c, auto, r) for c in cells for auto, r in auto_ratios(c).items()]
    final = [(verdict(c, auto), c, auto) for c, auto, _ in cases]
    above = sorted(((r, f"{c['image'][0]}² {c['dtype']} {c['mask'][0]}x{c['mask'][1]} {auto}")
                    for r, c, auto in final if r > target), reverse=True)
    confirmed = [c["confirm"][auto] for c, auto, _ in cases if auto in c.get("confirm", {})]
    by_median = sum(1 for _, _, r in cases if r <= target)
    by_min = sum(1 for c in cells for r in auto_ratios(c, "min").values() if r <= target)
    paired = [r for r in (paired_ratio(c, auto) for c, auto, _ in cases) if r is not None]
    per = {a: sum(1 for _, auto, _ in cases if auto == a) for a in AUTO_COLUMNS}
    rounds = sorted(x["rounds"] for x in confirmed)
    text = (f"`auto` within {target:g}× of the fastest filterkit method for its mask in "
            f"**{len(cases) - len(above)} of {len(cases)}** cases "
            f"({', '.join(f'{k}: {v} cells' for k, v in per.items())}).  The {len(confirmed)} "
            f"cases above {CONFIRM_ABOVE:g}× after the cell's rounds had rounds of their own ("
            + (f"{rounds[0]}-{rounds[-1]}" if rounds else "none")
            + f", auto against each method within 1.15× of the fastest, paired per round): "
            f"{sum(1 for x in confirmed if x['ratio'] <= target)} of them within {target:g}×.  "
            f"From the cell's rounds alone: {by_median} by medians, {by_min} by minimum times, "
            f"{sum(1 for r in paired if r <= target)} of {len(paired)} by paired ratios")
    shown = "; ".join(f"{name} {r:.2f}" for r, name in above[:12])
    more = f"; and {len(above) - 12} more (in the JSON)" if len(above) > 12 else ""
    return text + (f".  Above {target:g}×: {shown}{more}" if above else "") + "."


def peer_note(cells: List[dict]) -> str:
    """How the cells' auto / best peer ratios of masks >= 15 x 15 were measured."""
    big = [c for c in cells if c["mask"][0] * c["mask"][1] >= PEER_TARGET_AREA
           and "auto" in c["times"]]
    own = [c["confirm"][PEER_KEY] for c in big if PEER_KEY in c.get("confirm", {})]
    if not own:
        return "by medians"
    firsts = ", ".join(f"{x['first']:.2f}→{x['ratio']:.2f}" for x in own)
    return (f"{len(own)} of {len(big)} by rounds of their own, the cell's medians → the paired "
            f"ratio: {firsts}")


def summary(values: List[Tuple[str, float]]) -> str:
    if not values:
        return "n/a"
    v = [x for _, x in values]
    worst = max(values, key=lambda x: x[1])
    return f"median {float(np.median(v)):.2f}, worst {worst[1]:.2f} ({worst[0]})"


def markdown(report: dict) -> str:
    m = report["machine"]
    cells = report["cells"]
    n_rep = sorted({v["repeat"] for c in cells for v in c["times"].values()})
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores, {m.get('memory_gib', '?')} GiB; filterkit "
        f"{m['filterkit']} ({m['filterkit_kernels']} kernels), OpenCV {m['opencv']}, SciPy "
        f"{m['scipy']}, NumPy {m['numpy']}.  One thread everywhere, border `reflect`, output "
        f"preallocated; medians of {n_rep[0]}-{n_rep[-1]} interleaved runs (a balanced order: each "
        f"function follows each other equally often, relabelled at random per block; the "
        f"functions under 5 % of a round get extra rounds among themselves; heap trimmed "
        f"before each call) after a warm-up "
        f"(min/max in the JSON and CSV).  ≈: not run (over {report['settings']['max_call_seconds']:g} s), "
        "estimated from the same call on a smaller image × the pixel ratio."
        + ("  **Quick run.**" if report["quick"] else ""),
        "",
        "Mask size (square random masks) from which the FFT methods beat `direct`, and from which "
        "`choose_method` picks one (~: interpolated in log-log; * uses estimated times):",
        "",
        "| image | dtype | direct → fft | direct → overlap_save | auto picks fft/overlap_save from |",
        "|---|---|---:|---:|---:|",
    ]
    for x in report["crossovers"]:
        cols = []
        for fast in FFT_METHODS:
            c = x.get(f"direct_to_{fast}")
            cols.append("" if c is None else c["text"] + (" *" if c["uses_estimates"] else ""))
        sw = x["auto_switches_at"]
        lines.append(f"| {x['image'][0]}x{x['image'][1]} | {x['dtype']} | {cols[0]} | {cols[1]} "
                     f"| {sw if sw is not None else 'never'} |")
    # the detail table: 2048x2048 float32 (else the largest float32 image)
    f32 = [c for c in cells if c["dtype"] == "float32"] or cells
    size = 2048 if any(c["image"][0] == 2048 for c in f32) else max(c["image"][0] for c in f32)
    rows = [c for c in f32 if c["image"][0] == size]
    present = [s for s in SPECS if s.label in report["methods"]]
    general = [s for s in present if s.kind == "random" and s.label != "auto"]
    special = [s for s in present if s.kind != "random"]
    head = (["mask"] + [s.short for s in general if s.library == "filterkit"] + ["auto (picks)"]
            + [s.short + ("†" if s.label.startswith("scipy.signal") else "")
               for s in general if s.library != "filterkit"]
            + ["auto / fastest filterkit", "auto / best peer"]
            + [s.short + "‡" for s in special])
    lines += ["", f"{size}x{size} float32, milliseconds:", "",
              "| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    big_fk, big_peer = [], []
    for c in rows:
        t = c["times"]
        name = f"{c['mask'][0]}x{c['mask'][1]}"
        pick = c["choices"].get("random", {}).get("method", "?")
        r_fk, r_peer = ratio_stats(c)
        if c["mask"][0] * c["mask"][1] >= 15 * 15:
            if r_fk is not None:
                big_fk.append((name, r_fk))
            if r_peer is not None:
                big_peer.append((name, r_peer))
        row = ([name] + [fmt_ms(t.get(s.label)) for s in general if s.library == "filterkit"]
               + [f"{fmt_ms(t.get('auto'))} ({pick})"]
               + [fmt_ms(t.get(s.label)) for s in general if s.library != "filterkit"]
               + ["" if r_fk is None else f"{r_fk:.2f}", "" if r_peer is None else f"{r_peer:.2f}"]
               + [fmt_ms(t.get(s.label)) for s in special])
        lines.append("| " + " | ".join(row) + " |")
    lines += ["",
              "† `mode='same'`: zero border, so they compute less than a reflect border.  "
              "‡ on a rank-1 Gaussian (separable) or constant (box) mask of that size, not the "
              "random mask; \"auto\" there is `method='auto'` on that mask.  Ratios use medians, "
              f"except where they were close (auto above {CONFIRM_ABOVE:g}× the fastest filterkit "
              f"method, or, for masks from 15x15 on, above {PEER_CONFIRM_ABOVE:g}× the best peer): "
              "those come from rounds of "
              "auto and its contenders alone, the median of the per-round ratios.  "
              "\"fastest filterkit\" is the fastest of direct, fft and overlap_save.",
              "",
              f"Masks ≥ 15x15 (by area) at {size}x{size} float32: auto / fastest filterkit method "
              f"{summary(big_fk)}; auto / best peer {summary(big_peer)} "
              f"({peer_note(rows)})."]
    all_fk = [(f"{c['image'][0]}² {c['dtype']} {c['mask'][0]}x{c['mask'][1]}", ratio_stats(c)[0])
              for c in cells if c["mask"][0] * c["mask"][1] >= 225 and ratio_stats(c)[0] is not None]
    if all_fk:
        lines.append(f"Over the whole grid (masks ≥ 15x15): auto / fastest filterkit method "
                     f"{summary(all_fk)}.")
    lines += ["", "Over the whole grid, random, rank-1 and constant masks (the rank-1 and "
              "constant ones held against separable or box too): " + within_target(cells)]
    if report["memory"]:
        lines += ["", "Peak RSS growth during one call (fresh process, after a warm-up call):", "",
                  "| method | image | mask | extra | of the image |", "|---|---|---|---:|---:|"]
        for x in report["memory"]:
            lines.append(f"| {x['method']} ({x['note']}) | {x['image'][0]}x{x['image'][1]} {x['dtype']} "
                         f"| {x['mask'][0]}x{x['mask'][1]} | {x['extra_bytes'] / 2 ** 20:.1f} MiB "
                         f"| {100 * x['fraction_of_image']:.0f} % |")
    bad: Dict[str, List[dict]] = {}
    for x in report["checks"]:
        if "problem" in x or "error" in x:
            bad.setdefault(x["method"], []).append(x)
    if bad:
        lines += ["", "Check failures (each method against `direct` in float64, 160x192 image):", ""]
        for label, xs in bad.items():
            cases = ", ".join(f"{x['mask'][0]}x{x['mask'][1]} {x['dtype']}" for x in xs)
            lines.append(f"- {label}: {xs[0].get('problem') or xs[0].get('error')} "
                         f"({len(xs)} case(s): {cases})")
    if report["skipped"]:
        lines += ["", "Not timed: " + "; ".join(f"{k} ({v})" for k, v in report["skipped"].items())]
    return "\n".join(lines) + "\n"


def headline(report: dict, target: float = 1.1) -> dict:
    """One backend's verdicts: how many (cell, auto column) cases are within
    `target` of the fastest filterkit method and the worst of them; auto
    over the best peer for masks from 15 x 15 on at 2048^2 float32."""
    cells = report["cells"]
    own = [(verdict(c, auto),
            f"{c['image'][0]}² {c['dtype']} {c['mask'][0]}x{c['mask'][1]} {auto}")
           for c in cells for auto in auto_ratios(c)]
    peer = [(ratio_stats(c)[1], f"{c['mask'][0]}x{c['mask'][1]}") for c in cells
            if tuple(c["image"]) == PEER_TARGET_IMAGE and c["dtype"] == "float32"
            and c["mask"][0] * c["mask"][1] >= PEER_TARGET_AREA and ratio_stats(c)[1] is not None]
    worst = max(own) if own else None
    worst_peer = max(peer) if peer else None
    return {"within": sum(1 for r, _ in own if r <= target), "cases": len(own), "target": target,
            "worst": None if worst is None else {"ratio": worst[0], "case": worst[1]},
            "peer_median": float(np.median([r for r, _ in peer])) if peer else None,
            "peer_worst": None if worst_peer is None else {"ratio": worst_peer[0], "mask": worst_peer[1]},
            "peer_cells": len(peer)}


def markdown_all(combined: dict) -> str:
    """A summary line per backend, then each backend's tables."""
    lines = ["Each FFT backend's grid (`$FILTERKIT_FFT`), with its own cost constants:", "",
             "| FFT backend | `auto` within 1.1× of the fastest filterkit method | worst case "
             "| masks ≥ 15x15 at 2048² float32: auto / best peer |",
             "|---|---:|---|---|"]
    for name, report in combined["backends"].items():
        h = headline(report)
        worst = f"{h['worst']['ratio']:.2f} ({h['worst']['case']})" if h["worst"] else "n/a"
        peer = (f"median {h['peer_median']:.2f}, worst {h['peer_worst']['ratio']:.2f} "
                f"({h['peer_worst']['mask']})" if h["peer_worst"] else "not in this grid")
        lines.append(f"| {BACKEND_TITLES[name]} | {h['within']} of {h['cases']} | {worst} | {peer} |")
    for name, report in combined["backends"].items():
        lines += ["", f"## {BACKEND_TITLES[name]}", "", markdown(report).rstrip("\n")]
    return "\n".join(lines) + "\n"


def write_csv(combined: dict, path: str) -> None:
    """Every backend's cells, one row per timed function (``fft_backend``
    column first)."""
    with open(path, "w", newline="") as fh:
        # the machine description as comment lines: pandas.read_csv(path, comment="#")
        for k, v in combined["machine"].items():
            fh.write(f"# {k}: {v}\n")
        w = csv.writer(fh)
        w.writerow(["fft_backend", "image_h", "image_w", "dtype", "mask_h", "mask_w", "mask_kind",
                    "method", "library", "median_s", "min_s", "max_s", "repeat", "estimated",
                    "estimated_from", "auto_picks", "peak_extra_bytes", "note"])
        for backend, report in combined["backends"].items():
            mem = {(x["method"], tuple(x["image"]), x["dtype"], tuple(x["mask"])): x["extra_bytes"]
                   for x in report["memory"]}
            for c in report["cells"]:
                for label, t in c["times"].items():
                    spec = SPEC[label]
                    pick = (c["choices"].get(spec.kind, {}).get("method", "")
                            if label.startswith("auto") else "")
                    src = t.get("estimated_from")
                    w.writerow([backend, c["image"][0], c["image"][1], c["dtype"], c["mask"][0],
                                c["mask"][1], spec.kind, label, spec.library, f"{t['median']:.6g}",
                                f"{t['min']:.6g}", f"{t['max']:.6g}", t["repeat"],
                                int(t["estimated"]), f"{src[0]}x{src[1]}" if src else "", pick,
                                mem.get((label, tuple(c["image"]), c["dtype"], tuple(c["mask"])), ""),
                                spec.note])


STYLE = {  # colour, line style
    "direct": ("C0", "-"), "fft": ("C1", "-"), "overlap_save": ("C2", "-"), "auto": ("k", "-"),
    "separable": ("C4", ":"), "auto rank-1": ("C4", (0, (1, 3))),
    "box": ("C5", ":"), "auto constant": ("C5", (0, (1, 3))),
    "scipy.ndimage.convolve": ("C3", "--"), "scipy.signal.fftconvolve": ("C6", "--"),
    "scipy.signal.oaconvolve": ("C8", "--"), "cv2.filter2D": ("C9", "--"),
    "cv2.sepFilter2D": ("C7", ":"), "cv2.blur": ("C7", "-."),
}


def plot(report: dict, path: str, backend: str = "") -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        say("matplotlib is not installed: no plot (pip install matplotlib)")
        return False
    cells = [c for c in report["cells"] if c["mask"][0] == c["mask"][1]]
    sizes = sorted({c["image"][0] for c in cells})
    dtypes = [d for d in DTYPES if any(c["dtype"] == d for c in cells)]
    cross = {(x["image"][0], x["dtype"]): x for x in report["crossovers"]}
    fig, axes = plt.subplots(len(dtypes), len(sizes), figsize=(max(10.0, 3.8 * len(sizes)), 3.4 * len(dtypes) + 1.2),
                             squeeze=False)
    for i, dtype in enumerate(dtypes):
        for j, size in enumerate(sizes):
            ax = axes[i][j]
            cs = sorted((c for c in cells if c["dtype"] == dtype and c["image"][0] == size),
                        key=lambda c: c["mask"][0])
            ks = [c["mask"][0] for c in cs]
            for label in report["methods"]:
                if not all(label in c["times"] for c in cs):
                    continue
                t = [c["times"][label] for c in cs]
                med = np.array([x["median"] for x in t]) * 1e3
                colour, ls = STYLE.get(label, ("grey", "-"))
                ax.plot(ks, med, color=colour, linestyle=ls, linewidth=1.4, label=SPEC[label].short)
                ax.vlines(ks, [x["min"] * 1e3 for x in t], [x["max"] * 1e3 for x in t],
                          color=colour, linewidth=0.8)
                est = np.array([x["estimated"] for x in t])
                ax.plot(np.array(ks)[~est], med[~est], "o", color=colour, markersize=3)
                ax.plot(np.array(ks)[est], med[est], "o", markerfacecolor="white", color=colour,
                        markersize=4)
            x = cross.get((size, dtype), {}).get("direct_to_fft")
            if x and x.get("interpolated"):
                ax.axvline(x["interpolated"], color="C1", linewidth=0.9, alpha=0.7)
                ax.text(x["interpolated"], 0.97, f" direct→fft ≈{x['interpolated']:.0f}",
                        transform=ax.get_xaxis_transform(), fontsize=7, va="top", color="C1")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xticks(ks)
            ax.set_xticklabels([str(k) for k in ks], fontsize=7)
            ax.minorticks_off()
            ax.set_title(f"{size}x{size} {dtype}", fontsize=9)
            if i == len(dtypes) - 1:
                ax.set_xlabel("mask size k (k x k)", fontsize=8)
            if j == 0:
                ax.set_ylabel("ms per call (median)", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(True, which="major", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(7, len(labels)), fontsize=8, frameon=False)
    fig.suptitle("filterkit convolve: spatial vs FFT, one thread"
                 + (f", FFT: {backend.replace('`', '')}" if backend else "") + "\n"
                 "hollow: estimated; bars: min-max; dotted: rank-1 / constant masks; "
                 "dashed: peers", fontsize=9)
    fig.tight_layout(rect=(0, 0.14 if len(dtypes) == 1 else 0.07, 1, 0.93))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fft_grid",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"a short run (under 30 s): {' and '.join(f'{s}x{s}' for s in QUICK_IMAGES)}, "
                             f"masks {', '.join(map(str, QUICK_MASKS))}, float32")
    parser.add_argument("--out", default=RESULTS,
                        help="directory of fft_grid.{json,csv,md,png} (default benchmarks/results)")
    parser.add_argument("--images", help="image sides, comma-separated (default: the grid's)")
    parser.add_argument("--dtypes", help="float32,float64 (default: both; --quick: float32)")
    parser.add_argument("--max-call", type=float, default=None,
                        help="estimate instead of running calls predicted slower than this "
                             "(seconds; default 0.6, --quick 0.3)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    parser.add_argument("--backends", help="FFT backends, comma-separated: native, scipy (pocketfft), fftw "
                                           "(default: every one installed)")
    args = parser.parse_args(argv)
    here = available_backends()
    backends = args.backends.split(",") if args.backends else here
    for b in backends:
        if b not in BACKENDS:
            parser.error(f"--backends: {b!r} is not one of {', '.join(BACKENDS)}")
        if b not in here:
            parser.error(f"--backends: {b!r} is not installed here (pip install pyfftw)")
    images = ([int(s) for s in args.images.split(",")] if args.images
              else QUICK_IMAGES if args.quick else IMAGES)
    dtypes = (args.dtypes.split(",") if args.dtypes else ["float32"] if args.quick else DTYPES)
    for d in dtypes:
        if d not in DTYPES:
            parser.error(f"--dtypes: {d!r} is not one of {', '.join(DTYPES)}")
    # 0.6 s: the 4096^2 calls of the whole-image FFTs (float64) and of scipy's
    # fftconvolve/oaconvolve are estimated (x4 from 2048^2), which keeps the
    # default grid under 10 minutes
    max_call = args.max_call if args.max_call is not None else (0.3 if args.quick else 0.6)
    t0 = time.perf_counter()
    reports = {}
    for b in backends:
        say(f"FFT backend {b}: {BACKEND_TITLES[b]}")
        with fft_backend(b):
            reports[b] = run(args.quick, sorted(images), dtypes, max_call, memory=not args.no_memory)
        reports[b]["fft_backend"] = b
    first = reports[backends[0]]
    combined = {"machine": first["machine"], "quick": args.quick, "backends": reports,
                "summary": {b: headline(r) for b, r in reports.items()}}
    table = markdown_all(combined)
    combined["seconds"] = time.perf_counter() - t0
    written = list(harness.publish("fft_grid", combined, table, args.out))
    base = os.path.join(args.out, "fft_grid")
    write_csv(combined, base + ".csv")
    written.append(base + ".csv")
    for b, report in reports.items():
        path = os.path.join(args.out, PLOT_NAMES[b])
        if plot(report, path, BACKEND_TITLES[b]):
            written.append(path)
    print(table)
    say(f"({time.perf_counter() - t0:.0f} s; written: {', '.join(written)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

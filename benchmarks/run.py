"""Time filterkit against scipy.ndimage and OpenCV in one run.

    python -m benchmarks            # full run (a few minutes)
    python -m benchmarks --quick    # under 30 s
    python -m benchmarks --json out.json --markdown out.md
    python -m benchmarks compare --old A/bin/python --new B/bin/python   # two builds

Every case is float32 2048 x 2048, border 'reflect', one thread on every
side unless the case says otherwise.  Each timing is the median of several
runs after a warm-up; the peers of a case are timed in the same process,
interleaved in a balanced order, so they see the same machine state.  OpenCV
is optional (the ``bench`` extra); without it its rows are skipped.

The cases are data (:func:`cases`): ``benchmarks/compare.py`` times their
filterkit calls in two builds.  Only filterkit's public API is used.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from typing import Callable, Dict, List, Optional

if __name__ == "__main__" and not __package__:  # python benchmarks/run.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import harness  # noqa: E402  (before numpy: BLAS on one thread)

import numpy as np  # noqa: E402

import filterkit  # noqa: E402

try:  # optional peers
    import cv2
except ImportError:  # pragma: no cover
    cv2 = None
try:
    import scipy.ndimage as ndi
except ImportError:  # pragma: no cover
    ndi = None
try:
    import skimage.filters as skfilters
    import skimage.color as skcolor
except ImportError:  # pragma: no cover
    skfilters = skcolor = None

SIZE = 2048
Fns = Dict[str, Callable[[], object]]


def single_thread() -> None:
    filterkit.set_num_threads(1)
    if cv2 is not None:
        cv2.setNumThreads(1)


def placed(values: np.ndarray, offset: int) -> np.ndarray:
    """A copy of `values` that starts `offset` bytes into a memory page.

    Where an array starts within its page (and against the arrays it is
    read or written with) moves a memory-bound call by several percent, and
    NumPy's allocator picks that per process; fixed offsets make it the same
    in every process, and distinct ones keep input and output apart.
    """
    page = 4096
    buf = np.empty(values.nbytes + 2 * page, np.uint8)
    start = (-buf.ctypes.data) % page + offset
    out = buf[start:start + values.nbytes].view(values.dtype).reshape(values.shape)
    out[...] = values
    return out


class Inputs:
    """The arrays the cases run on, made on first use from fixed seeds and
    placed at fixed offsets in their pages (:func:`placed`): the same in
    every process (``compare`` feeds two builds identical inputs)."""

    @functools.cached_property
    def image(self) -> np.ndarray:
        return placed(np.random.default_rng(0).standard_normal((SIZE, SIZE)).astype(np.float32), 0)

    @functools.cached_property
    def out(self) -> np.ndarray:
        return placed(np.zeros_like(self.image), 1024)

    @functools.cached_property
    def image8(self) -> np.ndarray:
        return placed(np.clip(self.image * 40 + 128, 0, 255).astype(np.uint8), 2048)

    @functools.cached_property
    def out8(self) -> np.ndarray:
        return placed(np.zeros_like(self.image8), 3072)

    @functools.cached_property
    def rgb(self) -> np.ndarray:
        return placed(np.random.default_rng(3).random((SIZE, SIZE, 3), dtype=np.float32), 512)

    @functools.cached_property
    def rgb8(self) -> np.ndarray:
        return placed((self.rgb * 255).astype(np.uint8), 1536)

    @functools.cached_property
    def out3(self) -> np.ndarray:
        return placed(np.zeros_like(self.rgb), 2560)

    @functools.cached_property
    def lab(self) -> np.ndarray:
        return placed(filterkit.color.rgb_to_lab(self.rgb), 3584)

    @functools.cached_property
    def grey(self) -> np.ndarray:
        return placed(self.rgb[..., 1], 256)


class Case:
    """One interleaved timing of the suite: its functions, and the rows it makes.

    `build` makes the zero-argument functions from the inputs, filterkit's
    and the peers' (each key a label); `ours` maps the labels that call
    filterkit on one thread to the titles of compare's rows; `repeat` turns
    the suite's base repeat count into this case's; `rows` turns the timings
    into the report's entries (default: one entry named `name`); a `merge`
    case adds its timings to the entry before it of the same name.
    """

    def __init__(self, section: str, name: str, build: Callable[[Inputs], Fns], peer: str = "",
                 ours: Optional[Dict[str, str]] = None, repeat: Callable[[int], int] = lambda r: r,
                 rows: Optional[Callable[[dict], List[dict]]] = None, merge: bool = False):
        self.section, self.name, self.build, self.peer = section, name, build, peer
        self.ours = {"filterkit": name} if ours is None else ours
        self.repeat, self.merge = repeat, merge
        self._rows = rows

    def rows(self, times: dict) -> List[dict]:
        if self._rows is not None:
            return self._rows(times)
        entry = {"case": self.name, "times": times}
        if self.peer:
            entry["peer"] = self.peer
        return [entry]


def gaussian_mask(k: int):
    sigma = 0.3 * ((k - 1) * 0.5 - 1) + 0.8  # OpenCV's default sigma for this size
    x = np.arange(k) - k // 2
    g = np.exp(-x ** 2 / (2 * sigma ** 2))
    g = (g / g.sum()).astype(np.float32)
    return g, np.outer(g, g)


def random_mask(seed: int, k: int) -> np.ndarray:
    """A random normal k x k mask: not separable, so 'direct'."""
    return np.random.default_rng(seed).standard_normal((k, k)).astype(np.float32)


def direct_cases(k: int, quick: bool) -> List[Case]:
    def build(inp: Inputs) -> Fns:
        image, out, mask = inp.image, inp.out, random_mask(k, k)
        fns = {"filterkit": lambda: filterkit.correlate(image, mask, output=out, method="direct")}
        if cv2 is not None:
            # filter2D correlates, like filterkit.correlate; BORDER_REFLECT = 'reflect'
            fns["opencv"] = lambda: cv2.filter2D(image, -1, mask, dst=out, borderType=cv2.BORDER_REFLECT)
        return fns

    def build_scipy(inp: Inputs) -> Fns:
        image, out, mask = inp.image, inp.out, random_mask(k, k)
        return {"filterkit (beside scipy)":
                lambda: filterkit.correlate(image, mask, output=out, method="direct"),
                "scipy": lambda: ndi.correlate(image, mask, output=out, mode="reflect")}

    name = f"direct {k}x{k}"
    found = [Case("results", name, build)]
    if (not quick or k == 3) and ndi is not None:
        # scipy takes 20 ms to 1 s a call: time it fewer times, beside filterkit
        found.append(Case("results", name, build_scipy, ours={}, merge=True,
                          repeat=lambda r: max(3, r // 4) if k <= 7 else 3))
    return found


def separable_case(k: int) -> Case:
    def build(inp: Inputs) -> Fns:
        image, out = inp.image, inp.out
        g, mask = gaussian_mask(k)
        fns = {
            "filterkit": lambda: filterkit.correlate(image, mask, output=out, method="separable"),
            "filterkit direct": lambda: filterkit.correlate(image, mask, output=out, method="direct"),
        }
        if cv2 is not None:
            fns["opencv"] = lambda: cv2.sepFilter2D(image, -1, g, g, dst=out, borderType=cv2.BORDER_REFLECT)
        return fns

    name = f"separable Gaussian {k}x{k}"
    return Case("results", name, build,
                ours={"filterkit": name, "filterkit direct": f"{name}, method='direct'"})


def threads_case(k: int) -> Case:
    def build(inp: Inputs) -> Fns:
        image, out, mask = inp.image, inp.out, random_mask(100 + k, k)
        fns = {}
        for n in (1, 2):
            def run(n=n):
                filterkit.set_num_threads(n)
                filterkit.correlate(image, mask, output=out, method="direct")
            fns[f"{n} thread" + ("s" if n > 1 else "")] = run
        return fns

    # compare runs every build on one thread: the thread rows are not its
    return Case("results", f"threads direct {k}x{k}", build, ours={}, repeat=lambda r: 2 * r)


def filter_cases(quick: bool) -> List[Case]:
    """The lecture's filters against OpenCV (and scikit-image's Sobel)."""
    reflect = cv2.BORDER_REFLECT if cv2 is not None else None
    # every size of both libraries in one interleaved group, so that the
    # size-independence ratio compares timings taken under the same load
    sizes = [3, 21] if quick else [3, 5, 11, 21]

    def build_means(inp: Inputs) -> Fns:
        image, out = inp.image, inp.out
        fns = {}
        for size in sizes:
            fns[f"filterkit {size}"] = lambda s=size: filterkit.mean(image, s, output=out)
            if cv2 is not None:
                fns[f"opencv {size}"] = lambda s=size: cv2.blur(image, (s, s), dst=out, borderType=reflect)
        return fns

    def mean_rows(times: dict) -> List[dict]:
        rows = []
        for size in sizes:
            t = {"filterkit": times[f"filterkit {size}"]}
            if cv2 is not None:
                t["opencv"] = times[f"opencv {size}"]
            rows.append({"case": f"mean {size}x{size}", "peer": "cv2.blur", "times": t})
        return rows

    cases = [Case("filters", "mean", build_means, rows=mean_rows,
                  ours={f"filterkit {s}": f"mean {s}x{s}" for s in sizes})]

    for sigma in (1.0, 5.0):
        size = filterkit.masks.gaussian_size(sigma)

        def build(inp: Inputs, sigma=sigma, size=size) -> Fns:
            image, out = inp.image, inp.out
            fns = {"filterkit": lambda: filterkit.gaussian(image, sigma, output=out)}
            if cv2 is not None:
                fns["opencv"] = lambda: cv2.GaussianBlur(image, (size, size), sigma, dst=out,
                                                         borderType=reflect)
            return fns
        cases.append(Case("filters", f"gaussian sigma={sigma:g} ({size}x{size})", build,
                          peer="cv2.GaussianBlur"))

    def build_gradient(inp: Inputs) -> Fns:
        image = inp.image
        strength, direction = np.empty_like(image), np.empty_like(image)
        fns = {"filterkit": lambda: filterkit.gradient(image, output=(strength, direction))}
        if cv2 is not None:
            def opencv_gradient():
                fx = cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=3, borderType=reflect)
                fy = cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=3, borderType=reflect)
                return cv2.magnitude(fx, fy), cv2.phase(fx, fy)
            fns["opencv"] = opencv_gradient
        return fns
    cases.append(Case("filters", "gradient (strength + direction)", build_gradient,
                      peer="2x cv2.Sobel + cv2.magnitude + cv2.phase"))

    def build_sobel(inp: Inputs) -> Fns:
        image, out = inp.image, inp.out
        fns = {"filterkit": lambda: filterkit.sobel(image, output=out)}
        if skfilters is not None:
            fns["scikit-image"] = lambda: skfilters.sobel(image)
        return fns
    cases.append(Case("filters", "sobel (strength)", build_sobel, peer="skimage.filters.sobel",
                      repeat=lambda r: max(3, r // 4)))

    def build_laplace(inp: Inputs) -> Fns:
        image, out = inp.image, inp.out
        fns = {"filterkit": lambda: filterkit.laplace(image, output=out)}
        if cv2 is not None:
            fns["opencv"] = lambda: cv2.Laplacian(image, cv2.CV_32F, dst=out, ksize=1, borderType=reflect)
        return fns
    cases.append(Case("filters", "laplace (4-neighbour)", build_laplace, peer="cv2.Laplacian(ksize=1)"))

    # 8-bit images into 8-bit outputs (rounded half to even, saturated):
    # OpenCV sums them in fixed point, filterkit in float32
    for size in (3, 11):
        def build8(inp: Inputs, size=size) -> Fns:
            image8, out8 = inp.image8, inp.out8
            fns = {"filterkit": lambda: filterkit.mean(image8, size, output=out8)}
            if cv2 is not None:
                fns["opencv"] = lambda: cv2.blur(image8, (size, size), dst=out8, borderType=reflect)
            return fns
        cases.append(Case("filters", f"uint8 mean {size}x{size} (uint8 out)", build8, peer="cv2.blur"))

    def build_gauss8(inp: Inputs) -> Fns:
        image8, out8 = inp.image8, inp.out8
        fns = {"filterkit": lambda: filterkit.gaussian(image8, 1.0, output=out8)}
        if cv2 is not None:
            fns["opencv"] = lambda: cv2.GaussianBlur(image8, (7, 7), 1.0, dst=out8, borderType=reflect)
        return fns
    cases.append(Case("filters", "uint8 gaussian sigma=1 (7x7, uint8 out)", build_gauss8,
                      peer="cv2.GaussianBlur"))
    return cases


def colour_cases() -> List[Case]:
    """Colour conversions and the colour gradient on a 2048x2048x3 picture
    (their base repeat is a third of the others')."""
    def convert(src: str, fk: Callable, code: Optional[str], dst: bool = True
                ) -> Callable[[Inputs], Fns]:
        def build(inp: Inputs) -> Fns:
            x, out = getattr(inp, src), inp.out3
            fns = {"filterkit": lambda: fk(x, output=out)}
            if cv2 is not None and code is not None:
                c = getattr(cv2, code)
                fns["opencv"] = ((lambda: cv2.cvtColor(x, c, dst=out)) if dst
                                 else (lambda: cv2.cvtColor(x, c)))
            return fns
        return build

    def build_skimage(inp: Inputs) -> Fns:
        rgb, out = inp.rgb, inp.out3
        return {"filterkit": lambda: filterkit.color.rgb_to_lab(rgb, output=out),
                "scikit-image": lambda: skcolor.rgb2lab(rgb)}

    def build_gradient(inp: Inputs) -> Fns:
        rgb, grey = inp.rgb, inp.grey
        return {"filterkit": lambda: filterkit.gradient(rgb, channel_axis=-1, space="lab"),
                "filterkit grey": lambda: filterkit.gradient(grey)}

    fc = filterkit.color
    cases = [
        Case("colour", "rgb_to_lab float32",
             convert("rgb", fc.rgb_to_lab, "COLOR_RGB2Lab"),
             peer="cv2.cvtColor RGB2Lab float32"),
        Case("colour", "rgb_to_lab uint8 (float32 Lab out)",
             convert("rgb8", fc.rgb_to_lab, "COLOR_RGB2Lab", dst=False),
             peer="cv2.cvtColor RGB2Lab uint8 (8-bit Lab out)"),
    ]
    if skcolor is not None:  # the same filterkit call as the first row: not compare's
        cases.append(Case("colour", "rgb_to_lab float32", build_skimage, peer="skimage.color.rgb2lab",
                          ours={}, repeat=lambda r: 3))
    cases += [
        Case("colour", "rgb_to_luv float32",
             convert("rgb", fc.rgb_to_luv, "COLOR_RGB2Luv"),
             peer="cv2.cvtColor RGB2Luv float32"),
        Case("colour", "lab_to_rgb float32",
             convert("lab", fc.lab_to_rgb, "COLOR_Lab2RGB"),
             peer="cv2.cvtColor Lab2RGB float32"),
        Case("colour", "colour gradient in Lab (strength + direction)", build_gradient,
             peer="filterkit gradient of one grey channel", repeat=lambda r: max(3, r // 3),
             ours={"filterkit": "colour gradient in Lab (strength + direction)",
                   "filterkit grey": "gradient of one grey channel"}),
    ]
    return cases


def cases(quick: bool) -> List[Case]:
    """The suite's timings in the order they run."""
    found: List[Case] = []
    for k in ([3, 5, 7, 21] if quick else [3, 5, 7, 9, 11, 15, 21]):
        found += direct_cases(k, quick)
    found += [separable_case(k) for k in ([3, 7] if quick else [3, 5, 7, 9, 15])]
    found += [threads_case(k) for k in ([3] if quick else [3, 7])]
    return found + filter_cases(quick) + colour_cases()


def compare_rows(quick: bool) -> List[Dict[str, object]]:
    """The rows ``benchmarks.compare`` times: each filterkit call of the
    suite's cases (one thread), once.  Each row: ``title``, the case's
    index in :func:`cases` and its ``label``."""
    rows, seen = [], set()
    for i, case in enumerate(cases(quick)):
        for label, title in case.ours.items():
            if title not in seen:
                seen.add(title)
                rows.append({"title": title, "case": i, "label": label})
    return rows


def base_repeat(quick: bool, section: str) -> int:
    repeat = 5 if quick else 21
    return max(3, repeat // 3) if section == "colour" else repeat


def _memory_child(k: str, method: str, threads: str) -> None:
    """Print the peak RSS growth of one correlate call (after a warm-up call), bytes."""
    k = int(k)
    filterkit.set_num_threads(int(threads))
    image = np.random.default_rng(0).standard_normal((SIZE, SIZE)).astype(np.float32)
    out = np.empty_like(image)
    mask = (np.ones((k, k), np.float32) if method == "separable"
            else np.random.default_rng(1).standard_normal((k, k)).astype(np.float32))

    def call():
        filterkit.correlate(image, mask, output=out, method=method)
    call()  # load everything once
    print(harness.measure_peak(call))


def case_memory(k: int, method: str, threads: int) -> Optional[dict]:
    """Peak RSS growth during one call, in a fresh process (Linux only)."""
    if not harness.peak_supported():
        return None
    extra, why = harness.run_child("benchmarks.run", "_memory_child", [k, method, threads])
    if why is not None:
        harness.say(f"memory {method} {k}x{k}: failed: {why}")
        return None
    image_bytes = SIZE * SIZE * 4
    return {"case": f"peak extra memory {method} {k}x{k}, {threads} thread(s)",
            "extra_bytes": extra, "fraction_of_image": extra / image_bytes}


def run(quick: bool) -> dict:
    single_thread()
    inputs = Inputs()
    report: Dict[str, object] = {"machine": machine(), "quick": quick, "image": f"float32 {SIZE}x{SIZE}",
                                 "results": [], "filters": [], "colour": []}
    for i, case in enumerate(cases(quick)):
        harness.say(f"{case.section}: {case.name} ...")
        times = harness.time_interleaved(case.build(inputs),
                                         case.repeat(base_repeat(quick, case.section)), seed=i)
        single_thread()  # the thread cases change it
        entries = report[case.section]
        if case.merge:
            entries[-1]["times"].update(times)
        else:
            entries += case.rows(times)
    memory = []
    # the FFT methods beside the spatial ones: overlap_save holds a few
    # blocks per thread; the whole-image fft its spectrum (1.1x the image
    # here, of the transform's padded size) and a few bands per thread
    for k, method, threads in ([(7, "direct", 2)] if quick else
                               [(3, "direct", 1), (21, "direct", 2), (7, "separable", 2),
                                (31, "overlap_save", 2), (31, "fft", 2)]):
        m = case_memory(k, method, threads)
        if m is not None:
            memory.append(m)
    report["memory"] = memory
    return report


def machine() -> Dict[str, object]:
    return harness.machine(scipy=harness.version("scipy") if ndi is not None else None,
                           opencv=cv2.__version__ if cv2 is not None else None)


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores; filterkit {m['filterkit']} "
        f"({m['filterkit_kernels']} kernels, OpenMP {'on' if m['filterkit_openmp'] else 'off'}), "
        f"OpenCV {m['opencv']}, SciPy {m['scipy']}, NumPy {m['numpy']}.  "
        f"{report['image']}, mode reflect, one thread each unless stated; medians.",
        "",
        "| case | filterkit | peer | ratio filterkit / peer |",
        "|---|---:|---:|---:|",
    ]
    for r in report["results"]:
        t = r["times"]
        case = r["case"]
        if case.startswith("threads"):
            one, two = t["1 thread"]["median"], t["2 threads"]["median"]
            lines.append(f"| {case}: 2 threads vs 1 | {two * 1e3:.2f} ms | {one * 1e3:.2f} ms (1 thread) "
                         f"| speed-up {one / two:.2f}x |")
            continue
        fk = t["filterkit"]["median"]
        if "opencv" in t:
            peer = "cv2.sepFilter2D" if case.startswith("separable") else "cv2.filter2D"
            lines.append(f"| {case} | {fk * 1e3:.2f} ms | {peer} {t['opencv']['median'] * 1e3:.2f} ms "
                         f"| {fk / t['opencv']['median']:.2f} |")
        if "scipy" in t:
            fk_s = t["filterkit (beside scipy)"]["median"]
            sp = t["scipy"]["median"]
            lines.append(f"| {case} | {fk_s * 1e3:.2f} ms | scipy.ndimage.correlate {sp * 1e3:.1f} ms "
                         f"| {fk_s / sp:.3f} ({sp / fk_s:.0f}x faster) |")
        if "filterkit direct" in t:
            d = t["filterkit direct"]["median"]
            lines.append(f"| {case} | {fk * 1e3:.2f} ms | filterkit direct {d * 1e3:.2f} ms | {fk / d:.2f} |")
    for mem in report["memory"]:
        lines.append(f"| {mem['case']} | {mem['extra_bytes'] / 1024:.0f} KiB | image 16384 KiB "
                     f"| {100 * mem['fraction_of_image']:.2f} % |")
    lines += ["", "Filters (same image, one thread each, medians):", "",
              "| filter | filterkit | peer | ratio filterkit / peer |", "|---|---:|---:|---:|"]
    means = []
    for r in report["filters"]:
        t = r["times"]
        fk = t["filterkit"]["median"]
        peers = [k for k in t if k != "filterkit"]
        if r["case"].startswith("mean"):
            means.append(fk)
        if not peers:
            lines.append(f"| {r['case']} | {fk * 1e3:.2f} ms | ({r['peer']} not installed) | |")
            continue
        pt = t[peers[0]]["median"]
        lines.append(f"| {r['case']} | {fk * 1e3:.2f} ms | {r['peer']} {pt * 1e3:.2f} ms | {fk / pt:.2f} |")
    if len(means) > 1:
        lines.append(f"| mean: slowest size / fastest size | {max(means) / min(means):.2f} | | |")
    lines += ["", f"Colour ({SIZE}x{SIZE}x3 random colours, one thread each, medians):", "",
              "| conversion | filterkit | peer | ratio filterkit / peer |", "|---|---:|---:|---:|"]
    for r in report.get("colour", []):
        t = r["times"]
        fk = t["filterkit"]["median"]
        peers = [k for k in t if k != "filterkit"]
        if not peers:
            lines.append(f"| {r['case']} | {fk * 1e3:.1f} ms | ({r['peer']} not installed) | |")
            continue
        pt = t[peers[0]]["median"]
        faster = f" ({pt / fk:.0f}x faster)" if pt / fk >= 3 else ""
        lines.append(f"| {r['case']} | {fk * 1e3:.1f} ms | {r['peer']} {pt * 1e3:.1f} ms "
                     f"| {fk / pt:.2f}{faster} |")
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (under 30 s)")
    parser.add_argument("--json", default=os.path.join(harness.RESULTS, "latest.json"),
                        help="where to write the JSON results (default benchmarks/results/latest.json)")
    parser.add_argument("--markdown", default=os.path.join(harness.RESULTS, "latest.md"),
                        help="where to write the Markdown tables (default benchmarks/results/latest.md)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    report = run(args.quick)
    report["seconds"] = time.perf_counter() - t0
    table = markdown(report)
    harness.write_json(args.json, report)
    harness.write_text(args.markdown, table)
    print(table)
    harness.say(f"({report['seconds']:.0f} s; written to {args.json} and {args.markdown})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Time filterkit against scipy.ndimage and OpenCV in one run.

    python -m benchmarks            # full run (a few minutes)
    python -m benchmarks --quick    # under 30 s
    python benchmarks/run.py --json out.json --markdown out.md

Every case is float32 2048 x 2048, border 'reflect', one thread on every
side unless the case says otherwise.  Each timing is the median of several
runs after a warm-up; the peers of a case are timed in the same process,
interleaved, so they see the same machine state.  OpenCV is optional (the
``bench`` extra); without it its rows are skipped.

Only filterkit's public API is used.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional

# OpenBLAS's idle threads spin on a core for a while after numpy starts; on a
# 2-core machine that steals time from whatever is being timed (nothing here
# uses BLAS)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

try:  # as part of the package (python -m benchmarks...) or as a script
    from ._readme import fill  # noqa: E402
except ImportError:  # pragma: no cover
    from _readme import fill  # noqa: E402  # type: ignore[no-redef]

import filterkit

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

HERE = os.path.dirname(os.path.abspath(__file__))
SIZE = 2048


def machine() -> Dict[str, object]:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = filterkit.build_info()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": __import__("scipy").__version__ if ndi is not None else None,
        "opencv": cv2.__version__ if cv2 is not None else None,
        "filterkit": info["version"],
        "filterkit_kernels": info["simd"],
        "filterkit_openmp": info["openmp"],
    }


def time_interleaved(fns: Dict[str, Callable[[], object]], repeat: int) -> Dict[str, Dict[str, float]]:
    """Median/min/max seconds of each function, runs interleaved."""
    for fn in fns.values():
        fn()  # warm-up: page in, caches, lazy initialisation
    times: Dict[str, List[float]] = {k: [] for k in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {k: {"median": float(np.median(v)), "min": float(np.min(v)), "max": float(np.max(v))}
            for k, v in times.items()}


def single_thread() -> None:
    filterkit.set_num_threads(1)
    if cv2 is not None:
        cv2.setNumThreads(1)


def case_direct(image, out, k: int, repeat: int, with_scipy: bool) -> dict:
    rng = np.random.default_rng(k)
    mask = rng.standard_normal((k, k)).astype(np.float32)  # not separable: direct
    fns = {"filterkit": lambda: filterkit.correlate(image, mask, output=out, method="direct")}
    if cv2 is not None:
        # filter2D correlates, like filterkit.correlate; BORDER_REFLECT = 'reflect'
        fns["opencv"] = lambda: cv2.filter2D(image, -1, mask, dst=out, borderType=cv2.BORDER_REFLECT)
    if with_scipy and ndi is not None:
        fns["scipy"] = lambda: ndi.correlate(image, mask, output=out, mode="reflect")
    res = time_interleaved(fns, repeat)
    # scipy is slow: time it fewer times
    return {"case": f"direct {k}x{k}", "times": res}


def case_separable(image, out, k: int, repeat: int) -> dict:
    sigma = 0.3 * ((k - 1) * 0.5 - 1) + 0.8  # OpenCV's default sigma for this size
    x = np.arange(k) - k // 2
    g = np.exp(-x ** 2 / (2 * sigma ** 2))
    g = (g / g.sum()).astype(np.float32)
    mask = np.outer(g, g)
    fns = {
        "filterkit": lambda: filterkit.correlate(image, mask, output=out, method="separable"),
        "filterkit direct": lambda: filterkit.correlate(image, mask, output=out, method="direct"),
    }
    if cv2 is not None:
        fns["opencv"] = lambda: cv2.sepFilter2D(image, -1, g, g, dst=out, borderType=cv2.BORDER_REFLECT)
    return {"case": f"separable Gaussian {k}x{k}", "times": time_interleaved(fns, repeat)}


def case_threads(image, out, k: int, repeat: int) -> dict:
    rng = np.random.default_rng(100 + k)
    mask = rng.standard_normal((k, k)).astype(np.float32)
    fns = {}
    for n in (1, 2):
        def run(n=n):
            filterkit.set_num_threads(n)
            filterkit.correlate(image, mask, output=out, method="direct")
        fns[f"{n} thread" + ("s" if n > 1 else "")] = run
    res = time_interleaved(fns, repeat)
    single_thread()
    return {"case": f"threads direct {k}x{k}", "times": res}


def case_filters(image, out, repeat: int, quick: bool) -> List[dict]:
    """The lecture's filters against OpenCV (and scikit-image's Sobel)."""
    cases = []
    reflect = cv2.BORDER_REFLECT if cv2 is not None else None
    # every size of both libraries in one interleaved group, so that the
    # size-independence ratio compares timings taken under the same load
    sizes = [3, 21] if quick else [3, 5, 11, 21]
    fns = {}
    for size in sizes:
        fns[f"filterkit {size}"] = lambda s=size: filterkit.mean(image, s, output=out)
        if cv2 is not None:
            fns[f"opencv {size}"] = lambda s=size: cv2.blur(image, (s, s), dst=out, borderType=reflect)
    times = time_interleaved(fns, repeat)
    for size in sizes:
        t = {"filterkit": times[f"filterkit {size}"]}
        if cv2 is not None:
            t["opencv"] = times[f"opencv {size}"]
        cases.append({"case": f"mean {size}x{size}", "peer": "cv2.blur", "times": t})
    for sigma in (1.0, 5.0):
        size = filterkit.masks.gaussian_size(sigma)
        fns = {"filterkit": lambda s=sigma: filterkit.gaussian(image, s, output=out)}
        if cv2 is not None:
            fns["opencv"] = lambda s=sigma, k=size: cv2.GaussianBlur(
                image, (k, k), s, dst=out, borderType=reflect)
        cases.append({"case": f"gaussian sigma={sigma:g} ({size}x{size})",
                      "peer": "cv2.GaussianBlur", "times": time_interleaved(fns, repeat)})
    strength, direction = np.empty_like(image), np.empty_like(image)
    fns = {"filterkit": lambda: filterkit.gradient(image, output=(strength, direction))}
    if cv2 is not None:
        def opencv_gradient():
            fx = cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=3, borderType=reflect)
            fy = cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=3, borderType=reflect)
            return cv2.magnitude(fx, fy), cv2.phase(fx, fy)
        fns["opencv"] = opencv_gradient
    cases.append({"case": "gradient (strength + direction)",
                  "peer": "2x cv2.Sobel + cv2.magnitude + cv2.phase",
                  "times": time_interleaved(fns, repeat)})
    fns = {"filterkit": lambda: filterkit.sobel(image, output=out)}
    if skfilters is not None:
        fns["scikit-image"] = lambda: skfilters.sobel(image)
    cases.append({"case": "sobel (strength)", "peer": "skimage.filters.sobel",
                  "times": time_interleaved(fns, max(3, repeat // 4))})
    fns = {"filterkit": lambda: filterkit.laplace(image, output=out)}
    if cv2 is not None:
        fns["opencv"] = lambda: cv2.Laplacian(image, cv2.CV_32F, dst=out, ksize=1, borderType=reflect)
    cases.append({"case": "laplace (4-neighbour)", "peer": "cv2.Laplacian(ksize=1)",
                  "times": time_interleaved(fns, repeat)})
    # 8-bit images into 8-bit outputs (rounded half to even, saturated):
    # OpenCV sums them in fixed point, filterkit in float32
    image8 = np.clip(image * 40 + 128, 0, 255).astype(np.uint8)
    out8 = np.empty_like(image8)
    for size in (3, 11):
        fns = {"filterkit": lambda s=size: filterkit.mean(image8, s, output=out8)}
        if cv2 is not None:
            fns["opencv"] = lambda s=size: cv2.blur(image8, (s, s), dst=out8, borderType=reflect)
        cases.append({"case": f"uint8 mean {size}x{size} (uint8 out)", "peer": "cv2.blur",
                      "times": time_interleaved(fns, repeat)})
    fns = {"filterkit": lambda: filterkit.gaussian(image8, 1.0, output=out8)}
    if cv2 is not None:
        fns["opencv"] = lambda: cv2.GaussianBlur(image8, (7, 7), 1.0, dst=out8, borderType=reflect)
    cases.append({"case": "uint8 gaussian sigma=1 (7x7, uint8 out)", "peer": "cv2.GaussianBlur",
                  "times": time_interleaved(fns, repeat)})
    return cases


def case_colour(repeat: int) -> List[dict]:
    """Colour conversions and the colour gradient on a 2048x2048x3 picture."""
    rng = np.random.default_rng(3)
    rgb = rng.random((SIZE, SIZE, 3), dtype=np.float32)
    rgb8 = (rgb * 255).astype(np.uint8)
    out = np.empty_like(rgb)
    cases = []

    def add(case: str, peer: str, fns: Dict[str, Callable[[], object]], n: int = repeat) -> None:
        cases.append({"case": case, "peer": peer, "times": time_interleaved(fns, n)})

    fns = {"filterkit": lambda: filterkit.color.rgb_to_lab(rgb, output=out)}
    if cv2 is not None:
        fns["opencv"] = lambda: cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab, dst=out)
    add("rgb_to_lab float32", "cv2.cvtColor RGB2Lab float32", fns)
    fns = {"filterkit": lambda: filterkit.color.rgb_to_lab(rgb8, output=out)}
    if cv2 is not None:
        fns["opencv"] = lambda: cv2.cvtColor(rgb8, cv2.COLOR_RGB2Lab)
    add("rgb_to_lab uint8 (float32 Lab out)", "cv2.cvtColor RGB2Lab uint8 (8-bit Lab out)", fns)
    if skcolor is not None:
        add("rgb_to_lab float32", "skimage.color.rgb2lab",
            {"filterkit": lambda: filterkit.color.rgb_to_lab(rgb, output=out),
             "scikit-image": lambda: skcolor.rgb2lab(rgb)}, 3)
    fns = {"filterkit": lambda: filterkit.color.rgb_to_luv(rgb, output=out)}
    if cv2 is not None:
        fns["opencv"] = lambda: cv2.cvtColor(rgb, cv2.COLOR_RGB2Luv, dst=out)
    add("rgb_to_luv float32", "cv2.cvtColor RGB2Luv float32", fns)
    lab = filterkit.color.rgb_to_lab(rgb)
    fns = {"filterkit": lambda: filterkit.color.lab_to_rgb(lab, output=out)}
    if cv2 is not None:
        fns["opencv"] = lambda: cv2.cvtColor(lab, cv2.COLOR_Lab2RGB, dst=out)
    add("lab_to_rgb float32", "cv2.cvtColor Lab2RGB float32", fns)
    grey = rgb[..., 1].copy()
    add("colour gradient in Lab (strength + direction)", "filterkit gradient of one grey channel",
        {"filterkit": lambda: filterkit.gradient(rgb, channel_axis=-1, space="lab"),
         "filterkit grey": lambda: filterkit.gradient(grey)}, max(3, repeat // 3))
    return cases


MEMORY_SCRIPT = r"""
import numpy as np, filterkit, sys
k = int(sys.argv[1]); method = sys.argv[2]
filterkit.set_num_threads(int(sys.argv[3]))
image = np.random.default_rng(0).standard_normal((2048, 2048)).astype(np.float32)
out = np.empty_like(image)
mask = np.ones((k, k), np.float32) if method == "separable" else np.random.default_rng(1).standard_normal((k, k)).astype(np.float32)
filterkit.correlate(image, mask, output=out, method=method)  # load everything once
def status(key):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")  # reset the peak RSS to the current RSS
before = status("VmRSS:")
filterkit.correlate(image, mask, output=out, method=method)
print(status("VmHWM:") - before)
"""


def case_memory(k: int, method: str, threads: int) -> Optional[dict]:
    """Peak RSS growth during one call, in a fresh process (Linux only)."""
    if not os.path.exists("/proc/self/clear_refs"):
        return None
    res = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(k), method, str(threads)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        return None
    extra = int(res.stdout.strip().splitlines()[-1])
    image_bytes = SIZE * SIZE * 4
    return {"case": f"peak extra memory {method} {k}x{k}, {threads} thread(s)",
            "extra_bytes": extra, "fraction_of_image": extra / image_bytes}


def ratio(res: dict, a: str, b: str) -> Optional[float]:
    t = res["times"]
    if a in t and b in t:
        return t[a]["median"] / t[b]["median"]
    return None


def run(quick: bool) -> dict:
    single_thread()
    rng = np.random.default_rng(0)
    image = rng.standard_normal((SIZE, SIZE)).astype(np.float32)
    out = np.empty_like(image)
    repeat = 5 if quick else 21
    sizes = [3, 5, 7, 21] if quick else [3, 5, 7, 9, 11, 15, 21]
    results = []
    for k in sizes:
        print(f"direct {k}x{k} ...", file=sys.stderr, flush=True)
        with_scipy = not quick or k == 3
        r = case_direct(image, out, k, repeat, with_scipy=False)
        if with_scipy and ndi is not None:
            # scipy takes 20 ms to 1 s a call: time it fewer times, beside filterkit
            s = case_direct(image, out, k, max(3, repeat // 4) if k <= 7 else 3, with_scipy=True)
            r["times"]["scipy"] = s["times"]["scipy"]
            r["times"]["filterkit (beside scipy)"] = s["times"]["filterkit"]
        results.append(r)
    for k in ([3, 7] if quick else [3, 5, 7, 9, 15]):
        print(f"separable {k}x{k} ...", file=sys.stderr, flush=True)
        results.append(case_separable(image, out, k, repeat))
    for k in ([3] if quick else [3, 7]):
        print(f"threads {k}x{k} ...", file=sys.stderr, flush=True)
        results.append(case_threads(image, out, k, 2 * repeat))
    print("filters ...", file=sys.stderr, flush=True)
    filters = case_filters(image, out, repeat, quick)
    print("colour ...", file=sys.stderr, flush=True)
    colour = case_colour(max(3, repeat // 3))
    memory = []
    for k, method, threads in ([(7, "direct", 2)] if quick else
                               [(3, "direct", 1), (21, "direct", 2), (7, "separable", 2)]):
        m = case_memory(k, method, threads)
        if m is not None:
            memory.append(m)
    return {"machine": machine(), "quick": quick, "image": f"float32 {SIZE}x{SIZE}",
            "results": results, "filters": filters, "colour": colour, "memory": memory}


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
    parser.add_argument("--json", default=os.path.join(HERE, "results", "latest.json"),
                        help="where to write the JSON results")
    parser.add_argument("--markdown", default=os.path.join(HERE, "results", "latest.md"),
                        help="where to write the Markdown table")
    parser.add_argument("--readme", metavar="PATH",
                        help="also put the table into this README, between the lines "
                             "'<!-- benchmarks:start -->' and '<!-- benchmarks:end -->'")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    report = run(args.quick)
    report["seconds"] = time.perf_counter() - t0
    table = markdown(report)
    for path, text in ((args.json, json.dumps(report, indent=1)), (args.markdown, table)):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as fh:
            fh.write(text)
    if args.readme:
        update_readme(args.readme, table)
    print(table)
    print(f"({report['seconds']:.0f} s; written to {args.json} and {args.markdown})", file=sys.stderr)
    return 0


def update_readme(path: str, table: str) -> None:
    """Replace the text between the benchmark markers of a README."""
    problem = fill(path, "benchmarks", table)
    if problem:
        raise SystemExit(f"benchmarks: error: {problem}")


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(HERE))
    raise SystemExit(main())

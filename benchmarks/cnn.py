"""The small CNN of filterkit.nn: first layer fixed / learned / none, and Conv2D against PyTorch.

    python -m benchmarks.cnn                      # about 2 minutes on 2 cores
    python -m benchmarks.cnn --quick              # one seed, digits only

1. Trains the reference model of each bundled dataset (digits, faces) with
   the first layer fixed (filterkit's mean, Gaussian, Sobel x/y, Laplace),
   learned (five trainable 3x3 masks) and absent, for several seeds: test
   accuracy (held-out 25 %) and training seconds (BLAS on one thread).
2. Conv2D forward + backward throughput against ``torch.nn.Conv2d`` (CPU,
   one thread each, as OpenBLAS runs here) when PyTorch is installed: the
   issue's target is at least 0.5x its throughput.
3. Draws the learned first-layer masks beside Sobel and Laplace
   (``filterkit cnn show``) into docs/cnn_learned_digits.png.

Only filterkit's public API is used.  Results: benchmarks/results/cnn.{json,md}.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from typing import Dict, List, Optional

if __name__ == "__main__" and not __package__:  # python benchmarks/cnn.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# one thread on both sides of the Conv2D comparison, as every filterkit
# benchmark (the harness sets OpenBLAS's before numpy starts): with two,
# PyTorch's spinning OpenMP threads and OpenBLAS's steal the cores from each
# other and the ratio measures the scheduler
from benchmarks import harness  # noqa: E402

import numpy as np  # noqa: E402

import filterkit  # noqa: E402
import filterkit.nn as nn  # noqa: E402
from filterkit.cli import main as cli_main  # noqa: E402

RESULTS = harness.RESULTS
FIGURE = os.path.join(harness.ROOT, "docs", "cnn_learned_digits.png")
#: Conv2D cases (batch, in, out, side): the reference models' second layers
#: and a larger layer
CONV_CASES = [(32, 5, 16, 8), (32, 5, 8, 25), (64, 16, 32, 32)]


say = harness.say


def train_grid(datasets: List[str], seeds: List[int]) -> List[dict]:
    rows = []
    for dataset in datasets:
        for first in nn.FIRST_LAYERS:
            for seed in seeds:
                model, meta = nn.train_dataset(dataset, first_layer=first, seed=seed)
                rows.append({"dataset": dataset, "first_layer": first, "seed": seed,
                             "epochs": meta["epochs"], "test_accuracy": meta["test_accuracy"],
                             "train_seconds": meta["train_seconds"], "n_params": model.n_params})
                say(f"{dataset} {first} seed {seed}: accuracy {meta['test_accuracy']:.4f}, "
                    f"{meta['train_seconds']:.1f} s")
    return rows


def conv_vs_torch(repeat: int) -> Optional[List[dict]]:
    try:
        import torch
    except ImportError:
        say("PyTorch is not installed: Conv2D is not compared")
        return None
    threads = 1
    torch.set_num_threads(threads)
    rows = []
    rng = np.random.default_rng(0)
    for n, c, k, side in CONV_CASES:
        x = rng.standard_normal((n, c, side, side)).astype(np.float32)
        g = rng.standard_normal((n, k, side, side)).astype(np.float32)
        ours = nn.Conv2D(c, k, 3, padding=1, seed=0)
        theirs = torch.nn.Conv2d(c, k, 3, padding=1)
        tx = torch.tensor(x, requires_grad=True)
        tg = torch.tensor(g)

        def run_ours():
            ours.forward(x)
            ours.backward(g)

        def run_torch():
            tx.grad = None
            theirs.zero_grad()
            theirs(tx).backward(tg)

        # interleaved rounds: both see the same machine state
        t = harness.time_interleaved({"filterkit": run_ours, "torch": run_torch}, 3 * repeat)
        t_ours, t_torch = t["filterkit"]["median"], t["torch"]["median"]
        rows.append({"batch": n, "in": c, "out": k, "side": side, "filterkit_ms": t_ours * 1e3,
                     "torch_ms": t_torch * 1e3, "throughput_ratio": t_torch / t_ours,
                     "threads": threads, "torch": torch.__version__})
        say(f"Conv2D {n}x{c}x{side}x{side} -> {k}: filterkit {t_ours * 1e3:.2f} ms, "
            f"torch {t_torch * 1e3:.2f} ms, throughput ratio {t_torch / t_ours:.2f}")
    return rows


def draw_figure(path: str) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        model_path = os.path.join(tmp, "learned.npz")
        if cli_main(["cnn", "train", "--dataset", "digits", "--first-layer", "learned",
                     "--seed", "0", "--out", model_path]) != 0:
            return False
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return cli_main(["cnn", "show", model_path, path]) == 0


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = [f"Machine: {m['cpu']}, {m['cores']} cores; filterkit {m['filterkit']} "
             f"({report['threads']} threads for the filter bank, BLAS on one thread); seeds "
             f"{', '.join(map(str, report['seeds']))} (mean, and min-max over the seeds); "
             f"training time of the default epochs (digits 15, faces 30).", "",
             "| dataset | first layer | test accuracy | min-max | training | parameters |",
             "|---|---|---:|---:|---:|---:|"]
    rows = report["training"]
    for dataset in report["datasets"]:
        for first in nn.FIRST_LAYERS:
            sel = [r for r in rows if r["dataset"] == dataset and r["first_layer"] == first]
            acc = [r["test_accuracy"] for r in sel]
            sec = [r["train_seconds"] for r in sel]
            lines.append(f"| {dataset} | {first} | {np.mean(acc):.4f} | {min(acc):.4f}-{max(acc):.4f} "
                         f"| {np.mean(sec):.1f} s | {sel[0]['n_params']:,} |")
    if report.get("conv"):
        lines += ["", "Conv2D (3x3, padding 1) forward + backward against `torch.nn.Conv2d` on the CPU, "
                      f"one thread each, PyTorch {report['conv'][0]['torch']}:", "",
                  "| batch x in x side² → out | filterkit | PyTorch | throughput, filterkit / PyTorch |",
                  "|---|---:|---:|---:|"]
        for r in report["conv"]:
            lines.append(f"| {r['batch']} x {r['in']} x {r['side']}² → {r['out']} | {r['filterkit_ms']:.2f} ms "
                         f"| {r['torch_ms']:.2f} ms | {r['throughput_ratio']:.2f}× |")
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cnn", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="digits only, one seed, no figure")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per configuration (default 3)")
    parser.add_argument("--out", default=RESULTS, help="directory of cnn.json and cnn.md")
    args = parser.parse_args(argv)
    datasets = ["digits"] if args.quick else list(nn.DATASETS)
    seeds = list(range(1 if args.quick else args.seeds))
    t0 = time.perf_counter()
    report: Dict[str, object] = {
        "machine": harness.machine("torch"),
        "threads": filterkit.get_num_threads(), "datasets": datasets, "seeds": seeds,
        "training": train_grid(datasets, seeds), "conv": conv_vs_torch(3 if args.quick else 11)}
    if not args.quick:
        report["figure"] = FIGURE if draw_figure(FIGURE) else None
    report["seconds"] = time.perf_counter() - t0
    table = markdown(report)
    harness.publish("cnn", report, table, args.out)
    print(table)
    say(f"({report['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

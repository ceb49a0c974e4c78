"""``filterkit cnn train|eval|show``: the small CNN of :mod:`filterkit.nn` on the command line.

:mod:`filterkit.nn.train` (datasets, training, model files) is imported
inside the functions: it loads the CNN's modules, which importing the
command line (in every worker process of ``--jobs`` too) does not need.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, List

import numpy as np

from filterkit import masks as mask_lib

from .images import CLIError, check_output_path, write_image


def add_parser(sub: Any, parser_class: Any, positive_int: Any) -> None:
    from filterkit.nn.train import DATASETS, FIRST_LAYERS

    cnn = sub.add_parser(
        "cnn", help="train, evaluate and show the small CNN whose first layer is filterkit's filter bank",
        description="A small numpy CNN (filterkit.nn) on data bundled with scikit-learn (digits) "
                    "and scikit-image (faces); 25 %% of every class is held out for testing.",
        epilog="Example: filterkit cnn train --dataset digits --out digits.npz")
    actions = cnn.add_subparsers(dest="action", metavar="ACTION", parser_class=parser_class)
    actions.required = True
    tr = actions.add_parser("train", help="train a model and save it (.npz, no pickle)",
                            epilog="Example: filterkit cnn train --dataset digits --first-layer fixed "
                                   "--seed 0 --out digits.npz")
    tr.add_argument("--dataset", required=True, choices=DATASETS)
    tr.add_argument("--epochs", type=positive_int, help="passes over the training split "
                                                        "(default: 15 digits, 30 faces)")
    tr.add_argument("--first-layer", default="fixed", choices=FIRST_LAYERS,
                    help="fixed: filterkit's mean, Gaussian, Sobel x/y and Laplace masks (default); "
                         "learned: five trainable 3x3 masks; none: no first layer")
    tr.add_argument("--seed", type=int, default=0, help="seed of the split, the weights and the batches")
    tr.add_argument("--out", required=True, metavar="MODEL.npz", help="where to save the model")
    ev = actions.add_parser("eval", help="print the accuracy on the held-out test split",
                            epilog="Example: filterkit cnn eval digits.npz --dataset digits")
    ev.add_argument("model", metavar="MODEL.npz")
    ev.add_argument("--dataset", choices=DATASETS, help="default: the model's own dataset")
    sh = actions.add_parser("show", help="draw the first-layer masks and a sample's feature maps",
                            epilog="Example: filterkit cnn show digits.npz layer1.png")
    sh.add_argument("model", metavar="MODEL.npz")
    sh.add_argument("out", metavar="OUT.png")
    sh.add_argument("--sample", type=int, default=0, help="index of the test image to show (default 0)")
    cnn.set_defaults(paths=[])


def run(args: argparse.Namespace) -> int:
    try:
        if args.action == "train":
            return _train(args)
        if args.action == "eval":
            return _eval(args)
        return _show(args)
    except (CLIError, ValueError, TypeError, ImportError, FloatingPointError, OSError,
            MemoryError) as exc:
        # every refusal is one line: model files are checked before anything
        # they declare is allocated, MemoryError is only the last resort
        msg = str(exc) if not isinstance(exc, OSError) or not exc.strerror else \
            f"{exc.filename or ''}: {exc.strerror}".lstrip(": ")
        if isinstance(exc, MemoryError):
            msg = f"out of memory ({msg or 'MemoryError'})"
        msg = " ".join(msg.split())  # one line, whatever the message holds
        sys.stderr.write(f"filterkit: error: {msg}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("filterkit: error: interrupted\n")
        return 130  # as every command: the shell's code for SIGINT


def _check_out(path: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise CLIError(f"{path}: is a folder; --out needs a file name such as model.npz")
    if not os.path.isdir(folder):
        raise CLIError(f"{path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise CLIError(f"{path}: cannot write into {folder}")


def _train(args: argparse.Namespace) -> int:
    from filterkit.nn.train import DEFAULT_EPOCHS, load_dataset, save_model, train_dataset

    _check_out(args.out)  # before minutes of training, not after
    load_dataset(args.dataset)  # a missing package fails here, with its install hint
    epochs = args.epochs or DEFAULT_EPOCHS[args.dataset]
    bar = None
    try:
        from tqdm import tqdm

        bar = tqdm(total=epochs, unit="epoch", file=sys.stderr, disable=not sys.stderr.isatty(),
                   desc=f"{args.dataset} ({args.first_layer})")
    except ImportError:
        pass

    def progress(epoch: int, loss: float, acc: float) -> None:
        if bar is not None and not bar.disable:
            bar.set_postfix(loss=f"{loss:.4f}", accuracy=f"{acc:.4f}")
            bar.update(1)
        else:
            sys.stderr.write(f"epoch {epoch}/{epochs}: loss {loss:.4f}, accuracy {acc:.4f}\n")

    try:
        model, meta = train_dataset(args.dataset, first_layer=args.first_layer, epochs=epochs,
                                    seed=args.seed, callback=progress)
    finally:
        if bar is not None:
            bar.close()
    save_model(args.out, model, meta)
    print(f"test accuracy: {meta['test_accuracy']:.4f} ({len(meta['history']['loss'])} epochs, "
          f"{meta['train_seconds']:.1f} s)")
    print(f"saved {args.out}")
    return 0


def _load(path: str) -> Any:
    """The model file, checked by load_model (a directory, a damaged or
    crafted file: one ValueError naming the file)."""
    from filterkit.nn.train import load_model

    if not os.path.lexists(path):
        raise CLIError(f"{path}: no such model file")
    return load_model(path)


def _eval(args: argparse.Namespace) -> int:
    from filterkit.nn.train import evaluate_dataset

    model, meta = _load(args.model)
    acc = evaluate_dataset(model, meta, args.dataset)
    print(f"accuracy: {acc:.4f}")
    return 0


def _tile(a: np.ndarray, cell: int, signed: bool) -> np.ndarray:
    """One map as a cell x cell grey tile in [0, 1]: signed maps with 0 at
    mid-grey, others from their min to their max."""
    a = np.asarray(a, dtype=np.float64)
    step = -(-max(a.shape) // cell)
    if step > 1:  # a mask or map larger than the cell: every step-th pixel
        a = a[::step, ::step]
    if signed:
        m = float(np.abs(a).max()) or 1.0
        v = 0.5 + a / (2 * m)
    else:
        lo, hi = float(a.min()), float(a.max())
        v = (a - lo) / (hi - lo) if hi > lo else np.full_like(a, 0.5)
    scale = max(cell // max(a.shape), 1)
    big = np.kron(v, np.ones((scale, scale)))
    tile = np.full((cell, cell), 0.3)
    y0, x0 = (cell - big.shape[0]) // 2, (cell - big.shape[1]) // 2
    tile[y0:y0 + big.shape[0], x0:x0 + big.shape[1]] = big
    return tile


def _show(args: argparse.Namespace) -> int:
    from filterkit.nn.train import feature_maps, first_layer_masks, load_dataset, meta_value, normalise, split

    check_output_path(args.out, raw=False)
    model, meta = _load(args.model)
    masks, kind = first_layer_masks(model)
    if not masks:
        raise CLIError(f"{args.model}: the model has no first-layer masks to show "
                       "(trained with --first-layer none)")
    data = load_dataset(meta_value(meta, "dataset"))
    _, test = split(data.y, seed=meta_value(meta, "seed", 0))
    if not -len(test) <= args.sample < len(test):
        raise CLIError(f"--sample must be in [0, {len(test) - 1}]; got {args.sample}")
    image = data.x[test[args.sample]]
    maps = feature_maps(model, normalise(image, meta_value(meta, "mean", 0.0),
                                         meta_value(meta, "std", 1.0)))
    cell, gap = 96, 8
    rows: List[List[np.ndarray]] = [
        [_tile(m, cell, True) for m in masks],                                  # this model's masks
        [_tile(m, cell, True) for m in (mask_lib.sobel_x(), mask_lib.sobel_y(), mask_lib.laplace(4))],
        [_tile(image[0], cell, False)] + [_tile(f, cell, True) for f in maps],  # a sample, its maps
    ]
    width = max(len(r) for r in rows) * (cell + gap) + gap
    canvas = np.full((len(rows) * (cell + gap) + gap, width), 0.3)  # grey: white tiles show
    for i, row in enumerate(rows):
        for j, tile in enumerate(row):
            y, x = gap + i * (cell + gap), gap + j * (cell + gap)
            canvas[y:y + cell, x:x + cell] = tile
    write_image(args.out, np.round(canvas * 255).astype(np.uint8))
    print(f"{args.out}: row 1 the {kind} first-layer masks, row 2 Sobel x, Sobel y and Laplace, "
          f"row 3 test image {args.sample} and its feature maps")
    return 0

"""The filter commands: what each one computes, and the values options take.

:data:`COMMANDS` is the one table of filter commands.  Each entry calls a
public filter of filterkit, says how its result is shown (``kind``) and
how far its mask reaches (``radius``: the halo of a tile).  The parser
(:mod:`.arguments`) builds a subcommand from every entry; the per-file
work (:mod:`.filtering`) runs them.  The ``parse_*`` functions are the
argparse types of the options.
"""

from __future__ import annotations

import argparse
import math
import os
from dataclasses import dataclass
from typing import Callable, Dict, Sequence, Tuple

import numpy as np

import filterkit
from filterkit import masks
from filterkit._validate import check_mode, max_threads

from .images import CLIError


@dataclass(frozen=True)
class Command:
    """A filter command: how to run it and how its result is shown."""

    help: str
    example: str
    run: Callable[[np.ndarray, argparse.Namespace, dict], object]
    kind: str  # "low": keeps range and bit depth; "signed"/"positive": high-pass
    add_arguments: Callable[[argparse.ArgumentParser], None] = lambda p: None
    #: the mask's half height and width (the halo of a tile)
    radius: Callable[[argparse.Namespace], Tuple[int, int]] = lambda a: (1, 1)


def _half(shape: Sequence[int]) -> Tuple[int, int]:
    return int(shape[0]) // 2, int(shape[1]) // 2


#: the largest integer an option takes (the core's sizes are 32-bit)
INT_MAX = 2 ** 31 - 1


def parse_size(text: str) -> object:
    """``--size 5`` or ``--size 3x7`` (height x width): odd, positive and
    within the masks filterkit builds (checked by :func:`masks.check_size`)."""
    try:
        parts = text.lower().split("x")
        if len(parts) > 2:
            raise ValueError(text)
        values = [int(part) for part in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be an odd integer or HxW such as 3x7; got {text!r}") from None
    size: object = values[0] if len(values) == 1 else (values[0], values[1])
    try:
        masks.check_size(size)
    except (TypeError, ValueError, OverflowError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return size


def parse_number(text: str) -> float:
    """A finite number (``1e400`` overflows to inf: refused, as NaN and inf)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number; got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number; got {text!r}")
    return value


def parse_positive_int(text: str) -> int:
    """An integer from 1 to :data:`INT_MAX`."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text!r}")
    if value > INT_MAX:
        raise argparse.ArgumentTypeError(f"must be at most {INT_MAX}; got {text!r}")
    return value


def parse_jobs(text: str) -> int:
    """``--jobs N``: a positive integer up to the cap on filterkit's threads
    (:func:`filterkit._validate.max_threads`: 4 per core, at least 8)."""
    value = parse_positive_int(text)
    if value > max_threads():
        raise argparse.ArgumentTypeError(
            f"must be at most {max_threads()} (4 per core of this machine); got {text!r}")
    return value


def read_mask(path: str) -> np.ndarray:
    """A mask from a ``.npy`` file or a text file of numbers (one row per line)."""
    if not os.path.isfile(path):
        raise CLIError(f"--mask {path}: no such file")
    try:
        if path.lower().endswith(".npy"):
            mask = np.load(path, allow_pickle=False)
        else:
            with open(path) as fh:
                rows = [line.replace(",", " ").split() for line in fh
                        if line.strip() and not line.lstrip().startswith("#")]
            if len({len(r) for r in rows}) > 1:
                raise CLIError(f"--mask {path}: rows of different lengths")
            mask = np.array([[float(v) for v in r] for r in rows])
    except ValueError as exc:
        raise CLIError(f"--mask {path}: not a mask of numbers ({exc})") from None
    if mask.ndim == 1:
        mask = mask[np.newaxis, :]
    return mask


COMMANDS: Dict[str, Command] = {
    "sobel": Command(
        "gradient strength sqrt(f_x^2 + f_y^2) with the lecture's Sobel masks",
        "filterkit sobel photo.png edges.png",
        lambda f, a, kw: filterkit.sobel(f, **kw), "positive"),
    "sobel-x": Command(
        "f_x: convolution with [[1, 0, -1], [2, 0, -2], [1, 0, -1]]",
        "filterkit sobel-x photo.png fx.png",
        lambda f, a, kw: filterkit.sobel_x(f, **kw), "signed"),
    "sobel-y": Command(
        "f_y: convolution with [[1, 2, 1], [0, 0, 0], [-1, -2, -1]]",
        "filterkit sobel-y photo.png fy.png",
        lambda f, a, kw: filterkit.sobel_y(f, **kw), "signed"),
    "gradient": Command(
        "gradient strength to OUT; --direction writes the direction as colour "
        "(hue = angle, brightness = strength)",
        "filterkit gradient photo.png strength.png --direction direction.png",
        lambda f, a, kw: filterkit.gradient(f, **kw), "positive",
        lambda p: p.add_argument("--direction", metavar="DIR.png",
                                 help="also write the direction as a colour picture")),
    "laplace": Command(
        "Laplace filter (edges are zero crossings)",
        "filterkit laplace photo.png laplace.png --neighbours 8",
        lambda f, a, kw: filterkit.laplace(f, neighbours=a.neighbours, **kw), "signed",
        lambda p: p.add_argument("--neighbours", type=int, default=4, choices=(4, 8),
                                 help="the 4- (default) or 8-neighbour mask")),
    "mean": Command(
        "mean (box) filter, any size in constant time per pixel",
        "filterkit mean photo.png smooth.png --size 5",
        lambda f, a, kw: filterkit.mean(f, a.size, **kw), "low",
        lambda p: p.add_argument("--size", type=parse_size, default=3,
                                 help="odd window size, N or HxW (default 3)"),
        lambda a: _half(masks.check_size(a.size))),
    "gaussian": Command(
        "Gaussian low-pass filter",
        "filterkit gaussian photo.png smooth.png --sigma 5 --size 11",
        lambda f, a, kw: filterkit.gaussian(f, a.sigma, size=a.size, **kw), "low",
        lambda p: (p.add_argument("--sigma", type=parse_number, default=1.0,
                                  help="standard deviation in pixels (default 1)"),
                   p.add_argument("--size", type=parse_size, default=None,
                                  help="odd mask size (default 2*ceil(3*sigma)+1)")),
        lambda a: _half([v.size for v in masks.gaussian_factors(a.size, sigma=a.sigma)])),
    "convolve": Command(
        "true convolution with a mask from a file (text rows of numbers, or .npy)",
        "filterkit convolve photo.png out.png --mask mask.txt",
        lambda f, a, kw: filterkit.convolve(f, a.mask_array, **kw), "low",
        lambda p: p.add_argument("--mask", required=True, metavar="FILE",
                                 help="the mask: text rows of numbers, or a .npy file"),
        lambda a: _half(a.mask_array.shape)),
}


def command_kind(name: str, args: argparse.Namespace) -> str:
    """How the command's result is shown: its table entry's ``kind``, but
    ``signed`` for a convolution with a mask that has negative entries."""
    if name == "convolve" and np.any(args.mask_array < 0):
        return "signed"
    return COMMANDS[name].kind


def check_options(args: argparse.Namespace) -> None:
    """The filter's parameters, before any file is read (a Gaussian's sigma
    too wide for its mask, a mask file that is not a mask, a bad mode)."""
    check_mode(args.mode, args.cval)
    if getattr(args, "scheduler", None) is not None and args.scheduler.lower() != "none":
        if not args.tile:
            raise CLIError("argument --scheduler: runs the tiles of --tile on a cluster; "
                           "add --tile N")
        if args.jobs > 1:
            raise CLIError("argument --scheduler: not with --jobs (the cluster's workers are "
                           "the parallelism)")
    name = args.command
    try:
        COMMANDS[name].radius(args)
    except (TypeError, ValueError, OverflowError, MemoryError) as exc:
        option = {"mean": "--size", "gaussian": "--sigma" if args.size is None else "--sigma/--size",
                  "convolve": "--mask"}.get(name, "")
        raise CLIError(f"argument {option}: {exc}" if option else str(exc)) from None

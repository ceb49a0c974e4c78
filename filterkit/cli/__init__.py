"""The ``filterkit`` command line: one command per filter, on image files.

Every command calls filterkit's public API; nothing here filters by itself.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import signal
import sys
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

import filterkit
from filterkit import masks
from filterkit._validate import check_mode, max_threads

from . import cnn as _cnn_cli
from . import tiles as _tiled
from .images import (
    DEFAULT_MAX_PIXELS,
    FORMATS,
    MAX_PIXELS_ENV,
    RAW_FORMATS,
    SAMPLES,
    CLIError,
    Staging,
    check_distinct,
    check_output_path,
    image_files,
    is_complete,
    parse_max_pixels,
    read_image,
    write_image,
)

#: the colour space each kind of filter uses on colour input without --space
DEFAULT_SPACE = {"low": "rgb", "signed": "gray", "positive": "lab"}


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


def _size(text: str) -> object:
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


def _float(text: str) -> float:
    """A finite number (``1e400`` overflows to inf: refused, as NaN and inf)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number; got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number; got {text!r}")
    return value


def _sigma(text: str) -> float:
    """A positive finite standard deviation."""
    value = _float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(
            f"`sigma` must be positive (a standard deviation in pixels); got {text!r}")
    return value


def _positive_int(text: str) -> int:
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


def _jobs_count(text: str) -> int:
    """``--jobs N``: a positive integer up to the cap on filterkit's threads
    (:func:`filterkit._validate.max_threads`: 4 per core, at least 8)."""
    value = _positive_int(text)
    if value > max_threads():
        raise argparse.ArgumentTypeError(
            f"must be at most {max_threads()} (4 per core of this machine); got {text!r}")
    return value


def _read_mask(path: str) -> np.ndarray:
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


def _common(args: argparse.Namespace) -> dict:
    return {"mode": args.mode, "cval": args.cval}


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
        lambda p: p.add_argument("--size", type=_size, default=3,
                                 help="odd window size, N or HxW (default 3)"),
        lambda a: _half(masks.check_size(a.size))),
    "gaussian": Command(
        "Gaussian low-pass filter",
        "filterkit gaussian photo.png smooth.png --sigma 5 --size 11",
        lambda f, a, kw: filterkit.gaussian(f, a.sigma, size=a.size, **kw), "low",
        lambda p: (p.add_argument("--sigma", type=_float, default=1.0,
                                  help="standard deviation in pixels (default 1)"),
                   p.add_argument("--size", type=_size, default=None,
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


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``filterkit: error: ...`` and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"filterkit: error: {message}\n")
        raise SystemExit(2)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="filterkit",
        description="Classic image filters on image files (PNG, TIFF, JPEG, BMP).",
        epilog="Example: filterkit sobel sample:camera edges.png   "
               "(samples: " + ", ".join(SAMPLES) + ").  Exit status: 0 done, 2 an error "
               "(one line 'filterkit: error: ...'; nothing written), 130 interrupted (Ctrl-C).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, cmd in COMMANDS.items():
        p = sub.add_parser(
            name, help=cmd.help, description=f"{cmd.help}.\n\n" + _OUTPUT_NOTE[cmd.kind],
            epilog=f"Example: {cmd.example}",
            formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("paths", nargs="+", metavar="PATH",
                       help="IN OUT, or with -o: input files or folders "
                            "(sample:NAME reads a bundled picture)")
        p.add_argument("-o", "--output-dir", metavar="DIR",
                       help="write every result into DIR (batch mode)")
        p.add_argument("--ext", default=".png",
                       help="output extension in batch mode (default .png); two inputs that "
                            "would give the same output (a.png and a.jpg) are refused")
        cmd.add_arguments(p)
        p.add_argument("--mode", default="reflect",
                       help="border: constant, nearest, reflect (default), mirror, wrap, valid")
        p.add_argument("--cval", type=_float, default=0.0, help="value outside with --mode constant")
        p.add_argument("--invert", action="store_true",
                       help="invert the result (the lecture's figures: edges dark on white)")
        p.add_argument("--raw", action="store_true",
                       help="write the float result unchanged (.tif/.tiff/.npy only)")
        p.add_argument("--space", choices=("rgb", "lab", "luv", "gray"),
                       help="colour space for colour input (default: " +
                            {"low": "rgb, per channel",
                             "signed": "gray, the luma",
                             "positive": "lab, the colour gradient"}[cmd.kind] +
                            "); grey input ignores it")
        p.add_argument("--threads", type=_positive_int,
                       help="number of threads (with --jobs: per job)")
        p.add_argument("--tile", type=_positive_int, metavar="N",
                       help="read, filter and write in N x N tiles with exact halos (N a "
                            "multiple of 16): for images larger than memory; writes .tif "
                            "(tiled, BigTIFF when needed), .zarr or .npy; reads TIFF, .zarr "
                            "and .npy a tile at a time")
        p.add_argument("--jobs", type=_jobs_count, default=1, metavar="N",
                       help="filter N files at once (batch mode; default 1; at most 4 per core)")
        p.add_argument("--max-pixels", metavar="N",
                       help="decode images of at most N pixels whole (default "
                            f"{DEFAULT_MAX_PIXELS:,}, Pillow's decompression-bomb limit; "
                            f"'none': no limit; also {MAX_PIXELS_ENV}=N); --tile reads TIFF, "
                            ".zarr and .npy a tile at a time whatever their size")
        p.add_argument("--resume", action="store_true",
                       help="skip outputs that already exist and are complete "
                            "(readable, and not older than their input)")
    samples = sub.add_parser("samples", help="list the bundled sample pictures",
                             epilog="Example: filterkit samples")
    samples.set_defaults(paths=[])
    cal = sub.add_parser("calibrate", help="measure this machine for method='auto' and store it",
                         description="Time every convolution method (direct, separable, box, "
                                     "FFT, tiled FFT) on this machine with one thread and store "
                                     "the cost constants where method='auto' finds them "
                                     "(FILTERKIT_CACHE_DIR, else the user cache folder).",
                         epilog="Example: filterkit calibrate")
    cal.add_argument("--quick", action="store_true", help="smaller images, fewer repeats")
    cal.set_defaults(paths=[])
    _cnn_cli.add_parser(sub, _Parser, _positive_int)
    return parser


_OUTPUT_NOTE = {
    "low": "The result keeps the input's range and bit depth (8 or 16 bit); colour images are "
           "filtered per channel (--space rgb, the default), in CIELAB or CIELUV and converted "
           "back (--space lab|luv), or as luma (--space gray); alpha is kept unchanged. "
           "32-bit integer and float images keep their values: .tif and .npy are written in "
           "the input's type (float as float32); PNG, JPEG and BMP take float values in [0, 1] "
           "(written as 0..255) and integers in [0, 65535] only, anything else is refused. "
           "Pictures are turned upright by their EXIF orientation, as viewers show them.",
    "signed": "Colour input is converted to luma first (--space gray, the default: "
              "0.2126 R + 0.7152 G + 0.0722 B); --space rgb|lab|luv filters each channel of that "
              "space and writes a colour picture. The signed result is scaled to the output's "
              "full range with 0 at mid-grey: out = 1/2 + v / (2 max|v|), from any input type "
              "(8, 16, 32-bit, float). --raw writes the float values. Pictures are turned "
              "upright by their EXIF orientation.",
    "positive": "Colour input gives the colour gradient of all channels (Di Zenzo's structure "
                "tensor) in CIELAB by default (--space lab), or in rgb or luv; --space gray "
                "takes the luma (0.2126 R + 0.7152 G + 0.0722 B). The result is scaled to the "
                "output's full range: out = v / max v, from any input type (8, 16, 32-bit, float). "
                "--raw writes the float values. Pictures are turned upright by their EXIF "
                "orientation.",
}



def _full(depth16: bool) -> int:
    return 65535 if depth16 else 255


def _peak(values: np.ndarray) -> float:
    """The largest magnitude of a high-pass result: its picture's full scale."""
    return float(np.max(np.abs(values))) if values.size else 0.0


def _scale(values: np.ndarray, kind: str, depth16: bool, invert: bool, peak: float) -> np.ndarray:
    """A high-pass result as an 8- or 16-bit picture, `peak` at full scale."""
    v = values.astype(np.float64)
    if kind == "signed":
        unit = 0.5 + v / (2 * peak) if peak > 0 else np.full(v.shape, 0.5)
    else:
        unit = v / peak if peak > 0 else np.zeros(v.shape)
    if invert:
        unit = 1.0 - unit
    full = _full(depth16)
    return np.clip(np.rint(unit * full), 0, full).astype(np.uint16 if depth16 else np.uint8)


def _direction_picture(strength: np.ndarray, direction: np.ndarray, peak: float) -> np.ndarray:
    """Hue = angle, saturation 1, value = strength / `peak` (the largest
    strength), as 8-bit RGB."""
    h = (direction.astype(np.float64) + np.pi) / (2 * np.pi) * 6.0
    v = strength / peak if peak > 0 else np.zeros(strength.shape)
    i = np.floor(h).astype(int) % 6
    f = h - np.floor(h)
    p, q, t = np.zeros_like(v), v * (1 - f), v * f
    r = np.choose(i, [v, q, p, p, t, v])
    g = np.choose(i, [t, v, v, q, p, p])
    b = np.choose(i, [p, p, t, v, v, q])
    return np.clip(np.rint(np.stack([r, g, b], -1) * 255), 0, 255).astype(np.uint8)


def _space(args: argparse.Namespace, kind: str) -> str:
    return args.space or DEFAULT_SPACE[kind]


def _low_pass(cmd: Command, image: np.ndarray, args: argparse.Namespace, invert: bool) -> np.ndarray:
    kw = _common(args)
    out_dtype = np.float32 if image.dtype.kind == "f" else image.dtype
    if image.ndim == 3 and image.shape[2] in (3, 4):
        # RGB or RGBA: in the colour space (alpha passes through)
        result = cmd.run(image, args, dict(kw, output=out_dtype, channel_axis=-1,
                                           space=_space(args, "low")))
    elif image.ndim == 3:  # grey + alpha: the grey channel, alpha unchanged
        grey = cmd.run(image[..., 0], args, dict(kw, output=out_dtype))
        alpha = image[..., 1]
        if grey.shape != alpha.shape:  # 'valid' mode: the alpha of the pixels kept
            dy, dx = (alpha.shape[0] - grey.shape[0]) // 2, (alpha.shape[1] - grey.shape[1]) // 2
            alpha = alpha[dy:dy + grey.shape[0], dx:dx + grey.shape[1]]
        result = np.stack([grey, alpha.astype(grey.dtype)], axis=-1)
    else:
        result = cmd.run(image, args, dict(kw, output=out_dtype))
    if invert:
        if result.dtype.kind == "f":
            result = 1.0 - result
        else:
            info = np.iinfo(result.dtype)
            result = (info.max - result.astype(np.int64) + info.min).astype(result.dtype)
    return result


def _high_pass_call(kind: str, image: np.ndarray, args: argparse.Namespace) -> dict:
    """The keyword arguments that make a high-pass filter read `image` as
    the command line does (grey as it is; colour in the colour space)."""
    kw = _common(args)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        kw.update(channel_axis=-1, space=_space(args, kind))
    return kw


def _kind(name: str, args: argparse.Namespace) -> str:
    if name == "convolve" and np.any(args.mask_array < 0):
        return "signed"
    return COMMANDS[name].kind


def _values(name: str, image: np.ndarray, args: argparse.Namespace,
            mode: str) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """What the command computes pixel by pixel, with the border `mode`: a
    low-pass filter's final picture, the float values with --raw, or a
    high-pass filter's values (and the gradient's direction) before they
    are scaled by their largest magnitude.

    A low-pass filter of a float image gives float32; shown as 8 bit
    ([0, 1] as 0..255) unless ``args.keep_values`` (the output is a TIFF, a
    .npy or a .zarr, which hold the values)."""
    cmd = COMMANDS[name]
    args = argparse.Namespace(**dict(vars(args), mode=mode))
    kind = _kind(name, args)
    if image.ndim == 3 and image.shape[2] == 1:  # one channel: grey
        image = image[..., 0]
    if kind == "low" and not args.raw:
        result = _low_pass(cmd, image, args, args.invert)
        if result.dtype.kind == "f" and not getattr(args, "keep_values", False):
            result = np.clip(np.rint(result * 255), 0, 255).astype(np.uint8)
        return result, None
    if kind == "low":  # --raw: the float result of the filter, per channel
        out = cmd.run(image, args, dict(_common(args), channel_axis=-1 if image.ndim == 3 else None))
        return np.asarray(out, dtype=np.float32), None
    if image.ndim == 3 and image.shape[2] == 2:  # grey + alpha: the grey channel
        image = image[..., 0]
    out = cmd.run(image, args, _high_pass_call(kind, image, args))
    strength, direction = out if isinstance(out, tuple) else (out, None)
    if args.raw:
        strength = np.asarray(strength, dtype=np.float32)
    return strength, direction


def _scaled(name: str, args: argparse.Namespace) -> bool:
    """Whether the output is scaled by the result's largest magnitude."""
    return _kind(name, args) != "low" and not args.raw


def _check_image_shape(src: str, shape: Sequence[int]) -> None:
    """A 2-D image of 1 to 4 channels: the pictures filterkit writes."""
    if len(shape) not in (2, 3) or 0 in shape:
        raise CLIError(f"{src}: not a 2-D grey or colour image (shape {tuple(shape)})")
    if len(shape) == 3 and shape[2] > 4:
        raise CLIError(f"{src}: {shape[2]} channels; the command line filters grey (1), "
                       "grey + alpha (2), RGB (3) and RGBA (4) images (filter other arrays "
                       "with the Python API and channel_axis=-1)")


def _check_peak(src: str, peak: float) -> None:
    if not math.isfinite(peak):
        raise CLIError(f"{src}: the result has NaN or infinite values (so has the input), "
                       "which cannot be scaled to a picture; --raw writes them as they are")


#: outputs that hold any integer or float values as they are
DEEP_FORMATS = (".tif", ".tiff", ".npy", ".zarr")


def _fit_low_pass(src: str, image: np.ndarray, ext: str) -> np.ndarray:
    """The input of a range-keeping filter whose picture goes to `ext`.

    uint8 and uint16 are written as they are; TIFF and .npy hold every
    type.  PNG, JPEG and BMP take integers of 0..255 (as 8 bit) or
    0..65535 (as 16 bit, as uint16 images) and floats in [0, 1]
    (scikit-image's convention, shown as 0..255); anything else would be
    clipped, so it is refused before any filtering.
    """
    if image.dtype in (np.uint8, np.uint16) or ext in DEEP_FORMATS or image.dtype.kind not in "iuf":
        return image
    fmt = FORMATS[ext]
    lo, hi = (np.min(image), np.max(image)) if image.size else (0, 0)
    keep = "; write .tif (or .npy with --raw) to keep them"
    if image.dtype.kind == "f":
        if not (math.isfinite(lo) and math.isfinite(hi) and 0 <= lo and hi <= 1):
            raise CLIError(f"{src}: float values from {float(lo):g} to {float(hi):g} do not fit "
                           f"an 8-bit {fmt} (which shows [0, 1] as 0..255){keep}")
        return image
    lo, hi = int(lo), int(hi)
    if 0 <= lo and hi <= 255:
        return image.astype(np.uint8)
    if 0 <= lo and hi <= 65535:
        return image.astype(np.uint16)
    raise CLIError(f"{src}: {image.dtype} values from {lo} to {hi} do not fit "
                   f"{'a 16-bit' if fmt == 'PNG' else 'an 8-bit'} {fmt}{keep}")


def _outputs(args: argparse.Namespace, dst: str) -> List[str]:
    """Every file the command writes for one input."""
    direction = getattr(args, "direction", None)
    return [dst] + ([direction] if direction else [])


def _inputs(args: argparse.Namespace, src: str) -> List[str]:
    """Every file the command reads for one input (the image, the mask)."""
    mask = getattr(args, "mask", None)
    return [src] + ([mask] if mask else [])


def _process(name: str, src: str, dst: str, args: argparse.Namespace) -> None:
    """Filter `src` into `dst` (and --direction): every output is checked
    before the input is read, and all are renamed into place together when
    all are written."""
    if args.tile:
        _process_tiled(name, src, dst, args)
        return
    ext = check_output_path(dst, args.raw)
    outputs = _outputs(args, dst)
    for extra in outputs[1:]:
        check_output_path(extra, False)
    check_distinct(_inputs(args, src), outputs)
    image = read_image(src, getattr(args, "max_pixels", DEFAULT_MAX_PIXELS))
    _check_image_shape(src, image.shape)
    if _kind(name, args) == "low" and not args.raw:
        image = _fit_low_pass(src, image, ext)
    args = argparse.Namespace(**dict(vars(args), keep_values=ext in DEEP_FORMATS))
    depth16 = image.dtype == np.uint16 and ext in (".png", ".tif", ".tiff")
    values, direction = _values(name, image, args, args.mode)
    peak = _peak(values) if _scaled(name, args) or direction is not None else 0.0
    _check_peak(src, peak)
    picture = _scale(values, _kind(name, args), depth16, args.invert, peak) \
        if _scaled(name, args) else values
    with Staging() as stage:
        write_image(dst, picture, stage)
        if direction is not None and len(outputs) > 1:
            write_image(outputs[1], _direction_picture(values, direction, peak), stage)


def _process_tiled(name: str, src: str, dst: str, args: argparse.Namespace) -> None:
    """``--tile N``: the same result as :func:`_process`, a tile at a time
    (a first pass finds the largest magnitude when the output is scaled by
    it; --direction is written in a last pass)."""
    tile = _tiled.check_tile(args.tile)
    outputs = _outputs(args, dst)
    for out in outputs:
        _tiled.output_extension(out)
    check_distinct(_inputs(args, src), outputs)
    want_direction = name == "gradient" and len(outputs) > 1
    mode, _ = check_mode(args.mode, args.cval)  # the canonical name: aliases resolved
    radius = COMMANDS[name].radius(args)
    source = _tiled.open_source(src, getattr(args, "max_pixels", DEFAULT_MAX_PIXELS))
    args = argparse.Namespace(**dict(vars(args), keep_values=True))  # every --tile format holds floats
    progress = None
    try:
        _check_image_shape(src, source.shape)
        depth16 = source.dtype == np.uint16  # every --tile format holds 16 bits
        tiler = _tiled.Tiler(source, lambda block, m: _values(name, block, args, m), radius,
                             mode, tile)
        scaled = _scaled(name, args)
        passes = 1 + (scaled or want_direction) + want_direction
        progress = _progress(tiler.count * passes, "tile", f"{name} {os.path.basename(src)}")
        peak = 0.0
        if scaled or want_direction:
            peaks = [p for _, p in tiler.run(lambda outs: _peak(outs[0]), progress)]
            peak = float(np.max(np.array(peaks)))
            _check_peak(src, peak)
        kind = _kind(name, args)

        def final(outs: Tuple[Any, ...]) -> np.ndarray:
            return _scale(outs[0], kind, depth16, args.invert, peak) if scaled else outs[0]

        with Staging() as stage:
            _write_tiled(dst, tiler, tiler.run(final, progress), stage)
            if want_direction:
                _write_tiled(outputs[1], tiler,
                             tiler.run(lambda outs: _direction_picture(outs[0], outs[1], peak),
                                       progress), stage)
    finally:
        source.close()
        if progress is not None:
            progress.close()


def _write_tiled(dst: str, tiler: "_tiled.Tiler", produce: Any, stage: Optional[Staging] = None) -> None:
    """Write the tiles `produce` yields; the first tells the dtype and channels."""
    first = next(produce)
    data = first[1]
    _tiled.write_tiles(dst, tuple(tiler.shape) + data.shape[2:], data.dtype, tiler.tile,
                       itertools.chain([first], produce), stage)


def _progress(total: int, unit: str, desc: Optional[str] = None) -> Any:
    """A progress bar on stderr when it is a terminal (else None)."""
    if total <= 1 or not sys.stderr.isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit=unit, desc=desc, file=sys.stderr, leave=False)


def _done(src: str, dst: str) -> bool:
    """--resume: `dst` exists, is complete and is not older than `src`."""
    if not is_complete(dst):
        return False
    if src.startswith("sample:") or not os.path.exists(src):
        return True
    return os.path.getmtime(dst) >= os.path.getmtime(src)


def _run_one(command: str, src: str, dst: str, args: argparse.Namespace) -> Optional[str]:
    """Filter one file; the error message, or None when written.  Every
    failure but Ctrl-C is a message, so that a batch goes on."""
    try:
        _process(command, src, dst, args)
    except KeyboardInterrupt:
        raise
    except MemoryError:
        return ("out of memory" + (" (try a smaller --tile)" if args.tile else
                                   " (--tile N filters it a tile at a time)"))
    except (CLIError, ValueError, TypeError, OSError) as exc:
        return str(exc) or type(exc).__name__
    except Exception as exc:  # an unforeseen failure of one file must not end the batch
        return f"unexpected {type(exc).__name__}: {exc}"
    return None


#: in a worker process: whether a file is being filtered (see _worker_stop)
_in_job = False


def _worker_start(threads: int) -> None:
    """A worker process of --jobs: Ctrl-C is the main process's to handle
    (the terminal sends it to every process of the group); SIGTERM from the
    main process stops the file being filtered, its temporary files
    removed."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _worker_stop)
    if hasattr(signal, "pthread_sigmask"):  # blocked by the main process while it started us
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    filterkit.set_num_threads(threads)


def _worker_stop(signum: int, frame: Any) -> None:
    if _in_job:
        raise KeyboardInterrupt  # unwinds the job: temporary files removed
    raise SystemExit(130)  # idle: leave quietly


def _worker_job(command: str, src: str, dst: str, args: argparse.Namespace) -> Optional[str]:
    global _in_job
    _in_job = True
    try:
        return _run_one(command, src, dst, args)
    finally:
        _in_job = False


def _run_jobs(args: argparse.Namespace, jobs: List[Tuple[str, str]],
              progress: Any) -> Any:
    """Yield (input, error or None) for every job, `args.jobs` at a time in
    worker processes (each on its share of the cores), else one by one."""
    workers = min(args.jobs, len(jobs))
    if workers <= 1:
        for src, dst in jobs:
            yield src, _run_one(args.command, src, dst, args)
            if progress is not None:
                progress.update(1)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    threads = args.threads or max(1, filterkit.get_num_threads() // workers)
    # 'spawn': a fresh interpreter per worker (forking a process whose
    # OpenMP threads exist can hang the child)
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_worker_start, initargs=(threads,))
    try:
        futures = _submit(pool, [(_worker_job, (args.command, src, dst, args)) for src, dst in jobs])
        futures = {future: src for future, (src, _) in zip(futures, jobs)}
        for future in as_completed(futures):
            try:
                error = future.result()
            except BrokenProcessPool:
                error = "a worker process died while filtering it (out of memory?)"
            yield futures[future], error
            if progress is not None:
                progress.update(1)
    except BaseException:
        # Ctrl-C (or any failure here): stop the workers' files now, not
        # when they are done; each removes its temporary files
        for process in list(getattr(pool, "_processes", {}).values()):
            try:
                process.terminate()
            except (OSError, AttributeError):
                pass
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _submit(pool: Any, calls: List[Tuple[Callable[..., Any], Tuple[Any, ...]]]) -> List[Any]:
    """Submit every call to `pool`, which starts its worker processes
    meanwhile.  A Ctrl-C then would cut a worker's start-up short (its
    traceback on the terminal), so it waits until they are started: the
    workers start with it blocked (inherited; they ignore it once started),
    and here it is only noted, then raised."""
    noted: List[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: noted.append(signum))
    blocking = hasattr(signal, "pthread_sigmask")
    if blocking:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        futures = [pool.submit(fn, *call_args) for fn, call_args in calls]
    finally:
        if blocking:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        signal.signal(signal.SIGINT, previous)
    if noted:
        raise KeyboardInterrupt
    return futures


def _check_extension(args: argparse.Namespace, ext: str) -> None:
    """The batch's output extension is one the command writes."""
    if args.tile:
        allowed: Sequence[str] = _tiled.TILE_FORMATS
        what = "--tile writes"
    elif args.raw:
        allowed, what = RAW_FORMATS, "--raw writes"
    else:
        allowed, what = tuple(sorted(FORMATS)), "use one of"
    if ext.lower() not in allowed:
        raise CLIError(f"--ext {ext}: unknown output extension; {what} {', '.join(allowed)}")


def _jobs(args: argparse.Namespace) -> List[Tuple[str, str]]:
    """(input, output) for every file; in batch mode every output is
    checked first (extension, no two the same, none an input), and only
    then is the output folder made."""
    paths = args.paths
    if args.output_dir is None:
        if len(paths) != 2:
            raise CLIError(f"give IN OUT, or input files and -o DIR; got {len(paths)} path(s)")
        return [(paths[0], paths[1])]
    outdir = args.output_dir
    if os.path.exists(outdir) and not os.path.isdir(outdir):
        raise CLIError(f"-o {outdir}: not a folder")
    ext = args.ext if args.ext.startswith(".") else "." + args.ext
    _check_extension(args, ext)
    inputs: List[str] = []
    for p in paths:
        inputs.extend(image_files(p) if os.path.isdir(p) else [p])
    if not inputs:
        raise CLIError("no input images found")
    jobs = []
    for p in inputs:
        stem = p[len("sample:"):] if p.startswith("sample:") else os.path.splitext(os.path.basename(p))[0]
        jobs.append((p, os.path.join(outdir, stem + ext)))
    outputs = [dst for _, dst in jobs]
    mask = [args.mask] if getattr(args, "mask", None) else []
    check_distinct(inputs + mask, outputs, sources=inputs)
    if not os.path.isdir(outdir):
        try:
            os.makedirs(outdir)
        except OSError as exc:
            raise CLIError(f"-o {outdir}: cannot create the folder ({exc.strerror})") from None
    return jobs


def _check_options(args: argparse.Namespace) -> None:
    """The filter's parameters, before any file is read (a Gaussian's sigma
    too wide for its mask, a mask file that is not a mask, a bad mode)."""
    check_mode(args.mode, args.cval)
    name = args.command
    try:
        COMMANDS[name].radius(args)
    except (TypeError, ValueError, OverflowError, MemoryError) as exc:
        option = {"mean": "--size", "gaussian": "--sigma" if args.size is None else "--sigma/--size",
                  "convolve": "--mask"}.get(name, "")
        raise CLIError(f"argument {option}: {exc}" if option else str(exc)) from None


def _max_pixels(args: argparse.Namespace) -> Optional[int]:
    """--max-pixels, else FILTERKIT_MAX_PIXELS, else the default."""
    if args.max_pixels is not None:
        return parse_max_pixels(args.max_pixels, "argument --max-pixels")
    env = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if env:
        return parse_max_pixels(env, MAX_PIXELS_ENV)
    return DEFAULT_MAX_PIXELS


def _error(message: str) -> None:
    """The one line of an error on stderr."""
    sys.stderr.write(f"filterkit: error: {message}\n")
    sys.stderr.flush()


def _interrupted(argv: Optional[Sequence[str]], detail: str = "") -> int:
    """Ctrl-C: one line, exit code 130 (128 + SIGINT, as shells report)."""
    previous = None
    try:  # a second Ctrl-C while the line is written: ignored, no traceback
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        pass
    try:
        _error("interrupted" + detail)
    except Exception:  # stderr closed: the exit code says it
        pass
    if previous is not None and argv is not None:
        # called as a function (not as the program, which is about to
        # exit with Ctrl-C still ignored): Ctrl-C works again
        signal.signal(signal.SIGINT, previous)
    return 130


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the ``filterkit`` command line.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 2 on any error (one ``filterkit: error: ...`` line
        per problem on stderr, no traceback, no partial output file), 130
        when interrupted by Ctrl-C (one line ``filterkit: error:
        interrupted``, temporary files removed).

    Examples
    --------
    >>> import os, tempfile
    >>> from filterkit.cli import main
    >>> main(["mean", "--size", "5", "sample:camera", os.path.join(tempfile.mkdtemp(), "m.png")])
    0
    """
    try:
        return _main(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error, already printed (2)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except KeyboardInterrupt:
        return _interrupted(argv)
    except MemoryError:
        _error("out of memory")
        return 2
    except (CLIError, ValueError, TypeError, OSError) as exc:
        _error(str(exc) or type(exc).__name__)
        return 2
    except Exception as exc:  # a bug: still one line, never a traceback
        _error(f"unexpected {type(exc).__name__}: {exc}")
        return 2


def _main(argv: Optional[Sequence[str]]) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "samples":
        print("\n".join(f"sample:{n}" for n in SAMPLES))
        return 0
    if args.command == "cnn":
        return _cnn_cli.run(args)
    if args.command == "calibrate":
        try:
            constants = filterkit.calibrate(quick=args.quick)
        except (OSError, ValueError) as exc:
            _error(f"calibration failed: {exc}")
            return 2
        for prec, values in constants.items():
            print(f"{prec}: " + ", ".join(f"{k}={v:.4g}" for k, v in values.items()))
        print(f"stored in {filterkit.calibration_path()}")
        return 0
    failed = 0
    try:
        args.max_pixels = _max_pixels(args)
        if args.threads:
            try:
                filterkit.set_num_threads(args.threads)
            except (ValueError, TypeError) as exc:
                raise CLIError(f"argument --threads: {exc}") from None
        if args.command == "convolve":
            args.mask_array = _read_mask(args.mask)
        _check_options(args)
        jobs = _jobs(args)
        if getattr(args, "direction", None) and len(jobs) > 1:
            raise CLIError("--direction takes one input (it names one output file)")
    except (CLIError, ValueError, TypeError) as exc:
        _error(str(exc))
        return 2
    skipped = 0
    if args.resume:
        todo = [(src, dst) for src, dst in jobs if not _done(src, dst)]
        skipped, jobs = len(jobs) - len(todo), todo
    batch = args.output_dir is not None
    progress = _progress(len(jobs), "image") if batch else None
    written = 0
    try:
        for src, error in _run_jobs(args, jobs, progress):
            if error is None:
                written += 1
                continue
            failed += 1
            where = f"{src}: " if batch and not error.startswith(src) else ""
            _error(f"{where}{error}")
    except KeyboardInterrupt:
        return _interrupted(argv, f" ({written} written, {failed} failed)" if batch else "")
    finally:
        if progress is not None:
            progress.close()
    if batch or skipped:
        sys.stderr.write(f"filterkit: {written} written, {failed} failed, "
                         f"{skipped} skipped (already complete)\n")
    return 2 if failed else 0

"""The command line's arguments: the argparse parser and the pixel limit.

The parser has one subcommand per entry of :data:`.commands.COMMANDS`
(with the options every filter command shares), plus ``samples``,
``calibrate`` and ``cnn``.  Its errors are one line, exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Optional

from .. import __version__
from . import cnn
from .commands import COMMANDS, parse_jobs, parse_number, parse_positive_int
from .images import DEFAULT_MAX_PIXELS, MAX_PIXELS_ENV, SAMPLES, parse_max_pixels


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``filterkit: error: ...`` and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"filterkit: error: {message}\n")
        raise SystemExit(2)


#: the help text on the result of each kind of filter command
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


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command: the filters of :data:`.commands.COMMANDS`,
    ``samples``, ``calibrate`` and ``cnn``."""
    parser = Parser(
        prog="filterkit",
        description="Classic image filters on image files (PNG, TIFF, JPEG, BMP).",
        epilog="Example: filterkit sobel sample:camera edges.png   "
               "(samples: " + ", ".join(SAMPLES) + ").  Exit status: 0 done, 2 an error "
               "(one line 'filterkit: error: ...'; nothing written), 130 interrupted (Ctrl-C).",
    )
    parser.add_argument("--version", action="version", version=f"filterkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
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
        p.add_argument("--cval", type=parse_number, default=0.0, help="value outside with --mode constant")
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
        p.add_argument("--threads", type=parse_positive_int,
                       help="number of threads (with --jobs: per job)")
        p.add_argument("--tile", type=parse_positive_int, metavar="N",
                       help="read, filter and write in N x N tiles with exact halos (N a "
                            "multiple of 16): for images larger than memory; writes .tif "
                            "(tiled, BigTIFF when needed), .zarr or .npy; reads TIFF, .zarr "
                            "and .npy a tile at a time")
        p.add_argument("--scheduler", metavar="ADDRESS",
                       help="with --tile: filter the tiles on a running Dask cluster "
                            "(tcp://host:8786; also FILTERKIT_SCHEDULER; 'none': here); "
                            "its workers read the input by the same path")
        p.add_argument("--jobs", type=parse_jobs, default=1, metavar="N",
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
    cnn.add_parser(sub, Parser, parse_positive_int)
    return parser


def max_pixels(args: argparse.Namespace) -> Optional[int]:
    """--max-pixels, else FILTERKIT_MAX_PIXELS, else the default."""
    if args.max_pixels is not None:
        return parse_max_pixels(args.max_pixels, "argument --max-pixels")
    env = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if env:
        return parse_max_pixels(env, MAX_PIXELS_ENV)
    return DEFAULT_MAX_PIXELS

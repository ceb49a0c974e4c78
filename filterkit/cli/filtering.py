"""One input file to its outputs: filter, turn into a picture, write.

:func:`process` reads the input whole, or with ``--tile`` a tile at a
time (:mod:`.tiles`), runs the command's filter (:func:`filter_values`),
shows high-pass results as pictures (:mod:`.pictures`) and writes every
output under a temporary name, renamed into place together when all are
complete (:class:`.images.Staging`).  :func:`run_one` turns every failure
of one file but Ctrl-C into its error message, so that a batch goes on.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from filterkit._validate import check_mode

from . import tiles
from .batch import progress_bar
from .cluster import Cluster, scheduler_address
from .commands import COMMANDS, Command, command_kind
from .images import (DEFAULT_MAX_PIXELS, CLIError, Staging, check_distinct, check_output_path,
                     read_image, write_image)
from .pictures import (DEEP_FORMATS, check_peak, direction_picture, fit_low_pass,
                       largest_magnitude, to_picture)

#: the colour space each kind of filter uses on colour input without --space
DEFAULT_SPACE = {"low": "rgb", "signed": "gray", "positive": "lab"}


def _common(args: argparse.Namespace) -> dict:
    """The border options every filter takes."""
    return {"mode": args.mode, "cval": args.cval}


def _space(args: argparse.Namespace, kind: str) -> str:
    """The colour space of colour input: --space, else the kind's default."""
    return args.space or DEFAULT_SPACE[kind]


def _low_pass(cmd: Command, image: np.ndarray, args: argparse.Namespace, invert: bool) -> np.ndarray:
    """A range-keeping filter's result in the input's type (float32 for
    floats), colour in the colour space, alpha unchanged; inverted on
    request."""
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


def filter_values(name: str, image: np.ndarray, args: argparse.Namespace,
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
    kind = command_kind(name, args)
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
    return command_kind(name, args) != "low" and not args.raw


def _check_image_shape(src: str, shape: Sequence[int]) -> None:
    """A 2-D image of 1 to 4 channels: the pictures filterkit writes."""
    if len(shape) not in (2, 3) or 0 in shape:
        raise CLIError(f"{src}: not a 2-D grey or colour image (shape {tuple(shape)})")
    if len(shape) == 3 and shape[2] > 4:
        raise CLIError(f"{src}: {shape[2]} channels; the command line filters grey (1), "
                       "grey + alpha (2), RGB (3) and RGBA (4) images (filter other arrays "
                       "with the Python API and channel_axis=-1)")


def _outputs(args: argparse.Namespace, dst: str) -> List[str]:
    """Every file the command writes for one input."""
    direction = getattr(args, "direction", None)
    return [dst] + ([direction] if direction else [])


def _inputs(args: argparse.Namespace, src: str) -> List[str]:
    """Every file the command reads for one input (the image, the mask)."""
    mask = getattr(args, "mask", None)
    return [src] + ([mask] if mask else [])


def process(name: str, src: str, dst: str, args: argparse.Namespace) -> None:
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
    if command_kind(name, args) == "low" and not args.raw:
        image = fit_low_pass(src, image, ext)
    args = argparse.Namespace(**dict(vars(args), keep_values=ext in DEEP_FORMATS))
    depth16 = image.dtype == np.uint16 and ext in (".png", ".tif", ".tiff")
    values, direction = filter_values(name, image, args, args.mode)
    peak = largest_magnitude(values) if _scaled(name, args) or direction is not None else 0.0
    check_peak(src, peak)
    picture = to_picture(values, command_kind(name, args), depth16, args.invert, peak) \
        if _scaled(name, args) else values
    with Staging() as stage:
        write_image(dst, picture, stage)
        if direction is not None and len(outputs) > 1:
            write_image(outputs[1], direction_picture(values, direction, peak), stage)


class _TileJob:
    """One tile's work for ``--tile``, the same in the command's process and
    on a cluster's worker (it travels there pickled, without its open file):
    read the tile with its halo, filter it, and make of the result what the
    pass needs (``peak``: its largest magnitude; ``final``: the output's
    tile; ``direction``: the direction picture's tile)."""

    def __init__(self, name: str, src: str, args: argparse.Namespace, mode: str,
                 radius: Tuple[int, int], tile: int, depth16: bool) -> None:
        self.name, self.src, self.args, self.mode = name, src, args, mode
        self.radius, self.tile, self.depth16 = radius, tile, depth16
        self.max_pixels = getattr(args, "max_pixels", DEFAULT_MAX_PIXELS)
        self.kind = command_kind(name, args)
        self.scaled = _scaled(name, args)
        self._tiler: Optional[tiles.Tiler] = None

    def __getstate__(self) -> Dict[str, Any]:
        return dict(self.__dict__, _tiler=None)

    def tiler(self, source: Optional[tiles.Source] = None) -> tiles.Tiler:
        """The tiler over the input (opened here on first use, or `source`)."""
        if self._tiler is None:
            if source is None:
                source = _open_source(self.src, self.max_pixels)
            self._tiler = tiles.Tiler(
                source, lambda block, m: filter_values(self.name, block, self.args, m),
                self.radius, self.mode, self.tile)
        return self._tiler

    def output(self, outs: Tuple[Any, ...], stage: str, peak: float) -> Any:
        if stage == "peak":
            return largest_magnitude(outs[0])
        if stage == "direction":
            return direction_picture(outs[0], outs[1], peak)
        return to_picture(outs[0], self.kind, self.depth16, self.args.invert, peak) \
            if self.scaled else outs[0]

    def __call__(self, box: Tuple[int, int, int, int], stage: str, peak: float) -> Any:
        return self.output(self.tiler().block(*box), stage, peak)


#: inputs a cluster's worker has open: (path, size, mtime, limit) -> Source;
#: the tiles of one file reach a worker one after another
_OPEN: Dict[Tuple[Any, ...], "tiles.Source"] = {}


def _open_source(src: str, max_pixels: Optional[int]) -> "tiles.Source":
    """The input opened for reading tiles, kept open for the next tile of it
    (a worker keeps the last two files)."""
    st = os.stat(src)
    key = (os.path.abspath(src), st.st_size, st.st_mtime_ns, max_pixels)
    if key not in _OPEN:
        while len(_OPEN) >= 2:
            _OPEN.pop(next(iter(_OPEN))).close()
        _OPEN[key] = tiles.open_source(src, max_pixels)
    return _OPEN[key]


def _process_tiled(name: str, src: str, dst: str, args: argparse.Namespace) -> None:
    """``--tile N``: the same result as :func:`process`, a tile at a time
    (a first pass finds the largest magnitude when the output is scaled by
    it; --direction is written in a last pass), here or on the cluster of
    ``--scheduler`` (:mod:`.cluster`)."""
    tile = tiles.check_tile(args.tile)
    outputs = _outputs(args, dst)
    for out in outputs:
        tiles.output_extension(out)
    check_distinct(_inputs(args, src), outputs)
    want_direction = name == "gradient" and len(outputs) > 1
    mode, _ = check_mode(args.mode, args.cval)  # the canonical name: aliases resolved
    radius = COMMANDS[name].radius(args)
    address = scheduler_address(args)
    source = tiles.open_source(src, getattr(args, "max_pixels", DEFAULT_MAX_PIXELS))
    args = argparse.Namespace(**dict(vars(args), keep_values=True))  # every --tile format holds floats
    progress = None
    try:
        _check_image_shape(src, source.shape)
        depth16 = source.dtype == np.uint16  # every --tile format holds 16 bits
        job = _TileJob(name, os.path.abspath(src), args, mode, radius, tile, depth16)
        tiler = job.tiler(source)
        passes = 1 + (job.scaled or want_direction) + want_direction
        with contextlib.ExitStack() as stack:
            cluster = stack.enter_context(Cluster(address)) if address else None
            progress = progress_bar(tiler.count * passes, "tile", f"{name} {os.path.basename(src)}")

            def run(stage: str, peak: float) -> Any:
                """((a, b, c, d), the pass's tile) for every tile, row by row."""
                if cluster is None:
                    return tiler.run(lambda outs: job.output(outs, stage, peak), progress)
                return cluster.ordered(job, tiles.tiles(tiler.shape, tiler.tile), stage, peak,
                                       name=f"filterkit-tile-{stage}", progress=progress)

            peak = 0.0
            if job.scaled or want_direction:
                peak = float(np.max(np.array([p for _, p in run("peak", 0.0)])))
                check_peak(src, peak)
            with Staging() as stage:
                _write_tiled(dst, tiler, run("final", peak), stage)
                if want_direction:
                    _write_tiled(outputs[1], tiler, run("direction", peak), stage)
    finally:
        source.close()
        if progress is not None:
            progress.close()


def _write_tiled(dst: str, tiler: "tiles.Tiler", produce: Any, stage: Optional[Staging] = None) -> None:
    """Write the tiles `produce` yields; the first tells the dtype and channels."""
    first = next(produce)
    data = first[1]
    tiles.write_tiles(dst, tuple(tiler.shape) + data.shape[2:], data.dtype, tiler.tile,
                       itertools.chain([first], produce), stage)


def run_one(command: str, src: str, dst: str, args: argparse.Namespace) -> Optional[str]:
    """Filter one file; the error message, or None when written.  Every
    failure but Ctrl-C is a message, so that a batch goes on."""
    try:
        process(command, src, dst, args)
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

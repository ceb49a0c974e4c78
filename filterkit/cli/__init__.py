"""The ``filterkit`` command line: one command per filter, on image files.

Every command calls filterkit's public API; nothing here filters by
itself.  :func:`main` parses the arguments, runs the command and turns
every outcome into an exit code (0 done, 2 an error, 130 Ctrl-C) with one
line on stderr.  The modules, each importing only those listed after it:

- :mod:`.arguments`: the argparse parser and the pixel limit's setting;
- :mod:`.filtering`: one input to its outputs, whole or with ``--tile``;
- :mod:`.commands`: the filter commands and the values options take;
- :mod:`.pictures`: high-pass results and directions as pictures;
- :mod:`.batch`: the (input, output) pairs, worker processes, progress bars;
- :mod:`.tiles`: ``--tile``: images read and written a tile at a time;
- :mod:`.cnn`: ``filterkit cnn train|eval|show``;
- :mod:`.images`: image files read and written, the pixel limit, staging.
"""

from __future__ import annotations

import signal
import sys
from typing import Optional, Sequence

import filterkit

from . import arguments, batch, cnn, commands, filtering
from .images import SAMPLES, CLIError

__all__ = ["main"]


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
    """Parse `argv` and run the command it names: ``samples``, ``cnn``,
    ``calibrate``, or a filter command on its (input, output) pairs."""
    parser = arguments.build_parser()
    args = parser.parse_args(argv)
    if args.command == "samples":
        print("\n".join(f"sample:{n}" for n in SAMPLES))
        return 0
    if args.command == "cnn":
        return cnn.run(args)
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
        args.max_pixels = arguments.max_pixels(args)
        if args.threads:
            try:
                filterkit.set_num_threads(args.threads)
            except (ValueError, TypeError) as exc:
                raise CLIError(f"argument --threads: {exc}") from None
        if args.command == "convolve":
            args.mask_array = commands.read_mask(args.mask)
        commands.check_options(args)
        jobs = batch.job_list(args)
        if getattr(args, "direction", None) and len(jobs) > 1:
            raise CLIError("--direction takes one input (it names one output file)")
    except (CLIError, ValueError, TypeError) as exc:
        _error(str(exc))
        return 2
    skipped = 0
    if args.resume:
        todo = [(src, dst) for src, dst in jobs if not batch.already_done(src, dst)]
        skipped, jobs = len(jobs) - len(todo), todo
    batch_mode = args.output_dir is not None
    progress = batch.progress_bar(len(jobs), "image") if batch_mode else None
    written = 0
    try:
        for src, error in batch.run_jobs(filtering.run_one, args, jobs, progress):
            if error is None:
                written += 1
                continue
            failed += 1
            where = f"{src}: " if batch_mode and not error.startswith(src) else ""
            _error(f"{where}{error}")
    except KeyboardInterrupt:
        return _interrupted(argv, f" ({written} written, {failed} failed)" if batch_mode else "")
    finally:
        if progress is not None:
            progress.close()
    if batch_mode or skipped:
        sys.stderr.write(f"filterkit: {written} written, {failed} failed, "
                         f"{skipped} skipped (already complete)\n")
    return 2 if failed else 0


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

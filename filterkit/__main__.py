"""``python -m filterkit`` and the ``filterkit`` command: the command line.

This module imports nothing heavy at the top: :func:`run` imports the
command line (:mod:`filterkit.cli`, with numpy and the compiled core: most
of the start-up time) inside a guard, so Ctrl-C at any moment of start-up
ends with one line and exit code 130, as it does later
(``filterkit/__init__.py`` loads its names lazily).
"""

from __future__ import annotations

import sys


def run() -> int:
    """Start the ``filterkit`` command line; return its exit code.

    Examples
    --------
    >>> import sys
    >>> from filterkit.__main__ import run
    >>> sys.argv = ["filterkit", "samples"]
    >>> run() == 0  # doctest: +SKIP
    True
    """
    try:
        from .cli import main
    except KeyboardInterrupt:
        sys.stderr.write("filterkit: error: interrupted\n")
        return 130
    return main()


if __name__ == "__main__":
    raise SystemExit(run())

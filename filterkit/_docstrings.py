"""Docstring sections shared by several public functions, written once.

A docstring names a shared section by a line holding only ``%(name)s``
(indented as the section should be); :func:`shared_doc` puts the text in.
"""

from __future__ import annotations

import textwrap
from typing import Callable, TypeVar

F = TypeVar("F", bound=Callable[..., object])


def shared_doc(**sections: str) -> Callable[[F], F]:
    """Fill the ``%(name)s`` lines of the decorated function's docstring
    with `sections` (dedented text, indented like the placeholder line)."""
    def decorate(fn: F) -> F:
        doc = fn.__doc__ or ""
        for name, text in sections.items():
            marker = f"%({name})s"
            lines = doc.split("\n")
            for i, line in enumerate(lines):
                if line.strip() == marker:
                    indent = line[:len(line) - len(line.lstrip())]
                    lines[i] = textwrap.indent(textwrap.dedent(text).strip("\n"), indent)
            doc = "\n".join(lines)
        fn.__doc__ = doc
        return fn
    return decorate

"""Put a benchmark's Markdown table into the README between its markers."""

from __future__ import annotations

import json
import os
from typing import Optional, Tuple


def markers(name: str) -> tuple:
    """The comment pair that delimits `name`'s table, e.g. ``<!-- fft:start -->``."""
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def fill(path: str, name: str, table: str) -> Optional[str]:
    """Replace the text between `name`'s markers in `path` with `table`.

    Returns None when written, else why nothing was written.
    """
    start, end = markers(name)
    if not os.path.exists(path):
        return f"{path} does not exist"
    with open(path) as fh:
        text = fh.read()
    if start not in text or end not in text:
        return f"{path} has no '{start}' ... '{end}' markers"
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    with open(path, "w") as fh:
        fh.write(f"{head}{start}\n{table}{end}{tail}")
    return None


def publish(out_dir: str, name: str, report: dict, table: str,
            readme: Optional[str]) -> Tuple[str, Optional[str]]:
    """Write ``name.json`` (the raw report) and ``name.md`` (the table) into
    `out_dir`, and the table into `readme`'s markers when given.

    Returns (the base path of the files, why the README was not updated or None).
    """
    os.makedirs(out_dir, exist_ok=True)
    base = os.path.join(out_dir, name)
    with open(base + ".json", "w") as fh:
        json.dump(report, fh, indent=1)
    with open(base + ".md", "w") as fh:
        fh.write(table)
    return base, (fill(readme, name, table) if readme else None)

"""The package's import graph: one way down, no circle.

Every module of ``filterkit`` belongs to a layer; a module imports only
modules of lower layers (or, inside one package, its own siblings, without
a circle).  Imports inside functions count too: a function-local import
cannot hide a circle.  The layers are the ones docs/architecture.md draws.
"""

from __future__ import annotations

import ast
import pathlib
from typing import Dict, List, Set

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "filterkit"

#: from the bottom up; a name ending in "." stands for every module of that
#: package.  A new module must be placed here.
LAYERS: List[List[str]] = [
    ["_validate", "_cache", "_border", "_docstrings", "_version"],
    ["_threads", "masks", "_costs", "_native", "_chunkcache"],
    ["_job", "_maskinfo"],
    ["color", "methods", "methods."],
    ["_choose", "_spaces"],
    ["_convolve"],
    ["_colour_gradient"],
    ["_filters", "_calibrate"],
    ["__init__"],  # the public API: what the layers above call
    ["dask", "nn", "nn."],
    ["cli", "cli."],
    ["__main__"],
]


def _module_name(path: pathlib.Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> Dict[str, pathlib.Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(importer: str, is_package: bool, level: int, module: str) -> str:
    """The absolute name (inside filterkit, without the prefix) of a relative
    or absolute import."""
    if level == 0:
        return module[len("filterkit."):] if module.startswith("filterkit.") else \
            ("__init__" if module == "filterkit" else "")
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    if importer == "__init__":
        base = []
    base = base[:len(base) - (level - 1)] if level > 1 else base
    return ".".join([*base, module] if module else base) or "__init__"


def _imports() -> Dict[str, Set[str]]:
    """module -> the filterkit modules it imports (anywhere in its code)."""
    modules = _modules()
    graph: Dict[str, Set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        targets: Set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    targets.add(_resolve(name, is_package, 0, alias.name))
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(name, is_package, node.level, node.module or "")
                for alias in node.names:
                    # "from . import masks" names a module; "from .x import f" a name in x
                    candidate = f"{base}.{alias.name}" if base != "__init__" else alias.name
                    if candidate in modules:
                        targets.add(candidate)
                    elif alias.name != "_core":  # the compiled core is not a .py module
                        targets.add(base)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def _layer(name: str) -> int:
    for i, layer in enumerate(LAYERS):
        for entry in layer:
            if name == entry or (entry.endswith(".") and name.startswith(entry)):
                return i
    raise AssertionError(f"filterkit.{name} has no layer: place it in LAYERS")


def test_every_module_has_a_layer():
    for name in _modules():
        _layer(name)


def test_lower_layers_never_import_higher_ones():
    wrong = []
    for name, targets in _imports().items():
        for t in targets:
            same_package = t.split(".")[0] == name.split(".")[0] and ("." in t or "." in name)
            if _layer(t) > _layer(name) or (_layer(t) == _layer(name) and not same_package):
                wrong.append(f"{name} (layer {_layer(name)}) imports {t} (layer {_layer(t)})")
    assert not wrong, "\n".join(wrong)


def test_no_import_circle():
    graph = _imports()
    state: Dict[str, int] = {}
    path: List[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for t in sorted(graph[node]):
            if state.get(t) == 1:
                raise AssertionError("import circle: " + " -> ".join(path[path.index(t):] + [t]))
            if t not in state:
                visit(t)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_only_native_calls_the_compiled_core():
    callers = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and any(a.name == "_core" for a in node.names):
                callers.append(name)
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("_core"):
                callers.append(name)
    assert callers == ["_native"]


@pytest.mark.parametrize("importer, level, module, want", [
    ("_convolve", 1, "methods", "methods"),
    ("methods.fft", 2, "_job", "_job"),
    ("methods.fft", 1, "_fftlib", "methods._fftlib"),
    ("methods", 1, "_fftlib", "methods._fftlib"),
    ("nn.layers", 2, "", "__init__"),
])
def test_relative_imports_resolve(importer, level, module, want):
    # the resolver itself, so that the graph tests cannot pass by reading nothing
    is_package = importer == "methods"
    assert _resolve(importer, is_package, level, module) == want


def test_the_graph_is_read():
    graph = _imports()
    assert "methods.direct" in graph["_convolve"] or "methods" in graph["_convolve"]
    assert "_native" in graph["_job"]
    assert "_validate" in graph["masks"]

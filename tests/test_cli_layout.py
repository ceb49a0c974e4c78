"""The command line's imports run one way: it sits on top of filterkit.

filterkit.cli calls the public API and three helpers below it
(_validate, _threads, _border); nothing else in filterkit imports it but
__main__; its own modules import one another without a circle.
"""

from __future__ import annotations

import ast
import os

import filterkit

PACKAGE = os.path.dirname(os.path.abspath(filterkit.__file__))
CLI = os.path.join(PACKAGE, "cli")
#: the modules below the public API that the command line may use
ALLOWED_PRIVATE = {"filterkit._validate", "filterkit._threads", "filterkit._border"}


def _imports(path: str, package: str) -> list:
    """(module, names) for every import of the file, made absolute."""
    with open(path) as fh:
        tree = ast.parse(fh.read())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            found.append((module, [alias.name for alias in node.names]))
    return found


def _cli_modules() -> dict:
    return {name[:-3]: os.path.join(CLI, name) for name in sorted(os.listdir(CLI))
            if name.endswith(".py")}


def test_the_command_line_imports_only_public_names_and_allowed_helpers():
    bad = []
    for name, path in _cli_modules().items():
        for module, names in _imports(path, "filterkit.cli"):
            if not module.startswith("filterkit") or module.startswith("filterkit.cli"):
                continue
            private = [p for p in module.split(".")[1:] if p.startswith("_")]
            if private and module not in ALLOWED_PRIVATE:
                bad.append(f"{name}: {module}")
            # (dunders such as __version__ are public)
            bad += [f"{name}: {module}.{n}" for n in names
                    if n.startswith("_") and not (n.startswith("__") and n.endswith("__"))]
    assert not bad, bad


def test_nothing_in_filterkit_imports_the_command_line_but_main():
    bad = []
    for folder, _, files in os.walk(PACKAGE):
        if folder == CLI or folder.startswith(CLI + os.sep):
            continue
        rel = os.path.relpath(folder, os.path.dirname(PACKAGE)).replace(os.sep, ".")
        for name in files:
            if not name.endswith(".py") or (folder == PACKAGE and name == "__main__.py"):
                continue
            for module, names in _imports(os.path.join(folder, name), rel):
                if module == "filterkit.cli" or module.startswith("filterkit.cli.") or \
                        (module == "filterkit" and "cli" in names):
                    bad.append(f"{rel}.{name}: {module}")
    assert not bad, bad


def test_the_command_line_modules_import_one_another_without_a_circle():
    graph = {}
    for name, path in _cli_modules().items():
        deps = set()
        for module, names in _imports(path, "filterkit.cli"):
            if module == "filterkit.cli":
                deps |= set(names)  # from . import tiles
            elif module.startswith("filterkit.cli."):
                deps.add(module.split(".")[2])
        graph[name] = deps - {name}
    assert not any("__init__" in deps for deps in graph.values()), graph  # only __main__ starts it
    done: set = set()

    def visit(name: str, path: tuple) -> None:
        assert name not in path, " -> ".join(path + (name,))
        if name in done:
            return
        for dep in graph.get(name, ()):
            visit(dep, path + (name,))
        done.add(name)

    for name in graph:
        visit(name, ())

"""The documentation runs: docstring examples, and the code and links of the Markdown pages."""

from __future__ import annotations

import doctest
import importlib
import os
import re
from pathlib import Path

import pytest

MODULES = ["filterkit", "filterkit._convolve", "filterkit._filters", "filterkit._threads",
           "filterkit.masks", "filterkit.cli", "filterkit.color", "filterkit._choose",
           "filterkit.nn", "filterkit.nn.layers", "filterkit.nn.optim", "filterkit.nn.train",
           "filterkit.dask"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_public_functions_have_examples():
    import filterkit

    for name in ["convolve", "correlate", "set_num_threads", "get_num_threads", "mean",
                 "gaussian", "sobel_x", "sobel_y", "sobel", "gradient", "laplace"]:
        doc = getattr(filterkit, name).__doc__
        assert "Examples" in doc and ">>>" in doc, name
    from filterkit import color

    for name in color.__all__:
        obj = getattr(color, name)
        if callable(obj):
            assert "Examples" in obj.__doc__ and ">>>" in obj.__doc__, name


def test_nn_public_api_has_examples():
    import filterkit.nn as nn

    missing = []
    for name in nn.__all__:
        obj = getattr(nn, name)
        if callable(obj) and not isinstance(obj, type(nn.DATASETS)):
            doc = obj.__doc__ or ""
            if name in ("Layer", "Dataset", "History"):
                continue  # a base class and two result records
            if "Examples" not in doc or ">>>" not in doc:
                missing.append(name)
    assert not missing, missing


def test_dask_public_api_has_examples():
    import filterkit.dask as fkd

    missing = [name for name in fkd.__all__ if callable(getattr(fkd, name))
               and ">>>" not in (getattr(fkd, name).__doc__ or "")]
    assert not missing, missing


# --- the Markdown pages: README.md and docs/**/*.md ---------------------------
#
# Their code runs as written, and their relative links lead somewhere, so a
# page cannot drift from the package unnoticed.  Conventions for writers:
#
# - a ```python block is executed; the blocks of one page share a namespace
#   and run in order, like a notebook, in a scratch working directory;
# - a ```pycon block (``>>>`` prompts) runs as a doctest in that namespace, so
#   its printed results are checked too;
# - a ```{plot} block (matplotlib's plot directive, a picture drawn at build
#   time) runs as Python, its option lines (``:context:``, ``:caption:``...)
#   left out, with the Agg backend, in a namespace of its own as the directive
#   runs it (``:context:`` blocks share one), its figures closed afterwards;
# - the comment ``<!-- skip -->`` (or ``<!-- skip: why -->``) on the line
#   before a block leaves it out: for data that is not in the repository, or
#   runs too long for the tests.  MyST and GitHub ignore the comment.
#
# Other languages (bash, text) are not run.

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")),
         ROOT / "benchmarks" / "results" / "notes.md"]
PAGE_IDS = [str(p.relative_to(ROOT)) for p in PAGES]

_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([^\s`]*)")
_SKIP = re.compile(r"^\s*<!--\s*skip\b.*-->\s*$")


def _blocks(text):
    """(first line number, language, code, skipped) of every fenced block."""
    lines = text.splitlines()
    blocks, i = [], 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = m.group(1), m.group(2), m.group(3)
        j = i - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        skipped = j >= 0 and bool(_SKIP.match(lines[j]))
        body, k = [], i + 1
        while k < len(lines) and not (lines[k].strip().startswith(fence[0] * len(fence))
                                      and not lines[k].strip().strip(fence[0])):
            line = lines[k]
            body.append(line[len(indent):] if line.startswith(indent) else line.lstrip())
            k += 1
        blocks.append((i + 2, lang, "\n".join(body) + "\n", skipped))
        i = k + 1
    return blocks


def _prose(text):
    """The page without its fenced blocks and inline code: where links live."""
    out, fence = [], None
    for line in text.splitlines():
        m = _FENCE.match(line)
        if fence is None and m:
            fence = m.group(2)[0] * len(m.group(2))
            out.append("")
            continue
        if fence is not None:
            if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                fence = None
            out.append("")
            continue
        out.append(re.sub(r"(`+)(.+?)\1", "", line))
    return out


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_page_code_runs(page, tmp_path, monkeypatch):
    import filterkit

    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__docs__"}
    threads = filterkit.get_num_threads()
    ran = 0
    try:
        for line, lang, code, skipped in _blocks(page.read_text(encoding="utf-8")):
            if skipped or lang not in ("python", "pycon"):
                continue
            where = f"{page.relative_to(ROOT)}:{line}"
            if lang == "python":
                exec(compile(code, where, "exec"), namespace)
            else:
                test = doctest.DocTestParser().get_doctest(code, namespace, where, where, line)
                runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE
                                               | doctest.ELLIPSIS)
                runner.run(test, clear_globs=False)
                namespace.update(test.globs)  # the DocTest ran on a copy
                assert runner.failures == 0, f"{where}: {runner.failures} example(s) failed"
            ran += 1
    finally:
        filterkit.set_num_threads(threads)
    if ran == 0:
        pytest.skip("no runnable code on this page")


#: what the plot directive runs before each block (its default plot_pre_code)
_PLOT_PRE_CODE = "import numpy as np\nfrom matplotlib import pyplot as plt\n"
_PLOT_FENCE = re.compile(r"^\s*(?:`{3,}|~{3,})\s*\{plot\}(.*)$")


def _plot_blocks(page):
    """(first line number, options, code) of every ```{plot} block of a page
    that is not skipped.  The directive's option lines (``:name: value``)
    at the top of the block become blank lines, so line numbers still match
    the page; a block whose directive names a script (``{plot} path.py``)
    runs that script, as the directive does."""
    text = page.read_text(encoding="utf-8")
    lines = text.splitlines()
    found = []
    for line, lang, code, skipped in _blocks(text):
        if lang != "{plot}" or skipped:
            continue
        body, options = code.splitlines(), {}
        for k, row in enumerate(body):
            if not row.lstrip().startswith(":"):
                break
            name, _, value = row.strip()[1:].partition(":")
            options[name.strip()] = value.strip()
            body[k] = ""
        argument = _PLOT_FENCE.match(lines[line - 2]).group(1).split()
        if argument:  # a script: relative to the page, or to docs/ when it starts with /
            script = argument[0]
            path = ROOT / "docs" / script.lstrip("/") if script.startswith("/") else page.parent / script
            found.append((line, options, path.read_text(encoding="utf-8")))
        else:
            found.append((line, options, "\n".join(body) + "\n"))
    return found


PLOT_PAGES = [p for p in PAGES if _plot_blocks(p)]


@pytest.mark.parametrize("page", PLOT_PAGES, ids=[str(p.relative_to(ROOT)) for p in PLOT_PAGES])
def test_page_plots_run(page, tmp_path, monkeypatch):
    """Every ```{plot} block of a page runs and draws a figure (unless ``:nofigs:``).

    Sphinx runs these blocks when it builds the site, each in a namespace of
    its own (the page's ```python blocks are not run there), so they run here
    the same way: a fresh namespace per block with the directive's pre-code,
    one shared namespace for the blocks marked ``:context:``."""
    try:
        import matplotlib
    except ImportError:
        message = "the pictures of the guide need matplotlib (pip install '.[docs]')"
        if os.environ.get("FILTERKIT_REQUIRE_SITE") == "1":
            pytest.fail(message)
        pytest.skip(message)
    import filterkit

    matplotlib.use("Agg")  # no window, as when the site is built
    from matplotlib import pyplot as plt

    monkeypatch.chdir(tmp_path)
    threads = filterkit.get_num_threads()
    context = None
    try:
        for line, options, code in _plot_blocks(page):
            where = f"{page.relative_to(ROOT)}:{line}"
            if "context" in options:
                if context is None or options["context"] == "reset":
                    context = {"__name__": "__main__"}
                    exec(_PLOT_PRE_CODE, context)
                if options["context"] in ("close-figs", "reset"):
                    plt.close("all")
                namespace = context
            else:
                plt.close("all")
                namespace = {"__name__": "__main__"}
                exec(_PLOT_PRE_CODE, namespace)
            with matplotlib.rc_context():
                exec(compile(code, where, "exec"), namespace)
                if "nofigs" not in options:
                    assert plt.get_fignums(), f"{where}: the block draws no figure"
    finally:
        plt.close("all")
        filterkit.set_num_threads(threads)


def _slug(heading, seen):
    """GitHub's (and MyST's) anchor for a heading."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    slug = re.sub(r"[^\w\- ]", "", text).replace(" ", "-")
    n = seen.get(slug, 0)
    seen[slug] = n + 1
    return slug if n == 0 else f"{slug}-{n}"


def _anchors(page):
    seen = {}
    return {_slug(line.lstrip("#"), seen) for line in _prose(page.read_text(encoding="utf-8"))
            if re.match(r"#{1,6} ", line)}


_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFDEF = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)")


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_page_links_resolve(page):
    broken = []
    for number, line in enumerate(_prose(page.read_text(encoding="utf-8")), 1):
        targets = _LINK.findall(line) + _REFDEF.findall(line)
        for target in targets:
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if not dest.exists():
                broken.append(f"line {number}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
                broken.append(f"line {number}: {target} (no such heading)")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_page_builds_with_myst(page):
    """One H1 per page and no raw HTML but comments: what a Sphinx + MyST site needs."""
    prose = _prose(page.read_text(encoding="utf-8"))
    titles = [line for line in prose if re.match(r"# ", line)]
    assert len(titles) == 1, f"{page.relative_to(ROOT)}: {len(titles)} H1 headings"
    html = [line for line in prose if re.search(r"</?[A-Za-z][A-Za-z0-9-]*(\s[^<>]*)?/?>", line)]
    assert not html, f"{page.relative_to(ROOT)}: raw HTML: {html}"


def test_readme_setup_commands_are_what_ci_runs():
    """`.ci/run` runs the README's test command exactly; the README keeps both set-up lines."""
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    marker = next(i for i, line in enumerate(ci) if line.startswith("# --- the README's test command"))
    test_command = ci[marker + 1].strip()
    bash = [code for _, lang, code, _ in _blocks((ROOT / "README.md").read_text(encoding="utf-8"))
            if lang == "bash"]
    lines = {line.strip() for code in bash for line in code.splitlines()}
    assert test_command == 'pip install ".[test]" && pytest -q tests'
    assert test_command in lines
    assert 'pip install ".[samples]" && filterkit sobel sample:camera camera_sobel.png' in lines

"""Sphinx configuration of filterkit's documentation site.

Build it with ``python -m sphinx -W --keep-going -b html docs docs/_build/html``
after ``pip install -e ".[docs]"``; open ``docs/_build/html/index.html``.

The guide is the Markdown under ``docs/`` (MyST), the API reference is
generated from the numpydoc docstrings (``docs/reference/``), and the gallery
runs the scripts of ``docs/examples/`` at build time (sphinx-gallery).
"""

from __future__ import annotations

import inspect
import os
import re
import sys
from typing import Any, Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)  # _intersphinx

import filterkit  # noqa: E402  (the installed package: its docstrings are the reference)

from _intersphinx import write_inventories  # noqa: E402

project = "filterkit"
author = "the filterkit developers"
copyright = "2026, the filterkit developers"
version = release = filterkit.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "matplotlib.sphinxext.plot_directive",
    "sphinx-mathjax-offline",  # MathJax served by the site itself, not fetched from a CDN
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "examples", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip", "auto_examples/*.md5",
                    "auto_examples/*.codeobj.json", "sg_execution_times.rst"]
suppress_warnings = ["myst.header"]  # pages that start below H1: none, but included results do

# -- MyST: the guide pages are plain CommonMark + tables, links and anchors
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# -- the API reference: autosummary pages from the numpydoc docstrings
autosummary_generate = True
autodoc_typehints = "none"  # the numpydoc sections state the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks: set = set()

# -- intersphinx: the names we cite, also offline (the build machine may
#    have no network: a local inventory is used when the site is unreachable)
intersphinx_timeout = 5
_INV_DIR = os.path.join(HERE, "_build", "inventories")
intersphinx_mapping = {name: (url, (url + "objects.inv", local))
                       for name, (url, local) in write_inventories(_INV_DIR).items()}

# -- pictures in the guide: ```{plot} blocks run at build time (tests/test_docs.py
#    runs them too)
plot_include_source = True
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 100)]
plot_rcparams = {"figure.figsize": (8, 3), "image.cmap": "gray"}

# -- the gallery: every example runs at build time
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "matplotlib_animations": False,
    "reset_modules": ("matplotlib",),
    "abort_on_example_error": True,
    "image_scrapers": ("matplotlib",),
    "plot_gallery": "True",
}

# -- HTML: the PyData theme, every asset local (no fonts or scripts fetched)
html_theme = "pydata_sphinx_theme"
html_title = f"filterkit {release}"
html_static_path: List[str] = []
html_theme_options: Dict[str, Any] = {
    "github_url": "https://github.com/filterkit/filterkit",
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "header_links_before_dropdown": 5,
}

def _favicon(path: str) -> str:
    """The site's icon, drawn by filterkit: the gradient strength of a disk
    (browsers ask for one; without it every page logs a 404)."""
    import matplotlib.image
    import numpy as np

    y, x = np.mgrid[-16:16, -16:16] + 0.5
    disk = (np.hypot(x, y) < 11).astype(np.float32)
    strength = filterkit.gradient(disk)[0]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    matplotlib.image.imsave(path, strength, cmap="magma")
    return path


html_favicon = _favicon(os.path.join(HERE, "_build", "static", "favicon.png"))
# the theme's script reads the colour mode from here; left empty it logs a console error
html_context = {"default_mode": "auto"}
html_show_sourcelink = False
html_copy_source = False

# -- links that leave docs/ (README, benchmark results): to the site's own
#    copy of a results page when it has one, else to the file on GitHub

GITHUB_BLOB = "https://github.com/filterkit/filterkit/blob/main/"
_LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s#]+)(#[^)\s]*)?\)")


def _outside_links(app: Any, docname: str, source: List[str]) -> None:
    """Rewrite relative links that leave the documentation's folder: the
    Markdown pages keep links that work on GitHub, and the site gets links
    that work on the site."""
    if not app.env.doc2path(docname).suffix == ".md":
        return
    here = os.path.dirname(str(app.env.doc2path(docname)))

    def fix(m: "re.Match[str]") -> str:
        bang, text, target, anchor = m.group(1), m.group(2), m.group(3), m.group(4) or ""
        if "://" in target or target.startswith(("mailto:", "/")):
            return m.group(0)
        path = os.path.normpath(os.path.join(here, target))
        examples = os.path.join(HERE, "examples")
        if path == examples or path.startswith(examples + os.sep):
            # the gallery's sources: on the site, the pages sphinx-gallery makes of them
            stem = "index" if path == examples else os.path.splitext(os.path.basename(path))[0]
            to = os.path.relpath(os.path.join(HERE, "auto_examples", stem + ".rst"), here)
            return f"{bang}[{text}]({to.replace(os.sep, '/')})"
        if path.startswith(HERE + os.sep):
            return m.group(0)
        rel = os.path.relpath(path, ROOT).replace(os.sep, "/")
        page = _RESULT_PAGES.get(rel)
        if page is not None and not bang:
            to = os.path.relpath(os.path.join(HERE, page), here).replace(os.sep, "/")
            return f"[{text}]({to}{anchor})"
        if bang:  # a picture from outside docs/: the site serves the repository's file
            return m.group(0)
        if rel == "README.md":
            to = os.path.relpath(os.path.join(HERE, "getting-started.md"), here)
            return f"[{text}]({to.replace(os.sep, '/')})"
        return f"[{text}]({GITHUB_BLOB}{rel}{anchor})"

    source[0] = _LINK.sub(fix, source[0])


#: results files of the benchmarks that the site shows as pages of its own
_RESULT_PAGES = {
    f"benchmarks/results/{name}.md": f"results/{name}.md"
    for name in ("latest", "notes", "fft_grid", "photographs", "scale", "cnn")
}


def _constant_docs(app: Any, what: str, name: str, obj: Any, options: Any,
                   lines: List[str]) -> None:
    """A constant re-exported from the module that defines it (``filterkit.nn.MAX_DEPTH``
    is ``filterkit.nn._modelfile``'s) has no ``#:`` comment where autodoc looks, which
    then shows the docstring of ``int`` or ``tuple``: take the defining module's comment."""
    if what != "data" or not lines or not isinstance(type(obj).__doc__, str):
        return
    own = inspect.cleandoc(type(obj).__doc__).splitlines()
    if not own or lines[0].strip() != own[0].strip():
        return
    from sphinx.pycode import ModuleAnalyzer

    attr = name.rsplit(".", 1)[1]
    for module in sorted(m for m in sys.modules if m == "filterkit" or m.startswith("filterkit.")):
        try:
            docs = ModuleAnalyzer.for_module(module).find_attr_docs()
        except Exception:  # a compiled or source-less module
            continue
        if ("", attr) in docs:
            lines[:] = list(docs[("", attr)])
            return
    lines[:] = []


def _myst_insert_input(self: Any, input_lines: Any, source: Any = None) -> None:
    """matplotlib's plot directive ends by inserting reStructuredText (the
    figure, the source) into the input, which MyST's mock state machine
    cannot do; parse those lines as reStructuredText into the node that holds
    the directive, as MyST parses ``{eval-rst}``."""
    from docutils.utils import new_document
    from myst_parser.mocking import MockRSTParser

    document = new_document(self.document["source"], self.document.settings)
    document.reporter = self.reporter
    MockRSTParser().parse("\n".join(input_lines), document)
    self.node.extend(document.children)


def setup(app: Any) -> Dict[str, Any]:
    from myst_parser.mocking import MockStateMachine

    MockStateMachine.insert_input = _myst_insert_input  # ```{plot} in the Markdown pages
    app.connect("source-read", _outside_links)
    app.connect("autodoc-process-docstring", _constant_docs, priority=100)  # before numpydoc
    return {"parallel_read_safe": True}

"""Sphinx configuration for the tideflow documentation.

Pages are reStructuredText (``.rst``) or Markdown (``.md``, read by MyST). Build with
``nox -s docs``, which runs ``sphinx-build -W``: every warning is an error.
"""

from __future__ import annotations

import re
from pathlib import Path

_VERSION_FILE = Path(__file__).resolve().parent.parent / "src" / "tideflow" / "_version.py"
_match = re.search(r'^__version__ = "([^"]+)"$', _VERSION_FILE.read_text(), re.MULTILINE)
if _match is None:
    raise RuntimeError(f"No __version__ found in {_VERSION_FILE}")

project = "tideflow"
copyright = "the tideflow developers"
author = "the tideflow developers"
release = _match.group(1)
version = ".".join(release.split(".")[:2])

# No intersphinx: the build must not need the network.
extensions = ["myst_parser", "sphinx.ext.autodoc"]
# The API reference page documents members in the order the source declares them.
autodoc_member_order = "bysource"
# A builtin name in a signature (``type[...]``) would otherwise be reported as ambiguous,
# since both ``Metadata`` and ``Card`` have an attribute named ``type``.
suppress_warnings = ["ref.python"]
source_suffix = {
    ".rst": "restructuredtext",
    ".md": "markdown",
}
root_doc = "index"
exclude_patterns = ["_build", ".venv", "**/.venv", "Thumbs.db", ".DS_Store"]

# MyST: give headings up to level 3 anchors, so Markdown pages can link to "page.md#section".
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence", "deflist"]

html_theme = "alabaster"
html_title = f"tideflow {release}"

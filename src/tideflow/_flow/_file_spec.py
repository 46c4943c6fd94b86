"""Module specs for flow files imported by path, compiled from their source every time.

Python validates a cached ``.pyc`` by the source's modification time in whole seconds and
its size, so a flow file edited twice within a second without changing its size would run
the older code from the cache (a user fixing a typo and running again at once). A flow file
is a script: Python never caches a script run as ``python flow.py`` either, and compiling
one is quick. :func:`flow_file_spec` gives a spec whose loader always compiles the file
and writes no cache; modules the flow imports are cached as usual.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec
    from pathlib import Path
    from types import CodeType

__all__ = ("SourceOnlyLoader", "flow_file_spec")


class SourceOnlyLoader(importlib.machinery.SourceFileLoader):
    """A source file loader that neither reads nor writes bytecode caches."""

    def get_code(self, fullname: str) -> CodeType:
        """Compile the module's source file."""
        path = self.get_filename(fullname)
        return self.source_to_code(self.get_data(path), path)


def flow_file_spec(name: str, path: Path) -> ModuleSpec | None:
    """The spec of the flow file ``path`` as module ``name`` (``None`` if it is no file
    Python can import)."""
    loader = SourceOnlyLoader(name, str(path))
    return importlib.util.spec_from_file_location(name, path, loader=loader)

"""Every module tideflow imports is in the standard library or a declared dependency.

The test environment has more installed than a user's (trio, pytest, psutil...), so a
missing dependency would otherwise pass the suite and fail on a fresh machine.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

import tideflow

SOURCE = Path(tideflow.__file__).parent
PYPROJECT = Path(__file__).parent.parent / "pyproject.toml"
#: Imported only where they are needed (optional extras): the running backend (trio), s3
#: (obstore), the web UI (starlette, hypercorn, jinja2).
OPTIONAL = {"trio", "obstore", "starlette", "hypercorn", "jinja2"}


def _declared() -> set[str]:
    """The core dependencies, and those of the optional extras (imported only by the
    backend that needs them)."""
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    names = set()
    extras = [req for group in project["optional-dependencies"].values() for req in group]
    for requirement in [*project["dependencies"], *extras]:
        name = requirement.split(";")[0]
        for stop in "<>=!~[ ":
            name = name.split(stop)[0]
        names.add(name.strip().lower().replace("-", "_"))
    return names


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_every_import_is_declared() -> None:
    """No module of tideflow imports an undeclared third-party package."""
    allowed = _declared() | set(sys.stdlib_module_names) | {"tideflow"} | OPTIONAL
    missing = {
        f"{path.relative_to(SOURCE)}: {name}"
        for path in SOURCE.rglob("*.py")
        for name in _imports(path)
        if name not in allowed
    }
    assert sorted(missing) == []

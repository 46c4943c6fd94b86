"""Where the definition layer reaches the layers above it: two hooks the package installs.

The definition layer imports nothing above itself (docs/architecture.md lists the
layers). Two of its behaviours belong to upper layers all the same: ``MyFlow()`` at
``__main__`` runs the command line, and ``current.run`` / ``current.task`` are client
objects. ``tideflow/__init__.py``, the public face above every layer, installs both with
:func:`install` when ``tideflow`` is imported, which is before any flow class exists: a
flow file imports ``tideflow``, and so does the import of any of its submodules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from .._exceptions import TideflowInternalError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ("client_object", "command_line", "install")

#: ``flow_main(flow_class) -> exit code``, and ``(kind, pathspec, root) -> Run | Task``.
_installed: dict[str, Callable[..., Any]] = {}


def install(
    *,
    command_line: Callable[[type[Any]], int],
    client_object: Callable[[Literal["run", "task"], str, str | None], Any],
) -> None:
    """Install the entry points of the command line and of the client (once, at import)."""
    _installed.setdefault("command_line", command_line)
    _installed.setdefault("client_object", client_object)


def _hook(name: str) -> Callable[..., Any]:
    try:
        return _installed[name]
    except KeyError:
        raise TideflowInternalError(
            f"The {name} hook is not installed: tideflow/__init__.py installs it on import."
        ) from None


def command_line(flow: type[Any]) -> int:
    """Run the command line of ``flow`` (``python myflow.py ...``); return its exit code."""
    return _hook("command_line")(flow)  # type: ignore[no-any-return]


def client_object(kind: Literal["run", "task"], pathspec: str, root: str | None) -> Any:
    """The client :class:`~tideflow.Run` or :class:`~tideflow.Task` at ``pathspec``,
    read without the namespace check (what ``current.run`` and ``current.task`` give)."""
    return _hook("client_object")(kind, pathspec, root)

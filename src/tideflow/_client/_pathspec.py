"""Pathspecs: ``Flow/RunID/Step/TaskID/Artifact`` strings, split and checked."""

from __future__ import annotations

from typing import Final

from .._exceptions import InvalidPathspec

__all__ = ("KINDS", "SHAPES", "split_pathspec")

#: The kinds of client object, by the number of components of their pathspec.
KINDS: Final = ("Flow", "Run", "Step", "Task", "DataArtifact")
#: What the pathspec of each kind looks like.
SHAPES: Final = {
    "Flow": "FlowName",
    "Run": "FlowName/RunID",
    "Step": "FlowName/RunID/StepName",
    "Task": "FlowName/RunID/StepName/TaskID",
    "DataArtifact": "FlowName/RunID/StepName/TaskID/ArtifactName",
}


def split_pathspec(kind: str, pathspec: object) -> tuple[str, ...]:
    """Return the components of the pathspec of a ``kind`` object.

    :raises InvalidPathspec: if ``pathspec`` is not a string made of the right number of
        non-empty components separated by ``/``.
    """
    shape = SHAPES[kind]
    if pathspec is None:
        raise InvalidPathspec(
            f"{kind}() needs a pathspec: a {kind} pathspec looks like '{shape}'."
        )
    if not isinstance(pathspec, str):
        raise InvalidPathspec(
            f"{pathspec!r} is not a {kind} pathspec: a {kind} pathspec is a string that "
            f"looks like '{shape}'."
        )
    parts = tuple(pathspec.split("/"))
    if len(parts) != KINDS.index(kind) + 1 or not all(parts):
        raise InvalidPathspec(
            f"{pathspec!r} is not a {kind} pathspec: a {kind} pathspec looks like '{shape}'."
        )
    return parts

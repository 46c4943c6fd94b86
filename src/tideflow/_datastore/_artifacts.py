"""Artifact values to bytes and back.

Artifacts are user values, so they are the one thing tideflow pickles (protocol 5).
Everything else that crosses a boundary is a msgspec Struct.
"""

from __future__ import annotations

import pickle
from typing import TYPE_CHECKING, Final

from .._exceptions import ArtifactError

if TYPE_CHECKING:
    from .._stores._interfaces import BlobStore

__all__ = ("PICKLE_PROTOCOL", "dumps", "load", "loads")

PICKLE_PROTOCOL: Final = 5


def dumps(value: object, name: str) -> bytes:
    """Serialize the artifact ``name`` whose value is ``value``.

    :raises ArtifactError: if ``value`` cannot be pickled.
    """
    try:
        return pickle.dumps(value, protocol=PICKLE_PROTOCOL)
    except Exception as exc:
        raise ArtifactError(
            f"Artifact '{name}' cannot be pickled: {type(exc).__name__}: {exc}. Store a "
            "picklable value, or give the attribute a name starting with '_' so it is not "
            "stored."
        ) from exc


def loads(data: bytes, name: str | None = None) -> object:
    """Rebuild an artifact value from the bytes :func:`dumps` returned.

    :param name: the artifact's name, used in the error message when given.
    :raises ArtifactError: if the bytes cannot be unpickled, for example because the class
        of the value cannot be imported here.
    """
    try:
        return pickle.loads(data)
    except Exception as exc:
        what = f"Artifact '{name}'" if name is not None else "An artifact"
        raise ArtifactError(
            f"{what} cannot be unpickled: {type(exc).__name__}: {exc}. Make sure the "
            "modules that define its value's classes can be imported here."
        ) from exc


def load(blobs: BlobStore, sha: str, name: str) -> object:
    """Return the value of the artifact ``name``, stored under ``sha`` in ``blobs``.

    :raises ArtifactError: naming the artifact, if its blob is missing or damaged (the
        blob store's message names the file) or cannot be unpickled.
    """
    try:
        data = blobs.get(sha)
    except ArtifactError as exc:
        raise ArtifactError(f"Artifact '{name}' cannot be loaded: {exc}") from exc
    return loads(data, name)

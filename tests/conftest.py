"""Fixtures shared by the whole suite.

Async tests run once per anyio backend (asyncio and trio). Tests that touch the stores use
``tideflow_root`` so that every run they start lands in a fresh folder of their own.

``postgres_server`` is one PostgreSQL server for the whole session (see
``tests/postgres_server.py``); tests that need it are skipped when no PostgreSQL binaries
are installed. With ``TIDEFLOW_TEST_METADATA=postgres`` in the environment,
``tideflow_root`` also points ``TIDEFLOW_METADATA_URL`` at a fresh database of that server,
so a family of tests runs with PostgreSQL as the metadata store.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from postgres_server import PostgresServer, family_metadata_url, find_binaries, new_database

if TYPE_CHECKING:
    from collections.abc import Iterator

FLOWS_DIR = Path(__file__).parent / "flows"


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
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Path:
    """Point tideflow at an empty store under ``tmp_path`` and work from ``tmp_path``.

    Sets ``TIDEFLOW_ROOT`` and ``TIDEFLOW_USER`` (to ``tester``) and returns the root folder,
    which does not exist yet: the stores create it on their first write. With
    ``TIDEFLOW_TEST_METADATA=postgres``, ``TIDEFLOW_METADATA_URL`` names a fresh database.
    """
    root = tmp_path / ".tideflow"
    if url := family_metadata_url(request):
        monkeypatch.setenv("TIDEFLOW_METADATA_URL", url)
    monkeypatch.setenv("TIDEFLOW_ROOT", str(root))
    monkeypatch.setenv("TIDEFLOW_USER", "tester")
    monkeypatch.chdir(tmp_path)
    return root


@pytest.fixture
def flows_dir() -> Path:
    """The folder of small example flows used by the tests."""
    return FLOWS_DIR

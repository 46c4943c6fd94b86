"""A throwaway PostgreSQL server for the tests, listening on a Unix socket only.

:func:`find_binaries` looks for ``initdb`` and ``pg_ctl`` (``TIDEFLOW_TEST_PG_BIN``, the
``PATH``, then ``/usr/lib/postgresql/*/bin`` as Debian's ``postgresql`` package installs
them). :class:`PostgresServer` runs ``initdb`` into a fresh folder, starts the server with
fsync off and no TCP listener, and stops it again. PostgreSQL refuses to run as root, so
under root the server runs as the ``postgres`` system user (which Debian's package
creates), and its folder is handed to that user.

The superuser ``tideflow`` connects without a password; every other role must give its
password (``scram-sha-256``), so the tests can meet a wrong password. The benchmarks use this module too (without
pytest).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pytest

__all__ = (
    "SUPERUSER",
    "PostgresServer",
    "family_metadata_url",
    "find_binaries",
    "new_database",
)

SUPERUSER = "tideflow"
_NUMBERS = itertools.count(1)
_HBA = f"local all {SUPERUSER} trust\nlocal all all scram-sha-256\n"


def find_binaries() -> Path | None:
    """Return the folder holding ``initdb``, ``pg_ctl`` and ``psql``, or ``None`` if there is none."""
    candidates = []
    if folder := os.environ.get("TIDEFLOW_TEST_PG_BIN"):
        candidates.append(Path(folder))
    if found := shutil.which("pg_ctl"):
        candidates.append(Path(found).resolve().parent)
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True
    )
    candidates += [Path(p) for p in versions]
    for folder in candidates:
        if all((folder / tool).is_file() for tool in ("initdb", "pg_ctl", "psql")):
            return folder
    return None


class PostgresServer:
    """A PostgreSQL server in a temporary folder; :meth:`start` it, then :meth:`stop` it."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.base = Path(tempfile.mkdtemp(prefix="tideflow-pg-"))
        self.data = self.base / "data"
        #: The folder of the server's socket: the ``host`` of every URL.
        self.socket_dir = self.base / "socket"
        self._run_as: dict[str, Any] = {}
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError(
                    "PostgreSQL does not run as root and there is no 'postgres' user: "
                    "apt-get install -y postgresql creates one"
                ) from None
            self._run_as = {"user": account.pw_uid, "group": account.pw_gid}

    def _pg(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin_dir / tool), *args],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=self.base,
            **self._run_as,
        )

    def start(self) -> None:
        """Create the cluster and start the server; wait until it accepts connections."""
        self.socket_dir.mkdir()
        if self._run_as:
            os.chmod(self.base, 0o755)
            for path in (self.base, self.socket_dir):
                os.chown(path, self._run_as["user"], self._run_as["group"])
        self._pg(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        )
        (self.data / "pg_hba.conf").write_text(_HBA)
        settings = {
            "listen_addresses": "''",
            "unix_socket_directories": f"'{self.socket_dir}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "600",
            "shared_buffers": "64MB",
        }
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())
        self._pg(
            "pg_ctl", "-D", str(self.data), "-l", str(self.base / "server.log"), "-w", "start"
        )

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its folder."""
        try:
            if (self.data / "postmaster.pid").exists():
                self._pg("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def url(self, database: str = "postgres", user: str = SUPERUSER, password: str = "") -> str:
        """A ``postgresql://`` URL of ``database`` on this server's socket."""
        secret = f":{password}" if password else ""
        return f"postgresql://{user}{secret}@/{database}?host={self.socket_dir}"

    def sql(self, statement: str, database: str = "postgres") -> str:
        """Run one statement as the superuser with ``psql``; return what it printed."""
        return self._pg(
            "psql",
            "-X",
            "-q",
            "-t",
            "-A",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            str(self.socket_dir),
            "-U",
            SUPERUSER,
            "-d",
            database,
            "-c",
            statement,
        ).stdout.strip()

    def create_database(self, name: str, owner: str = SUPERUSER) -> str:
        """Create an empty database and return its URL (as the superuser)."""
        self.sql(f'CREATE DATABASE "{name}" OWNER "{owner}"')
        return self.url(name)


def new_database(server: PostgresServer) -> str:
    """Create a fresh, empty database on ``server`` and return its URL."""
    return server.create_database(f"test_{os.getpid()}_{next(_NUMBERS)}")


def family_metadata_url(request: pytest.FixtureRequest) -> str | None:
    """The metadata URL tests of any scope run against: ``None`` (SQLite in the store
    root) unless ``TIDEFLOW_TEST_METADATA=postgres``, then a schema of its own in a database
    of the test module (created on first use).
    """
    import pytest

    wanted = os.environ.get("TIDEFLOW_TEST_METADATA", "sqlite")
    if wanted == "sqlite":
        return None
    if wanted != "postgres":
        raise pytest.UsageError(f"TIDEFLOW_TEST_METADATA={wanted!r}: use sqlite or postgres")
    server: PostgresServer = request.getfixturevalue("postgres_server")
    if request.scope == "function":
        database: str = request.getfixturevalue("postgres_url")
    else:
        database = new_database(server)
    return f"{database}&schema=t{next(_NUMBERS)}"

"""Code packages: a flow's directory, packed once per run, stored in the datastore by hash.

A remote worker has the same tideflow but not the user's files. The supervisor packs the
flow file's directory into a deterministic ``.tar.gz`` (sorted entries, no times or
owners, so the same files give the same bytes and the same key) and stores it as a blob;
a worker fetches it once, unpacks it into a cache folder named after its key, and runs
the task from there.
"""

from __future__ import annotations

import gzip
import io
import os
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from .._exceptions import TideflowError

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from .._stores._interfaces import BlobStore

__all__ = (
    "MAX_PACKAGE_BYTES",
    "CodePackage",
    "cache_dir",
    "main",
    "pack_directory",
    "unpack_cached",
)

#: The largest code package, in bytes (compressed).
MAX_PACKAGE_BYTES = 64 << 20
#: Folders never packed: stores, version control, environments, caches.
SKIPPED_DIRS = frozenset(
    {
        ".tideflow",
        ".git",
        ".hg",
        ".venv",
        "venv",
        "__pycache__",
        "node_modules",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".nox",
        ".tox",
    }
)


class CodePackage(msgspec.Struct, frozen=True, kw_only=True):
    """A packed directory: its blob key, and the path it was packed from."""

    sha: str
    #: The absolute path of the packed folder on the supervisor's machine.
    source_dir: str


def _files(top: Path) -> Iterator[Path]:
    for folder, dirs, files in os.walk(top):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        for name in sorted(files):
            if not name.endswith((".pyc", ".pyo")):
                yield Path(folder) / name


def pack_directory(folder: Path, blobs: BlobStore) -> CodePackage:
    """Pack ``folder`` and store it in ``blobs``; return the package.

    :raises TideflowError: if the package would be larger than :data:`MAX_PACKAGE_BYTES`.
    """
    folder = folder.resolve()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in _files(folder):
            if not path.is_file():
                continue
            info = tarfile.TarInfo(path.relative_to(folder).as_posix())
            info.size = path.stat().st_size
            info.mode = 0o755 if os.access(path, os.X_OK) else 0o644
            with path.open("rb") as handle:
                tar.addfile(info, handle)
            if raw.tell() > 4 * MAX_PACKAGE_BYTES:
                break
    data = gzip.compress(raw.getvalue(), compresslevel=6, mtime=0)
    if len(data) > MAX_PACKAGE_BYTES:
        raise TideflowError(
            f"The flow's folder {folder} packs to more than {MAX_PACKAGE_BYTES >> 20} MB, "
            "too much to ship to the Dask workers: move the flow file to a folder that "
            "holds only its code (data belongs in artifacts or IncludeFile)."
        )
    return CodePackage(sha=blobs.put(data), source_dir=str(folder))


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where a worker keeps unpacked code packages (``TIDEFLOW_CODE_CACHE``, else a
    folder of the temporary directory)."""
    configured = (os.environ if env is None else env).get("TIDEFLOW_CODE_CACHE")
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / f"tideflow-code-{os.getuid()}"


def unpack_cached(package: CodePackage, blobs: BlobStore) -> Path:
    """The folder holding ``package`` on this machine, fetched and unpacked on first use.

    Unpacking goes to a temporary folder renamed into place, so concurrent tasks on one
    worker never see a half-written package.
    """
    cache = cache_dir()
    target = cache / package.sha
    if target.is_dir():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    data = gzip.decompress(blobs.get(package.sha))
    staging = Path(tempfile.mkdtemp(prefix=f".{package.sha[:12]}-", dir=cache))
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
        tar.extractall(staging, filter="data")
    try:
        staging.rename(target)
    except OSError:  # another task unpacked it first
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
    return target


def main(argv: list[str]) -> int:
    """``python -m tideflow._worker._codepack SHA DATASTORE_URL ROOT``: unpack a package.

    Run with the task's environment (its store credentials), so the worker process
    itself needs none; prints the package's folder.
    """
    from .._stores._bundle import open_datastore

    sha, url, root = argv
    blobs, _ = open_datastore(url or None, root=Path(root))
    sys.stdout.write(str(unpack_cached(CodePackage(sha=sha, source_dir=""), blobs)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

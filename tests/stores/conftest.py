"""Fixtures of the conformance suite: one store of each registered backend per test.

See ``backends.py`` for how a backend is registered.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from backends import DATASTORE_BACKENDS, METADATA_BACKENDS, DatastoreBackend, Target

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tideflow._stores._interfaces import BlobStore, LogStore, MetadataStore


@pytest.fixture
def store_root(tmp_path: Path) -> Path:
    """The local store folder the stores under test are given (not created)."""
    return tmp_path / ".tideflow"


@pytest.fixture(params=sorted(METADATA_BACKENDS))
def metadata_target(
    request: pytest.FixtureRequest, tmp_path: Path, store_root: Path
) -> Iterator[Target]:
    """A new, empty metadata store of each registered backend."""
    backend = METADATA_BACKENDS[request.param]
    gap = backend.gaps.get(request.node.originalname)
    if gap is not None:
        request.applymarker(pytest.mark.xfail(reason=gap, strict=True))
    with backend.url(request, tmp_path) as url:
        yield Target(url, str(store_root))


@pytest.fixture
def metadata(metadata_target: Target) -> Iterator[MetadataStore]:
    """The metadata store under test, opened in this process."""
    store = metadata_target.metadata()
    try:
        yield store
    finally:
        store.close()


@pytest.fixture(params=sorted(DATASTORE_BACKENDS))
def datastore_backend(request: pytest.FixtureRequest) -> DatastoreBackend:
    """The registered datastore backend under test."""
    return DATASTORE_BACKENDS[request.param]


@pytest.fixture
def datastore_target(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    store_root: Path,
    datastore_backend: DatastoreBackend,
) -> Iterator[Target]:
    """A new, empty blob and log store of each registered backend."""
    with datastore_backend.url(request, tmp_path) as url:
        yield Target(url, str(store_root))


@pytest.fixture
def blobs(datastore_target: Target) -> Iterator[BlobStore]:
    """The blob store under test."""
    blob_store, log_store = datastore_target.datastore()
    try:
        yield blob_store
    finally:
        log_store.close()


@pytest.fixture
def logs(datastore_target: Target) -> Iterator[LogStore]:
    """The log store under test."""
    _, log_store = datastore_target.datastore()
    try:
        yield log_store
    finally:
        log_store.close()

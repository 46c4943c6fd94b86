"""Building the stores from configuration: URL schemes, defaults and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tideflow._config import Config
from tideflow._datastore._cas import LocalBlobStore
from tideflow._exceptions import StoreError
from tideflow._metadata import SQLiteMetadataStore
from tideflow._stores._bundle import (
    check_config_urls,
    check_url,
    open_datastore,
    open_metadata,
    open_stores,
)

UNKNOWN_METADATA = (
    r"^TIDEFLOW_METADATA_URL 'mysql://db/x' has an unknown scheme mysql://: use one of "
    r"sqlite://, postgresql://, postgres://\.$"
)


def test_defaults_are_the_embedded_stores_in_the_root(tmp_path: Path) -> None:
    with open_stores(Config(root=str(tmp_path))) as stores:
        assert stores.root == tmp_path
        assert isinstance(stores.metadata, SQLiteMetadataStore)
        assert stores.metadata.path == tmp_path / "metadata.db"
        assert isinstance(stores.blobs, LocalBlobStore)
        assert stores.blobs.root == tmp_path
        assert repr(stores).startswith("<Stores metadata='sqlite:///")


def test_urls_choose_where_each_store_is(tmp_path: Path) -> None:
    database = tmp_path / "elsewhere" / "runs.db"
    files = tmp_path / "files"
    config = Config(
        root=str(tmp_path / "root"),
        metadata_url=f"sqlite://{database}",
        datastore_url=files.as_uri(),
    )
    with open_stores(config) as stores:
        stores.metadata.create_run("F", user="u", system_tags=())
        sha = stores.blobs.put(b"x")
        assert stores.metadata.url == f"sqlite://{database}"
        assert stores.blobs.url == files.as_uri()
    assert database.is_file()
    assert (files / "blobs" / sha[:2] / sha[2:]).is_file()
    assert not (tmp_path / "root").exists()


def test_unknown_schemes_list_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=UNKNOWN_METADATA):
        open_metadata("mysql://db/x", root=tmp_path)
    with pytest.raises(
        StoreError,
        match=r"^TIDEFLOW_DATASTORE_URL 'gs://b' has an unknown scheme gs://: use one of "
        r"file://, s3://\.$",
    ):
        open_datastore("gs://b", root=tmp_path)
    with pytest.raises(StoreError, match=r"has an unknown scheme \(none\): use one of sqlite"):
        check_url("metadata", "just/a/path")
    with pytest.raises(StoreError, match=r"^--metadata-url 'x:y' has an unknown scheme x://"):
        check_url("metadata", "x:y", "--metadata-url")
    with pytest.raises(StoreError, match=UNKNOWN_METADATA):
        check_config_urls(Config(metadata_url="mysql://db/x"))
    check_url("metadata", None)
    check_config_urls(Config(metadata_url="SQLite:///x.db", datastore_url="file:///x"))


def test_urls_that_name_no_place(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"^TIDEFLOW_METADATA_URL 'sqlite:' names no database"):
        open_metadata("sqlite:", root=tmp_path)
    with pytest.raises(StoreError, match=r"^TIDEFLOW_DATASTORE_URL 'file://host/x' must name"):
        open_datastore("file://host/x", root=tmp_path)

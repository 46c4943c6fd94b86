"""The S3 datastore's URL: bucket, prefix, options, and the AWS settings it falls back on."""

from __future__ import annotations

import pytest

from tideflow._datastore._s3client import parse_s3_url
from tideflow._exceptions import StoreError


def test_url_options_and_their_errors() -> None:
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:1/", "AWS_REGION": "eu-west-3"}
    location = parse_s3_url("s3://bkt/a/b/?cache_size=500MB&max_transfers=3", env)
    assert (location.bucket, location.prefix, location.endpoint) == (
        "bkt",
        "a/b",
        "http://127.0.0.1:1",
    )
    assert (location.region, location.cache_size, location.max_transfers) == (
        "eu-west-3",
        500 << 20,
        3,
    )
    assert parse_s3_url("s3://bkt?endpoint_url=http://h:2", env).endpoint == "http://h:2"
    with pytest.raises(StoreError, match=r"^TIDEFLOW_DATASTORE_URL 's3:///p' names no bucket"):
        parse_s3_url("s3:///p", env)
    with pytest.raises(StoreError, match=r"unknown option\(s\) colour: use endpoint_url"):
        parse_s3_url("s3://b/p?colour=red", env)
    with pytest.raises(StoreError, match=r"cache_size='lots' is not a size"):
        parse_s3_url("s3://b/p?cache_size=lots", env)
    with pytest.raises(StoreError, match=r"timeout='-1' must be a positive number"):
        parse_s3_url("s3://b/p?timeout=-1", env)


def test_the_region_defaults_and_aws_s3_is_named_in_messages() -> None:
    location = parse_s3_url("s3://bkt", {})
    assert (location.region, location.endpoint, location.endpoint_text) == (
        "us-east-1",
        None,
        "AWS S3",
    )
    assert location.url == "s3://bkt"
    assert location.where("blobs/ab/cd") == "s3://bkt/blobs/ab/cd"

"""Where an S3 datastore is, how to reach it, and what its failures mean to a user.

The location comes from the URL ``s3://bucket/prefix`` and the standard AWS settings:
``AWS_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL_S3``), ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_REGION`` (or
``AWS_DEFAULT_REGION``), read when the store is opened, never at import. Query parameters
of the URL override them for one store: ``endpoint_url``, ``region``, ``cache_size`` (the
read cache's bound: ``0``, ``500MB``, ``4GB``), ``timeout`` (seconds per request) and
``max_transfers`` (transfers in flight at once).

The driver is obstore's blocking API: the stores are called from worker threads, so it
works under asyncio and trio alike. Every request is bounded by a timeout and a few
retries, and every failure becomes one line naming the bucket and key (:func:`failure`).
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from typing import TYPE_CHECKING, Final, NamedTuple
from urllib.parse import parse_qsl, urlsplit

from obstore.exceptions import PermissionDeniedError, UnauthenticatedError
from obstore.store import S3Store

from .._exceptions import StoreError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ("S3Location", "failure", "make_store", "parse_s3_url")

_QUERY_KEYS: Final = ("endpoint_url", "region", "cache_size", "timeout", "max_transfers")
_SIZE_RE: Final = re.compile(r"(?i)\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)\s*")
_UNITS: Final = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
#: Default bound of the local read cache.
DEFAULT_CACHE_SIZE: Final = 2 << 30
DEFAULT_TIMEOUT: Final = 60.0
DEFAULT_MAX_TRANSFERS: Final = 8


class S3Location(NamedTuple):
    """Everything needed to open one S3 datastore."""

    bucket: str
    prefix: str
    endpoint: str | None
    region: str
    cache_size: int
    timeout: float
    max_transfers: int

    @property
    def url(self) -> str:
        """``s3://bucket/prefix`` (without the query)."""
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def where(self, path: str) -> str:
        """The full ``s3://bucket/key`` of a path below the prefix."""
        key = f"{self.prefix}/{path}" if self.prefix else path
        return f"s3://{self.bucket}/{key}"

    @property
    def endpoint_text(self) -> str:
        """The endpoint, for messages."""
        return self.endpoint or "AWS S3"


def parse_s3_url(url: str, env: Mapping[str, str] | None = None) -> S3Location:
    """Read ``s3://bucket/prefix?option=value`` and the AWS settings of ``env``.

    :raises StoreError: for a URL without a bucket, or an unknown or malformed option.
    """
    env = os.environ if env is None else env
    parts = urlsplit(url)
    bucket = parts.netloc
    if not bucket or "@" in bucket:
        raise StoreError(
            f"TIDEFLOW_DATASTORE_URL {url!r} names no bucket: write s3://bucket/prefix"
        )
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(query) - set(_QUERY_KEYS))
    if unknown:
        raise StoreError(
            f"TIDEFLOW_DATASTORE_URL {url!r} has unknown option(s) {', '.join(unknown)}: "
            f"use {', '.join(_QUERY_KEYS)}"
        )
    endpoint = (
        query.get("endpoint_url")
        or env.get("AWS_ENDPOINT_URL_S3")
        or env.get("AWS_ENDPOINT_URL")
        or None
    )
    region = (
        query.get("region")
        or env.get("AWS_REGION")
        or env.get("AWS_DEFAULT_REGION")
        or "us-east-1"
    )
    return S3Location(
        bucket=bucket,
        prefix=parts.path.strip("/"),
        endpoint=endpoint.rstrip("/") if endpoint else None,
        region=region,
        cache_size=_size(url, query.get("cache_size"), DEFAULT_CACHE_SIZE),
        timeout=_number(url, "timeout", query.get("timeout"), DEFAULT_TIMEOUT),
        max_transfers=int(
            _number(url, "max_transfers", query.get("max_transfers"), DEFAULT_MAX_TRANSFERS)
        ),
    )


def _size(url: str, text: str | None, default: int) -> int:
    if text is None:
        return default
    match = _SIZE_RE.fullmatch(text)
    if match is None:
        raise StoreError(
            f"TIDEFLOW_DATASTORE_URL {url!r}: cache_size={text!r} is not a size; write "
            "cache_size=0, cache_size=500MB or cache_size=4GB"
        )
    return int(float(match[1]) * _UNITS[match[2][:1].lower()])


def _number(url: str, name: str, text: str | None, default: float) -> float:
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise StoreError(
            f"TIDEFLOW_DATASTORE_URL {url!r}: {name}={text!r} must be a positive number"
        )
    return value


def make_store(location: S3Location) -> S3Store:
    """The obstore client of a location: bounded timeouts, few retries, http on request."""
    config: dict[str, str] = {"region": location.region}
    if location.endpoint:
        config["endpoint"] = location.endpoint
    timeout = timedelta(seconds=location.timeout)
    return S3Store(
        location.bucket,
        prefix=location.prefix or None,
        config=config,  # type: ignore[arg-type]
        client_options={
            "allow_http": bool(location.endpoint and location.endpoint.startswith("http://")),
            "timeout": timeout,
            "connect_timeout": timedelta(seconds=min(5.0, location.timeout)),
            "pool_idle_timeout": timedelta(seconds=30),
        },
        retry_config={
            "max_retries": 3,
            "retry_timeout": timedelta(seconds=min(15.0, location.timeout)),
            "backoff": {
                "init_backoff": timedelta(milliseconds=100),
                "max_backoff": timedelta(seconds=2),
                "base": 2,
            },
        },
    )


def failure(location: S3Location, exc: BaseException, action: str, path: str) -> StoreError:
    """One line saying why ``action`` (``read``, ``write``, ...) of ``path`` failed."""
    where = location.where(path)
    text = str(exc)
    if "NoSuchBucket" in text:
        return StoreError(
            f"The bucket '{location.bucket}' does not exist at {location.endpoint_text} "
            f"(cannot {action} {where}): create it, or fix TIDEFLOW_DATASTORE_URL."
        )
    if isinstance(exc, PermissionDeniedError | UnauthenticatedError) or any(
        code in text for code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch")
    ):
        return StoreError(
            f"Access denied to {where} at {location.endpoint_text} (cannot {action} it): check "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and what they may do in the bucket."
        )
    if any(
        sign in text
        for sign in ("error sending request", "onnection refused", "TimedOut", "dns error")
    ):
        reason = "it did not answer in time" if "TimedOut" in text else "no connection"
        return StoreError(
            f"Cannot reach the S3 endpoint {location.endpoint_text} to {action} {where} "
            f"({reason}): is the server running? Check AWS_ENDPOINT_URL."
        )
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return StoreError(f"Cannot {action} {where} at {location.endpoint_text}: {first[:300]}")

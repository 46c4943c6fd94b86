"""A local S3 server for the object-storage benchmarks: the tests' SeaweedFS launcher."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from s3server import S3Server

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ("s3_server",)


@contextmanager
def s3_server(folder: Path, bucket: str = "bench") -> Iterator[S3Server]:
    """Start SeaweedFS on loopback with ``bucket``, point the AWS variables at it."""
    server = S3Server(folder / "s3server")
    server.start()
    saved = {name: os.environ.get(name) for name in server.env()}
    try:
        server.create_bucket(bucket)
        os.environ.update(server.env())
        yield server
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        server.stop()

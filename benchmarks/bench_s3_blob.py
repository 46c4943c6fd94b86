"""Workload: storing and loading one large artifact in S3 (SeaweedFS on loopback).

The blob store is called as a task does (``put`` of the pickled bytes, ``get`` of them),
with the read cache off so every load downloads. Rows: MB/s each way, and the peak
resident memory beyond the artifact itself during each (sampled every 5 ms). The size
defaults to 256 MB so a run stays short; the target is for ``--size-mb 1024``.
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Self

import psutil
from _common import Row, report, scratch
from _s3 import s3_server

from tideflow._stores._bundle import open_datastore

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from tideflow._stores._interfaces import BlobStore


class _Peak:
    """Samples this process's resident memory in a thread; the peak above a baseline."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self._stop = threading.Event()
        self.baseline = self._process.memory_info().rss
        self.peak = self.baseline
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)


def _measure(action: Callable[[], object]) -> tuple[float, int, object]:
    gc.collect()
    with _Peak() as peak:
        started = time.perf_counter()
        result = action()
        elapsed = time.perf_counter() - started
    return elapsed, peak.peak - peak.baseline, result


def _store(blobs: BlobStore, data: bytes, size_mb: int, rows: dict[str, Row]) -> str:
    elapsed, extra, sha = _measure(functools.partial(blobs.put, data))
    rows["put"].add("any", size_mb / elapsed)
    rows["put_mem"].add("any", extra / 2**20)
    return str(sha)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--size-mb", type=int, default=256)
    parser.add_argument("--executor", action="append", help="ignored (no tasks run)")
    parser.add_argument("--backend", default="asyncio", help="ignored (no event loop)")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args(argv)
    size = options.size_mb << 20
    workload = f"storing and loading one {options.size_mb} MB artifact in S3"
    rows = {
        "put": Row(workload, "store", "MB/s", target=200, better="higher"),
        "get": Row(workload, "load", "MB/s", target=200, better="higher"),
        "put_mem": Row(workload, "peak extra memory, store", "MB", target=300),
        "get_mem": Row(workload, "peak extra memory, load", "MB", target=300),
    }
    with scratch() as folder, s3_server(folder):
        for index in range(options.repeat):
            blobs, logs = open_datastore(
                f"s3://bench/blob{index}?cache_size=0", root=Path(folder, ".tideflow")
            )
            logs.close()
            sha = _store(blobs, os.urandom(size), options.size_mb, rows)
            elapsed, extra, loaded = _measure(functools.partial(blobs.get, sha))
            rows["get"].add("any", options.size_mb / elapsed)
            # The loaded bytes are the artifact itself, not overhead.
            rows["get_mem"].add("any", (extra - len(loaded)) / 2**20)  # type: ignore[arg-type]
            del loaded
    report(list(rows.values()), as_json=options.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

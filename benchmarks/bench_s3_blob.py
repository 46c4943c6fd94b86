"""Workload: storing and loading one large artifact in S3 (SeaweedFS on loopback).

The blob store is called as a task does (``put`` of the pickled bytes, ``get`` of them),
with the read cache off so every load downloads. Rows: MB/s each way, and the peak
resident memory beyond the artifact itself during each (sampled every 5 ms). The size
defaults to 256 MB so a run stays short; the target is for ``--size-mb 1024``.

Each repetition also measures the server's own ceiling right next to tideflow's transfers:
a plain obstore upload of the same bytes (16 MiB parts, 8 in flight) and a plain download
(8 parallel ranged GET requests of 16 MiB, bytes dropped, no digest), with no hashing, no
header, no file. The ratio rows are tideflow's rate as a percentage of that ceiling, which
stays meaningful on a loaded machine where the absolute rates do not.
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Self

import obstore
import psutil
from _common import Row, report, scratch
from _s3 import s3_server

from tideflow._datastore._s3client import make_store, parse_s3_url
from tideflow._stores._bundle import open_datastore

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from obstore.store import S3Store


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


_PART = 16 << 20


def _plain_put(store: S3Store, key: str, data: bytes) -> None:
    view = memoryview(data)
    parts = (view[start : start + _PART] for start in range(0, len(view), _PART))
    obstore.put(store, key, parts, chunk_size=_PART, max_concurrency=8)


def _plain_get(store: S3Store, key: str, size: int) -> None:
    def part(start: int) -> int:
        return len(obstore.get_range(store, key, start=start, end=min(start + _PART, size)))

    with ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(part, range(0, size, _PART))) == size


def _repetition(
    index: int, folder: Path, size_mb: int, rows: dict[str, Row], plain: S3Store
) -> None:
    size = size_mb << 20
    data = os.urandom(size)
    blobs, logs = open_datastore(
        f"s3://bench/blob{index}?cache_size=0", root=Path(folder, ".tideflow")
    )
    logs.close()
    ceiling_put = _measure(functools.partial(_plain_put, plain, f"plain{index}", data))[0]
    elapsed, extra, sha = _measure(functools.partial(blobs.put, data))
    rows["put"].add("any", size_mb / elapsed)
    rows["put_mem"].add("any", extra / 2**20)
    rows["put_ceiling"].add("any", size_mb / ceiling_put)
    rows["put_ratio"].add("any", 100 * ceiling_put / elapsed)
    del data
    elapsed, extra, loaded = _measure(functools.partial(blobs.get, str(sha)))
    # The loaded bytes are the artifact itself, not overhead.
    rows["get_mem"].add("any", (extra - len(loaded)) / 2**20)  # type: ignore[arg-type]
    del loaded
    ceiling_get = _measure(functools.partial(_plain_get, plain, f"plain{index}", size))[0]
    rows["get"].add("any", size_mb / elapsed)
    rows["get_ceiling"].add("any", size_mb / ceiling_get)
    rows["get_ratio"].add("any", 100 * ceiling_get / elapsed)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--size-mb", type=int, default=256)
    parser.add_argument("--executor", action="append", help="ignored (no tasks run)")
    parser.add_argument("--backend", default="asyncio", help="ignored (no event loop)")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args(argv)
    workload = f"storing and loading one {options.size_mb} MB artifact in S3"
    rows = {
        "put": Row(workload, "store", "MB/s", target=200, better="higher"),
        "get": Row(workload, "load", "MB/s", target=200, better="higher"),
        "put_mem": Row(workload, "peak extra memory, store", "MB", target=300),
        "get_mem": Row(workload, "peak extra memory, load", "MB", target=300),
        "put_ceiling": Row(workload, "server ceiling, plain obstore upload", "MB/s"),
        "get_ceiling": Row(workload, "server ceiling, plain obstore download", "MB/s"),
        "put_ratio": Row(workload, "store / ceiling", "%", better="higher"),
        "get_ratio": Row(workload, "load / ceiling", "%", better="higher"),
    }
    with scratch() as folder, s3_server(folder):
        plain = make_store(parse_s3_url("s3://bench/plain"))
        for index in range(options.repeat):
            _repetition(index, folder, options.size_mb, rows, plain)
    report(list(rows.values()), as_json=options.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

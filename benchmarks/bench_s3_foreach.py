"""Workload: a foreach over 1,000 items with a join, artifacts and logs in S3 vs local.

Each repetition runs the flow once with the local store and once with
``TIDEFLOW_DATASTORE_URL=s3://bench/...`` against SeaweedFS on loopback (a fresh prefix
and a fresh local root, so no cache helps), in one event loop with the fork host warm.
Rows: wall time of each, and S3 throughput as a percentage of local.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import TYPE_CHECKING

import anyio
from _common import Row, report, scratch
from _s3 import s3_server

from tideflow import Runner

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path


async def _once(folder: Path, executor: str, items: int, name: str, url: str | None) -> float:
    env = {"TIDEFLOW_DATASTORE_URL": url} if url else {}
    runner = Runner(
        str(folder / "foreach.py"),
        show_output=False,
        executor=executor,
        root=str(folder / name / ".tideflow"),
        env=env,
    )
    started = time.perf_counter()
    running = await runner.async_run(n=items, max_num_splits=max(items, 100))
    await running.wait()
    elapsed = time.perf_counter() - started
    if running.status != "successful":
        raise RuntimeError(running.stderr)
    return elapsed


async def _measure(folder: Path, options: argparse.Namespace, rows: dict[str, Row]) -> None:
    for executor in options.executors:
        await _once(folder, executor, 10, f"warm-{executor}", None)  # a warm fork host
        for index in range(options.repeat):
            local = await _once(folder, executor, options.items, f"l{executor}{index}", None)
            url = f"s3://bench/{executor}{index}"
            remote = await _once(folder, executor, options.items, f"s{executor}{index}", url)
            rows["local"].add(executor, local)
            rows["s3"].add(executor, remote)
            rows["ratio"].add(executor, 100 * local / remote)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--executor", action="append", choices=("spawn", "fork"))
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args(argv)
    options.executors = tuple(options.executor or ("fork",))
    workload = f"foreach over {options.items} items with a join, artifacts in S3"
    rows = {
        "local": Row(workload, "local store", "s"),
        "s3": Row(workload, "S3 (SeaweedFS on loopback)", "s"),
        "ratio": Row(workload, "S3 throughput / local", "%", target=40, better="higher"),
    }
    with scratch() as folder, s3_server(folder):
        os.environ.setdefault("TIDEFLOW_USER", "bench")
        anyio.run(_measure, folder, options, rows, backend=options.backend)
    report(list(rows.values()), as_json=options.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

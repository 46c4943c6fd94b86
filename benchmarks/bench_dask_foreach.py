"""Workload: the dask executor on a local cluster of 2 worker processes.

Rows: a foreach over 1,000 items with a join (tasks per second, from the start of the run
to its end), and the delay from a remote step's print to a ``stream_log`` subscriber
(95th percentile per run; the ticker flow of ``bench_stream_log.py``). The cluster
(``LocalCluster``, 2 worker processes, 127.0.0.1, dashboard off) is started once; one
warm-up run of each workload first, in the same event loop (it also starts the flow's
warm host on the workers, as any earlier run of the flow would). Each repetition of the
foreach also runs it on the local ``fork`` executor (same cap of 8 tasks), for the ratio
between the two on the same machine at the same time. ``--items 100`` makes a quick
run.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

import anyio
from _common import Row, parse_dask_args, report, scratch
from bench_stream_log import TICK, TICKS, percentile

from tideflow import Runner
from tideflow._worker._dask_cluster import local_cluster_options

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from pathlib import Path

#: Most tasks running at once: the cluster's threads.
CONCURRENCY = 8


def _runner(folder: Path, flow: str, address: str) -> Runner:
    return Runner(
        str(folder / flow),
        show_output=False,
        executor="dask",
        dask_address=address,
        root=str(folder / ".tideflow"),
        task_limit=CONCURRENCY,
    )


async def _foreach(folder: Path, address: str, items: int, repeat: int, row: Row) -> None:
    """Each repetition runs the foreach on Dask, then the same on the local ``fork``
    executor with the same cap, for the ratio between the two."""
    runners = {
        "dask": _runner(folder, "foreach.py", address),
        "fork": Runner(
            str(folder / "foreach.py"),
            show_output=False,
            executor="fork",
            root=str(folder / ".tideflow"),
            task_limit=CONCURRENCY,
        ),
    }
    for index in range(repeat + 1):
        n = items if index else 20
        for executor, runner in runners.items():
            started = time.perf_counter()
            running = await runner.async_run(
                n=n, max_workers=CONCURRENCY, max_num_splits=max(n, 100)
            )
            await running.wait()
            elapsed = time.perf_counter() - started
            if running.status != "successful":
                raise RuntimeError(running.stderr)
            if index:
                row.add(executor, (n + 3) / elapsed)


async def _log_delay(folder: Path, address: str, repeat: int, p95: Row, p50: Row) -> None:
    runner = _runner(folder, "ticker.py", address)
    for index in range(repeat + 1):
        delays = []
        async with await runner.async_run(ticks=TICKS) as running:
            async for _, line in running.stream_log("stdout"):
                arrived = time.time()
                if match := TICK.search(line):
                    delays.append((arrived - float(match.group(1))) * 1000)
            await running.wait()
        if running.status != "successful" or len(delays) != TICKS:
            raise RuntimeError(f"the ticker run failed:\n{running.stderr}")
        if index:
            p95.add("dask", percentile(delays, 0.95))
            p50.add("dask", percentile(delays, 0.5))


async def _measure(folder: Path, options: argparse.Namespace, rows: dict[str, Row]) -> None:
    from distributed import LocalCluster

    cluster: Any = await anyio.to_thread.run_sync(
        lambda: LocalCluster(
            **local_cluster_options(
                n_workers=2, threads_per_worker=CONCURRENCY // 2, silence_logs=40
            )
        )
    )
    try:
        address = cluster.scheduler_address
        await _foreach(folder, address, options.items, options.repeat, rows["rate"])
        await _log_delay(folder, address, options.repeat, rows["p95"], rows["p50"])
    finally:
        await anyio.to_thread.run_sync(cluster.close)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_dask_args(__doc__.splitlines()[0], argv, repeat=3, items=1000)
    workload = f"dask, 2 local workers: foreach over {options.items} items with a join"
    rows = {
        "rate": Row(workload, "tasks per second", "tasks/s", target=100, better="higher"),
        "p95": Row("dask: delay of a printed line to stream_log", "95th percentile", "ms", 200),
        "p50": Row("dask: delay of a printed line to stream_log", "median", "ms"),
    }
    with scratch() as folder:
        anyio.run(_measure, folder, options, rows, backend=options.backend)
    dask, fork = rows["rate"].median("dask"), rows["rate"].median("fork")
    if dask and fork:
        rows["rate"].note = f"dask at {dask / fork:.2f}× the local fork executor's rate"
    report(list(rows.values()), as_json=options.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

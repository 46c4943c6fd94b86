"""Workload: where the CPU time of a task on Dask goes, process by process.

A foreach with a join runs on a cluster whose scheduler and 2 workers (4 threads each,
no nanny) are processes of their own (``dask scheduler`` and ``dask worker``), so that
each one's CPU time can be read: the supervisor (this process: the run's scheduler and
recorder, the Dask client), the Dask scheduler, the Dask worker processes, the fork hosts
on the workers (alive between runs) and the task processes (reaped by the hosts, so
their time is the hosts' children's). Each row is milliseconds of CPU (user and system)
per task of the measured run, one warm-up run first. ``--items`` sets the foreach's size
(300 by default).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import anyio
import psutil
from _common import Row, parse_dask_args, report, scratch

from tideflow import Runner

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from pathlib import Path

#: Tasks in flight: the cluster's threads.
CONCURRENCY = 8
ROLES = ("supervisor", "scheduler", "worker", "host", "task", "all")


def _cpu(times: Any) -> float:
    return float(times.user + times.system)


class Cluster:
    """A ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1."""

    def __init__(self, folder: Path) -> None:
        self.file = folder / "scheduler.json"
        env = {
            **os.environ,
            "DASK_DISTRIBUTED__LOGGING__DISTRIBUTED": "error",
        }
        python = [sys.executable, "-m"]
        self.scheduler = subprocess.Popen(
            [*python, "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0"]
            + ["--no-dashboard", "--scheduler-file", str(self.file)],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while not self.file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.workers = [
            subprocess.Popen(
                [*python, "distributed.cli.dask_worker", "--scheduler-file", str(self.file)]
                + ["--host", "127.0.0.1", "--nthreads", str(CONCURRENCY // 2), "--no-nanny"]
                + ["--no-dashboard"],
                env=env,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(2)
        ]

    @property
    def address(self) -> str:
        import json

        return str(json.loads(self.file.read_text())["address"])

    def wait_for_workers(self) -> None:
        from distributed import Client

        with Client(scheduler_file=str(self.file), set_as_default=False) as client:
            client.wait_for_workers(2, timeout=60)

    def readings(self) -> dict[str, float]:
        """Seconds of CPU so far: the scheduler, the workers, the hosts, the tasks."""
        out = dict.fromkeys(("scheduler", "worker", "host", "task"), 0.0)
        out["scheduler"] = _cpu(psutil.Process(self.scheduler.pid).cpu_times())
        for worker in self.workers:
            process = psutil.Process(worker.pid)
            out["worker"] += _cpu(process.cpu_times())
            for host in process.children():
                with_children = host.cpu_times()
                out["host"] += _cpu(with_children)
                out["task"] += with_children.children_user + with_children.children_system
        return out

    def close(self) -> None:
        for process in (*self.workers, self.scheduler):
            process.terminate()
        for process in (*self.workers, self.scheduler):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _supervisor_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _measure(folder: Path, options: argparse.Namespace, rows: dict[str, Row]) -> None:
    cluster = await anyio.to_thread.run_sync(Cluster, folder)
    try:
        await anyio.to_thread.run_sync(cluster.wait_for_workers)
        runner = Runner(
            str(folder / "foreach.py"),
            show_output=False,
            executor="dask",
            dask_address=cluster.address,
            root=str(folder / ".tideflow"),
            task_limit=CONCURRENCY,
        )
        for index in range(options.repeat + 1):
            n = options.items if index else 20
            before = {**cluster.readings(), "supervisor": _supervisor_cpu()}
            running = await runner.async_run(n=n, max_workers=CONCURRENCY, max_num_splits=n)
            await running.wait()
            after = {**cluster.readings(), "supervisor": _supervisor_cpu()}
            if running.status != "successful":
                raise RuntimeError(running.stderr)
            if index:
                tasks = n + 3
                spent = {role: (after[role] - before[role]) * 1000 / tasks for role in after}
                spent["all"] = sum(spent.values())
                for role in ROLES:
                    rows[role].add("dask", spent[role])
    finally:
        await anyio.to_thread.run_sync(cluster.close)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_dask_args(__doc__.splitlines()[0], argv, repeat=5, items=300)
    workload = f"dask, 2 workers: CPU per task of a foreach over {options.items} items"
    rows = {role: Row(workload, role, "ms") for role in ROLES}
    with scratch() as folder:
        anyio.run(_measure, folder, options, rows, backend=options.backend)
    report(list(rows.values()), as_json=options.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Workload: the marginal cost of one more linear step.

Runs a 2-step and a 12-step linear flow alternately in one event loop (one warm-up each
first), and reports (time of 12 steps - time of 2 steps) / 10 for each repetition.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

import anyio
from _common import Row, flow_file, linear_flow, parse_args, report, scratch

from tideflow import Runner

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

SHORT, LONG = 2, 12


async def _measure(folder: Path, executor: str, repeat: int, row: Row, total: Row) -> None:
    runners = {
        steps: Runner(
            str(flow_file(folder, f"linear{steps}.py", linear_flow(steps))),
            show_output=False,
            executor=executor,
            root=str(folder / ".tideflow"),
        )
        for steps in (SHORT, LONG)
    }
    for index in range(repeat + 1):
        took = {}
        for steps, runner in runners.items():
            started = time.perf_counter()
            running = await runner.async_run()
            await running.wait()
            took[steps] = time.perf_counter() - started
            if running.status != "successful":
                raise RuntimeError(running.stderr)
        if index:  # the first round starts the fork hosts
            row.add(executor, (took[LONG] - took[SHORT]) / (LONG - SHORT) * 1000)
            total.add(executor, took[LONG] * 1000)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(__doc__.splitlines()[0], argv)
    workload = "one more linear step"
    row = Row(
        workload,
        f"marginal cost, ({LONG} steps - {SHORT} steps) / {LONG - SHORT}",
        "ms",
        target=3,
        previous=7.3,
    )
    total = Row(workload, f"a {LONG}-step run, async_run() + wait(), warm", "ms")
    with scratch() as folder:
        for executor in options.executors:
            anyio.run(
                _measure, folder, executor, options.repeat, row, total, backend=options.backend
            )
    report([row, total], as_json=options.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

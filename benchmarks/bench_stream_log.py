"""Workload: the delay from a step's print to a ``stream_log`` subscriber.

A step prints 200 lines, one every 5 ms, each holding ``time.time()`` at the print; the
benchmark follows the run's stdout with ``ExecutingRun.stream_log`` and takes, per run,
the 50th and 95th percentiles of (arrival time - print time). One warm-up run first, in
the same event loop.
"""

from __future__ import annotations

import re
import sys
import time
from typing import TYPE_CHECKING

import anyio
from _common import Row, parse_args, report, scratch

from tideflow import Runner

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

TICKS = 200
TICK = re.compile(r"tick \d+ (\d+\.\d+)$")


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


async def _measure(folder: Path, executor: str, repeat: int, p50: Row, p95: Row) -> None:
    runner = Runner(
        str(folder / "ticker.py"),
        show_output=False,
        executor=executor,
        root=str(folder / ".tideflow"),
    )
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
            p50.add(executor, percentile(delays, 0.5))
            p95.add(executor, percentile(delays, 0.95))


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(__doc__.splitlines()[0], argv)
    workload = "stream_log delay, a print every 5 ms"
    p95 = Row(workload, "95th percentile per run", "ms", target=20)
    p50 = Row(workload, "median per run", "ms")
    with scratch() as folder:
        for executor in options.executors:
            anyio.run(
                _measure, folder, executor, options.repeat, p50, p95, backend=options.backend
            )
    report([p95, p50], as_json=options.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Workload: a foreach over 50 items with a join (53 tasks).

First row: ``Runner(f).run(n=50)`` (blocking calls share one event loop thread, so the
fork host is warm after the first). Second row: ``async_run(n=50)`` + ``wait()`` in one
event loop, with the host warm.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

import anyio
from _common import Row, parse_args, report, scratch

from tideflow import Runner

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

ITEMS = 50


def _runner(folder: Path, executor: str) -> Runner:
    return Runner(
        str(folder / "foreach.py"),
        show_output=False,
        executor=executor,
        root=str(folder / ".tideflow"),
    )


async def _warm(folder: Path, executor: str, repeat: int, row: Row) -> None:
    runner = _runner(folder, executor)
    for index in range(repeat + 1):
        started = time.perf_counter()
        running = await runner.async_run(n=ITEMS)
        await running.wait()
        if index:
            row.add(executor, time.perf_counter() - started)
        if running.status != "successful":
            raise RuntimeError(running.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(__doc__.splitlines()[0], argv)
    workload = f"foreach over {ITEMS} items with a join ({ITEMS + 3} tasks)"
    blocking = Row(workload, "Runner(f).run()", "s", target=0.8)
    warm = Row(workload, "async_run() + wait() in one event loop (host warm)", "s")
    with scratch() as folder:
        for executor in options.executors:
            runner = _runner(folder, executor)
            for index in range(options.repeat + 1):
                started = time.perf_counter()
                result = runner.run(n=ITEMS)
                if index:
                    blocking.add(executor, time.perf_counter() - started)
                if result.status != "successful":
                    raise RuntimeError(result.stderr)
            anyio.run(_warm, folder, executor, options.repeat, warm, backend=options.backend)
    report([blocking, warm], as_json=options.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Workload: further ``Runner(f).run()`` calls of a two-step flow in the same process.

After one warm-up run, each repetition calls ``Runner(f).run()`` again. Blocking calls share
one event loop thread per process, so the fork host stays warm between them. The second row
runs the same flow with ``await runner.async_run()`` and ``wait()`` in one event loop.
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


async def _async_runs(flow: Path, executor: str, repeat: int, row: Row) -> None:
    runner = Runner(
        str(flow), show_output=False, executor=executor, root=str(flow.parent / ".tideflow")
    )
    for index in range(repeat + 1):
        started = time.perf_counter()
        running = await runner.async_run()
        await running.wait()
        if index:  # the first one starts the fork host
            row.add(executor, (time.perf_counter() - started) * 1000)
        if running.status != "successful":
            raise RuntimeError(running.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(__doc__.splitlines()[0], argv, repeat=10)
    workload = "Runner(f).run(), two steps, further runs in the same process"
    blocking = Row(workload, "run() call", "ms", target=10, previous=20.5)
    warm = Row(workload, "async_run() + wait() in one event loop (host stays warm)", "ms")
    with scratch() as folder:
        flow = folder / "trivial.py"
        for executor in options.executors:
            runner = Runner(
                str(flow), show_output=False, executor=executor, root=str(folder / ".tideflow")
            )
            for index in range(options.repeat + 1):
                started = time.perf_counter()
                result = runner.run()
                if index:  # the first one imports what runs need
                    blocking.add(executor, (time.perf_counter() - started) * 1000)
                if result.status != "successful":
                    raise RuntimeError(result.stderr)
            anyio.run(_async_runs, flow, executor, options.repeat, warm, backend=options.backend)
    report([blocking, warm], as_json=options.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

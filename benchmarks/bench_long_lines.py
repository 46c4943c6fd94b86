"""Workload: a step writes 50 MB to stdout, as one line without a newline or as short lines.

Splitting a task's output into log lines must take time linear in the output, whatever
the line lengths: the two runs should take about as long. A line longer than
``tideflow._worker._spawn.MAX_LINE`` is stored in pieces of that size. One warm-up run
first, in the same event loop.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

import anyio
from _common import Row, flow_file, parse_args, report, scratch

from tideflow import Runner

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

SIZE = 50 * 1024 * 1024

WRITER = """
import os
from tideflow import FlowSpec, Parameter, step


class WriterFlow(FlowSpec):
    shape = Parameter("shape", default="long")
    size = Parameter("size", default=1024, type=int)

    @step
    def start(self):
        line = b"x" * 99 + b"\\n"
        block = b"x" * 65536 if self.shape == "long" else line * 655
        written = 0
        while written < self.size:
            written += os.write(1, block[: self.size - written])
        self.next(self.end)

    @step
    def end(self):
        pass
"""


async def _measure(folder: Path, executor: str, repeat: int, long: Row, short: Row) -> None:
    runner = Runner(
        str(flow_file(folder, "writer.py", WRITER)),
        show_output=False,
        executor=executor,
        root=str(folder / ".tideflow"),
    )
    for index in range(repeat + 1):
        for shape, row in (("long", long), ("short", short)):
            began = time.perf_counter()
            running = await runner.async_run(shape=shape, size=SIZE if index else 1024)
            await running.wait()
            took = time.perf_counter() - began
            if running.status != "successful":
                raise RuntimeError(f"the writer run failed:\n{running.stderr}")
            if index:
                row.add(executor, took)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(__doc__.splitlines()[0], argv, repeat=3)
    workload = "a step writing 50 MB to stdout"
    long = Row(workload, "one line without a newline, whole run", "s")
    short = Row(workload, "lines of 100 bytes, whole run", "s")
    with scratch() as folder:
        for executor in options.executors:
            anyio.run(
                _measure, folder, executor, options.repeat, long, short, backend=options.backend
            )
    report([long, short], as_json=options.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

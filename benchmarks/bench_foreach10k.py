"""Workload: a foreach over 10,000 items with a join, with ``max_num_splits`` raised.

Each repetition runs ``async_run(n=10000, max_num_splits=10000)`` + ``wait()`` in a fresh
event loop and reports tasks per second: (items + 3 tasks) / wall time. With spawn,
10,000 fresh interpreters take most of an hour on two cores, so spawn runs a foreach over
``--spawn-items`` items (default 300) once; tasks per second do not depend much on the
count.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

import anyio
from _common import Row, parse_args, report, scratch

from tideflow import Runner

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path


async def _rate(folder: Path, executor: str, items: int) -> float:
    runner = Runner(
        str(folder / "foreach.py"),
        show_output=False,
        executor=executor,
        root=str(folder / ".tideflow"),
    )
    started = time.perf_counter()
    running = await runner.async_run(n=items, max_num_splits=items)
    await running.wait()
    elapsed = time.perf_counter() - started
    if running.status != "successful":
        raise RuntimeError(running.stderr[-2000:])
    return (items + 3) / elapsed


def main(argv: Sequence[str] | None = None) -> int:
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--items", type=int, default=10_000)
    extra.add_argument("--spawn-items", type=int, default=300)
    known, rest = extra.parse_known_args(argv)
    options = parse_args(__doc__.splitlines()[0], rest, repeat=3)
    row = Row(
        f"foreach over {known.items:,} items with a join",
        "tasks per second",
        "tasks/s",
        target=1000,
        previous=183,
        better="higher",
    )
    with scratch() as folder:
        for executor in options.executors:
            items = known.items if executor == "fork" else known.spawn_items
            for _ in range(options.repeat if executor == "fork" else 1):
                row.add(
                    executor, anyio.run(_rate, folder, executor, items, backend=options.backend)
                )
    if "spawn" in options.executors:
        row.note = f"spawn: one run over {known.spawn_items} items"
    report([row], as_json=options.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Workload: reading ``run.data.x`` for 100 runs through the client.

Stores 100 runs of a two-step flow (with the fork executor, through ``tideflow.sweep``),
then, per repetition, builds a fresh ``Run`` object for each and reads ``run.data.x``,
timing the 100 reads together (after one warm-up round, which opens the store). A second
row times the same in fresh interpreters (after ``from tideflow import Run``). The executor does
not matter here: one column. With ``TIDEFLOW_METADATA_URL`` set, the runs' metadata is
stored there (``bench_postgres.py`` does that).

The client keeps what no longer changes of an ended run it has read (``_client/_views.py``),
so the first row's reads after the warm-up find the runs' end tasks kept. Two more rows
time each run's first read in the process (the kept views forgotten before each
repetition): with ``Run(pathspec)``, and in a loop over ``Flow(name)``, whose listing reads
the runs' end tasks 100 at a time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import anyio
from _common import Row, parse_args, report, scratch

import tideflow
from tideflow import Runner
from tideflow._client._store import open_location

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

RUNS = 100
FRESH = """
import json, sys, time
from tideflow import Run
pathspecs = json.loads(sys.argv[1])
started = time.perf_counter()
values = [Run(p).data.x for p in pathspecs]
print((time.perf_counter() - started) * 1000, sum(values))
"""


async def _store_runs(folder: Path) -> list[str]:
    runner = Runner(str(folder / "trivial.py"), show_output=False, root=str(folder / ".tideflow"))
    pathspecs = []
    async with tideflow.sweep(runner, [{}] * RUNS, max_concurrent=20) as runs:
        async for run in runs:
            if run.status != "successful":
                raise RuntimeError(run.stderr)
            pathspecs.append(run.pathspec)
    return pathspecs


def _by_pathspec(pathspecs: list[str]) -> list[object]:
    return [tideflow.Run(p).data.x for p in pathspecs]


def _by_listing(pathspecs: list[str]) -> list[object]:
    flow = pathspecs[0].split("/")[0]
    return [run.data.x for run in tideflow.Flow(flow)]


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(__doc__.splitlines()[0], argv, repeat=10)
    row = Row(f"run.data.x of {RUNS} runs through the client", "all reads", "ms", target=25)
    first = Row(
        f"run.data.x of {RUNS} runs through the client",
        "the same in a fresh process (opens the store)",
        "ms",
    )
    unread = Row(
        f"run.data.x of {RUNS} runs through the client",
        "each run's first read in the process",
        "ms",
    )
    listed = Row(
        f"run.data.x of {RUNS} runs through the client",
        "for run in Flow(name), each run's first read in the process",
        "ms",
    )
    with scratch() as folder:
        os.environ["TIDEFLOW_ROOT"] = str(folder / ".tideflow")
        pathspecs = anyio.run(_store_runs, folder, backend=options.backend)
        for index in range(options.repeat + 1):
            started = time.perf_counter()
            values = [tideflow.Run(p).data.x for p in pathspecs]
            elapsed = (time.perf_counter() - started) * 1000
            if values != [1] * RUNS:
                raise RuntimeError(f"unexpected values: {values[:5]}...")
            if index:
                row.add("any", elapsed)
        for index in range(options.repeat + 1):
            for rows, read in ((unread, _by_pathspec), (listed, _by_listing)):
                open_location(None).ended._views.clear()  # each run read for the first time
                started = time.perf_counter()
                values = read(pathspecs)
                elapsed = (time.perf_counter() - started) * 1000
                if values != [1] * RUNS:
                    raise RuntimeError(f"unexpected values: {values[:5]}...")
                if index:
                    rows.add("any", elapsed)
        for _ in range(5):
            out = subprocess.run(
                [sys.executable, "-c", FRESH, json.dumps(pathspecs)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            if out[1] != str(RUNS):
                raise RuntimeError(f"unexpected sum of values: {out[1]}")
            first.add("any", float(out[0]))
    report([row, first, unread, listed], as_json=options.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Workload: ``Flow(f).latest_successful_run`` with 10,000 runs stored.

Writes 10,000 finished runs of one flow straight into the metadata store (every tenth
failed, the newest ones among them), then, per repetition, builds a fresh ``Flow`` and
reads ``latest_successful_run``; a second row times the first lookup in fresh
interpreters (after ``from tideflow import Flow``), which also opens the store. The executor does not
matter here: one column. With ``TIDEFLOW_METADATA_URL`` set, the runs are stored there
(``bench_postgres.py`` does that).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING

from _common import Row, parse_args, report, scratch

import tideflow
from tideflow._stores._bundle import open_metadata

if TYPE_CHECKING:
    from collections.abc import Sequence

RUNS = 10_000
USER = "bench"
FRESH = """
import time
from tideflow import Flow
started = time.perf_counter()
run = Flow("BenchFlow").latest_successful_run
print((time.perf_counter() - started) * 1000, run.id)
"""


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(__doc__.splitlines()[0], argv, repeat=20)
    workload = f"Flow(f).latest_successful_run, {RUNS:,} runs stored"
    row = Row(workload, "a lookup with a fresh Flow object", "ms", target=10)
    fresh = Row(workload, "the first lookup in a fresh process (opens the store)", "ms")
    with scratch() as folder:
        root = folder / ".tideflow"
        os.environ["TIDEFLOW_ROOT"] = str(root)
        os.environ["TIDEFLOW_USER"] = USER
        with open_metadata(os.environ.get("TIDEFLOW_METADATA_URL"), root=root) as store:  # type: ignore[attr-defined]
            newest = None
            for number in range(RUNS):
                record = store.create_run("BenchFlow", user=USER, system_tags=(f"user:{USER}",))
                failed = number % 10 == 0 or number >= RUNS - 3
                store.finish_run(
                    "BenchFlow", record.run_id, "failed" if failed else "succeeded", time.time()
                )
                if not failed:
                    newest = record.run_id
        for index in range(options.repeat + 1):
            started = time.perf_counter()
            found = tideflow.Flow("BenchFlow").latest_successful_run
            if index:  # the first one opens the store
                row.add("any", (time.perf_counter() - started) * 1000)
            if found is None or found.id != newest:
                raise RuntimeError(f"found {found!r}, expected run {newest}")
        for _ in range(5):
            out = subprocess.run(
                [sys.executable, "-c", FRESH], capture_output=True, text=True, check=True
            ).stdout.split()
            if out[1] != newest:
                raise RuntimeError(f"found run {out[1]}, expected run {newest}")
            fresh.add("any", float(out[0]))
    report([row, fresh], as_json=options.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

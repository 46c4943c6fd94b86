"""Workloads with the metadata in PostgreSQL: foreach over 1,000 items, run.data.x, latest run.

Starts a throwaway PostgreSQL server on a Unix socket (``tests/postgres_server.py``: the
binaries of Debian's ``postgresql`` package; fsync off, as the tests run it), then:

- runs a foreach over 1,000 items with a join, once with SQLite and once with PostgreSQL
  as the metadata store, per repetition, and reports the throughput of each and the ratio;
- runs ``bench_client_data.py`` and ``bench_latest_successful.py`` with
  ``TIDEFLOW_METADATA_URL`` naming a fresh database, and reports their rows marked
  "PostgreSQL", with the targets of issue 11 (:data:`POSTGRES_TARGETS`).

Skips (exit code 0, no rows) when no PostgreSQL binaries are installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from _common import Row, parse_args, report, scratch

from tideflow import Runner

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from postgres_server import PostgresServer, find_binaries

if TYPE_CHECKING:
    from collections.abc import Sequence

HERE = Path(__file__).resolve().parent
ITEMS = 1_000


def _foreach(folder: Path, executor: str, metadata_url: str | None, n: int) -> float:
    """Run the foreach flow over ``n`` items; return tasks per second."""
    env = {"TIDEFLOW_USER": "bench"}
    if metadata_url:
        env["TIDEFLOW_METADATA_URL"] = metadata_url
    root = folder / f".tideflow-{executor}-{'pg' if metadata_url else 'sqlite'}"
    runner = Runner(
        str(folder / "foreach.py"), show_output=False, executor=executor, root=str(root), env=env
    )
    started = time.perf_counter()
    result = runner.run(n=n, max_num_splits=n)
    elapsed = time.perf_counter() - started
    if result.status != "successful":
        raise RuntimeError(f"the foreach run ended {result.status}: {result.stderr[-2000:]}")
    return (n + 3) / elapsed


#: The targets of issue 11 where they differ from the SQLite row's, by script and metric.
POSTGRES_TARGETS = {("bench_client_data.py", "all reads"): 50.0}


def _script(script: str, url: str, repeat: int) -> list[Row]:
    result = subprocess.run(
        [sys.executable, str(HERE / script), "--json", "--repeat", str(repeat)],
        check=True,
        capture_output=True,
        text=True,
        cwd=HERE,
        env={**os.environ, "TIDEFLOW_METADATA_URL": url},
    )
    rows = [Row(**json.loads(line)) for line in result.stdout.splitlines() if line.startswith("{")]
    for row in rows:
        row.workload += ", PostgreSQL"
        row.target = POSTGRES_TARGETS.get((script, row.metric), row.target)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(__doc__.splitlines()[0], argv, repeat=3)
    bin_dir = find_binaries()
    if bin_dir is None:
        print("no PostgreSQL binaries: apt-get install -y postgresql", file=sys.stderr)
        return 0
    workload = f"foreach over {ITEMS:,} items with a join"
    sqlite = Row(workload + ", SQLite", "throughput", "tasks/s", better="higher")
    postgres = Row(workload + ", PostgreSQL", "throughput", "tasks/s", better="higher")
    ratio = Row(workload, "PostgreSQL / SQLite throughput", "%", target=50, better="higher")
    server = PostgresServer(bin_dir)
    server.start()
    try:
        with scratch() as folder:
            for executor in options.executors:
                for index in range(options.repeat):
                    url = server.create_database(f"foreach_{executor}_{index}")
                    lite = _foreach(folder, executor, None, ITEMS)
                    pg = _foreach(folder, executor, url, ITEMS)
                    sqlite.add(executor, lite)
                    postgres.add(executor, pg)
                    ratio.add(executor, 100 * pg / lite)
        rows = [sqlite, postgres, ratio]
        rows += _script("bench_client_data.py", server.create_database("client_data"), 10)
        rows += _script("bench_latest_successful.py", server.create_database("latest"), 20)
    finally:
        server.stop()
    report(rows, as_json=options.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Run every benchmark and print a table of medians (and min–max) next to the targets.

Each ``bench_*.py`` script runs in a fresh interpreter with ``--json``; the table shows,
per workload, the target, the figure before issue 16 where the issue gives one, the
median [min–max] for each executor, the ratio spawn / fork
of the medians (measured in the same script run), and whether the fork median meets the
target. Then the Runner benchmark (``bench_runner.py``) runs and its table is printed as
it is. ``nox -s bench`` runs this script; arguments after ``--`` come here.

Usage: ``python benchmarks/run_all.py [--quick] [--executor fork] [--only NAME ...]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from _common import EXECUTORS, Row, cell, machine

if TYPE_CHECKING:
    from collections.abc import Sequence

HERE = Path(__file__).resolve().parent

#: The workload scripts, in the order of the targets table, with their repetitions
#: (full, quick).
SCRIPTS: tuple[tuple[str, int, int], ...] = (
    ("bench_first_run.py", 5, 2),
    ("bench_further_runs.py", 10, 3),
    ("bench_marginal_step.py", 5, 2),
    ("bench_foreach50.py", 5, 2),
    ("bench_concurrent20.py", 5, 2),
    ("bench_concurrent200.py", 3, 1),
    ("bench_foreach10k.py", 3, 1),
    ("bench_resume10k.py", 3, 1),
    ("bench_foreach100k.py", 1, 1),
    ("bench_stream_log.py", 5, 2),
    ("bench_client_data.py", 10, 3),
    ("bench_latest_successful.py", 20, 5),
    ("bench_long_lines.py", 3, 1),
    ("bench_s3_foreach.py", 3, 1),
    ("bench_s3_blob.py", 3, 1),
    ("bench_postgres.py", 3, 1),
    ("bench_dask_foreach.py", 3, 1),
    ("bench_dask_cost.py", 5, 2),
)
#: Arguments some scripts get from this table (their own default is the full workload):
#: 100,000 items take about ten minutes on two cores; ``--items 100000`` with ``--only
#: foreach100k`` runs it in full.
SCRIPT_ARGS: dict[str, tuple[str, ...]] = {"bench_foreach100k.py": ("--items", "20000")}


def _run_script(script: str, args: list[str]) -> list[Row]:
    started = time.perf_counter()
    print(f"running {script} {' '.join(args)}", file=sys.stderr, flush=True)
    result = subprocess.run(
        [sys.executable, str(HERE / script), "--json", *args],
        check=False,
        capture_output=True,
        text=True,
        cwd=HERE,
    )
    if result.returncode != 0:
        print(result.stderr, file=sys.stderr)
        raise SystemExit(f"{script} failed (exit code {result.returncode})")
    rows = [Row(**json.loads(line)) for line in result.stdout.splitlines() if line.startswith("{")]
    print(f"  done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return rows


def _target(row: Row) -> str:
    if row.target is None:
        return ""
    sign = "≤" if row.better == "lower" else "≥"
    return f"{sign} {row.target:g} {row.unit}"


def _previous(row: Row) -> str:
    """The figure before issue 16 (the "now" column of its targets table)."""
    return "" if row.previous is None else f"{row.previous:g} {row.unit}"


def _ratio(row: Row) -> str:
    fork, spawn = row.median("fork"), row.median("spawn")
    if not fork or not spawn:
        return ""
    ratio = spawn / fork if row.better == "lower" else fork / spawn
    return f"{ratio:.1f}×"


def _met(row: Row) -> str:
    # A Dask workload's target is the dask executor's (a fork figure beside it compares).
    order = ("dask",) if "dask" in row.values else ("fork", "any", "spawn")
    for executor in order:
        met = row.met(executor)
        if met is not None:
            return "yes" if met else "**no**"
    return ""


def table(rows: Sequence[Row], executors: Sequence[str]) -> str:
    """A Markdown table of the rows."""
    columns = [e for e in (*executors, "dask") if any(e in r.values for r in rows)]
    if any("any" in r.values for r in rows) and "fork" not in columns:
        columns.append("any")
    header = ["workload", "measure", "target", "before", *columns, "spawn/fork", "met"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = []
        for executor in columns:
            values = row.values.get(executor)
            if values is None and executor == "fork":
                values = row.values.get("any")
            cells.append(f"{cell(values)} {row.unit}" if values else "—")
        notes = [row.note] if row.note else []
        if "any" in row.values:
            notes.append("does not depend on the executor")
        label = row.metric + "".join(f" ({note})" for note in notes)
        lines.append(
            "| "
            + " | ".join(
                [row.workload, label, _target(row), _previous(row), *cells, _ratio(row), _met(row)]
            )
            + " |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--executor", action="append", choices=("spawn", "fork"))
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--only", action="append", help="run only scripts containing this")
    parser.add_argument("--no-runner", action="store_true", help="skip bench_runner.py")
    options = parser.parse_args(argv)
    executors = tuple(options.executor or EXECUTORS)
    common = ["--backend", options.backend]
    for executor in executors:
        common += ["--executor", executor]
    rows: list[Row] = []
    started = datetime.now(UTC)
    for script, full, quick in SCRIPTS:
        if options.only and not any(part in script for part in options.only):
            continue
        repeat = quick if options.quick else full
        extra = SCRIPT_ARGS.get(script, ()) if not options.only else ()
        rows += _run_script(script, [*common, "--repeat", str(repeat), *extra])
    info = machine()
    print(
        f"tideflow benchmarks, {started:%Y-%m-%d %H:%M} UTC, {options.backend}; "
        f"{info['cores']} cores ({info['cpu']}), {info['memory_gib']} GiB, "
        f"Python {info['python']}, {info['system']}"
    )
    print("Medians [min–max] over the repetitions; spawn/fork is the ratio of medians.\n")
    print(table(rows, [*executors]))
    if not options.no_runner and not options.only:
        print("\nRunner benchmark (benchmarks/bench_runner.py):\n", flush=True)
        runner = subprocess.run(
            [
                sys.executable,
                str(HERE / "bench_runner.py"),
                "--backend",
                options.backend,
                *(a for e in executors for a in ("--executor", e)),
            ],
            cwd=HERE,
            check=False,
        )
        if runner.returncode != 0:
            return runner.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What the benchmark scripts share: flows, a scratch store, timing, results and tables.

Every ``bench_*.py`` script measures one workload of the targets table for each executor,
repeating it (one warm-up first where the workload allows), and reports a list of
:class:`Row`\\ s: printed as a table, or as JSON lines with ``--json`` (what
``run_all.py`` reads). A row holds every measured value, so a table can show the median
and the range, and ratios between executors measured in the same process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

__all__ = (
    "EXECUTORS",
    "Row",
    "cell",
    "flow_file",
    "linear_flow",
    "machine",
    "many_runs",
    "parse_args",
    "parse_dask_args",
    "report",
    "scratch",
)

#: The executors measured by default.
EXECUTORS: tuple[str, ...] = ("fork", "spawn") if os.name == "posix" else ("spawn",)

TRIVIAL = """
from tideflow import FlowSpec, step


class TrivialFlow(FlowSpec):
    @step
    def start(self):
        self.x = 1
        self.next(self.end)

    @step
    def end(self):
        pass
"""

FOREACH = """
from tideflow import FlowSpec, Parameter, step


class ForeachFlow(FlowSpec):
    n = Parameter("n", default=50, type=int)

    @step
    def start(self):
        self.items = list(range(self.n))
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.square = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.square for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
"""

TICKER = """
import time
from tideflow import FlowSpec, Parameter, step


class TickerFlow(FlowSpec):
    ticks = Parameter("ticks", default=200, type=int)

    @step
    def start(self):
        for i in range(self.ticks):
            print(f"tick {i} {time.time():.6f}", flush=True)
            time.sleep(0.005)
        self.next(self.end)

    @step
    def end(self):
        pass
"""

FLOWS = {"trivial": TRIVIAL, "foreach": FOREACH, "ticker": TICKER}


def linear_flow(steps: int) -> str:
    """The source of a flow of ``steps`` steps in a row (at least 2), each setting ``x``."""
    names = ["start", *(f"s{i}" for i in range(1, steps - 1)), "end"]
    lines = ["from tideflow import FlowSpec, step", "", "", f"class Linear{steps}Flow(FlowSpec):"]
    for name, following in zip(names, [*names[1:], None], strict=True):
        lines += ["    @step", f"    def {name}(self):", "        self.x = 1"]
        if following:
            lines.append(f"        self.next(self.{following})")
        lines.append("")
    return "\n".join(lines)


@dataclass
class Row:
    """One measured quantity of a workload, for each executor."""

    workload: str
    metric: str
    unit: str
    #: The target, in ``unit``; ``None`` when the row has none (a detail of another row).
    target: float | None = None
    #: ``lower`` when smaller is better (times), ``higher`` otherwise (rates).
    better: str = "lower"
    values: dict[str, list[float]] = field(default_factory=dict)
    note: str = ""
    #: The figure before the work of issue 16 (its "now" column), in ``unit``, if known.
    previous: float | None = None

    def add(self, executor: str, value: float) -> None:
        self.values.setdefault(executor, []).append(value)

    def median(self, executor: str) -> float | None:
        values = self.values.get(executor)
        return statistics.median(values) if values else None

    def met(self, executor: str) -> bool | None:
        median = self.median(executor)
        if median is None or self.target is None:
            return None
        return median <= self.target if self.better == "lower" else median >= self.target


def cell(values: Sequence[float] | None) -> str:
    """``median [min–max]`` with a precision that suits the size of the values."""
    if not values:
        return "—"
    median = statistics.median(values)
    size = abs(median)
    digits = 0 if size >= 100 else 1 if size >= 10 else 2 if size >= 1 else 3
    if len(values) == 1:
        return f"{median:.{digits}f} (1 run)"
    return f"{median:.{digits}f} [{min(values):.{digits}f}–{max(values):.{digits}f}]"


def parse_args(
    description: str, argv: Sequence[str] | None, *, repeat: int = 5
) -> argparse.Namespace:
    """The options every script takes: ``--repeat``, ``--executor`` (repeatable), ``--json``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--repeat", type=int, default=repeat, help="measured repetitions")
    parser.add_argument(
        "--executor",
        action="append",
        choices=("spawn", "fork"),
        help="executor to measure (repeatable; default: fork and spawn on POSIX)",
    )
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--json", action="store_true", help="print rows as JSON lines")
    options = parser.parse_args(argv)
    options.executors = tuple(options.executor or EXECUTORS)
    return options


def parse_dask_args(
    description: str, argv: Sequence[str] | None, *, repeat: int, items: int
) -> argparse.Namespace:
    """The options of the Dask scripts: ``--repeat``, ``--items``, ``--backend``,
    ``--json``, and ``--executor`` (taken for ``run_all.py``'s sake and ignored)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--repeat", type=int, default=repeat, help="measured repetitions")
    parser.add_argument("--items", type=int, default=items, help="the foreach's items")
    parser.add_argument("--executor", action="append", help="ignored: always dask")
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--json", action="store_true", help="print rows as JSON lines")
    return parser.parse_args(argv)


@contextmanager
def scratch() -> Iterator[Path]:
    """A temporary folder, with the benchmark flows in it, deleted afterwards."""
    with tempfile.TemporaryDirectory(prefix="tideflow-bench-") as folder:
        path = Path(folder)
        for name, source in FLOWS.items():
            (path / f"{name}.py").write_text(source)
        yield path


def flow_file(folder: Path, name: str, source: str) -> Path:
    """Write ``source`` to ``folder/name`` and return the path."""
    path = folder / name
    path.write_text(source)
    return path


async def many_runs(folder: Path, executor: str, count: int) -> float:
    """Start ``count`` runs of the trivial flow at once; the wall time until all ended."""
    import anyio

    from tideflow import Runner

    runner = Runner(
        str(folder / "trivial.py"),
        show_output=False,
        executor=executor,
        root=str(folder / ".tideflow"),
    )
    statuses: list[str] = []

    async def one() -> None:
        running = await runner.async_run()
        await running.wait()
        statuses.append(running.status)

    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(count):
            tg.start_soon(one)
    elapsed = time.perf_counter() - started
    if statuses.count("successful") != count:
        raise RuntimeError(f"only {statuses.count('successful')} of {count} runs succeeded")
    return elapsed


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = None
    try:
        import psutil

        memory = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "memory_gib": memory,
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def report(rows: Sequence[Row], *, as_json: bool) -> None:
    """Print ``rows``: JSON lines, or a table of medians and ranges."""
    if as_json:
        for row in rows:
            print(json.dumps(asdict(row)), flush=True)
        return
    order = [*EXECUTORS, "dask", "any"]
    executors = sorted({e for row in rows for e in row.values}, key=order.index)
    for row in rows:
        target = "" if row.target is None else f" (target {row.target:g} {row.unit})"
        print(f"{row.workload}: {row.metric}{target}")
        for executor in executors:
            print(f"    {executor:<6} {cell(row.values.get(executor))} {row.unit}")
        if row.note:
            print(f"    note: {row.note}")
    sys.stdout.flush()

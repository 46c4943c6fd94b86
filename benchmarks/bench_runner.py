"""Benchmark the Runner API: log latency, start latency, and many runs at once.

Measures, for each executor (``spawn`` and, on POSIX, ``fork``):

* **stream_log delay**: a step prints a line every 5 ms, each holding ``time.time()``;
  the benchmark reads them through ``ExecutingRun.stream_log`` and takes, per run, the
  50th and 95th percentile of (arrival time - print time);
* **async_run() returns after**: from the call of ``await Runner(...).async_run()`` to its
  return (the run exists in the store; its tasks start after);
* **20 concurrent runs**: wall time of 20 runs of a two-step flow started together, from
  the first ``async_run()`` to the end of the last run.

Each measurement is repeated (``--repeat``, at least 5) after one warm-up run, and the
table shows the median over the repetitions and their minimum and maximum. Runs go to a
temporary store, deleted at the end.

Usage: ``python benchmarks/bench_runner.py [--repeat N] [--backend asyncio|trio]
[--executor spawn --executor fork]``.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from tideflow import Runner

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

TICKER_FLOW = """
import time
from tideflow import FlowSpec, Parameter, step

class TickerFlow(FlowSpec):
    ticks = Parameter("ticks", default=200)

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

TRIVIAL_FLOW = """
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

TICK = re.compile(r"tick \d+ (\d+\.\d+)$")
CONCURRENT_RUNS = 20


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` percentile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


@dataclass
class Bench:
    folder: Path
    executor: str
    results: dict[str, list[float]] = field(default_factory=dict)

    def runner(self, flow: str) -> Runner:
        return Runner(
            str(self.folder / flow),
            show_output=False,
            quiet=True,
            executor=self.executor,
            root=str(self.folder / ".tideflow"),
        )

    def record(self, metric: str, value: float) -> None:
        self.results.setdefault(metric, []).append(value)

    async def log_delay(self, *, keep: bool) -> None:
        delays: list[float] = []
        async with await self.runner("ticker.py").async_run(ticks=200) as running:
            async for _, line in running.stream_log("stdout"):
                arrived = time.time()
                if match := TICK.search(line):
                    delays.append((arrived - float(match.group(1))) * 1000)
            await running.wait()
        if running.status != "successful" or len(delays) != 200:
            raise RuntimeError(f"the ticker run failed:\n{running.stderr}")
        if keep:
            self.record("stream_log delay p50 (ms)", percentile(delays, 0.5))
            self.record("stream_log delay p95 (ms)", percentile(delays, 0.95))

    async def start_latency(self, *, keep: bool) -> None:
        runner = self.runner("trivial.py")
        started = time.perf_counter()
        running = await runner.async_run()
        elapsed = (time.perf_counter() - started) * 1000
        async with running:
            await running.wait()
        if keep:
            self.record("async_run() returns after (ms)", elapsed)

    async def concurrent(self, *, keep: bool) -> None:
        statuses: list[str] = []
        failures: list[str] = []

        async def one() -> None:
            async with await self.runner("trivial.py").async_run() as running:
                await running.wait()
            statuses.append(running.status)
            if running.status != "successful":
                failures.append(running.stderr)

        started = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for _ in range(CONCURRENT_RUNS):
                tg.start_soon(one)
        elapsed = time.perf_counter() - started
        if statuses != ["successful"] * CONCURRENT_RUNS:
            raise RuntimeError("some of the concurrent runs failed:\n" + "\n".join(failures))
        if keep:
            self.record(f"{CONCURRENT_RUNS} concurrent runs, wall (s)", elapsed)


async def measure(folder: Path, executor: str, repeat: int) -> dict[str, list[float]]:
    bench = Bench(folder, executor)
    steps: list[Callable[..., Awaitable[None]]] = [
        bench.log_delay,
        bench.start_latency,
        bench.concurrent,
    ]
    for step in steps:
        for index in range(repeat + 1):  # the first one warms up (imports, fork hosts)
            await step(keep=index > 0)
    return bench.results


def cell(values: list[float]) -> str:
    precision = 2 if max(values) < 10 else 1
    return (
        f"{statistics.median(values):.{precision}f} "
        f"[{min(values):.{precision}f}–{max(values):.{precision}f}]"
    )


def table(results: dict[str, dict[str, list[float]]], repeat: int, backend: str) -> str:
    executors = list(results)
    metrics = list(next(iter(results.values())))
    width = max(len(m) for m in metrics) + 2
    lines = [
        (f"tideflow runner benchmark: {backend}, {repeat} repetitions each, median [min–max]"),
        "".join([f"{'metric':<{width}}", *(f"{name:<24}" for name in executors)]).rstrip(),
    ]
    for metric in metrics:
        row = [f"{metric:<{width}}", *(f"{cell(results[e][metric]):<24}" for e in executors)]
        lines.append("".join(row).rstrip())
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="repetitions (at least 5)")
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument(
        "--executor",
        action="append",
        choices=("spawn", "fork"),
        help="executor to measure (repeatable; default: spawn, and fork on POSIX)",
    )
    options = parser.parse_args(argv)
    repeat = max(5, options.repeat)
    executors = options.executor or (["spawn", "fork"] if os.name == "posix" else ["spawn"])
    results: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="tideflow-bench-") as scratch:
        folder = Path(scratch)
        (folder / "ticker.py").write_text(TICKER_FLOW)
        (folder / "trivial.py").write_text(TRIVIAL_FLOW)
        for executor in executors:
            print(f"measuring {executor}...", file=sys.stderr, flush=True)
            results[executor] = anyio.run(
                measure, folder, executor, repeat, backend=options.backend
            )
    print(table(results, repeat, options.backend))
    if "fork" not in executors:
        print("(fork executor not measured: it needs POSIX)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Workload: a foreach over 100,000 items: the supervisor's peak memory, and the run succeeds.

The run (``async_run(n=items, max_num_splits=items)`` + ``wait()``) goes in a fresh
interpreter, the supervisor; this script samples that process's memory with psutil every
50 ms until it exits and reports the peak RSS and, on Linux, the peak PSS (which counts
pages shared with other processes in part). Task processes are not counted: they are
children of the fork host, not part of the supervisor.

``--items`` sets the count (default 100,000: about ten minutes on two cores). ``nox -s
bench`` passes ``--items 20000`` to keep the whole table reasonable; memory per pending
item is what grows with the count. Spawn runs ``--spawn-items`` items (default 300): a
fresh interpreter per task is far too slow for this count.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import psutil
from _common import Row, parse_args, report, scratch

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

CHILD = """
import json, sys, time
import anyio
from tideflow import Runner

async def main():
    runner = Runner(sys.argv[1], show_output=False, executor=sys.argv[2], root=sys.argv[3])
    items = int(sys.argv[4])
    started = time.perf_counter()
    running = await runner.async_run(n=items, max_num_splits=items)
    await running.wait()
    elapsed = time.perf_counter() - started
    print(json.dumps({"status": running.status, "seconds": elapsed}))

anyio.run(main)
"""


def _peaks(child: subprocess.Popen[bytes]) -> tuple[float, float | None]:
    """Sample ``child`` until it exits; its peak RSS and PSS in MiB."""
    process = psutil.Process(child.pid)
    rss = pss = 0.0
    has_pss = True
    while child.poll() is None:  # poll() reaps it: a zombie would report no memory
        try:
            if has_pss:
                info = process.memory_full_info()
                pss = max(pss, getattr(info, "pss", 0.0))
                has_pss = hasattr(info, "pss")
            else:
                info = process.memory_info()
            rss = max(rss, info.rss)
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            break
        except psutil.AccessDenied:
            has_pss = False
        time.sleep(0.05)
    return rss / 2**20, (pss / 2**20 if has_pss else None)


def _measure(folder: Path, executor: str, items: int) -> tuple[float, float | None, float]:
    command = [
        sys.executable,
        "-c",
        CHILD,
        str(folder / "foreach.py"),
        executor,
        str(folder / ".tideflow"),
        str(items),
    ]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as child:
        rss, pss = _peaks(child)
        out, err = child.communicate()
    lines = out.decode().strip().splitlines()
    result = json.loads(lines[-1]) if lines else {"status": "no result"}
    if child.returncode != 0 or result["status"] != "successful":
        raise RuntimeError(f"the run did not succeed: {result}\n{err.decode()[-3000:]}")
    return rss, pss, result["seconds"]


def main(argv: Sequence[str] | None = None) -> int:
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--items", type=int, default=100_000)
    extra.add_argument("--spawn-items", type=int, default=300)
    known, rest = extra.parse_known_args(argv)
    options = parse_args(__doc__.splitlines()[0], rest, repeat=1)
    workload = f"foreach over {known.items:,} items"
    rss = Row(workload, "supervisor peak RSS, the run succeeds", "MiB", target=1024)
    pss = Row(workload, "supervisor peak PSS", "MiB")
    rate = Row(workload, "tasks per second", "tasks/s", better="higher")
    with scratch() as folder:
        for executor in options.executors:
            items = known.items if executor == "fork" else known.spawn_items
            for _ in range(options.repeat if executor == "fork" else 1):
                peak_rss, peak_pss, seconds = _measure(folder, executor, items)
                rss.add(executor, peak_rss)
                if peak_pss is not None:
                    pss.add(executor, peak_pss)
                rate.add(executor, (items + 3) / seconds)
    if "spawn" in options.executors:
        for row in (rss, pss, rate):
            row.note = f"spawn: {known.spawn_items} items"
    report([rss, pss, rate], as_json=options.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

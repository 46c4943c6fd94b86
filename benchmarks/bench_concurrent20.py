"""Workload: 20 concurrent ``async_run()``\\ s of a two-step flow, all finished.

Each repetition runs in a fresh event loop (so the fork host starts in it) and times from
the first ``async_run()`` to the end of the last run. Three more repetitions sample the
memory of this process and all its descendants every 20 ms: the peak of their summed
proportional set size (PSS: shared pages split between the processes that share them,
which is what the machine really spends) and, for comparison with tools that add up
resident sizes, the peak of their summed RSS.
"""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING

import anyio
import psutil
from _common import Row, many_runs, parse_args, report, scratch

if TYPE_CHECKING:
    from collections.abc import Sequence

RUNS = 20


class _MemorySampler(threading.Thread):
    """Samples the summed PSS and RSS of this process tree until stopped."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak_pss = 0
        self.peak_rss = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        me = psutil.Process()
        while not self._stop_event.wait(0.02):
            pss = rss = 0
            for process in [me, *me.children(recursive=True)]:
                try:
                    info = process.memory_full_info()
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                pss += getattr(info, "pss", info.rss)
                rss += info.rss
            self.peak_pss = max(self.peak_pss, pss)
            self.peak_rss = max(self.peak_rss, rss)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(__doc__.splitlines()[0], argv)
    workload = f"{RUNS} concurrent async_run()s, all finished"
    wall = Row(workload, "wall time", "s", target=1.5)
    pss = Row(workload, "summed peak memory (PSS of the process tree)", "MB", target=400)
    rss = Row(
        workload, "summed peak RSS of the process tree (shared pages counted per process)", "MB"
    )
    with scratch() as folder:
        for executor in options.executors:
            for index in range(options.repeat + 1):
                elapsed = anyio.run(many_runs, folder, executor, RUNS, backend=options.backend)
                if index:
                    wall.add(executor, elapsed)
            for _ in range(3):
                sampler = _MemorySampler()
                sampler.start()
                anyio.run(many_runs, folder, executor, RUNS, backend=options.backend)
                sampler.stop()
                pss.add(executor, sampler.peak_pss / 1e6)
                rss.add(executor, sampler.peak_rss / 1e6)
    report([wall, pss, rss], as_json=options.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

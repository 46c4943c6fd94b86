"""Workload: resume of a 10,000-item foreach whose one item failed.

One origin run is made first (with the fork executor when it is measured, else spawn): a
foreach over ``--items`` items (default 10,000) with a join, where the last item fails
while a marker file exists (after a short wait, so that the items before it, which
started first, have finished: a failure stops the items still running). The marker is
then removed, and each repetition resumes that same failed run with
``async_resume(origin_run_id=...)`` + ``wait()`` in a fresh event loop: the resume clones
the 9,999 finished items (and ``start``) and runs the last item, the join and ``end``
again. The time is from the call to the end of the resumed run. The origin does
not depend on the executor, so spawn resumes the same run.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

import anyio
from _common import Row, flow_file, parse_args, report, scratch

from tideflow import Runner

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

FAIL_ONCE = """
import os
import time
from tideflow import FlowSpec, Parameter, step

MARKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fail-last-item")


class FailOnceFlow(FlowSpec):
    n = Parameter("n", default=10, type=int)

    @step
    def start(self):
        self.items = list(range(self.n))
        self.next(self.body, foreach="items")

    @step
    def body(self):
        if self.input == self.n - 1 and os.path.exists(MARKER):
            time.sleep(1)
            raise RuntimeError("the last item fails while the marker exists")
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


def _runner(flow: Path, executor: str) -> Runner:
    return Runner(
        str(flow), show_output=False, executor=executor, root=str(flow.parent / ".tideflow")
    )


async def _origin(flow: Path, executor: str, items: int) -> str:
    """A failed run of the flow whose last item failed; its run id."""
    (flow.parent / "fail-last-item").write_text("")
    running = await _runner(flow, executor).async_run(n=items, max_num_splits=items)
    await running.wait()
    (flow.parent / "fail-last-item").unlink()
    if running.status != "failed":
        raise RuntimeError(f"the origin run did not fail as it should: {running.stderr[-2000:]}")
    return running.run.id


async def _resume(flow: Path, executor: str, origin: str, items: int) -> float:
    started = time.perf_counter()
    running = await _runner(flow, executor).async_resume(
        origin_run_id=origin, max_num_splits=items
    )
    await running.wait()
    elapsed = time.perf_counter() - started
    if running.status != "successful":
        raise RuntimeError(running.stderr[-2000:])
    return elapsed


def main(argv: Sequence[str] | None = None) -> int:
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--items", type=int, default=10_000)
    known, rest = extra.parse_known_args(argv)
    options = parse_args(__doc__.splitlines()[0], rest, repeat=3)
    row = Row(
        f"resume of a {known.items:,}-item foreach whose one item failed",
        "async_resume() + wait()",
        "s",
        target=5,
        previous=10,
    )
    with scratch() as folder:
        flow = flow_file(folder, "fail_once.py", FAIL_ONCE)
        maker = "fork" if "fork" in options.executors else options.executors[0]
        origin = anyio.run(_origin, flow, maker, known.items, backend=options.backend)
        for executor in options.executors:
            for _ in range(options.repeat):
                row.add(
                    executor,
                    anyio.run(
                        _resume, flow, executor, origin, known.items, backend=options.backend
                    ),
                )
    row.note = f"origin made with {maker}"
    report([row], as_json=options.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Workload: 200 concurrent ``async_run()``\\ s of a two-step flow; all must succeed.

Each repetition runs in a fresh event loop and times from the first ``async_run()`` to
the end of the last run. With spawn, 400 fresh interpreters take minutes on two cores, so
spawn runs once.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import anyio
from _common import Row, many_runs, parse_args, report, scratch

if TYPE_CHECKING:
    from collections.abc import Sequence

RUNS = 200


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(__doc__.splitlines()[0], argv, repeat=3)
    row = Row(
        f"{RUNS} concurrent async_run()s", "wall time, all succeed", "s", target=1.5, previous=2.4
    )
    with scratch() as folder:
        for executor in options.executors:
            for _ in range(options.repeat if executor == "fork" else 1):
                row.add(
                    executor, anyio.run(many_runs, folder, executor, RUNS, backend=options.backend)
                )
    if "spawn" in options.executors:
        row.note = "spawn measured once: 400 fresh interpreters"
    report([row], as_json=options.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

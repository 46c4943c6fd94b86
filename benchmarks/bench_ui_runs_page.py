"""Workload: the UI's runs page of a flow with 10,000 runs stored.

Writes 10,000 finished runs of one flow straight into the metadata store (every tenth
failed, some tagged), then times ``GET /flows/BenchFlow`` through the ASGI app (no network:
httpx's ASGI transport), the first page and with filters. The executor does not matter
here: one column. Needs the ``ui`` extra and httpx.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

import anyio
import httpx
from _common import Row, parse_args, report, scratch

from tideflow._metadata._sqlite import SQLiteMetadataStore
from tideflow._ui._app import create_app

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

RUNS = 10_000
QUERIES = {
    "the first page": "/flows/BenchFlow",
    "the last page": "/flows/BenchFlow?page=200",
    "filtered by status": "/flows/BenchFlow?status=failed",
    "filtered by tag and user": "/flows/BenchFlow?tag=nightly&user=bench",
    "a run id search": "/flows/BenchFlow?q=12",
}


def fill(root: Path) -> None:
    with SQLiteMetadataStore(root) as store:
        for number in range(RUNS):
            tags = ("nightly",) if number % 3 == 0 else ()
            record = store.create_run(
                "BenchFlow", user="bench", system_tags=("user:bench",), user_tags=tags
            )
            state = "failed" if number % 10 == 0 else "succeeded"
            store.finish_run("BenchFlow", record.run_id, state, time.time())


async def measure(root: Path, rows: dict[str, Row], repeat: int) -> None:
    transport = httpx.ASGITransport(app=create_app(root))
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for name, url in QUERIES.items():
            for index in range(repeat + 1):
                started = time.perf_counter()
                response = await client.get(url)
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 200:
                    raise RuntimeError(f"{url}: {response.status_code}")
                if index:  # the first request opens the store
                    rows[name].add("any", elapsed)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(__doc__.splitlines()[0], argv, repeat=10)
    workload = f"tideflow ui runs page, {RUNS:,} runs stored"
    rows = {
        name: Row(workload, name, "ms", target=250 if name == "the first page" else None)
        for name in QUERIES
    }
    with scratch() as folder:
        root = folder / ".tideflow"
        fill(root)
        anyio.run(measure, root, rows, options.repeat)
    report(list(rows.values()), as_json=options.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

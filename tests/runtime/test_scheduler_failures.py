"""The scheduler after a task fails for good: nothing new starts.

These tests run in an event loop of their own each (the default, function-scoped
``anyio_backend``), not in the module-wide loop of ``test_scheduler.py``: the fork hosts
they start end with their loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from stored_runs import metadata_store
from tideflow import Runner

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.parametrize("executor", ["spawn", "fork"])
async def test_a_failure_stops_the_tasks_waiting_for_a_slot(
    tideflow_root: Path, flows_dir: Path, executor: str
) -> None:
    """Once a task fails for good, no new task starts, even those already waiting for a
    worker slot: a 10,000-item foreach whose third item fails runs only the few body
    tasks that had started, and the run reports the failure as soon as they end."""
    runner = Runner(
        str(flows_dir / "fail_wide_foreach_flow.py"),
        show_output=False,
        env={"WIDTH": "10000", "BODY_SLEEP": "0.2"},
        executor=executor,
    )
    running = await runner.async_run(max_workers=4, max_num_splits=10_000)
    await running.wait()
    assert running.status == "failed"
    assert "Step failure: Task FailWideFlow/" in running.stderr
    with metadata_store(tideflow_root) as store:
        body = store.list_tasks("FailWideFlow", running.run.id, "body")
        attempts = [
            store.list_attempts("FailWideFlow", running.run.id, "body", t.task_id) for t in body
        ]
    assert len(body) < 50  # 4 at a time: the tasks that started before item 2 failed
    assert all(len(a) == 1 and a[0].state in ("succeeded", "failed") for a in attempts)
    assert sum(a[0].state == "failed" for a in attempts) == 1

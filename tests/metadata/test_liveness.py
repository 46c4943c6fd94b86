"""Liveness of a run's supervisor: the lock it holds, what readers conclude, and the end
states that a crash or a late supervisor can no longer change."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tideflow._metadata import AttemptRecord, SQLiteMetadataStore, TaskRecord
from tideflow._metadata._liveness import RunLock, is_alive, lock_path, mark_crashed_runs

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.skipif(os.name != "posix", reason="locks need fcntl")

_HOLDER = """
import sys
from pathlib import Path
from tideflow._metadata._liveness import RunLock
lock = RunLock.acquire(Path(sys.argv[1]), sys.argv[2], sys.argv[3])
print("held" if lock else "none", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteMetadataStore]:
    with SQLiteMetadataStore(tmp_path) as store:
        yield store


def _running_run(store: SQLiteMetadataStore) -> tuple[str, str]:
    run = store.create_run("F", user="alice", system_tags=("user:alice",))
    task = TaskRecord(flow="F", run_id=run.run_id, step="start", task_id="1", created_at=1.0)
    store.add_task(task)
    store.start_attempt(
        AttemptRecord(
            flow="F", run_id=run.run_id, step="start", task_id="1", attempt=0,
            state="running", started_at=time.time(),
        )
    )  # fmt: skip
    return "F", run.run_id


def test_a_lock_held_by_another_process_reads_alive_until_it_dies(
    store: SQLiteMetadataStore, tmp_path: Path
) -> None:
    """The lock tells a live holder from a dead one at once, whatever the heartbeat says."""
    flow, run_id = _running_run(store)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(tmp_path), flow, run_id],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "held\n"
        assert is_alive(tmp_path, flow, run_id) is True
        assert mark_crashed_runs(store, store.path.parent, heartbeat_timeout=0.0, flow=flow) == []
        holder.kill()
        holder.wait(timeout=10)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        for pipe in (holder.stdin, holder.stdout):
            if pipe is not None:
                pipe.close()
    assert is_alive(tmp_path, flow, run_id) is False
    [marked] = mark_crashed_runs(store, store.path.parent, heartbeat_timeout=3600.0, flow=flow)
    assert (marked.run_id, marked.status) == (run_id, "crashed")
    [attempt] = store.list_attempts(flow, run_id, "start", "1")
    assert attempt.state == "crashed"
    assert not lock_path(tmp_path, flow, run_id).exists()


def test_a_lock_held_in_this_process_reads_alive(
    store: SQLiteMetadataStore, tmp_path: Path
) -> None:
    """A reader in the supervising process itself sees the lock as held (flock locks
    belong to open files, not to processes); released, the file is gone."""
    flow, run_id = _running_run(store)
    lock = RunLock.acquire(tmp_path, flow, run_id)
    assert lock is not None
    assert is_alive(tmp_path, flow, run_id) is True
    lock.release()
    lock.release()
    assert is_alive(tmp_path, flow, run_id) is None
    assert repr(lock).endswith("released>")


def test_without_a_lock_the_heartbeat_decides(store: SQLiteMetadataStore, tmp_path: Path) -> None:
    flow, run_id = _running_run(store)
    assert is_alive(tmp_path, flow, run_id) is None
    assert mark_crashed_runs(store, store.path.parent, heartbeat_timeout=3600.0, flow=flow) == []
    time.sleep(0.01)
    [marked] = mark_crashed_runs(store, store.path.parent, heartbeat_timeout=0.0)
    assert marked.status == "crashed"


def test_lock_files_have_short_names_for_long_flow_names(tmp_path: Path) -> None:
    path = lock_path(tmp_path, "F" * 5000, "1796161083256904")
    assert len(path.name) < 64
    assert path != lock_path(tmp_path, "G" * 5000, "1796161083256904")


def test_a_crashed_run_never_flips_back(store: SQLiteMetadataStore) -> None:
    """finish_run keeps an end already recorded, and says so."""
    flow, run_id = _running_run(store)
    time.sleep(0.01)
    assert mark_crashed_runs(store, store.path.parent, heartbeat_timeout=0.0, flow=flow)
    assert store.finish_run(flow, run_id, "succeeded") is False
    assert store.get_run(flow, run_id).status == "crashed"


@pytest.mark.parametrize(
    ("status", "attempt_state"), [("crashed", "crashed"), ("failed", "cancelled")]
)
def test_finishing_a_run_finishes_its_running_attempts(
    store: SQLiteMetadataStore, status: str, attempt_state: str
) -> None:
    """No attempt stays running once its run has ended (an internal error included)."""
    flow, run_id = _running_run(store)
    assert store.finish_run(flow, run_id, status) is True
    [attempt] = store.list_attempts(flow, run_id, "start", "1")
    assert attempt.state == attempt_state
    assert attempt.finished_at is not None

"""Several processes use one metadata store at once, as supervisors and clients do."""

from __future__ import annotations

import multiprocessing
import time
from typing import TYPE_CHECKING

from tideflow._metadata._records import (
    ArtifactRecord,
    AttemptRecord,
    MetadataRecord,
    TaskRecord,
)

if TYPE_CHECKING:
    from multiprocessing.synchronize import Barrier

    from backends import Target

    from tideflow._stores._interfaces import MetadataStore

T0 = 1_700_000_000.0
PROCESSES = 4


def _spawn(target: object, args: tuple[object, ...]) -> list[object]:
    """Run ``target(*args, barrier, queue)`` in PROCESSES spawned processes; return what
    each put on the queue.
    """
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    queue: multiprocessing.Queue[object] = ctx.Queue()
    procs = [
        ctx.Process(target=target, args=(*args, n, barrier, queue))  # type: ignore[arg-type]
        for n in range(PROCESSES)
    ]
    for proc in procs:
        proc.start()
    try:
        results = [queue.get(timeout=100) for _ in procs]
    finally:
        for proc in procs:
            proc.join(timeout=30)
            if proc.exitcode is None:
                proc.kill()
                proc.join()
    assert [proc.exitcode for proc in procs] == [0] * PROCESSES
    return results


def _create_runs(target: Target, n: int, barrier: Barrier, queue: multiprocessing.Queue) -> None:
    store = target.metadata()
    try:
        barrier.wait()  # every process opens the new store at once, too
        ids = [
            store.create_run("Race", user=f"u{n}", system_tags=("user:u",), now=T0).run_id
            for _ in range(20)
        ]
        queue.put(ids)
    finally:
        store.close()


def test_run_ids_never_collide_between_processes(metadata_target: Target) -> None:
    """Processes start 20 runs each, all at the same instant: every id differs, and each
    process sees its own ids increase.
    """
    results = _spawn(_create_runs, (metadata_target,))
    ids = [run_id for result in results for run_id in result]  # type: ignore[attr-defined]
    assert len(set(ids)) == 20 * PROCESSES
    for result in results:
        numbers = [int(run_id) for run_id in result]  # type: ignore[attr-defined]
        assert numbers == sorted(set(numbers))
    store = metadata_target.metadata()
    try:
        runs = store.list_runs("Race")
        assert sorted(r.run_id for r in runs) == sorted(ids)
        assert [int(r.run_id) for r in runs] == sorted(map(int, ids), reverse=True)
        later = store.create_run("Race", user="u", system_tags=(), now=T0)
        assert int(later.run_id) > max(map(int, ids))
    finally:
        store.close()


def _work_on_one_run(
    target: Target,
    run_id: str,
    n: int,
    barrier: Barrier,
    queue: multiprocessing.Queue,
) -> None:
    """One process of a run: its own tasks, attempts, artifacts, metadata and tags."""
    store = target.metadata()
    try:
        barrier.wait()
        for i in range(10):
            task_id = f"{n}-{i}"
            _finish_task(store, run_id, task_id)
            store.add_tags("Shared", run_id, [f"p{n}"])
            store.heartbeat("Shared", run_id)
        queue.put(n)
    finally:
        store.close()


def _finish_task(store: MetadataStore, run_id: str, task_id: str) -> None:
    key = {"flow": "Shared", "run_id": run_id, "step": "each", "task_id": task_id}
    now = time.time()
    store.add_task(TaskRecord(**key, created_at=now, parent_pathspecs=(f"Shared/{run_id}/a/1",)))
    store.start_attempt(AttemptRecord(**key, attempt=0, state="running", started_at=now))
    store.record_task_end(
        **key,
        attempt=0,
        state="succeeded",
        artifacts=[
            ArtifactRecord(**key, attempt=0, name="x", sha="a" * 64, size=1, created_at=now)
        ],
        metadata=[
            MetadataRecord(**key, attempt=0, name="m", value=task_id, type="text", created_at=now)
        ],
    )


def test_processes_write_one_run_at_once(metadata_target: Target, metadata: MetadataStore) -> None:
    """Supervisors and task processes write the same run together; nothing is lost."""
    run = metadata.create_run("Shared", user="u", system_tags=("user:u",))
    _spawn(_work_on_one_run, (metadata_target, run.run_id))
    tasks = metadata.list_tasks("Shared", run.run_id, "each")
    assert len(tasks) == 10 * PROCESSES
    latest = metadata.latest_attempts("Shared", run.run_id, "each")
    assert sorted(a.task_id for a in latest) == sorted(t.task_id for t in tasks)
    assert {a.state for a in latest} == {"succeeded"}
    for task in tasks:
        key = (task.flow, task.run_id, task.step, task.task_id)
        assert [a.name for a in metadata.list_artifacts(*key, 0)] == ["x"]
        assert [m.value for m in metadata.list_metadata(*key)] == [task.task_id]
    assert len(metadata.child_tasks("Shared", run.run_id, f"Shared/{run.run_id}/a/1")) == 40
    assert metadata.get_run("Shared", run.run_id).user_tags == tuple(
        f"p{n}" for n in range(PROCESSES)
    )

"""What every metadata backend does with a batch of writes: ``MetadataStore.write_batch``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from test_metadata_store import T0, artifact, metadata_event, new_run, task_key

from tideflow._exceptions import NotFound, TideflowInternalError
from tideflow._metadata._records import AttemptRecord, ExceptionInfo, TaskRecord
from tideflow._metadata._writes import (
    AddArtifacts,
    AddMetadata,
    AddTask,
    EndAttempt,
    StartAttempt,
)

if TYPE_CHECKING:
    from tideflow._metadata._records import RunRecord
    from tideflow._metadata._writes import Write
    from tideflow._stores._interfaces import MetadataStore


def task(run: RunRecord, step: str = "start", task_id: str = "1") -> TaskRecord:
    return TaskRecord(flow=run.flow, run_id=run.run_id, step=step, task_id=task_id, created_at=T0)


def attempt(record: TaskRecord, number: int = 0) -> AttemptRecord:
    return AttemptRecord(
        flow=record.flow,
        run_id=record.run_id,
        step=record.step,
        task_id=record.task_id,
        attempt=number,
        state="running",
        started_at=T0,
    )


def end(record: TaskRecord, state: str = "succeeded", number: int = 0, **kw: object) -> EndAttempt:
    return EndAttempt(
        flow=record.flow,
        run_id=record.run_id,
        step=record.step,
        task_id=record.task_id,
        attempt=number,
        state=state,
        finished_at=T0 + 1,
        **kw,  # type: ignore[arg-type]
    )


def whole_task(record: TaskRecord) -> list[Write]:
    return [
        AddTask(record=record),
        StartAttempt(record=attempt(record)),
        end(
            record,
            artifacts=[artifact(record, "x")],
            metadata=[metadata_event(record, "m")],
            pid=7,
        ),
    ]


def test_a_batch_records_every_write_in_order(metadata: MetadataStore) -> None:
    run = new_run(metadata)
    tasks = [task(run, "body", str(n)) for n in range(1, 51)]
    metadata.write_batch([write for record in tasks for write in whole_task(record)])
    assert [s.step for s in metadata.list_steps("F", run.run_id)] == ["body"]
    assert len(metadata.list_tasks("F", run.run_id, "body")) == 50
    for record in tasks:
        (done,) = metadata.list_attempts(*task_key(record))
        assert (done.state, done.finished_at, done.pid) == ("succeeded", T0 + 1, 7)
        assert [a.name for a in metadata.list_artifacts(*task_key(record), 0)] == ["x"]
        assert [m.name for m in metadata.list_metadata(*task_key(record))] == ["m"]


def test_a_batch_may_go_on_from_earlier_writes(metadata: MetadataStore) -> None:
    """A later batch ends attempts an earlier batch (or a single write) started; artifacts
    and metadata may come on their own."""
    run = new_run(metadata)
    record = task(run)
    metadata.write_batch([AddTask(record=record), StartAttempt(record=attempt(record))])
    failed = ExceptionInfo(type="ValueError", message="no", traceback="tb")
    metadata.write_batch(
        [
            end(record, "failed", exception=failed, exit_code=1),
            StartAttempt(record=attempt(record, 1)),
            AddArtifacts(records=[artifact(record, "y", 1)]),
            AddMetadata(records=[metadata_event(record, "caught", 1)]),
        ]
    )
    first, second = metadata.list_attempts(*task_key(record))
    assert (first.state, first.exception, first.exit_code) == ("failed", failed, 1)
    assert second.state == "running"
    assert [a.name for a in metadata.list_artifacts(*task_key(record), 1)] == ["y"]
    assert [m.name for m in metadata.list_metadata(*task_key(record), 1)] == ["caught"]


def test_an_empty_batch_writes_nothing(metadata: MetadataStore) -> None:
    metadata.write_batch([])
    assert not metadata.exists()


def test_a_failing_write_records_nothing_of_its_batch(metadata: MetadataStore) -> None:
    run = new_run(metadata)
    good, other = task(run, "a"), task(run, "b")
    with pytest.raises(NotFound):
        metadata.write_batch([*whole_task(good), end(other)])
    with pytest.raises(NotFound):
        metadata.list_tasks("F", run.run_id, "a")
    assert metadata.list_steps("F", run.run_id) == []
    with pytest.raises(NotFound):
        metadata.write_batch(
            [AddTask(record=task(new_run(metadata, "G")))]
            + [
                AddTask(
                    record=TaskRecord(flow="F", run_id="999", step="s", task_id="1", created_at=T0)
                )
            ]
        )
    assert metadata.list_steps("G", metadata.list_runs("G")[0].run_id) == []


def test_a_write_to_a_missing_task_is_refused(metadata: MetadataStore) -> None:
    run = new_run(metadata)
    with pytest.raises(NotFound):
        metadata.write_batch([StartAttempt(record=attempt(task(run)))])


def test_a_task_recorded_twice_is_a_bug(metadata: MetadataStore) -> None:
    run = new_run(metadata)
    record = task(run)
    with pytest.raises(TideflowInternalError):
        metadata.write_batch([AddTask(record=record), AddTask(record=record)])
    metadata.write_batch([AddTask(record=record), StartAttempt(record=attempt(record))])
    with pytest.raises(TideflowInternalError):
        metadata.write_batch([StartAttempt(record=attempt(record))])


@pytest.mark.parametrize("state", ["running", "lost"])
def test_a_bad_final_state_is_refused_before_anything_is_written(
    metadata: MetadataStore, state: str
) -> None:
    run = new_run(metadata)
    record = task(run)
    with pytest.raises(ValueError, match="attempt state"):
        metadata.write_batch(
            [AddTask(record=record), StartAttempt(record=attempt(record)), end(record, state)]
        )
    assert metadata.list_steps("F", run.run_id) == []


def test_batches_from_threads_do_not_mix(metadata: MetadataStore) -> None:
    from concurrent.futures import ThreadPoolExecutor

    run = new_run(metadata)
    batches = [
        [w for n in range(10) for w in whole_task(task(run, f"s{b}", str(n)))] for b in range(8)
    ]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(metadata.write_batch, batches))
    for b in range(8):
        assert len(metadata.latest_attempts("F", run.run_id, f"s{b}")) == 10

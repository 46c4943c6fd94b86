"""Conversions between database rows and records, and the checks the store shares."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import msgspec

from .._exceptions import NotFound, TideflowInternalError
from .._states import AttemptState
from ._records import (
    ArtifactRecord,
    AttemptRecord,
    ExceptionInfo,
    MetadataRecord,
    RunRecord,
    TaskRecord,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = (
    "ARTIFACT_COLUMNS",
    "ATTEMPT_COLUMNS",
    "METADATA_COLUMNS",
    "TASK_COLUMNS",
    "artifact_record",
    "artifact_rows",
    "attempt_record",
    "attempt_row",
    "check_state",
    "duplicate",
    "exception_columns",
    "metadata_record",
    "metadata_rows",
    "run_not_found",
    "run_number",
    "run_record",
    "task_record",
    "task_row",
)

TASK_COLUMNS: Final = """flow, run_id, step, task_id, created_at, foreach_index,
    foreach_stack, parent_pathspecs, origin_pathspec"""
ATTEMPT_COLUMNS: Final = """flow, run_id, step, task_id, attempt, state, started_at,
    finished_at, exit_code, signal, pid, exc_type, exc_message, exc_traceback"""
ARTIFACT_COLUMNS: Final = "flow, run_id, step, task_id, attempt, name, sha, size, created_at"
METADATA_COLUMNS: Final = """flow, run_id, step, task_id, attempt, name, value, type,
    created_at, tags"""

_MAX_RUN_ID: Final = 2**63 - 1
_MAX_RUN_ID_DIGITS: Final = len(str(_MAX_RUN_ID))
_TAG_PAIRS: Final = msgspec.json.Decoder(list[tuple[str, int]])
_STRINGS: Final = msgspec.json.Decoder(tuple[str, ...])
_JSON: Final = msgspec.json.Encoder()


def run_number(flow: str, run_id: str, *rest: str) -> int:
    """Return the integer a run id is stored as.

    Run ids are at most 2**63 - 1, the largest integer a database column holds.

    :raises NotFound: if ``run_id`` is not a run id, or a name holds a lone surrogate (no
        such name can be stored), so no such run (or object in it) exists.
    """
    if (
        all(_is_text(name) for name in (flow, *rest))
        and run_id.isascii()
        and run_id.isdigit()
        and len(run_id) <= _MAX_RUN_ID_DIGITS
        and str(number := int(run_id)) == run_id
        and number <= _MAX_RUN_ID
    ):
        return number
    kind = ("Run", "Step", "Task")[len(rest)]
    # A lone surrogate is shown escaped, so that the message itself can be printed.
    pathspec = "/".join((flow, run_id, *rest)).encode("utf-8", "backslashreplace").decode()
    raise NotFound(f"{kind} '{pathspec}' does not exist")


def _is_text(name: str) -> bool:
    """Whether ``name`` can be stored: text without lone surrogates (which an undecodable
    byte of a command line becomes).
    """
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def run_not_found(flow: str, run_id: str) -> NotFound:
    return NotFound(f"Run '{flow}/{run_id}' does not exist")


def duplicate(what: str) -> TideflowInternalError:
    return TideflowInternalError(
        f"{what} is already recorded. Ids are allocated by tideflow, so this is a bug in "
        "tideflow, please report it."
    )


def check_state(state: str, allowed: frozenset[str], what: str, *, final: bool = True) -> None:
    """:raises ValueError: if ``state`` is not allowed (or is ``running`` when ``final``)."""
    if state not in allowed or (final and state == AttemptState.RUNNING):
        choices = sorted(allowed - {AttemptState.RUNNING} if final else allowed)
        raise ValueError(f"{state!r} is not a valid {what}; use one of {', '.join(choices)}")


def run_record(row: tuple[Any, ...]) -> RunRecord:
    tags = _TAG_PAIRS.decode(row[9])
    return RunRecord(
        flow=row[0],
        run_id=str(row[1]),
        user=row[2],
        status=row[3],
        created_at=row[4],
        finished_at=row[5],
        origin_run_id=row[6],
        heartbeat_at=row[7],
        pid=row[8],
        system_tags=tuple(sorted(tag for tag, system in tags if system)),
        user_tags=tuple(sorted(tag for tag, system in tags if not system)),
    )


def task_row(record: TaskRecord, number: int) -> tuple[object, ...]:
    return (
        record.flow,
        number,
        record.step,
        record.task_id,
        record.created_at,
        record.index,
        record.foreach_stack,
        _JSON.encode(record.parent_pathspecs).decode(),
        record.origin_pathspec,
    )


def task_record(row: tuple[Any, ...]) -> TaskRecord:
    return TaskRecord(
        flow=row[0],
        run_id=str(row[1]),
        step=row[2],
        task_id=row[3],
        created_at=row[4],
        index=row[5],
        foreach_stack=row[6],
        parent_pathspecs=_STRINGS.decode(row[7]),
        origin_pathspec=row[8],
    )


def exception_columns(exc: ExceptionInfo | None) -> tuple[str | None, str | None, str | None]:
    """The ``exc_type``, ``exc_message`` and ``exc_traceback`` columns of an attempt."""
    return (None, None, None) if exc is None else (exc.type, exc.message, exc.traceback)


def attempt_row(record: AttemptRecord, number: int) -> tuple[object, ...]:
    return (
        record.flow,
        number,
        record.step,
        record.task_id,
        record.attempt,
        record.state,
        record.started_at,
        record.finished_at,
        record.exit_code,
        record.signal,
        record.pid,
        *exception_columns(record.exception),
    )


def attempt_record(row: tuple[Any, ...]) -> AttemptRecord:
    exc_type, exc_message, exc_traceback = row[11:14]
    return AttemptRecord(
        flow=row[0],
        run_id=str(row[1]),
        step=row[2],
        task_id=row[3],
        attempt=row[4],
        state=row[5],
        started_at=row[6],
        finished_at=row[7],
        exit_code=row[8],
        signal=row[9],
        pid=row[10],
        exception=None
        if exc_type is None
        else ExceptionInfo(type=exc_type, message=exc_message, traceback=exc_traceback),
    )


def artifact_record(row: tuple[Any, ...]) -> ArtifactRecord:
    flow, number, step, task_id, attempt, name, sha, size, created_at = row
    return ArtifactRecord(
        flow=flow,
        run_id=str(number),
        step=step,
        task_id=task_id,
        attempt=attempt,
        name=name,
        sha=sha,
        size=size,
        created_at=created_at,
    )


def metadata_record(row: tuple[Any, ...]) -> MetadataRecord:
    flow, number, step, task_id, attempt, name, value, type_, created_at, tags = row
    return MetadataRecord(
        flow=flow,
        run_id=str(number),
        step=step,
        task_id=task_id,
        attempt=attempt,
        name=name,
        value=value,
        type=type_,
        created_at=created_at,
        tags=_STRINGS.decode(tags),
    )


def artifact_rows(records: Iterable[ArtifactRecord]) -> list[tuple[object, ...]]:
    """The rows of ``records`` in the order of :data:`ARTIFACT_COLUMNS`."""
    return [
        (
            r.flow,
            run_number(r.flow, r.run_id),
            r.step,
            r.task_id,
            r.attempt,
            r.name,
            r.sha,
            r.size,
            r.created_at,
        )
        for r in records
    ]


def metadata_rows(records: Iterable[MetadataRecord]) -> list[tuple[object, ...]]:
    """The rows of ``records`` in the order of :data:`METADATA_COLUMNS`."""
    return [
        (
            r.flow,
            run_number(r.flow, r.run_id),
            r.step,
            r.task_id,
            r.attempt,
            r.name,
            r.value,
            r.type,
            r.created_at,
            _JSON.encode(r.tags).decode(),
        )
        for r in records
    ]

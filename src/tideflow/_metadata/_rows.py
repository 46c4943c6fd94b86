"""Conversions between database rows and records, and the checks the store shares."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, TypeVar

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
    from collections.abc import Iterable, Sequence

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
R = TypeVar("R", bound=msgspec.Struct)


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


#: The columns of :data:`~._sql.Dialect.run_columns` before the tags, as fields of a run.
_RUN_FIELDS: Final = (
    "flow",
    "run_id",
    "user",
    "status",
    "created_at",
    "finished_at",
    "origin_run_id",
    "heartbeat_at",
    "pid",
)


def _record(
    cls: type[R], row: Sequence[Any], names: Sequence[str] | None = None, **decoded: Any
) -> R:
    """The record ``cls`` of a row whose columns are its fields (``names``, by default
    every field of ``cls`` in order), its run id as stored, and ``decoded`` fields."""
    values = dict(zip(names or cls.__struct_fields__, row, strict=False))
    values["run_id"] = str(values["run_id"])
    values.update(decoded)
    return cls(**values)


def _row(record: msgspec.Struct, number: int) -> list[Any]:
    """The fields of ``record`` in order (its table's columns), its run id as stored."""
    values = list(msgspec.structs.astuple(record))
    values[1] = number
    return values


def run_record(row: tuple[Any, ...]) -> RunRecord:
    tags = _TAG_PAIRS.decode(row[9])
    return _record(
        RunRecord,
        row,
        _RUN_FIELDS,
        system_tags=tuple(sorted(tag for tag, system in tags if system)),
        user_tags=tuple(sorted(tag for tag, system in tags if not system)),
    )


def task_row(record: TaskRecord, number: int) -> tuple[object, ...]:
    values = _row(record, number)
    values[7] = _JSON.encode(record.parent_pathspecs).decode()
    return tuple(values)


def task_record(row: tuple[Any, ...]) -> TaskRecord:
    return _record(TaskRecord, row, parent_pathspecs=_STRINGS.decode(row[7]))


def exception_columns(exc: ExceptionInfo | None) -> tuple[str | None, str | None, str | None]:
    """The ``exc_type``, ``exc_message`` and ``exc_traceback`` columns of an attempt."""
    return (None, None, None) if exc is None else (exc.type, exc.message, exc.traceback)


def attempt_row(record: AttemptRecord, number: int) -> tuple[object, ...]:
    return (*_row(record, number)[:-1], *exception_columns(record.exception))


def attempt_record(row: tuple[Any, ...]) -> AttemptRecord:
    exc_type, exc_message, exc_traceback = row[11:14]
    exception = (
        None
        if exc_type is None
        else ExceptionInfo(type=exc_type, message=exc_message, traceback=exc_traceback)
    )
    return _record(AttemptRecord, row[:11], exception=exception)


def artifact_record(row: tuple[Any, ...]) -> ArtifactRecord:
    return _record(ArtifactRecord, row)


def metadata_record(row: tuple[Any, ...]) -> MetadataRecord:
    return _record(MetadataRecord, row, tags=_STRINGS.decode(row[9]))


def artifact_rows(records: Iterable[ArtifactRecord]) -> list[tuple[object, ...]]:
    """The rows of ``records`` in the order of :data:`ARTIFACT_COLUMNS`."""
    return [tuple(_row(r, run_number(r.flow, r.run_id))) for r in records]


def metadata_rows(records: Iterable[MetadataRecord]) -> list[tuple[object, ...]]:
    """The rows of ``records`` in the order of :data:`METADATA_COLUMNS`."""
    rows = []
    for r in records:
        values = _row(r, run_number(r.flow, r.run_id))
        values[9] = _JSON.encode(r.tags).decode()
        rows.append(tuple(values))
    return rows

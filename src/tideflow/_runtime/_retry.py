"""What the step decorators ask of the scheduler, as pure functions of their records."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._flow._decorators import with_decospecs

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .._flow._decorators import StepDecorator

__all__ = (
    "describe_retry",
    "effective_decorators",
    "retries",
    "retry_delay",
    "timeout_seconds",
)


def effective_decorators(
    own: Iterable[StepDecorator], specs: Iterable[StepDecorator]
) -> dict[str, StepDecorator]:
    """A step's decorators by name: its own, then those from ``--with`` it does not have."""
    return {d.name: d for d in with_decospecs(own, specs)}


def retries(decorators: dict[str, StepDecorator]) -> int:
    """How many times a failed attempt is retried (``@retry(times=...)``; 0 without it)."""
    retry = decorators.get("retry")
    return int(retry.attributes["times"]) if retry is not None else 0


def retry_delay(decorators: dict[str, StepDecorator]) -> float:
    """Seconds to wait before a retry: ``minutes_between_retries`` when given, else none.

    Like the reference's local runtime, a retry starts at once unless the step asks for a
    pause; an explicit ``minutes_between_retries`` is honoured.
    """
    retry = decorators.get("retry")
    minutes = retry.attributes.get("minutes_between_retries") if retry is not None else None
    return 0.0 if minutes is None else max(0.0, float(minutes) * 60)


def describe_retry(delay: float, attempt: int, attempts: int) -> str:
    """What the console says before attempt number ``attempt`` (counted from 1) starts."""
    if delay <= 0:
        when = "retrying at once"
    elif delay < 120:
        when = f"retrying in {delay:.3g} s"
    else:
        when = f"retrying in {delay / 60:.3g} min"
    return f"{when}, attempt {attempt} of {attempts}"


def timeout_seconds(decorators: dict[str, StepDecorator]) -> float | None:
    """The time limit of one attempt (``@timeout``), or ``None`` for no limit."""
    timeout = decorators.get("timeout")
    if timeout is None:
        return None
    seconds = timeout.timeout_seconds
    return seconds if seconds > 0 else None

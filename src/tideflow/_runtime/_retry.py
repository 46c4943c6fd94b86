"""What the step decorators ask of the scheduler, as pure functions of their records."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._flow._decorators import with_decospecs

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .._flow._decorators import StepDecorator

__all__ = ("effective_decorators", "retries", "retry_delay", "timeout_seconds")


def effective_decorators(
    own: Iterable[StepDecorator], specs: Iterable[StepDecorator]
) -> dict[str, StepDecorator]:
    """A step's decorators by name: its own, then those from ``--with`` it does not have."""
    return {d.name: d for d in with_decospecs(own, specs)}


def retries(decorators: dict[str, StepDecorator]) -> int:
    """How many times a failed attempt is retried (``@retry(times=...)``; 0 without it)."""
    retry = decorators.get("retry")
    return int(retry.attributes["times"]) if retry is not None else 0


def retry_delay(decorators: dict[str, StepDecorator], scale: float = 1.0) -> float:
    """Seconds to wait before a retry: ``minutes_between_retries``, times ``scale``."""
    retry = decorators.get("retry")
    if retry is None:
        return 0.0
    return max(0.0, float(retry.attributes["minutes_between_retries"]) * 60 * scale)


def timeout_seconds(decorators: dict[str, StepDecorator]) -> float | None:
    """The time limit of one attempt (``@timeout``), or ``None`` for no limit."""
    timeout = decorators.get("timeout")
    if timeout is None:
        return None
    seconds = timeout.timeout_seconds
    return seconds if seconds > 0 else None

"""The context variable holding the running step's ``current.card`` (kept apart from the
components, so a task without ``@card`` does not import them)."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

__all__ = ("card_collector",)

#: The collector of the running step's cards (a ``CardCollector``), set by the task runner.
card_collector: ContextVar[Any] = ContextVar("tideflow_card_collector", default=None)

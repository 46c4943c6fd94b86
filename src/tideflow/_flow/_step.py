"""The ``@step`` decorator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from .._exceptions import FlowDefinitionError

__all__ = ("is_step", "step")

F = TypeVar("F", bound=Callable[..., Any])


def step(func: F) -> F:
    """Mark a method of a :class:`FlowSpec` subclass as a step of the flow.

    A step takes ``self`` (and ``inputs`` when it joins branches) and ends with a call to
    ``self.next(...)``, except the ``end`` step.
    """
    if not callable(func) or not hasattr(func, "__code__"):
        raise FlowDefinitionError(
            f"@step decorates functions only, got {func!r}. Write @step directly above "
            "`def name(self):`."
        )
    func.__tf_step__ = True  # type: ignore[attr-defined]
    return func


def is_step(obj: object) -> bool:
    """Whether ``obj`` is a function marked with ``@step``."""
    return bool(getattr(obj, "__tf_step__", False))

"""Forked children for the tests of stores and clients used across ``fork()``."""

from __future__ import annotations

import multiprocessing
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ("run_forked",)


def run_forked(
    calls: Sequence[tuple[Callable[..., Any], tuple[Any, ...]]], timeout: float = 60.0
) -> list[int | None]:
    """Run each ``(target, args)`` in a forked child, all at once; return their exit codes.

    A child still running after ``timeout`` seconds (a hang) is killed, so its code is
    ``-9`` and the test fails instead of hanging.
    """
    context = multiprocessing.get_context("fork")
    children = [context.Process(target=target, args=args) for target, args in calls]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=timeout)
        if child.exitcode is None:
            child.kill()
            child.join()
    return [child.exitcode for child in children]

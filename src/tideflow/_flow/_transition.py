"""What a step's ``self.next()`` asked for, and where a task sits among foreaches.

Both are values the definition layer makes (:meth:`FlowSpec.next`, the foreach stack a
task object is bound to) and the worker protocol carries, so they are defined here, below
:mod:`tideflow._messages`, which re-exports them with the other wire types. Everything
above the definition layer imports them from there.
"""

from __future__ import annotations

import msgspec

__all__ = ("ForeachFrame", "Transition")


class ForeachFrame(msgspec.Struct, frozen=True, array_like=True):
    """One level of foreach around a task: the splitting step, its variable, this index."""

    step: str
    var: str
    index: int
    num_splits: int
    #: Content hash of the foreach variable's value, where ``self.input`` comes from.
    value_sha: str


class Transition(msgspec.Struct, frozen=True):
    """What a step's ``self.next()`` asked for.

    For a switch, ``targets`` holds the one step chosen and ``condition`` the attribute
    that chose it; for ``num_parallel``, ``parallel`` is set and ``num_splits`` is N.
    """

    targets: tuple[str, ...]
    foreach: str | None = None
    num_splits: int | None = None
    condition: str | None = None
    parallel: bool = False

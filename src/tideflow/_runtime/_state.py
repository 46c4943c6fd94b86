"""Crashed runs: how a reader finds the runs whose supervisor died.

The states themselves are in :mod:`tideflow._states` (``RunState`` is re-exported here for
the runtime's modules).

A run whose supervisor died (killed, or its machine lost) cannot record its end. Its
supervisor holds a lock the operating system releases when it dies
(:mod:`tideflow._metadata._liveness`), and renews a lease (``heartbeat_at``) every
``Config.heartbeat_interval`` seconds for stores where no lock is possible; whoever reads
runs calls :func:`mark_crashed_runs` first, which records every ``running`` run whose
supervisor is gone as ``crashed``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._states import RunState

if TYPE_CHECKING:
    from pathlib import Path

    from .._config import Config
    from .._metadata._records import RunRecord
    from .._stores._interfaces import MetadataStore

__all__ = ("RunState", "mark_crashed_runs")


def mark_crashed_runs(
    store: MetadataStore, config: Config, flow: str | None = None, *, root: Path | None = None
) -> list[RunRecord]:
    """Record as ``crashed`` the running runs (of ``flow``, or of every flow) whose
    supervisor is gone (its lock released; without a lock: its lease expired), and their
    running attempts; return those runs. Call it before reading the states of runs.

    :param root: the store folder, which holds the runs' locks (default: the configured
        one, found as :func:`~tideflow._config.find_root` does).
    """
    from .._config import find_root
    from .._metadata._liveness import mark_crashed_runs as mark

    return mark(store, root or find_root(config), config.heartbeat_timeout, flow)

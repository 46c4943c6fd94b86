"""What the client keeps of runs that have ended, and how a listing reads its runs' views.

A *view* is a run with the newest task of its ``end`` step, that task's latest attempt and
that attempt's artifacts, read in one statement: what ``run.data`` needs
(:class:`~tideflow._metadata._records.RunView`).

Once a run has ended (any state but ``running``), its view no longer changes, except the
run's user tags: the supervisor wrote the end task before it recorded the final state, and
nothing writes to an ended run afterwards but a tag edit. :class:`EndedRuns` keeps these
views for the whole process, so a later ``Run(pathspec)`` of the same run reads the
metadata store only for its user tags, and only when they are asked for (its namespace is
often one of its system tags, which never change). A running run's view is never kept:
the client sees runs while they execute.

:class:`RunListing` belongs to the runs of one listing (``Flow(name).runs()``, iterating a
flow): the first ``run.data`` of one of them reads the views of the next
:attr:`RunListing.WINDOW` runs of the listing in one statement, so a loop over a listing
makes one round trip to the store per window instead of one per run.
"""

from __future__ import annotations

import collections
import itertools
import os
import threading
from typing import TYPE_CHECKING, ClassVar, Final, final

from .._states import RunState

if TYPE_CHECKING:
    from .._metadata._records import RunRecord, RunView
    from ._store import StoreHandle

__all__ = ("END_STEP", "EndedRuns", "RunListing")

#: The step whose artifacts are a run's ``data``.
END_STEP: Final = "end"


@final
class EndedRuns:
    """The views of the ended runs of one store handle, by flow and run id: at most
    :attr:`LIMIT` of them holding at most :attr:`ARTIFACT_LIMIT` artifacts together, the
    least recently used forgotten first.

    Safe to share between threads, and across a fork: a forked child makes a lock of its
    own for :meth:`keep` (another thread of the parent may have held this one).
    """

    __slots__ = ("_artifacts", "_lock", "_pid", "_views")

    #: How many views are kept at most.
    LIMIT: ClassVar[int] = 2048
    #: How many artifacts (of the ``end`` tasks) the views kept hold at most.
    ARTIFACT_LIMIT: ClassVar[int] = 50_000

    def __init__(self) -> None:
        self._views: collections.OrderedDict[tuple[str, str], RunView] = collections.OrderedDict()
        self._artifacts = 0
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def __repr__(self) -> str:
        return f"<EndedRuns {len(self._views)} kept>"

    def __len__(self) -> int:
        return len(self._views)

    def __contains__(self, key: object) -> bool:
        """Whether the view of ``(flow, run_id)`` is kept."""
        return key in self._views

    def _guard(self) -> threading.Lock:
        if self._pid != os.getpid():
            self._lock, self._pid = threading.Lock(), os.getpid()
        return self._lock

    def get(self, flow: str, run_id: str) -> RunView | None:
        """The view of the ended run ``flow/run_id``, if it is kept."""
        key = (flow, run_id)
        view = self._views.get(key)  # one call of the dictionary: no lock needed
        if view is not None:
            try:
                self._views.move_to_end(key)
            except KeyError:  # forgotten meanwhile by another thread
                pass
        return view

    def keep(self, view: RunView) -> None:
        """Keep ``view``, the view of a run that had ended when it was read."""
        if view.run.status == RunState.RUNNING:
            raise ValueError(f"Run '{view.run.pathspec}' is running: its view may change.")
        with self._guard():
            old = self._views.pop((view.run.flow, view.run.run_id), None)
            self._artifacts -= _artifact_count(old)
            self._views[view.run.flow, view.run.run_id] = view
            self._artifacts += _artifact_count(view)
            while len(self._views) > 1 and (
                len(self._views) > self.LIMIT or self._artifacts > self.ARTIFACT_LIMIT
            ):
                _, dropped = self._views.popitem(last=False)
                self._artifacts -= _artifact_count(dropped)


def _artifact_count(view: RunView | None) -> int:
    return 0 if view is None or view.newest is None else len(view.newest.artifacts)


@final
class RunListing:
    """The runs of one listing, newest first, and the views read for them so far.

    Each view is handed out once (:meth:`view`): the node of its run keeps it if the run
    had ended, and reads again if it was running.
    """

    __slots__ = ("_flow", "_handle", "_ids", "_position", "_records", "_views")

    #: How many runs' views one statement reads.
    WINDOW: ClassVar[int] = 100

    def __init__(self, handle: StoreHandle, flow: str, records: list[RunRecord]) -> None:
        self._handle = handle
        self._flow = flow
        self._records = records
        #: The run ids, and the position of each, once a view is asked for.
        self._ids: list[str] = []
        self._position: dict[str, int] = {}
        self._views: dict[str, RunView] = {}

    def __repr__(self) -> str:
        return f"<RunListing {self._flow}: {len(self._records)} runs, {len(self._views)} views>"

    def view(self, run_id: str) -> RunView | None:
        """The view of the run ``run_id`` of the listing, read together with those of the
        next runs of the listing that have none yet (unless it was read with an earlier
        one, or the run had ended and its view is kept); ``None`` for a run that is not in
        the listing."""
        kept, read = self._handle.ended, self._views
        view = read.pop(run_id, None) or kept.get(self._flow, run_id)
        if view is not None:
            return view
        if not self._ids:
            self._ids = [record.run_id for record in self._records]
            self._position = {other: at for at, other in enumerate(self._ids)}
        at = self._position.get(run_id)
        if at is None:
            return None
        later = (
            other
            for other in itertools.islice(self._ids, at + 1, None)
            if other not in read and (self._flow, other) not in kept
        )
        wanted = [run_id, *itertools.islice(later, self.WINDOW - 1)]
        for found in self._handle.metadata.get_run_views(self._flow, wanted, END_STEP):
            read[found.run.run_id] = found
            if found.run.status != RunState.RUNNING:
                kept.keep(found)  # for a later Run(pathspec) of it, too
        return read.pop(run_id, None)

"""Rendering and storing a task's cards, in the task process.

:class:`TaskCards` holds the step's card slots. The step's ``current.card.refresh()``
stores them while it runs; :meth:`TaskCards.finish` stores them when the step ends,
successful or not. Rendering runs in a helper thread bounded by the card's ``timeout``;
a card that fails or runs out of time is stored as an error card (``save_errors``) or
left out, and a line on stderr says why: a card never fails its task.
"""

from __future__ import annotations

import sys
import threading
import traceback
from typing import TYPE_CHECKING, Any

from .._exceptions import TideflowError
from ._collector import CardCollector, CardSlot
from ._render import TaskSummary, error_page, render_card
from ._store import write_card

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from .._stores._interfaces import BlobStore

__all__ = ("TaskCards",)


class TaskCards:
    """The cards of one task attempt; see the module docstring."""

    def __init__(
        self,
        blobs: BlobStore,
        pathspec: str,
        attempt: int,
        cards: Sequence[Mapping[str, Any]],
        summary: Callable[[bool | None], TaskSummary],
    ) -> None:
        self.blobs = blobs
        self.pathspec = pathspec
        self.attempt = attempt
        self.slots = [CardSlot(index, attributes) for index, attributes in enumerate(cards)]
        self._summary = summary
        self._lock = threading.Lock()
        step = pathspec.split("/")[2] if pathspec.count("/") >= 3 else ""
        self.collector = CardCollector(self.slots, self._save_running, step)

    def _save_running(self, slot: CardSlot) -> None:
        self._save(slot, None)

    def finish(self, ok: bool) -> None:
        """Store every card once more, as the step left it."""
        for slot in self.slots:
            self._save(slot, ok)

    def _save(self, slot: CardSlot, ok: bool | None) -> None:
        result: dict[str, Any] = {}

        def render() -> None:
            try:
                result["page"] = render_card(
                    slot.type, self._summary(ok), slot.components, slot.options
                )
            except Exception as exc:  # noqa: BLE001 - becomes an error card
                result["error"] = exc

        worker = threading.Thread(target=render, name="tideflow-card", daemon=True)
        with self._lock:
            worker.start()
            worker.join(slot.timeout if slot.timeout > 0 else None)
            if worker.is_alive():
                self._failed(slot, f"rendering took longer than {slot.timeout:g} seconds")
            elif "error" in result:
                exc = result["error"]
                details = "".join(traceback.format_exception(exc))
                self._failed(slot, f"{type(exc).__name__}: {exc}", details)
            else:
                self._write(slot, result["page"])

    def _write(self, slot: CardSlot, page: str) -> None:
        try:
            write_card(self.blobs, self.pathspec, slot.index, slot.type, slot.id, page)
        except (OSError, TideflowError) as exc:
            _say(f"@card: the {slot.type} card could not be stored: {exc}")

    def _failed(self, slot: CardSlot, message: str, details: str = "") -> None:
        _say(f"@card: the {slot.type} card could not be rendered: {message}")
        if slot.save_errors:
            self._write(slot, error_page(self.pathspec, slot.type, message, details))


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)  # noqa: T201 - the task's stderr

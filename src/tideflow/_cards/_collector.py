"""``current.card``: the cards of the running step, and the components appended to them.

A step with ``@card`` gets one :class:`CardSlot` per decorator. ``current.card.append(c)``
adds to the step's editable card: the one with ``customize=True``, else the only one
without an ``id``, else the only one. ``current.card["id"]`` reaches a card by its id.
``current.card.refresh()`` stores the cards as they are now, so a reader sees them while
the task runs; the task stores them once more when the step ends. A step without
``@card`` gets a collector that ignores what it is given (a line on stderr says so once).
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

from ._components import Artifact, CardComponent

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping

__all__ = ("CardCollector", "CardComponents", "CardSlot")


class CardSlot:
    """One ``@card`` of the running step and the components given to it."""

    def __init__(self, index: int, attributes: Mapping[str, Any]) -> None:
        self.index = index
        self.type: str = attributes.get("type", "default")
        self.id: str | None = attributes.get("id")
        self.options: dict[str, Any] = dict(attributes.get("options") or {})
        self.timeout = float(attributes.get("timeout", 45))
        self.save_errors = bool(attributes.get("save_errors", True))
        self.refresh_interval = float(attributes.get("refresh_interval", 5))
        self.customize = bool(attributes.get("customize", False))
        self.components: list[CardComponent] = []
        self.last_saved: float | None = None

    def __repr__(self) -> str:
        return f"<card {self.type} id={self.id!r} components={len(self.components)}>"


class CardComponents:
    """The components of one card: ``current.card["id"]``."""

    def __init__(self, collector: CardCollector, slot: CardSlot | None) -> None:
        self._collector = collector
        self._slot = slot

    def append(self, component: Any) -> None:
        """Add a component (a value that is not one is shown as an Artifact)."""
        if self._slot is not None:
            self._slot.components.append(self._collector._register(component))

    def extend(self, components: Iterable[Any]) -> None:
        """Add several components."""
        for component in components:
            self.append(component)

    def clear(self) -> None:
        """Remove every component."""
        if self._slot is not None:
            self._slot.components.clear()

    def refresh(self, data: Any = None, force: bool = False) -> None:
        """Store this card as it is now (at most once per ``refresh_interval``)."""
        if self._slot is not None:
            self._collector._refresh([self._slot], force)

    @property
    def components(self) -> list[CardComponent]:
        """The components, in order."""
        return list(self._slot.components) if self._slot is not None else []

    def __len__(self) -> int:
        return len(self.components)

    def __iter__(self) -> Iterator[CardComponent]:
        return iter(self.components)


class CardCollector:
    """``current.card`` inside a step; see the module docstring."""

    def __init__(
        self,
        slots: list[CardSlot],
        save: Callable[[CardSlot], None] | None = None,
        step: str = "",
    ) -> None:
        self.slots = slots
        self._save = save
        self._step = step
        self._by_component_id: dict[str, CardComponent] = {}
        self._warned = False

    def __repr__(self) -> str:
        return f"<current.card of {self._step or 'no step'}: {len(self.slots)} card(s)>"

    def _note(self, text: str) -> None:
        if not self._warned:
            self._warned = True
            print(f"current.card: {text}", file=sys.stderr)  # noqa: T201 - the task's stderr

    def _editable(self) -> CardSlot | None:
        custom = [s for s in self.slots if s.customize]
        unnamed = [s for s in self.slots if s.id is None]
        for group in (custom, unnamed, self.slots):
            if len(group) == 1:
                return group[0]
        if not self.slots:
            self._note(f"step '{self._step}' has no @card, so appended components are dropped.")
        else:
            self._note(
                "the step has several cards: name one with current.card['id'], or mark one "
                "@card(customize=True)."
            )
        return None

    def _register(self, value: Any) -> CardComponent:
        component = value if isinstance(value, CardComponent) else Artifact(value)
        if component.id is not None:
            self._by_component_id[component.id] = component
        return component

    def _refresh(self, slots: list[CardSlot], force: bool) -> None:
        if self._save is None:
            return
        now = time.monotonic()
        for slot in slots:
            due = slot.last_saved is None or now - slot.last_saved >= slot.refresh_interval
            if force or due:
                slot.last_saved = now
                self._save(slot)

    # -- the editable card ---------------------------------------------------------------

    def append(self, component: Any, id: str | None = None) -> None:
        """Add a component to the editable card (``id`` names the component)."""
        if id is not None and isinstance(component, CardComponent):
            component.component_id = id
        CardComponents(self, self._editable()).append(component)

    def extend(self, components: Iterable[Any]) -> None:
        """Add several components to the editable card."""
        CardComponents(self, self._editable()).extend(components)

    def clear(self) -> None:
        """Remove the editable card's components."""
        CardComponents(self, self._editable()).clear()

    def refresh(self, data: Any = None, force: bool = False) -> None:
        """Store every card of the step as it is now, for readers while the task runs.

        At most once per card's ``refresh_interval`` seconds unless ``force``; the task
        stores its cards again when the step ends in any case.
        """
        self._refresh(self.slots, force)

    def __getitem__(self, card_id: str) -> CardComponents:
        for slot in self.slots:
            if slot.id == card_id:
                return CardComponents(self, slot)
        ids = ", ".join(repr(s.id) for s in self.slots if s.id) or "none"
        self._note(f"no card has id {card_id!r} (ids: {ids}); its components are dropped.")
        return CardComponents(self, None)

    def __setitem__(self, card_id: str, components: Iterable[Any]) -> None:
        target = self[card_id]
        target.clear()
        target.extend(components)

    @property
    def components(self) -> Mapping[str, CardComponent]:
        """The components given an ``id``, by id: ``current.card.components["bar"]``."""
        return dict(self._by_component_id)

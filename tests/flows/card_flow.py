"""@card as the reference's users write it: several cards, components, live refresh."""

import os
import time
from pathlib import Path

from tideflow import FlowSpec, card, current, step
from tideflow.cards import (
    Artifact,
    CardComponent,
    Image,
    Markdown,
    ProgressBar,
    Table,
    VegaChart,
)

#: The smallest PNG: one transparent pixel.
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


class Broken(CardComponent):
    def render(self):
        raise RuntimeError("this component cannot render")


class Slow(CardComponent):
    def render(self):
        time.sleep(30)
        return "never shown"


class CardFlow(FlowSpec):
    """Makes cards of every kind."""

    @card
    @card(type="blank", id="progress", refresh_interval=0)
    @step
    def start(self):
        """The default card gets components; the blank one shows live progress."""
        self.answer = 42
        current.card.append(Markdown("# Report\n\nThe **answer** is `42`."))
        current.card.append(Table([[1, Markdown("*one*")], [2, "two"]], headers=["n", "name"]))
        current.card.append(Image(PIXEL, label="a pixel"))
        current.card.append(Artifact({"k": [1, 2, 3]}, name="a dict"))
        chart = {
            "mark": "bar",
            "data": {"values": [{"x": "a", "y": 1}, {"x": "b", "y": 3}]},
            "encoding": {"x": {"field": "x"}, "y": {"field": "y"}},
        }
        current.card.append(VegaChart(chart))
        bar = ProgressBar(max=10, label="Steps done", id="bar")
        current.card["progress"].append(bar)
        current.card["progress"].refresh()
        gate = os.environ.get("CARD_GATE")
        if gate:
            Path(gate, "refreshed").write_text("yes")
            while not Path(gate, "go").exists():
                time.sleep(0.01)
        current.card.components["bar"].update(10)
        current.card["progress"].refresh(force=True)
        if gate and os.environ.get("CARD_HOLD"):  # keep running until told: a live reader
            Path(gate, "updated").write_text("yes")
            while not Path(gate, "finish").exists():
                time.sleep(0.01)
        self.next(self.end)

    @card(type="default", id="fails")
    @card(type="nonexistent", id="unknown")
    @card(type="nonexistent", id="unsaved", save_errors=False)
    @card(type="blank", id="slow", timeout=0.2)
    @step
    def end(self):
        """A card that cannot render never fails its task."""
        current.card["fails"].append(Markdown("before the broken one"))
        current.card["fails"].append(Broken())
        current.card["slow"].append(Slow())
        current.card["nowhere"].append(Markdown("dropped"))
        self.done = True


if __name__ == "__main__":
    CardFlow()

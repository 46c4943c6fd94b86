"""Cards: an HTML report of a task, built from components while the step runs.

``@card`` adds the default card (the task, its parameters and artifacts, then what the step
appends); ``@card(type="blank", id=...)`` adds an empty one that the step fills through
``current.card[id]``. ``current.card.refresh()`` stores the cards as they are now, so they
can be looked at while the task runs. Afterwards::

    python examples/cards.py card list
    python examples/cards.py card view start --id progress
"""

from tideflow import FlowSpec, card, current, step
from tideflow.cards import Markdown, ProgressBar, Table, VegaChart


class CardsFlow(FlowSpec):
    """Square a few numbers, with a report."""

    @card
    @card(type="blank", id="progress", refresh_interval=0)
    @step
    def start(self):
        """Work through the numbers, showing progress, then report the results."""
        numbers = list(range(1, 6))
        bar = ProgressBar(max=len(numbers), label="Numbers squared")
        current.card["progress"].append(bar)
        self.squares = []
        for done, number in enumerate(numbers, 1):
            self.squares.append(number * number)
            bar.update(done)
            current.card["progress"].refresh()
        current.card.append(Markdown("# Squares\n\nEach number *times itself*."))
        current.card.append(
            Table(
                [[n, s] for n, s in zip(numbers, self.squares, strict=True)],
                headers=["number", "square"],
            )
        )
        chart = {
            "mark": "bar",
            "data": {
                "values": [
                    {"n": n, "square": s} for n, s in zip(numbers, self.squares, strict=True)
                ]
            },
            "encoding": {"x": {"field": "n"}, "y": {"field": "square"}},
        }
        current.card.append(VegaChart(chart))
        self.next(self.end)

    @step
    def end(self):
        """Say where the cards are."""
        print("See the cards with: python examples/cards.py card list")


if __name__ == "__main__":
    CardsFlow()

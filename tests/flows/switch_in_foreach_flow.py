"""A switch inside a foreach: each item takes its own case; one item may fail (resume)."""

import os
from pathlib import Path

from tideflow import FlowSpec, step


class SwitchInForeachFlow(FlowSpec):
    @step
    def start(self):
        self.items = [("a", 1), ("b", 2), ("a", 3), ("b", 4)]
        self.next(self.process_item, foreach="items")

    @step
    def process_item(self):
        self.item_type = "type_" + self.input[0]
        self.number = self.input[1]
        self.next({"type_a": self.handle_a, "type_b": self.handle_b}, condition="item_type")

    @step
    def handle_a(self):
        self.result = f"A{self.number}"
        self.next(self.join)

    @step
    def handle_b(self):
        marker = os.environ.get("FAIL_MARKER")
        if marker and self.number == 4 and not Path(marker).exists():
            raise ValueError("item 4 fails the first time")
        self.result = f"B{self.number}"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.results = [i.result for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SwitchInForeachFlow()

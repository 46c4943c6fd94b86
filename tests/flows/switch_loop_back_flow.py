"""A switch that goes back to an earlier step, and a recursive switch inside a foreach."""

from tideflow import FlowSpec, step


class SwitchLoopBackFlow(FlowSpec):
    @step
    def start(self):
        self.total = 0
        self.next(self.add)

    @step
    def add(self):
        self.total += 10
        self.next(self.check)

    @step
    def check(self):
        self.status = "again" if self.total < 30 else "done"
        self.next({"again": self.add, "done": self.fan_out}, condition="status")

    @step
    def fan_out(self):
        self.items = [{"id": "A", "iterations": 3}, {"id": "B", "iterations": 1}]
        self.next(self.start_loop_for_item, foreach="items")

    @step
    def start_loop_for_item(self):
        self.item_id = self.input["id"]
        self.max_loops = self.input["iterations"]
        self.item_loop_count = 0
        self.next(self.loop_body)

    @step
    def loop_body(self):
        self.item_loop_count += 1
        self.should_continue = str(self.item_loop_count < self.max_loops)
        self.next(
            {"True": self.loop_body, "False": self.exit_item_loop}, condition="should_continue"
        )

    @step
    def exit_item_loop(self):
        self.result = f"{self.item_id}:{self.item_loop_count}"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.results = sorted(i.result for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SwitchLoopBackFlow()

"""Branches and a foreach inside a switch, and a nested switch."""

from tideflow import FlowSpec, Parameter, step


class SwitchBlocksFlow(FlowSpec):
    mode = Parameter("mode", default="process")
    inner = Parameter("inner", default="x")

    @step
    def start(self):
        self.next(
            {
                "process": self.process_branch,
                "items": self.process_items,
                "nested": self.switch2,
            },
            condition="mode",
        )

    @step
    def process_branch(self):
        self.next(self.p1, self.p2)

    @step
    def p1(self):
        self.part = 1
        self.next(self.process_join)

    @step
    def p2(self):
        self.part = 2
        self.next(self.process_join)

    @step
    def process_join(self, inputs):
        self.result = sum(i.part for i in inputs)
        self.next(self.end)

    @step
    def process_items(self):
        self.items_to_process = ["item_1", "item_2", "item_3"]
        self.next(self.do_work, foreach="items_to_process")

    @step
    def do_work(self):
        self.done = self.input.upper()
        self.next(self.join_work)

    @step
    def join_work(self, inputs):
        self.result = [i.done for i in inputs]
        self.next(self.end)

    @step
    def switch2(self):
        self.next({"x": self.c, "y": self.d}, condition="inner")

    @step
    def c(self):
        self.result = "c"
        self.next(self.end)

    @step
    def d(self):
        self.result = "d"
        self.next(self.end)

    @step
    def end(self):
        print("result", self.result)


if __name__ == "__main__":
    SwitchBlocksFlow()

"""Executor tests: a flow whose import starts a thread, so its host cannot fork safely."""

import threading

from tideflow import FlowSpec, step

_stop = threading.Event()
threading.Thread(target=_stop.wait, daemon=True, name="started-at-import").start()


class ExecThreadedFlow(FlowSpec):
    """Two trivial steps."""

    @step
    def start(self):
        self.value = 1
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ExecThreadedFlow()

"""SlowFlow from the guide to running flows programmatically, ten times faster.

The guide's flow sleeps one second per ``seconds``; this one sleeps :data:`TICK`, so that
the guide's snippets run in a test suite. ``secs`` keeps the value it was given.
"""

import time

from tideflow import FlowSpec, Parameter, step

#: Seconds slept per "second" of the ``seconds`` parameter.
TICK = 0.1


class SlowFlow(FlowSpec):
    secs = Parameter("seconds", default=3)

    @step
    def start(self):
        for i in range(self.secs):
            print(f"{i} seconds passed")
            time.sleep(TICK)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SlowFlow()

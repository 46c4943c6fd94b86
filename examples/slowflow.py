# example-args: --seconds 1
"""The ``SlowFlow`` of the guide to running flows programmatically.

A flow with one integer parameter, ``--seconds`` (default 3): ``start`` prints a line
every second for that many seconds. The guide's ``Runner`` snippets use this file, as
``Runner('slowflow.py').run(seconds=5)``. The code below is the guide's own, unchanged but
for the import line, so the formatter and the import sorter leave it alone.

Run it with ``python examples/slowflow.py run --seconds 2``; the examples runner passes
``--seconds 1`` (the comment on the first line) to keep it quick.
"""
# ruff: noqa: I001, W293
# fmt: off

import time
from tideflow import FlowSpec, Parameter, step
class SlowFlow(FlowSpec):
    secs = Parameter('seconds', default=3)
    @step
    def start(self):
        for i in range(self.secs):
            print(f"{i} seconds passed")
            time.sleep(1)
        self.next(self.end)
    @step
    def end(self):
        pass
    
if __name__ == '__main__':
    SlowFlow()

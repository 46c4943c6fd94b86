"""Dask executor tests: a step whose first attempt waits to be killed with its worker."""

import os
import time
from pathlib import Path

from tideflow import FlowSpec, Parameter, current, retry, step


class DaskWorkerDeathFlow(FlowSpec):
    """``start`` records its pid on attempt 0, then sleeps."""

    pid_file = Parameter("pid_file", default="pids.txt")

    @retry(times=2, minutes_between_retries=0)
    @step
    def start(self):
        if current.retry_count == 0:
            Path(self.pid_file).write_text(str(os.getpid()))
            print("waiting to be killed", flush=True)
            time.sleep(300)
        self.survived_on = current.retry_count
        self.where = __file__
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    DaskWorkerDeathFlow()

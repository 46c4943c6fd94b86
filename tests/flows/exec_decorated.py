"""Executor tests: @retry, @catch, @environment and @resources at work."""

import os

from tideflow import FlowSpec, catch, current, environment, resources, retry, step


class ExecDecoratedFlow(FlowSpec):
    """``flaky`` fails on its first attempt; ``broken`` always fails and is caught."""

    @environment(vars={"EXEC_DECORATED": "from-the-decorator"})
    @resources(cpu=1, memory=100)
    @step
    def start(self):
        self.env_value = os.environ.get("EXEC_DECORATED")
        self.next(self.flaky)

    @retry(times=2, minutes_between_retries=0)
    @step
    def flaky(self):
        if current.retry_count == 0:
            raise RuntimeError("the first attempt fails")
        self.attempt_seen = current.retry_count
        self.next(self.broken)

    @catch(var="failure", print_exception=False)
    @step
    def broken(self):
        raise ValueError("always fails")
        self.next(self.end)

    @step
    def end(self):
        self.caught = type(self.failure).__name__ if self.failure is not None else None


if __name__ == "__main__":
    ExecDecoratedFlow()

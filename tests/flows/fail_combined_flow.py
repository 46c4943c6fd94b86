"""Decorators together: @retry with @timeout, and @retry with @catch."""

import time

from tideflow import FlowSpec, catch, current, retry, step, timeout


class FailCombinedFlow(FlowSpec):
    """start -> slow_once (@retry @timeout) -> broken (@retry @catch) -> end."""

    @step
    def start(self):
        self.next(self.slow_once)

    @retry(times=1, minutes_between_retries=0)
    @timeout(seconds=5)
    @step
    def slow_once(self):
        print(f"slow_once attempt {current.retry_count}")
        if current.retry_count == 0:
            time.sleep(60)
        self.finished_on = current.retry_count
        self.next(self.broken)

    @retry(times=1, minutes_between_retries=0)
    @catch(var="problem", print_exception=False)
    @step
    def broken(self):
        print(f"broken attempt {current.retry_count}")
        raise ValueError(f"broken on attempt {current.retry_count}")
        self.next(self.end)

    @step
    def end(self):
        self.problem_text = str(self.problem)


if __name__ == "__main__":
    FailCombinedFlow()

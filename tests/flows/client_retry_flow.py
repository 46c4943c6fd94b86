"""A step whose first attempt fails and whose retry succeeds."""

from tideflow import FlowSpec, current, retry, step


class ClientRetryFlow(FlowSpec):
    """``start`` raises on attempt 0 and stores ``attempt_seen`` on attempt 1."""

    @retry(times=1, minutes_between_retries=0)
    @step
    def start(self):
        print(f"attempt {current.retry_count}")
        if current.retry_count == 0:
            raise ValueError("the first attempt fails")
        self.attempt_seen = current.retry_count
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ClientRetryFlow()

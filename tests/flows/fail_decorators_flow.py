"""One step decorator per step: @retry, @environment, @catch (each on its own)."""

from tideflow import FlowSpec, catch, current, environment, retry, step


class FailDecoratorsFlow(FlowSpec):
    """start -> flaky (@retry) -> configured (@environment) -> broken (@catch) -> end."""

    @catch(var="start_error")
    @step
    def start(self):
        self.next(self.flaky)

    @retry(times=2, minutes_between_retries=0.01)
    @step
    def flaky(self):
        print(f"flaky attempt {current.retry_count}")
        if current.retry_count < 2:
            raise ValueError(f"attempt {current.retry_count} fails")
        self.attempt_seen = current.retry_count
        self.next(self.configured)

    @environment(vars={"GREETING": "hello from @environment"})
    @step
    def configured(self):
        import os

        self.greeting = os.environ.get("GREETING")
        self.next(self.broken)

    @catch(var="problem")
    @step
    def broken(self):
        self.partial = "set before the failure"
        raise KeyError("always broken")
        self.next(self.end)  # never reached; the graph reads it

    @step
    def end(self):
        self.problem_text = str(self.problem)
        self.start_error_seen = self.start_error


if __name__ == "__main__":
    FailDecoratorsFlow()

"""Configs: settings read from a file when the run starts, used in steps and decorators.

``Config("settings", default="config_settings.json")`` reads the JSON file (next to the
flow, or in the folder the run starts from). Every step reads it as ``self.settings``,
read-only, and decorator arguments use it directly (``settings.timeout``) or through
``config_expr``. Give another file or a value when the run starts::

    python examples/config.py --config settings other.json run
    python examples/config.py --config-value settings '{"timeout": 30, "retries": 0,
        "greeting": "Hi", "names": ["Ada"]}' run
"""

from tideflow import Config, FlowSpec, config_expr, current, retry, step, timeout


class ConfigFlow(FlowSpec):
    """Greet everyone the configuration names."""

    settings = Config("settings", default="config_settings.json")

    @timeout(seconds=settings.timeout)
    @retry(times=config_expr("settings.retries"), minutes_between_retries=0)
    @step
    def start(self):
        """Read the configuration."""
        print(f"Attempt {current.retry_count}; time limit {self.settings.timeout} seconds")
        self.greetings = [f"{self.settings.greeting}, {name}!" for name in self.settings.names]
        self.next(self.end)

    @step
    def end(self):
        """Print the greetings."""
        for line in self.greetings:
            print(line)


if __name__ == "__main__":
    ConfigFlow()

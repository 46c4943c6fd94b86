"""Configs as the reference's users write them: a file, decorator arguments, defaults."""

import os

from tideflow import (
    Config,
    FlowSpec,
    Parameter,
    config_expr,
    current,
    environment,
    retry,
    step,
    timeout,
)


class ConfigFlow(FlowSpec):
    """Reads its settings from config.json (or --config / --config-value)."""

    config = Config("config", default="config.json")
    limits = Config("limits", default_value={"workers": 2, "tries": 1})
    alpha = Parameter("alpha", default=config_expr("config.alpha * 2"))

    @timeout(seconds=config.timeout)
    @retry(times=config_expr("limits.tries + 1"), minutes_between_retries=0)
    @environment(vars={"DB_HOST": config.db.host})
    @step
    def start(self):
        """Read the configs in a step, and find them read-only."""
        self.host = self.config.db.host
        self.host_by_key = self.config["db"]["host"]
        self.seen_env = os.environ.get("DB_HOST")
        self.workers = self.limits.workers
        self.as_dict = self.config.to_dict()
        self.names = list(current.parameter_names)
        try:
            self.config = {}
        except AttributeError as exc:
            self.assign_error = str(exc)
        try:
            self.config.db.host = "elsewhere"
        except TypeError as exc:
            self.item_error = str(exc)
        self.next(self.end)

    @step
    def end(self):
        """Configs are there in every step."""
        self.end_host = self.config.db.host


if __name__ == "__main__":
    ConfigFlow()

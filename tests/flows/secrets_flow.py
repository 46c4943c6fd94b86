"""@secrets as the reference's users write it, with the local providers."""

import os

from tideflow import FlowSpec, secrets, step


class SecretsFlow(FlowSpec):
    """Reads secrets from the environment and from a file."""

    @secrets(sources=["env:APP_SECRET_", {"type": "file", "id": "db_secrets.json"}])
    @step
    def start(self):
        """The secrets are environment variables of this step."""
        self.token_length = len(os.environ["TOKEN"])
        self.db_user = os.environ["DB_USER"]
        self.next(self.end)

    @step
    def end(self):
        """Another step does not get them."""
        self.end_has_token = "TOKEN" in os.environ


if __name__ == "__main__":
    SecretsFlow()

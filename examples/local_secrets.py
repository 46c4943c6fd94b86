"""@secrets: secrets given to one step as environment variables, from a local provider.

The ``file`` provider reads a JSON object (or ``KEY=VALUE`` lines); the ``env`` provider
takes the variables with a prefix from the environment the run starts in
(``"env:PROD_DB_"`` turns ``PROD_DB_PASSWORD`` into ``PASSWORD``). Real secret managers
plug in as providers of their own; see the secrets guide.

Run it with ``python examples/local_secrets.py run``.
"""

import os
from pathlib import Path

from tideflow import FlowSpec, secrets, step

SECRETS_FILE = str(Path(__file__).with_name("secrets_example.json"))


class SecretsFlow(FlowSpec):
    """Connect to a (pretend) database with a secret password."""

    @secrets(sources=[{"type": "file", "id": SECRETS_FILE}])
    @step
    def start(self):
        """The secrets are environment variables here, and are stored nowhere."""
        user, password = os.environ["DB_USER"], os.environ["DB_PASSWORD"]
        print(f"connecting as {user} with a password of {len(password)} characters")
        self.next(self.end)

    @step
    def end(self):
        """Other steps do not see them."""
        print(f"DB_PASSWORD in this step: {'DB_PASSWORD' in os.environ}")


if __name__ == "__main__":
    SecretsFlow()

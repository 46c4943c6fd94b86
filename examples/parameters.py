# example-args: --dataset iris --epochs 3 --labels red,green,blue
"""Parameters of every type, given on the command line.

Each :class:`~tideflow.Parameter` becomes a ``--name`` option (``--help`` lists them with
their help text) and a read-only artifact of every task. The type comes from ``type=``,
else from the default: ``str``, ``int``, ``float``, ``bool`` (a ``--flag/--no-flag``
switch) or ``JSONType`` (JSON text). ``required=True`` makes the option mandatory,
a callable default is called with a context naming the flow and the user, and
``separator=`` splits the text into a list of strings.

The examples runner passes the required parameter from the comment on the first line.

Run it with ``python examples/parameters.py run --dataset iris --alpha 0.5 --no-verbose``.
"""

from tideflow import FlowSpec, JSONType, Parameter, step


def default_owner(context):
    """A callable default: the user who starts the run."""
    return f"{context.user_name} (via {context.flow_name})"


class ParameterFlow(FlowSpec):
    """Print every parameter with its type."""

    dataset = Parameter("dataset", help="Name of the data set to use", required=True)
    epochs = Parameter("epochs", help="How many passes over the data", default=10)
    alpha = Parameter("alpha", help="Learning rate", default=0.01)
    verbose = Parameter("verbose", help="Print more while running", default=True)
    config = Parameter(
        "config", help="Extra settings, as JSON", type=JSONType, default='{"layers": [8, 4]}'
    )
    owner = Parameter("owner", help="Who the results are for", default=default_owner)
    labels = Parameter("labels", help="Labels, separated by commas", default="a,b", separator=",")

    @step
    def start(self):
        """Print each parameter, its value and its Python type."""
        for name in ("dataset", "epochs", "alpha", "verbose", "config", "owner", "labels"):
            value = getattr(self, name)
            print(f"{name:>8} = {value!r} ({type(value).__name__})")
        self.next(self.end)

    @step
    def end(self):
        """Parameters are artifacts of every task, not only the first one."""
        print(f"training on {self.dataset} for {self.epochs} epochs at alpha={self.alpha}")


if __name__ == "__main__":
    ParameterFlow()

"""One parameter of every type; ``start`` records each value and its type."""

from tideflow import FlowSpec, JSONType, Parameter, step


def default_owner(context):
    return f"{context.user_name}@{context.flow_name}"


class ParamsFlow(FlowSpec):
    """Every kind of parameter."""

    name_ = Parameter("name", help="Who to greet", required=True)
    count = Parameter("count", help="How many times", default=2)
    ratio = Parameter("ratio", help="A fraction", default=0.25)
    loud = Parameter("loud", help="Shout the greeting", default=False)
    config = Parameter("config", help="Settings as JSON", type=JSONType, default='{"k": 1}')
    owner = Parameter("owner", help="Computed when the run starts", default=default_owner)
    colors = Parameter("colors", help="Colors, comma separated", default="red", separator=",")

    @step
    def start(self):
        """Record every parameter's value and type."""
        names = ("name_", "count", "ratio", "loud", "config", "owner", "colors")
        self.types = {name: type(getattr(self, name)).__name__ for name in names}
        try:
            self.count = 99
        except AttributeError as exc:
            self.assign_error = str(exc)
        self.next(self.end)

    @step
    def end(self):
        """Parameters are there in every step."""
        self.end_count = self.count


if __name__ == "__main__":
    ParamsFlow()

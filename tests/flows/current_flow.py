"""current.run and current.task, a callable default's parameter_name, a parameter default
from TIDEFLOW_RUN_<NAME>, and a class-level constant."""

from tideflow import FlowSpec, Parameter, current, step


def named_default(context):
    return f"default of {context.parameter_name}"


class CurrentFlow(FlowSpec):
    int_const = 123
    label = Parameter("label", default=named_default)
    batch_size = Parameter("batch-size", default=8, type=int)

    @step
    def start(self):
        self.run_pathspec = current.run.pathspec
        self.task_pathspec = current.task.pathspec
        self.seen_const = self.int_const
        try:
            self.int_const = 5
        except AttributeError as exc:
            self.assign_error = str(exc)
        self.next(self.end)

    @step
    def end(self):
        self.start_value = current.run["start"].task.data.run_pathspec


if __name__ == "__main__":
    CurrentFlow()

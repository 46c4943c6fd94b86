"""Three steps in a row: artifacts are inherited, replaced, deleted; ``_`` names are not stored."""

from tideflow import FlowSpec, current, step


def snapshot():
    """What ``current`` says inside a task."""
    return {
        "flow_name": current.flow_name,
        "run_id": current.run_id,
        "step_name": current.step_name,
        "task_id": current.task_id,
        "pathspec": current.pathspec,
        "retry_count": current.retry_count,
        "origin_run_id": current.origin_run_id,
        "namespace": current.namespace,
        "username": current.username,
        "is_running_flow": current.is_running_flow,
    }


class LinearFlow(FlowSpec):
    """start -> middle -> end."""

    @step
    def start(self):
        """Set three artifacts and a private attribute."""
        self.x = 1
        self.keep = "kept"
        self.gone = "deleted in middle"
        self._private = "not stored"
        self.seen = snapshot()
        self.next(self.middle)

    @step
    def middle(self):
        """Replace one artifact, delete another."""
        self.x = self.x + 1
        del self.gone
        self.had_private = hasattr(self, "_private")
        self.seen = snapshot()
        self.next(self.end)

    @step
    def end(self):
        """Read what came through."""
        self.total = self.x * 10
        self.still_gone = not hasattr(self, "gone")
        self.seen = snapshot()


if __name__ == "__main__":
    LinearFlow()

"""@project: runs of a flow belong to a project and a branch.

Without options a run is on the branch ``user.<your name>``; ``--branch NAME`` puts it on
``test.NAME`` and ``--production`` on ``prod``. Steps read the names from ``current``, and
each run carries the tags ``project:<name>`` and ``project_branch:<branch>``.

Run it with ``python examples/project.py --branch nightly run``.
"""

from tideflow import FlowSpec, current, project, step


@project(name="forecasts")
class ProjectFlow(FlowSpec):
    """Say where this run belongs."""

    @step
    def start(self):
        """Print the project's names."""
        print(f"project {current.project_name}, branch {current.branch_name}")
        print(f"production: {current.is_production}; full name {current.project_flow_name}")
        self.next(self.end)

    @step
    def end(self):
        """Nothing more to do."""


if __name__ == "__main__":
    ProjectFlow()

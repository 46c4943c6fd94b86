"""@project as the reference's users write it."""

from tideflow import FlowSpec, current, project, step


@project(name="recommender")
class ProjectFlow(FlowSpec):
    """Records what current says about the project."""

    @step
    def start(self):
        """Read the project's names."""
        self.project = {
            "project_name": current.project_name,
            "branch_name": current.branch_name,
            "is_production": current.is_production,
            "project_flow_name": current.project_flow_name,
        }
        self.next(self.end)

    @step
    def end(self):
        """Nothing more to do."""


if __name__ == "__main__":
    ProjectFlow()

"""@project named by a config, as the reference's config guide shows."""

from tideflow import Config, FlowSpec, config_expr, current, project, step


@project(name=config_expr("deploy.project"))
class ProjectConfigFlow(FlowSpec):
    """The project's name comes from the deploy config."""

    deploy = Config("deploy", default_value={"project": "from_config"})

    @step
    def start(self):
        """Record the project's name."""
        self.project_name = current.project_name
        self.next(self.end)

    @step
    def end(self):
        """Nothing more to do."""


if __name__ == "__main__":
    ProjectConfigFlow()

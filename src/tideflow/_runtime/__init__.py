"""The async runtime: the scheduler that runs a flow's tasks, and its policies."""

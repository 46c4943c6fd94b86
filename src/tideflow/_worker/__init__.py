"""Task execution: the child entry point, the frame protocol and the executors."""

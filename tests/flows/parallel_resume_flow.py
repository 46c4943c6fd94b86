"""@parallel with a failure until the file named by PARALLEL_FIXED exists: in node 2 of
the group (PARALLEL_FAIL=train, the default) or in the join after it (PARALLEL_FAIL=join).
A run that fails, then a resume."""

import os

from tideflow import FlowSpec, current, parallel, step


def _broken(where):
    failing = os.environ.get("PARALLEL_FAIL", "train") == where
    return failing and not os.path.exists(os.environ.get("PARALLEL_FIXED", ""))


class ParallelResumeFlow(FlowSpec):
    @step
    def start(self):
        self.base = 10
        self.next(self.train, num_parallel=3)

    @parallel
    @step
    def train(self):
        info = current.parallel
        self.node = (info.node_index, info.num_nodes, info.main_ip, info.control_task_id)
        self.task_id = current.task_id
        self.value = self.base + info.node_index
        self.pid = os.getpid()
        if info.node_index == 2 and _broken("train"):
            raise RuntimeError("node 2 fails until it is fixed")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = [i.value for i in inputs]
        self.nodes = [i.node for i in inputs]
        self.pids = [i.pid for i in inputs]
        if _broken("join"):
            raise RuntimeError("the join fails until it is fixed")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ParallelResumeFlow()

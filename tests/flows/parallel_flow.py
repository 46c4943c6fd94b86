"""@parallel: num_parallel tasks started together, each knowing its place in the group."""

import os

from tideflow import FlowSpec, Parameter, current, parallel, step


class ParallelFlow(FlowSpec):
    nodes = Parameter("nodes", default=3, type=int)

    @step
    def start(self):
        self.next(self.train, num_parallel=self.nodes)

    @parallel
    @step
    def train(self):
        info = current.parallel
        self.node = (info.node_index, info.num_nodes, info.main_ip, info.control_task_id)
        self.is_parallel = current.is_parallel
        self.item = self.input
        self.pid = os.getpid()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.nodes_seen = sorted(i.node for i in inputs)
        self.items = [i.item for i in inputs]
        self.pids = {i.pid for i in inputs}
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ParallelFlow()

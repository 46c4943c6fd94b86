"""Run a flow's tasks on a Dask cluster, with the flow unchanged.

``Runner(..., executor="dask")`` sends each task attempt to a dask.distributed cluster:
the one ``dask_address`` names (``tcp://host:port``, a cluster object or a client), or
the one in ``TIDEFLOW_DASK_ADDRESS``; with neither, as here, a temporary local cluster of
worker processes on 127.0.0.1, which stops with the run's supervisor. The flow's folder
is shipped to the workers through the datastore; the supervisor (this script) records the
run, and the tasks' output comes back while they run. See docs/dask.md.

Needs the extra: ``pip install 'tideflow[dask]'``. Run it from this folder:
``python runner_dask.py``.
"""

from tideflow import Runner

with Runner("foreach.py", show_output=False, executor="dask").run() as running:
    print(f"{running.run} ended on Dask: status {running.status}")
    print(f"lengths: {running.run['join'].task.data.lengths}")
    # What the tasks printed on the workers, as it reached the supervisor's console:
    for line in running.stdout.splitlines():
        if "letters" in line:
            print("from a worker:", line.split("] ", 1)[-1])

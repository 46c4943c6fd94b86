"""NBRunner in a real Jupyter kernel: a notebook executed by nbclient on ipykernel.

There, ``__main__`` has no ``__file__`` and a cell's source lives only in linecache under
a made-up file name, which the in-memory tests of ``test_nbrunner`` imitate; this module
checks the real thing, with ``nbrun()``, ``nbresume()`` and ``async_run()``, on each
executor. Each cell has a time limit, and the kernel is shut down when the notebook ends
(or fails).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import nbclient
import nbformat
import psutil
import pytest
from traitlets.config import Config

from executors import executor  # noqa: F401  (a fixture)

if TYPE_CHECKING:
    from pathlib import Path

FLOW_CELL = """\
from tideflow import FlowSpec, NBRunner, Parameter, step

class KernelFlow(FlowSpec):
    \"\"\"Squares, in a notebook.\"\"\"

    times = Parameter("times", default=2)

    @step
    def start(self):
        self.values = [i * i for i in range(self.times)]
        self.next(self.end)

    @step
    def end(self):
        print("end ran")
"""

NBRUN_CELL = """\
import json
run = NBRunner(KernelFlow, show_output=False).nbrun(times=3)
print(json.dumps({"nbrun": [run.successful, run.data.values, run.id]}))
"""

NBRESUME_CELL = """\
resumed = NBRunner(KernelFlow, show_output=False).nbresume(
    origin_run_id=run.id, step_to_rerun="end"
)
print(json.dumps({"nbresume": [resumed.successful, resumed.data.values, resumed.origin_pathspec]}))
"""

ASYNC_CELL = """\
runner = NBRunner(KernelFlow, show_output=False)
running = await runner.async_run(times=4)
await running.wait()
runner.cleanup()
print(json.dumps({"async_run": [running.status, running.run.data.values]}))
"""

#: Seconds one cell may take before nbclient gives up (and shuts the kernel down).
CELL_TIMEOUT = 60


def execute(cells: list[str], folder: Path) -> dict[str, Any]:
    """Run ``cells`` in a fresh python3 kernel working in ``folder``; return what each
    printed as one JSON line, merged. The kernel is gone when this returns."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
        # Unix sockets in ``folder`` (the test's working folder), not TCP ports.
        config=Config({"KernelManager": {"transport": "ipc", "ip": str(folder / "kernel")}}),
    )
    try:
        client.execute()
    finally:
        assert client.km is None or not client.km.has_kernel
    printed: dict[str, Any] = {}
    for cell in notebook.cells:
        for output in cell.outputs:
            if output.output_type == "stream" and output.name == "stdout":
                for line in output.text.splitlines():
                    if line.startswith("{"):
                        printed.update(json.loads(line))
    return printed


@pytest.fixture
def kernel_env(tideflow_root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The store of the test, and Jupyter's own folders kept in the test's folder."""
    folder = tideflow_root.parent
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(folder / "jupyter-runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(folder / "ipython"))
    return folder


@pytest.mark.timeout(4 * CELL_TIMEOUT + 60)
def test_nbrunner_in_a_jupyter_kernel(kernel_env: Path, executor: str) -> None:  # noqa: F811
    """A flow defined in a notebook cell runs with nbrun(), nbresume() and async_run();
    no temporary file and no process is left behind."""
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    printed = execute([FLOW_CELL, NBRUN_CELL, NBRESUME_CELL, ASYNC_CELL], kernel_env)
    successful, values, run_id = printed["nbrun"]
    assert successful and values == [0, 1, 4]
    assert printed["nbresume"] == [True, [0, 1, 4], f"KernelFlow/{run_id}"]
    assert printed["async_run"] == ["successful", [0, 1, 4, 9]]
    assert not list(kernel_env.glob("tideflow-nb-*"))
    left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    psutil.wait_procs(left, timeout=5)
    assert not [p for p in left if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]

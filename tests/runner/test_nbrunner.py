"""NBRunner: flows defined in a module, and flows whose source exists only in memory.

A notebook keeps each cell's source in ``linecache`` under a made-up file name and runs
it with ``exec``; the in-memory tests do the same. Such a cell is saved to a temporary
file that task processes import; the lines that start the flow from the cell are left
out of that file, or each task would start the flow again.
"""

from __future__ import annotations

import linecache
import os
import tempfile
import uuid
from typing import TYPE_CHECKING, Any

import pytest

from tideflow import FlowSpec, NBRunner, Parameter, Run, step
from tideflow._runner._notebook import cell_text as _cell_text

if TYPE_CHECKING:
    from pathlib import Path


class ModuleFlow(FlowSpec):
    """A flow defined in this (importable) test module."""

    greeting = Parameter("greeting", default="hi")

    @step
    def start(self):
        self.message = f"{self.greeting} from a module"
        self.next(self.end)

    @step
    def end(self):
        pass


CELL = """
from tideflow import FlowSpec, NBRunner, Parameter, step

class MemoryFlow(FlowSpec):
    times = Parameter("times", default=2)

    @step
    def start(self):
        self.values = [i * i for i in range(self.times)]
        print("values", self.values)
        self.next(self.end)

    @step
    def end(self):
        pass

run = NBRunner(MemoryFlow, show_output=False).nbrun(times=3)
squares = run.data.values
"""

#: The cell without the lines that run it, as in a notebook where another cell runs it.
CLASS_ONLY = CELL.replace("run = NBRunner", "# run = NBRunner").replace("squares =", "# squares =")


def exec_cell(source: str) -> dict[str, Any]:
    """Run ``source`` as a notebook runs a cell: registered in linecache, then exec'd."""
    filename = f"<notebook cell {uuid.uuid4().hex}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102
    return namespace


def listing(folder: Path) -> list[str]:
    """The names in ``folder`` and its sub-folders, sorted."""
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def nb_folders() -> set[str]:
    return {name for name in os.listdir(tempfile.gettempdir()) if name.startswith("tideflow-nb")}


@pytest.fixture(autouse=True)
def _in_a_store(tideflow_root: Path) -> None:
    pass


def test_class_from_this_module() -> None:
    before = nb_folders()
    run = NBRunner(ModuleFlow, show_output=False).nbrun(greeting="hello")
    assert isinstance(run, Run)
    assert run.successful
    assert run.data.message == "hello from a module"
    assert nb_folders() == before


def test_class_from_source_in_memory(capsys: pytest.CaptureFixture[str]) -> None:
    """The cell starts the flow on its last line, as the reference suggests."""
    before = nb_folders()
    namespace = exec_cell(CELL)
    run = namespace["run"]
    assert isinstance(run, Run)
    assert run.successful
    assert run.data.values == namespace["squares"] == [0, 1, 4]
    assert run.pathspec.startswith("MemoryFlow/")
    # The saved cell is gone again, and the flow ran once, not once per task.
    assert nb_folders() == before
    assert capsys.readouterr().out == ""


async def test_async_run_and_cleanup(tmp_path: Path) -> None:
    namespace = exec_cell(CLASS_ONLY)
    base = tmp_path / "base"
    base.mkdir()
    runner = NBRunner(namespace["MemoryFlow"], base_dir=base)
    running = await runner.async_run(times=2)
    folder, saved = listing(base)
    assert folder.startswith("tideflow-nb-")
    assert saved.endswith("/tideflow_notebook_memoryflow.py")
    assert (base / saved).read_text() == CLASS_ONLY
    await running.wait()
    assert running.status == "successful", running.stderr
    assert running.run.data.values == [0, 1]
    runner.cleanup()
    assert listing(base) == []
    # The runner can run again: the cell is saved anew, and leaving the ExecutingRun's
    # context cleans up too.
    async with await runner.async_run(times=1) as running:
        assert len(listing(base)) == 2
        await running.wait()
    assert listing(base) == []
    assert running.run.data.values == [0]


async def test_forgotten_cleanup_warns(tmp_path: Path) -> None:
    namespace = exec_cell(CLASS_ONLY)
    base = tmp_path / "base"
    base.mkdir()
    runner = NBRunner(namespace["MemoryFlow"], base_dir=base)
    await (await runner.async_run(times=0)).wait()
    assert len(listing(base)) == 2
    holder = [runner.runner]
    del runner
    with pytest.warns(ResourceWarning, match=r"with temporary files left: call cleanup\(\)"):
        holder.clear()
    assert listing(base) == []


def test_saved_cell_leaves_out_what_runs_the_flow() -> None:
    """Statements that use NBRunner, or what such statements made, become blank lines."""
    source = CELL + (
        "@decorate\ndef show():\n    print(squares)\nshow()\nimport json\nLIMIT = 3\n"
    )
    filename = f"<notebook cell {uuid.uuid4().hex}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(CLASS_ONLY, filename, "exec"), namespace)  # noqa: S102
    saved = _cell_text(namespace["MemoryFlow"]).splitlines()
    assert len(saved) == len(source.splitlines())
    kept = [line for line in saved if line]
    assert kept[-2:] == ["import json", "LIMIT = 3"]
    assert not [line for line in kept if "run" in line and "def" not in line]
    assert "show()" not in kept
    assert "@decorate" not in kept


def test_refusals(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"^NBRunner\(\) takes a FlowSpec subclass"):
        NBRunner("flow.py")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^NBRunner\(base_dir=\.\.\.\): '.*' is not a dir"):
        NBRunner(ModuleFlow, base_dir=tmp_path / "missing")

    def make() -> type[FlowSpec]:
        class LocalFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass

        return LocalFlow

    with pytest.raises(ValueError, match=r"^NBRunner needs LocalFlow defined at the top level"):
        NBRunner(make())

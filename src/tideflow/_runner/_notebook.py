"""NBRunner: run a flow defined in a notebook cell, and the cell's source for task processes.

Task processes import the flow by its file. A flow defined in a notebook cell (or in
``__main__``) has none, so its cell is saved to a temporary file, without the statements
that would start the flow again from inside a task (:func:`cell_text`).
"""

from __future__ import annotations

import ast
import linecache
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, final

from .._flow._spec import FlowSpec
from ._runner import Runner

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .._client import Run
    from .._runtime._loader import LoadedFlow
    from ._executing import ExecutingRun

__all__ = ("NBRunner", "SavedCell", "cell_text")


#: Names whose top-level statements are left out of a saved cell: running them again in a
#: task would start the flow from inside itself, or need IPython.
_CELL_ONLY_NAMES = frozenset({"NBRunner", "nbrun", "nbresume", "get_ipython"})


def _source_file(flow: type[FlowSpec]) -> str | None:
    for value in vars(flow).values():
        code = getattr(value, "__code__", None)
        if code is not None:
            return str(code.co_filename)
    return None


def _names_used(node: ast.stmt) -> set[str]:
    used = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            used.add(child.id)
        elif isinstance(child, ast.Attribute):
            used.add(child.attr)
    return used


def _names_bound(node: ast.stmt) -> set[str]:
    bound = {
        child.id
        for child in ast.walk(node)
        if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store)
    }
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        bound.add(node.name)
    return bound


def cell_text(flow: type[FlowSpec]) -> str:
    """The source of the cell (or file) that defines ``flow``, as a task can import it.

    Top-level statements that use NBRunner or IPython are blanked out, and so are those
    that use what such statements made (``run = NBRunner(F).nbrun()``, then
    ``print(run.data.x)``). Blank lines keep the line numbers, so tracebacks and the graph
    point at the cell's lines.
    """
    filename = _source_file(flow)
    lines = linecache.getlines(filename) if filename else []
    if not lines:
        raise ValueError(
            f"Cannot find the source of {flow.__name__}: NBRunner needs a flow defined in a "
            "notebook cell or a Python file."
        )
    lines = list(lines)
    tree = ast.parse("".join(lines))
    if not any(
        isinstance(node, ast.ClassDef) and node.name == flow.__name__ for node in tree.body
    ):
        raise ValueError(
            f"NBRunner needs {flow.__name__} defined at the top level of its cell or file "
            "(not inside a function or another class)."
        )
    tainted = set(_CELL_ONLY_NAMES)
    for node in tree.body:
        keep = isinstance(node, (ast.Import, ast.ImportFrom)) or (
            isinstance(node, ast.ClassDef) and node.name == flow.__name__
        )
        if keep or not _names_used(node) & tainted:
            continue
        tainted |= _names_bound(node)
        decorators = getattr(node, "decorator_list", [])
        start = min([node.lineno, *(d.lineno for d in decorators)])
        for index in range(start - 1, node.end_lineno or node.lineno):
            lines[index] = "\n"
    return "".join(lines)


def _importable(flow: type[FlowSpec]) -> bool:
    """Whether task processes can import ``flow`` by its module and name."""
    module = sys.modules.get(flow.__module__)
    file = getattr(module, "__file__", None)
    return (
        flow.__module__ != "__main__"
        and isinstance(file, str)
        and Path(file).is_file()
        and getattr(module, flow.__qualname__, None) is flow
    )


class SavedCell:
    """A notebook flow saved to a temporary file for task processes, written on demand."""

    def __init__(self, flow: type[FlowSpec], base_dir: str | None) -> None:
        self.flow = flow
        self.text = cell_text(flow)
        self._base_dir = base_dir
        self._folder: Path | None = None
        self._lock = threading.Lock()

    def load(self, cwd: str) -> LoadedFlow:
        from .._runtime._loader import LoadedFlow

        with self._lock:
            if self._folder is None or not self._folder.is_dir():
                self._folder = Path(tempfile.mkdtemp(prefix="tideflow-nb-", dir=self._base_dir))
            path = self._folder / f"tideflow_notebook_{self.flow.__name__.lower()}.py"
            if not path.is_file():
                path.write_text(self.text, encoding="utf-8")
        paths = [str(self._folder), cwd, *(p for p in sys.path if p and os.path.isdir(p))]
        return LoadedFlow(
            cls=self.flow, graph=self.flow._tf_graph(), source=str(path), sys_path=paths
        )

    def cleanup(self) -> bool:
        """Delete the saved file; return whether there was one."""
        with self._lock:
            folder, self._folder = self._folder, None
        if folder is None or not folder.exists():
            return False
        shutil.rmtree(folder, ignore_errors=True)
        return True


@final
class NBRunner:
    """Run a flow defined in a notebook cell: ``run = NBRunner(MyFlow).nbrun()``.

    :param flow: the FlowSpec subclass. When task processes cannot import it (it was
        defined in a notebook cell, in ``__main__``, or from source held only in memory),
        its cell is saved to a temporary file, which :meth:`cleanup` deletes.
    :param base_dir: the working directory of the run, where the temporary file goes too;
        the current directory (and the system's temporary folder) by default.

    The other parameters are those of :class:`Runner`. Not a context manager: ``nbrun`` and
    ``nbresume`` clean up themselves; call :meth:`cleanup` after ``async_run`` and
    ``async_resume``.
    """

    def __init__(
        self,
        flow: type[FlowSpec],
        show_output: bool = True,
        profile: str | None = None,
        env: Mapping[str, str] | None = None,
        base_dir: str | os.PathLike[str] | None = None,
        file_read_timeout: float = 3600,
        **kwargs: Any,
    ) -> None:
        if not (isinstance(flow, type) and issubclass(flow, FlowSpec)):
            raise TypeError(f"NBRunner() takes a FlowSpec subclass, got {flow!r}.")
        if base_dir is not None and not Path(base_dir).is_dir():
            raise ValueError(
                f"NBRunner(base_dir=...): {os.fspath(base_dir)!r} is not a directory."
            )
        self.flow = flow
        self.runner = Runner(
            flow,
            show_output=show_output,
            profile=profile,
            env=env,
            cwd=base_dir,
            file_read_timeout=file_read_timeout,
            **kwargs,
        )
        if not _importable(flow):
            folder = os.fspath(base_dir) if base_dir is not None else None
            self.runner._notebook = SavedCell(flow, folder)

    def __repr__(self) -> str:
        return f"<NBRunner {self.flow.__name__}>"

    def nbrun(self, **kwargs: Any) -> Run:
        """Run the flow, wait for the end, clean up, and return the finished :class:`Run`.

        :param kwargs: as for :meth:`Runner.run`.
        """
        try:
            return self.runner.run(**kwargs).run
        finally:
            self.cleanup()

    def nbresume(self, **kwargs: Any) -> Run:
        """Resume a run, wait for the end, clean up, and return the resumed :class:`Run`.

        :param kwargs: as for :meth:`Runner.resume`.
        """
        try:
            return self.runner.resume(**kwargs).run
        finally:
            self.cleanup()

    async def async_run(self, **kwargs: Any) -> ExecutingRun:
        """Start a run; same as :meth:`Runner.async_run`. Call :meth:`cleanup` after."""
        return await self.runner.async_run(**kwargs)

    async def async_resume(self, **kwargs: Any) -> ExecutingRun:
        """Start a resume; same as :meth:`Runner.async_resume`. Call :meth:`cleanup` after."""
        return await self.runner.async_resume(**kwargs)

    def cleanup(self) -> None:
        """Delete the temporary files (the saved cell)."""
        self.runner.cleanup()

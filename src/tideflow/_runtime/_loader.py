"""Loading a flow in the supervising process: its class, graph and parameters.

A flow file is imported under a private module name, so that it never shadows a module
of the caller; the result is cached by path, modification time and size, so a changed
file is loaded again.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
import threading
import traceback
from pathlib import Path

import msgspec

from .._exceptions import FlowDefinitionError, FlowFileNotFound
from .._flow._file_spec import flow_file_spec
from .._flow._graph import FlowGraph
from .._flow._spec import FlowSpec

__all__ = ("LoadedFlow", "find_flow_class", "flow_file_path", "load_flow")


class LoadedFlow(msgspec.Struct, frozen=True, kw_only=True):
    """A flow ready to run: its class, its validated graph and how workers import it."""

    cls: type[FlowSpec]
    graph: FlowGraph
    #: A file path, or ``module:Class`` for a flow imported by name.
    source: str
    sys_path: list[str]

    @property
    def name(self) -> str:
        """The flow's name (its class name)."""
        return self.cls.__name__


#: Imported flow files, by path, modification time and size.
_cache: dict[tuple[str, int, int], object] = {}
#: Imports change sys.path and sys.modules: one at a time (runners may load from threads).
_import_lock = threading.RLock()


def find_flow_class(
    module: object, where: str, wanted: str | None = None, *, ref: str | None = None
) -> type[FlowSpec]:
    """The single FlowSpec subclass defined in ``module`` (or the one named ``wanted``).

    :param where: the file (or module) named in the error.
    :param ref: how the user named the flow (``two_flows.py``), for the hint on how to
        pick one of several flows (``two_flows.py:TrainFlow``).
    :raises FlowDefinitionError: if there is no such class, or several and none is named.
    """
    classes = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, FlowSpec)
        and value is not FlowSpec
        and value.__module__ == getattr(module, "__name__", None)
    ]
    found = ", ".join(c.__name__ for c in classes)
    chosen = classes if wanted is None else [c for c in classes if c.__name__ == wanted]
    if len(chosen) == 1:
        return chosen[0]
    if wanted is not None:
        message = f"It defines no FlowSpec subclass named {wanted}; it defines: {found or 'none'}."
    elif not classes:
        message = "It defines no FlowSpec subclass: a flow is a class that subclasses FlowSpec."
    else:
        pick = f"{ref or where}:{classes[0].__name__}"
        message = (
            f"It defines {len(classes)} flows ({found}): pick one by name, as in "
            f"`tideflow run {pick}` or Runner('{pick}'), or keep one flow per file."
        )
    raise FlowDefinitionError(message, file=where)


def _import_file(path: Path) -> object:
    with _import_lock:
        return _import_file_locked(path)


def _import_file_locked(path: Path) -> object:
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:12]
    name = f"_tideflow_flow_{path.stem}_{digest}"
    spec = flow_file_spec(name, path)
    if spec is None or spec.loader is None:
        raise FlowDefinitionError(f"Cannot import {path}: is it a Python file?", file=str(path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    added = str(path.parent) not in sys.path
    if added:
        sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise FlowDefinitionError(
            f"The flow file does not parse: {exc.msg}. Fix the syntax error and try again.",
            file=exc.filename or str(path),
            line=exc.lineno,
        ) from None
    except Exception as exc:
        sys.modules.pop(name, None)
        text = "".join(traceback.format_exception_only(exc)).strip()
        raise FlowDefinitionError(
            f"Importing the flow file failed: {text}", file=str(path)
        ) from exc
    finally:
        if added:
            sys.path.remove(str(path.parent))
    _cache[key] = module
    return module


def _split_ref(text: str) -> tuple[str, str | None, bool]:
    """``(file or module, class name or None, whether it names a module)``."""
    before, colon, after = text.rpartition(":")
    if not colon or not before or not after.isidentifier():
        return text, None, False
    if before.endswith(".py"):
        return before, after, False
    return before, after, "/" not in before and not text.endswith(".py")


def flow_file_path(flow: str | os.PathLike[str], cwd: str | None = None) -> Path | None:
    """The flow file ``flow`` names (``flow.py`` or ``flow.py:Class``), relative to
    ``cwd``; ``None`` for ``module:Class``.

    :raises FlowFileNotFound: if the file does not exist.
    """
    target, _, is_module = _split_ref(os.fspath(flow))
    if is_module:
        return None
    path = Path(cwd or os.getcwd(), target).resolve()
    if not path.is_file():
        raise FlowFileNotFound(str(path))
    return path


def load_flow(flow: str | os.PathLike[str] | type[FlowSpec], cwd: str | None = None) -> LoadedFlow:
    """Load and validate a flow given as a file path (``flow.py``, or ``flow.py:Class``
    for a file of several flows), ``module:Class`` or a class.

    A module is looked for in ``cwd`` (the working directory by default) first, then on
    ``sys.path``; task processes look for it the same way.
    """
    if isinstance(flow, type):
        if not issubclass(flow, FlowSpec):
            raise TypeError(f"{flow!r} is not a FlowSpec subclass.")
        return _from_class(flow)
    text = os.fspath(flow)
    path = flow_file_path(text, cwd)
    target, class_name, _ = _split_ref(text)
    if path is None:
        folder = str(Path(cwd or os.getcwd()).resolve())
        assert class_name is not None
        module = _import_module(target, folder)
        return _from_class(find_flow_class(module, target, class_name), folder)
    cls = find_flow_class(_import_file(path), str(path), class_name, ref=target)
    graph = cls._tf_graph()
    return LoadedFlow(cls=cls, graph=graph, source=str(path), sys_path=[str(path.parent)])


def _import_module(name: str, folder: str) -> object:
    """Import the module ``name``, looking in ``folder`` first."""
    with _import_lock:
        added = folder not in sys.path
        if added:
            sys.path.insert(0, folder)
        try:
            return importlib.import_module(name)
        except ImportError as exc:
            raise FlowDefinitionError(
                f"Cannot import module '{name}': {exc}. It is looked for in {folder} and on "
                "sys.path."
            ) from exc
        finally:
            if added:
                sys.path.remove(folder)


def _from_class(cls: type[FlowSpec], folder: str | None = None) -> LoadedFlow:
    graph = cls._tf_graph()
    module = sys.modules.get(cls.__module__)
    file = getattr(module, "__file__", None)
    if cls.__module__ == "__main__" or cls.__module__.startswith("_tideflow_flow_"):
        if not file:
            raise FlowDefinitionError(
                f"Flow {cls.__name__} is defined in a module without a file: use NBRunner, "
                "which saves notebook flows to a file first."
            )
        source = str(Path(file).resolve())
    else:
        source = f"{cls.__module__}:{cls.__qualname__}"
    paths = [p for p in sys.path if p and os.path.isdir(p)]
    if folder is not None:
        paths.insert(0, folder)
    if file:
        paths.insert(0, str(Path(file).resolve().parent))
    return LoadedFlow(cls=cls, graph=graph, source=source, sys_path=paths)

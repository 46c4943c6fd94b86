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


_cache: dict[tuple[str, int, int], type[FlowSpec]] = {}
#: Imports change sys.path and sys.modules: one at a time (runners may load from threads).
_import_lock = threading.RLock()


def find_flow_class(module: object, where: str, wanted: str | None = None) -> type[FlowSpec]:
    """The single FlowSpec subclass defined in ``module`` (or the one named ``wanted``)."""
    classes = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, FlowSpec)
        and value is not FlowSpec
        and value.__module__ == getattr(module, "__name__", None)
    ]
    if wanted is not None:
        classes = [c for c in classes if c.__name__ == wanted]
    if len(classes) != 1:
        found = ", ".join(c.__name__ for c in classes) or "none"
        raise FlowDefinitionError(
            f"{where} must define exactly one FlowSpec subclass"
            + (f" named {wanted}" if wanted else "")
            + f"; found {found}.",
            file=where,
        )
    return classes[0]


def _import_file(path: Path) -> type[FlowSpec]:
    with _import_lock:
        return _import_file_locked(path)


def _import_file_locked(path: Path) -> type[FlowSpec]:
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:12]
    name = f"_tideflow_flow_{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
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
    cls = find_flow_class(module, str(path))
    _cache[key] = cls
    return cls


def flow_file_path(flow: str | os.PathLike[str], cwd: str | None = None) -> Path | None:
    """The flow file ``flow`` names, relative to ``cwd``; ``None`` for ``module:Class``.

    :raises FlowFileNotFound: if the file does not exist.
    """
    text = os.fspath(flow)
    module_ref, colon, _ = text.rpartition(":")
    if colon and not text.endswith(".py") and module_ref and "/" not in module_ref:
        return None
    path = Path(cwd or os.getcwd(), text).resolve()
    if not path.is_file():
        raise FlowFileNotFound(str(path))
    return path


def load_flow(flow: str | os.PathLike[str] | type[FlowSpec], cwd: str | None = None) -> LoadedFlow:
    """Load and validate a flow given as a file path, ``module:Class`` or a class."""
    if isinstance(flow, type):
        if not issubclass(flow, FlowSpec):
            raise TypeError(f"{flow!r} is not a FlowSpec subclass.")
        return _from_class(flow)
    path = flow_file_path(flow, cwd)
    if path is None:
        module_ref, _, class_name = os.fspath(flow).rpartition(":")
        try:
            module = importlib.import_module(module_ref)
        except ImportError as exc:
            raise FlowDefinitionError(f"Cannot import module '{module_ref}': {exc}") from exc
        return _from_class(find_flow_class(module, module_ref, class_name))
    cls = _import_file(path)
    graph = cls._tf_graph()
    return LoadedFlow(cls=cls, graph=graph, source=str(path), sys_path=[str(path.parent)])


def _from_class(cls: type[FlowSpec]) -> LoadedFlow:
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
    if file:
        paths.insert(0, str(Path(file).resolve().parent))
    return LoadedFlow(cls=cls, graph=graph, source=source, sys_path=paths)

"""``IncludeFile``: a parameter whose value is the contents of a local file.

The command line and the Runner take the file's path (``--data data.csv``,
``run(data="data.csv")``); the run reads the file when it starts and stores its contents
as an artifact, so every step (and every later reader of the run) sees the same bytes,
even after the file changed or is gone.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._exceptions import ParameterError
from ._parameter import Parameter

if TYPE_CHECKING:
    from ._parameter import ParameterContext

__all__ = ("IncludeFile",)


class IncludeFile(Parameter):
    """A parameter holding a local file's contents: text (``str``) or binary (``bytes``).

    :param name: the parameter's name (``--name PATH`` on the command line).
    :param required: whether a run without it is refused.
    :param is_text: read the file as text (decoded with ``encoding``), else as bytes.
    :param encoding: the text encoding (``utf-8``).
    :param help: the help text of the command line.
    :param default: the path read when none is given (or a callable returning it).
    """

    def __init__(
        self,
        name: str,
        required: bool = False,
        is_text: bool = True,
        encoding: str = "utf-8",
        help: str | None = None,
        default: str | Any = None,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("show_default", None)
        super().__init__(name, default=None, help=help, required=required, **kwargs)
        # The default is a path, not a value: keep it apart from Parameter's typed default.
        self.default = default
        self.is_text = bool(is_text)
        self.encoding = encoding

    @property
    def type_name(self) -> str:
        """``file`` in help texts."""
        return "file"

    def __repr__(self) -> str:
        return f"IncludeFile({self.name!r}, is_text={self.is_text}, default={self.default!r})"

    def default_value(self, context: ParameterContext | None = None) -> Any:
        """The contents of the ``default`` file (relative to the run's folder), or ``None``."""
        path = self.default(context) if callable(self.default) else self.default
        if path is None or path == "":
            return None
        if context is not None and context.cwd is not None:
            path = Path(context.cwd, os.fspath(path))
        return self.read(path)

    def convert(self, value: Any, *, from_text: bool) -> Any:
        """Read the file at the path ``value``.

        :raises ParameterError: if the file cannot be read or decoded.
        :raises TypeError: if ``value`` is not a path.
        """
        if not isinstance(value, (str, os.PathLike)):
            raise TypeError(
                f"IncludeFile '{self.name}' takes the path of a file, got "
                f"{type(value).__name__} ({value!r})."
            )
        return self.read(value)

    def read(self, path: str | os.PathLike[str]) -> str | bytes:
        """The contents of ``path``: ``str`` when ``is_text``, else ``bytes``."""
        full = Path(path).expanduser()
        try:
            data = full.read_bytes()
        except OSError as exc:
            raise ParameterError(
                f"IncludeFile '{self.name}': cannot read {full} ({exc.strerror}). Pass the "
                f"path of an existing file: --{self.name} PATH."
            ) from exc
        if not self.is_text:
            return data
        try:
            return data.decode(self.encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParameterError(
                f"IncludeFile '{self.name}': {full} is not {self.encoding} text ({exc}). "
                "Give the right encoding=..., or is_text=False to read bytes."
            ) from exc

    def to_text(self, value: Any) -> str:
        """Included contents have no command-line form of their own; shown as a summary."""
        return f"<{len(value)} {'characters' if self.is_text else 'bytes'}>"

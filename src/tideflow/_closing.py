"""A base for objects that hold a resource until :meth:`Closing.close`."""

from __future__ import annotations

from typing import Self

__all__ = ("Closing",)


class Closing:
    """An object that holds a resource until :meth:`close`, and is a context manager that
    closes it on exit (``with open_stores() as stores: ...``)."""

    __slots__ = ()

    def close(self) -> None:
        """Release what the object holds."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

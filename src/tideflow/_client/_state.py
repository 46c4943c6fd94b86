"""The client's process-wide state, kept in one small holder object.

The reference API makes the namespace a setting of the process: ``namespace('user:bob')``
changes what every later lookup sees, in every thread. tideflow keeps that behaviour (code
written for the reference relies on it), but keeps the state in this one object instead of
module globals rewritten by ``global`` statements. The holder also keeps the open stores by
root, weakly, so that client objects made from one root share one database connection.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, final

if TYPE_CHECKING:
    from ._store import StoreHandle

__all__ = ("ClientState", "client_state")


@final
class ClientState:
    """The namespace choice and the open stores of this process (see the module docstring).

    ``namespace_set`` is false until :func:`~tideflow.namespace` is called; the namespace is
    then ``namespace`` (``None`` for every namespace). Until then, and after
    :func:`~tideflow.default_namespace`, the default namespace applies.
    """

    __slots__ = ("__weakref__", "lock", "namespace", "namespace_set", "stores")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.namespace_set = False
        self.namespace: str | None = None
        self.stores: weakref.WeakValueDictionary[str, StoreHandle] = weakref.WeakValueDictionary()

    def __repr__(self) -> str:
        chosen = repr(self.namespace) if self.namespace_set else "default"
        return f"<ClientState namespace={chosen} stores={len(self.stores)}>"


_STATE = ClientState()


def client_state() -> ClientState:
    """Return the holder of this process's client state."""
    return _STATE

"""The client's process-wide state, kept in one small holder object.

The reference API makes the namespace a setting of the process: ``namespace('user:bob')``
changes what every later lookup sees, in every thread. tideflow keeps that behaviour (code
written for the reference relies on it), but keeps the state in this one object instead of
module globals rewritten by ``global`` statements. The holder also keeps the open stores by
root, weakly, so that client objects made from one root share one database connection, and
holds the few most recently used ones strongly, so that a loop building a fresh ``Run`` per
iteration does not open and close a connection each time (opening one costs about a
millisecond; reading an artifact about a tenth of that).
"""

from __future__ import annotations

import collections
import os
import threading
import weakref
from typing import TYPE_CHECKING, final

from .._config import account_name as find_account

if TYPE_CHECKING:
    from ._store import StoreHandle

__all__ = ("ClientState", "account_name", "client_state")


@final
class ClientState:
    """The namespace choice and the open stores of this process (see the module docstring).

    ``namespace_set`` is false until :func:`~tideflow.namespace` is called; the namespace is
    then ``namespace`` (``None`` for every namespace). Until then, and after
    :func:`~tideflow.default_namespace`, the default namespace applies.
    """

    __slots__ = (
        "__weakref__",
        "accounts",
        "lock",
        "namespace",
        "namespace_set",
        "recent",
        "stores",
    )

    #: How many recently used stores stay open with no client object using them.
    KEEP_OPEN = 4

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.namespace_set = False
        self.namespace: str | None = None
        self.stores: weakref.WeakValueDictionary[object, StoreHandle] = (
            weakref.WeakValueDictionary()
        )
        self.recent: collections.deque[StoreHandle] = collections.deque(maxlen=self.KEEP_OPEN)
        #: The account name of each user id looked up (the default namespace's user when
        #: no variable names one): reading the account database costs more than a query.
        self.accounts: dict[int, str] = {}

    def after_fork(self) -> None:
        """In a forked child: a new lock (the parent's may have been held by a thread the
        child does not have)."""
        self.lock = threading.Lock()

    def __repr__(self) -> str:
        chosen = repr(self.namespace) if self.namespace_set else "default"
        return f"<ClientState namespace={chosen} stores={len(self.stores)}>"


_STATE = ClientState()
if hasattr(os, "register_at_fork"):
    # Another thread may hold the lock at the moment of a fork; the child has no such
    # thread, so it starts with a lock of its own.
    os.register_at_fork(after_in_child=_STATE.after_fork)


def client_state() -> ClientState:
    """Return the holder of this process's client state."""
    return _STATE


def account_name() -> str | None:
    """This process's account name, looked up once per user id (see
    :func:`tideflow._config.account_name`)."""
    accounts, uid = _STATE.accounts, os.getuid() if hasattr(os, "getuid") else -1
    name = accounts.get(uid)
    if name is None and (name := find_account()) is not None:
        accounts[uid] = name
    return name

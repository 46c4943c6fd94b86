"""Namespaces: which runs the client sees.

A namespace is a tag. A run is in the namespace ``ns`` when ``ns`` is one of its tags, so
``user:alice`` holds alice's runs. The namespace is a process-wide setting, as in the
reference API: see :mod:`tideflow._client._state`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._config import resolve_username
from .._exceptions import NamespaceMismatch
from ._state import account_name, client_state

if TYPE_CHECKING:
    from ._node import Node

__all__ = (
    "check_namespace",
    "default_namespace",
    "flow_namespace_mismatch",
    "get_namespace",
    "namespace",
    "namespace_mismatch",
)


def namespace(ns: str | None) -> str | None:
    """Switch the namespace of this process to ``ns`` and return it.

    Later lookups (``Run(...)``, ``Flow(...).runs()``, ...) only see the runs that carry
    the tag ``ns``, such as ``user:alice`` or ``team:search``. ``namespace(None)`` sees every
    run. The setting holds for the whole process, every thread included, until it is
    changed again.

    :raises TypeError: if ``ns`` is neither a string nor ``None``.
    :raises ValueError: if ``ns`` is an empty string.
    """
    if ns is not None and not isinstance(ns, str):
        raise TypeError(
            f"namespace() takes a tag such as 'user:alice', or None; got {type(ns).__name__}."
        )
    if ns == "":
        raise ValueError(
            "namespace('') is not a namespace: pass a tag such as 'user:alice', or None to "
            "see every run."
        )
    state = client_state()
    with state.lock:
        state.namespace_set = True
        state.namespace = ns
    return ns


def get_namespace() -> str | None:
    """Return the current namespace: a tag, or ``None`` when every run is visible.

    Until :func:`namespace` is called, this is :func:`default_namespace`'s answer.

    :raises TideflowError: if the default namespace is needed and no user name is known
        (set ``TIDEFLOW_USER``).
    """
    state = client_state()
    with state.lock:
        if state.namespace_set:
            return state.namespace
    return _default()


def default_namespace() -> str:
    """Go back to the default namespace, ``user:<your user name>``, and return it.

    The user name comes from the configuration, else ``TIDEFLOW_USER``, else ``USER``,
    ``LOGNAME`` or ``USERNAME``.

    :raises TideflowError: if no user name is known.
    """
    state = client_state()
    with state.lock:
        state.namespace_set = False
        state.namespace = None
    return _default()


def _default() -> str:
    return f"user:{resolve_username(None, account=account_name)}"


def namespace_mismatch(
    kind: str, pathspec: str, ns: str, tags: frozenset[str]
) -> NamespaceMismatch:
    """The error for an object whose run does not carry the tag ``ns``."""
    users = sorted(tag for tag in tags if tag.startswith("user:"))
    hint = f", or namespace({users[0]!r}) to see this run's namespace" if users else ""
    return NamespaceMismatch(
        f"{kind} '{pathspec}' is not in the current namespace '{ns}'. Call namespace(None) "
        f"to see objects of every namespace{hint}."
    )


def flow_namespace_mismatch(flow: str, ns: str | None) -> NamespaceMismatch:
    """The error for a flow none of whose runs carries the tag ``ns``."""
    return NamespaceMismatch(
        f"Flow '{flow}' has no run in the current namespace '{ns}'. Call namespace(None) "
        "to see objects of every namespace."
    )


def check_namespace(kind: str, node: Node) -> None:
    """:raises NamespaceMismatch: if ``node``'s run does not carry the current namespace."""
    ns = get_namespace()
    if ns is not None and not node.in_namespace(ns):
        raise namespace_mismatch(kind, node.pathspec, ns, node.tags)

"""How the client is declared: each query once, and both faces built from that.

The blocking classes (``Flow``, ``Run``, ``Step``, ``Task``, ``DataArtifact``) declare
their queries in their class body with the functions below: which node method (or small
function of the node) answers, how its answer becomes a client value, and the docstring.
When a class is created, every declaration visible in it becomes its blocking attribute
(:func:`build_blocking`); an async twin, ``class AsyncRun(..., twin=Run)``, gets the async
attribute of each of the same declarations (:func:`build_async`). Adding a property is
one line in the blocking class.

The naming rule, one per kind of declaration:

============  ===========================================  ==================================
declared as   on the blocking class                        on the async class
============  ===========================================  ==================================
``held``      property ``x`` (answers from the object)     the same property ``x``
``read``      property ``x`` (reads the store)             coroutine method ``fetch_x()``
``values``    property ``x`` (artifact values, on use)     ``fetch_x(*names)``: read now
``children``  property ``x``: a :class:`ChildList`         ``x(*tags)``: an async iterator
``listing``   method ``x(...)`` returning an iterator      ``x(...)``: an async iterator
``method``    method ``x(...)``                            coroutine method ``x(...)``
============  ===========================================  ==================================

A node call runs in the caller's thread on the blocking face and in a worker thread
(``anyio.to_thread.run_sync``) on the async face; the conversion of its answer (wrapping
nodes as client objects) reads nothing and runs in the caller either way.
"""

from __future__ import annotations

import functools
import inspect
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, Self, TypeVar, overload

import anyio.to_thread

from ._data import ChildList

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator

    from ._common import ClientObject

__all__ = (
    "Children",
    "Held",
    "Listing",
    "Method",
    "Query",
    "Read",
    "Values",
    "build_async",
    "build_blocking",
    "children",
    "declared",
    "each",
    "held",
    "listing",
    "many",
    "method",
    "one",
    "read",
    "values",
    "wrapped",
)

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")


def one(obj: ClientObject, node: Any) -> Any:
    """A node as a client object of ``obj``'s face, ``None`` as ``None``."""
    return None if node is None else obj._wrap(node)


def each(obj: ClientObject, nodes: Any) -> Any:
    """Nodes as client objects: an iterator on the blocking face (as the reference API
    gives), a list on the async face."""
    return obj._many([obj._wrap(node) for node in nodes])


def many(obj: ClientObject, values: Any) -> Any:
    """Plain values: an iterator on the blocking face, a list on the async face."""
    return obj._many(list(values))


def wrapped(obj: ClientObject, nodes: Any) -> list[Any]:
    """Nodes as a list of client objects, on both faces."""
    return [obj._wrap(node) for node in nodes]


def _same(obj: ClientObject, answer: Any) -> Any:
    return answer


class Query(Generic[T]):
    """One declared query. The blocking class reads it as a ``T``; once the class is
    built, the declaration is replaced by the attribute of its face.

    The functions that :meth:`blocking` and :meth:`asynchronous` build become methods
    and property getters of the client classes: their ``self`` is the client object.
    """

    __slots__ = ("answer", "convert", "doc", "name")

    def __init__(
        self,
        answer: Callable[..., Any],
        doc: str | None,
        to: Callable[[Any, Any], Any] | None,
    ) -> None:
        self.answer = answer
        self.doc = inspect.cleandoc(doc or answer.__doc__ or "")
        self.convert = to
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{type(self).__name__.lower()} query {self.name!r}>"

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, obj: object, owner: type[Any]) -> T: ...
    def __get__(self, obj: object, owner: type[Any]) -> Self | T:
        if obj is None:
            return self
        raise AttributeError(f"{owner.__name__}.{self.name} is declared on a class no face built")

    def async_name(self) -> str:
        """The name of the async twin's attribute."""
        return self.name

    def blocking(self) -> object:
        """The blocking class's attribute."""
        raise NotImplementedError

    def asynchronous(self) -> object:
        """The async class's attribute."""
        raise NotImplementedError

    def _returns(self) -> Any:
        """The type the face gives, where it is the answer's own (no conversion)."""
        if self.convert is not None:
            return inspect.Signature.empty
        answer = self.answer.fget if isinstance(self.answer, property) else self.answer
        try:
            return inspect.signature(answer).return_annotation
        except (TypeError, ValueError):  # pragma: no cover - builtins without one
            return inspect.Signature.empty

    def _named(self, func: Callable[..., Any], name: str) -> Callable[..., Any]:
        """``func`` named ``name``, with the declaration's docstring, and annotated with
        the answer's return type (or nothing) rather than the generic ``Any`` it has."""
        func.__name__ = func.__qualname__ = name
        func.__doc__ = self.doc
        returns = self._returns()
        func.__annotations__ = {} if returns is inspect.Signature.empty else {"return": returns}
        return func

    def _property(self, get: Callable[[Any], Any]) -> property:
        """A read-only property of ``get``, documented and annotated as :meth:`_named`."""
        return property(self._named(get, self.name), doc=self.doc)

    def _signature(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """``func`` with the answer's parameters, its node parameter shown as ``self``."""
        try:
            signature = inspect.signature(self.answer)
        except (TypeError, ValueError):  # pragma: no cover - builtins without one
            return func
        params = list(signature.parameters.values())
        self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
        func.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[self_param, *params[1:]], return_annotation=self._returns()
        )
        return func


class Held(Query[T]):
    """Answered from what the object holds: the same property on both faces.

    Declared with a property of the node (``held(TaskNode.index, ...)``), it reads that
    property through :func:`operator.attrgetter`, without a Python call of its own.
    """

    __slots__ = ()

    def blocking(self) -> object:
        answer, convert = self.answer, self.convert
        if isinstance(answer, property) and convert is None:
            get = attrgetter(f"_node.{answer.fget.__name__}")
            return property(get, doc=self.doc)
        convert = convert or _same
        return self._property(lambda obj: convert(obj, answer(obj._node)))

    def asynchronous(self) -> object:
        return self.blocking()


class Read(Query[T]):
    """Reads the store: property ``x`` on the blocking face, ``await obj.fetch_x()`` on
    the async face."""

    __slots__ = ()

    def async_name(self) -> str:
        return f"fetch_{self.name}"

    def blocking(self) -> object:
        answer = self.answer
        if self.convert is None:
            return self._property(lambda obj: answer(obj._node))
        convert = self.convert
        return self._property(lambda obj: convert(obj, answer(obj._node)))

    def asynchronous(self) -> object:
        answer, convert = self.answer, self.convert or _same

        async def fetch(self: ClientObject) -> Any:
            return convert(self, await anyio.to_thread.run_sync(answer, self._node))

        return self._named(fetch, self.async_name())


class Values(Read[T]):
    """Artifact values: on the blocking face each is read when first used; the async
    ``fetch_x(*names)`` reads the named ones (all, by default) in the worker thread."""

    __slots__ = ()

    def asynchronous(self) -> object:
        answer = self.answer

        async def fetch(self: ClientObject, *names: str) -> Any:
            return await anyio.to_thread.run_sync(answer, self._node, names)

        return self._named(fetch, self.async_name())


class Children(Query[ChildList[T]]):
    """The children of a level: a :class:`ChildList` on the blocking face (call it with
    tags, iterate or index it), an async iterator method ``x(*tags)`` on the async face."""

    __slots__ = ()

    def _returns(self) -> Any:
        return inspect.Signature.empty  # the face's own container, not the answer's list

    def blocking(self) -> object:
        answer = self.answer

        def get(self: Any) -> ChildList[Any]:
            node, wrap = self._node, self._wrap
            return ChildList(
                self.pathspec,
                lambda tags: [wrap(child) for child in answer(node, tags)],
                self.__getitem__,
            )

        return self._property(get)

    def asynchronous(self) -> object:
        answer = self.answer

        async def list_children(self: ClientObject, *tags: str) -> AsyncIterator[Any]:
            for node in await anyio.to_thread.run_sync(answer, self._node, tags):
                yield self._wrap(node)

        return self._named(list_children, self.name)


class Listing(Query["Callable[P, Iterator[T]]"], Generic[P, T]):
    """A method that lists: it returns an iterator on the blocking face and is an async
    iterator on the async face (the whole list is read in one worker-thread call)."""

    __slots__ = ()

    def _returns(self) -> Any:
        return inspect.Signature.empty  # the face's own container, not the answer's list

    def blocking(self) -> object:
        answer, convert = self.answer, self.convert or _same

        def call(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
            return iter(convert(self, answer(self._node, *args, **kwargs)))

        return self._signature(self._named(call, self.name))

    def asynchronous(self) -> object:
        answer, convert = self.answer, self.convert or _same

        async def call(self: Any, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            found = await anyio.to_thread.run_sync(
                functools.partial(answer, self._node, *args, **kwargs)
            )
            for item in convert(self, found):
                yield item

        return self._signature(self._named(call, self.name))


class Method(Query["Callable[P, R]"], Generic[P, R]):
    """A method: called in the caller's thread on the blocking face, a coroutine method of
    the same name on the async face."""

    __slots__ = ()

    def blocking(self) -> object:
        answer, convert = self.answer, self.convert or _same

        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            return convert(self, answer(self._node, *args, **kwargs))

        return self._signature(self._named(call, self.name))

    def asynchronous(self) -> object:
        answer, convert = self.answer, self.convert or _same

        async def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            found = await anyio.to_thread.run_sync(
                functools.partial(answer, self._node, *args, **kwargs)
            )
            return convert(self, found)

        return self._signature(self._named(call, self.name))


# -- the declaring functions ----------------------------------------------------------------
# Each returns ``Any``-typed queries when a conversion is given: the blocking class then
# states the type it gives in an annotation (``latest_run: Read[Run | None] = read(...)``).


@overload
def held(answer: Callable[[Any], T], doc: str | None = None) -> Held[T]: ...
@overload
def held(
    answer: Callable[[Any], Any], doc: str | None = None, *, to: Callable[[Any, Any], Any]
) -> Held[Any]: ...
def held(
    answer: Callable[[Any], Any],
    doc: str | None = None,
    *,
    to: Callable[[Any, Any], Any] | None = None,
) -> Held[Any]:
    """Declare a property answered from what the object holds (the same on both faces)."""
    return Held(answer, doc, to)


@overload
def read(answer: Callable[[Any], T], doc: str | None = None) -> Read[T]: ...
@overload
def read(
    answer: Callable[[Any], Any], doc: str | None = None, *, to: Callable[[Any, Any], Any]
) -> Read[Any]: ...
def read(
    answer: Callable[[Any], Any],
    doc: str | None = None,
    *,
    to: Callable[[Any, Any], Any] | None = None,
) -> Read[Any]:
    """Declare a property that reads the store (``fetch_x()`` on the async face)."""
    return Read(answer, doc, to)


def values(answer: Callable[[Any, tuple[str, ...] | None], T], doc: str) -> Values[T]:
    """Declare the artifact values of an object (``fetch_x(*names)`` on the async face);
    ``answer(node, names)`` reads the values named (all for ``()``, none for ``None``)."""
    return Values(answer, doc, None)


def children(answer: Callable[[Any, tuple[str, ...]], Any], doc: str) -> Children[Any]:
    """Declare the children of a level; ``answer(node, tags)`` lists their nodes."""
    return Children(answer, doc, None)


def listing(
    answer: Callable[..., Any],
    doc: str | None = None,
    *,
    to: Callable[[Any, Any], Any] | None = None,
) -> Listing[..., Any]:
    """Declare a method that lists; ``answer(node, ...)`` returns a list."""
    return Listing(answer, doc, to)


def method(answer: Callable[Concatenate[Any, P], R], doc: str | None = None) -> Method[P, R]:
    """Declare a method; ``answer(node, ...)`` does the work."""
    return Method(answer, doc, None)


# -- building the faces -----------------------------------------------------------------------


def declared(cls: type) -> dict[str, Query[Any]]:
    """Every query declared on ``cls`` and its bases, by name (a subclass's wins)."""
    found: dict[str, Query[Any]] = {}
    for klass in reversed(cls.__mro__):
        found.update(klass.__dict__.get("_declared_here", {}))
        found.update({k: v for k, v in vars(klass).items() if isinstance(v, Query)})
    return found


def build_blocking(cls: type) -> None:
    """Turn every declaration visible in ``cls`` into its blocking attribute."""
    queries = declared(cls)
    cls._declared_here = {k: v for k, v in vars(cls).items() if isinstance(v, Query)}  # type: ignore[attr-defined]
    for name, query in queries.items():
        setattr(cls, name, query.blocking())


def build_async(cls: type, twin: type) -> None:
    """Give ``cls`` the async attribute of every declaration of the blocking ``twin``."""
    queries = declared(twin)
    cls._twin_queries = {q.name: q for q in queries.values()}  # type: ignore[attr-defined]
    for query in queries.values():
        setattr(cls, query.async_name(), query.asynchronous())

"""The ``dask`` executor: each task attempt runs on a dask.distributed cluster.

One Dask task per attempt, with a unique key; its function is
:func:`._dask_remote.run_attempt` and its argument the msgspec-encoded task spec, so no
user code is pickled. The attempts that become ready together are submitted together,
in one graph update (:mod:`._dask_batch`), and so are the stops of attempts cancelled
together. The flow's folder travels as a code package in the datastore
(:mod:`._codepack`), packed once per run. On the worker the attempt is a fork of the
flow's warm host (:mod:`._dask_warm`, a worker plugin this executor registers). Lines the
task prints come back as Dask worker events on a topic of this executor and go to the
task's sink as they arrive; the attempt's outcome comes the same way, behind its lines
(it also says that the attempt's processes are gone).
The tasks of a ``@parallel`` group all run on one machine
(:class:`._dask_cluster.ParallelGroups`).

Dask's asynchronous client runs on asyncio only, so the executor uses the blocking client
(it runs its own event loop in a thread) from worker threads, and hands what arrives on
that thread to the supervisor's loop with a thread-safe call (one for whatever arrived
since the last one was made). That works under asyncio and trio alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import uuid
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import msgspec
from anyio.lowlevel import EventLoopToken, current_token

from .._exceptions import TideflowError
from ._codepack import CodePackage, pack_directory
from ._dask_batch import Batcher
from ._dask_cluster import (
    ParallelGroups,
    check_versions,
    dask_resources,
    import_distributed,
    temporary_cluster_options,
)
from ._dask_remote import DaskTask, RemoteOutcome, python_version, run_attempt, versions
from ._executor import TaskOutcome, TaskSink

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

    from .._messages import TaskSpec

__all__ = ("DaskExecutor",)

#: Seconds to wait for the first worker of a cluster.
WORKER_TIMEOUT = 60.0
#: Seconds a stopped attempt's worker has to confirm its processes are gone.
STOP_TIMEOUT = 10.0
#: Seconds to wait for line events still on their way when the result is in.
DRAIN_TIMEOUT = 5.0
#: Seconds a worker's warm host stays up once no attempt uses it.
HOST_IDLE_TIMEOUT = 10.0


def _call_soon(token: EventLoopToken, func: Callable[..., object], *args: object) -> None:
    """Call ``func(*args)`` soon in the event loop of ``token``, from any thread, without
    waiting (a Dask callback must not wait for the supervisor's loop)."""
    native = token.native_token
    try:
        if isinstance(native, asyncio.AbstractEventLoop):
            native.call_soon_threadsafe(func, *args)
        else:
            native.run_sync_soon(func, *args)  # type: ignore[attr-defined]
    except RuntimeError:
        pass  # the loop has ended: nobody waits for this any more


class _Attempt:
    """What the executor knows of one running attempt; messages arrive on a stream."""

    def __init__(self) -> None:
        self.id = uuid.uuid4().hex
        self.send: MemoryObjectSendStream[dict[str, Any]]
        self.receive: MemoryObjectReceiveStream[dict[str, Any]]
        self.send, self.receive = anyio.create_memory_object_stream[dict[str, Any]](math.inf)
        self.worker: str | None = None
        self.lines = 0

    def deliver(self, message: dict[str, Any]) -> None:
        """Hand ``message`` to the attempt (in the supervisor's loop)."""
        try:
            self.send.send_nowait(message)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass


class _Inbox:
    """Carries messages from the Dask client's thread to the attempts, in the
    supervisor's loop: one thread-safe call for whatever arrived since the last one."""

    def __init__(self, token: EventLoopToken) -> None:
        self._token = token
        self._lock = threading.Lock()
        self._queue: list[tuple[_Attempt, dict[str, Any]]] = []

    def post(self, attempt: _Attempt, message: dict[str, Any]) -> None:
        """Deliver ``message`` to ``attempt`` soon (from any thread)."""
        with self._lock:
            self._queue.append((attempt, message))
            if len(self._queue) > 1:
                return  # a call is on its way and takes this one too
        _call_soon(self._token, self._drain)

    def _drain(self) -> None:
        with self._lock:
            queue, self._queue = self._queue, []
        for attempt, message in queue:
            attempt.deliver(message)


class _Submission:
    """One attempt on its way to the cluster, and what its submission gave."""

    __slots__ = ("attempt", "client", "error", "future", "key", "payload", "problem", "spec")

    def __init__(
        self, client: Any, spec: TaskSpec, key: str, payload: bytes, attempt: _Attempt
    ) -> None:
        self.client = client
        self.spec = spec
        self.key = key
        self.payload = payload
        self.attempt = attempt
        self.future: Any = None
        #: Why the attempt was not submitted (a request no worker can meet).
        self.problem: str | None = None
        #: What the Dask client raised when the attempt was submitted (a closed client).
        self.error: Exception | None = None


class DaskExecutor:
    """Runs each task attempt as one task of a dask.distributed cluster.

    :param address: the scheduler's address (``tcp://host:port``); ``None`` starts a
        temporary local cluster in this process (:func:`temporary_cluster_options`),
        closed with the executor.
    :param kill_grace: seconds between SIGTERM and SIGKILL when a task is stopped.
    :param threads: most blocking calls to the Dask client at once.
    :param warm_hosts: run each attempt as a fork of a warm host of its flow on the
        worker (where the worker can fork); ``False``: a fresh interpreter per attempt.
    :param local_slots: attempts the temporary local cluster runs at once (default:
        Dask's); ignored with an ``address``.
    :param local_machine: what the temporary cluster's worker declares as its Dask
        resources (``cpu``, ``memory`` in megabytes, ``gpu``: this machine's, so that
        ``@resources`` work there as with the local executors); ignored with an
        ``address``.
    :param host_idle_timeout: seconds a worker's host stays warm once no attempt uses it
        (the first executor to connect to a cluster sets it for the cluster's workers).
    """

    name = "dask"

    def __init__(
        self,
        *,
        address: str | None = None,
        kill_grace: float = 2.0,
        threads: int = 8,
        warm_hosts: bool = True,
        host_idle_timeout: float = HOST_IDLE_TIMEOUT,
        local_slots: int | None = None,
        local_machine: Mapping[str, float] | None = None,
    ) -> None:
        self._distributed = import_distributed()
        self.address = address
        self._grace = kill_grace
        self._warm_hosts = warm_hosts
        self._host_idle = host_idle_timeout
        self._local = temporary_cluster_options(local_slots, local_machine)
        self._limiter = anyio.CapacityLimiter(threads)
        self._lock = anyio.Lock()
        self._client: Any = None
        self._cluster: Any = None
        self._inbox: _Inbox | None = None
        self._submissions = Batcher(self._submit_batch, limiter=self._limiter)
        self._cancels = Batcher(_cancel_batch, limiter=self._limiter)
        self._topic = f"tideflow-{uuid.uuid4().hex}"
        self._attempts: dict[str, _Attempt] = {}
        self._by_key: dict[str, _Attempt] = {}
        self._packages: dict[tuple[str, str], CodePackage | None] = {}
        self._packing: dict[tuple[str, str], anyio.Lock] = {}
        self._groups = ParallelGroups()
        #: Tasks run on other machines: the scheduler does not hold them back for this
        #: machine's resources (Dask's worker resources place them).
        self.remote = True

    def __repr__(self) -> str:
        return f"<DaskExecutor {self.address or 'local cluster'} running={len(self._attempts)}>"

    # -- connection -----------------------------------------------------------------

    async def client(self) -> Any:
        """The Dask client, connected (and the versions checked) on first use."""
        client = self._client
        if client is not None and client.status not in ("closing", "closed"):
            return client  # no checkpoint: the attempts made ready together stay together
        async with self._lock:
            if self._client is not None and self._client.status in ("closing", "closed"):
                # The scheduler went away and the client gave up: connect again.
                await self.aclose()
            if self._client is None:
                self._inbox = _Inbox(current_token())
                self._client = await anyio.to_thread.run_sync(self._connect)
            return self._client

    def _connect(self) -> Any:
        distributed = self._distributed
        if self.address is None:
            self._cluster = distributed.LocalCluster(**self._local)
            client = distributed.Client(self._cluster, set_as_default=False)
        else:
            try:
                # Dask retries until its connect timeout (distributed.comm.timeouts.connect).
                client = distributed.Client(self.address, set_as_default=False)
            except OSError as exc:
                raise TideflowError(
                    f"Cannot reach the Dask scheduler at {self.address}: {exc}. Start it "
                    "(dask scheduler) or fix TIDEFLOW_DASK_ADDRESS."
                ) from None
        try:
            try:
                client.wait_for_workers(1, timeout=WORKER_TIMEOUT)
            except TimeoutError:
                where = f"at {self.address}" if self.address else "of the temporary cluster"
                raise TideflowError(
                    f"The Dask scheduler {where} has no worker: none joined within "
                    f"{WORKER_TIMEOUT:g} s. Start workers (dask worker "
                    f"{self.address or 'ADDRESS'}), then resume the run."
                ) from None
            check_versions(client.run(versions))
            if self._warm_hosts:
                from ._dask_warm import PLUGIN_NAME, WarmHosts

                plugin = WarmHosts(self._host_idle)
                client.register_plugin(plugin, name=PLUGIN_NAME)  # idempotent
        except BaseException:
            self._close_blocking(client)
            raise
        client.subscribe_topic(self._topic, self._on_event)
        client.subscribe_topic("all", self._on_cluster_event)
        return client

    def _on_event(self, event: tuple[float, dict[str, Any]]) -> None:
        """A line event from a worker (on the client's thread)."""
        message = event[1]
        attempt = self._attempts.get(message.get("a", ""))
        if attempt is not None:
            self._post(attempt, message)

    def _post(self, attempt: _Attempt, message: dict[str, Any]) -> None:
        assert self._inbox is not None
        self._inbox.post(attempt, message)

    def _on_cluster_event(self, event: tuple[float, dict[str, Any]]) -> None:
        """A scheduler event: a worker that left takes its running attempts with it."""
        message = event[1]
        if not isinstance(message, dict) or message.get("action") != "remove-worker":
            return
        worker = message.get("worker")
        for key in message.get("processing-tasks", ()):
            attempt = self._by_key.get(key)
            if attempt is not None:
                self._post(attempt, {"k": "lost", "worker": worker})

    # -- the executor interface -----------------------------------------------------

    def run_ended(self, flow: str, run_id: str) -> None:
        """Forget the run's code package; the last run of a scheduler address given
        closes the connection to it (the next run connects again)."""
        self._packages.pop((flow, run_id), None)
        self._packing.pop((flow, run_id), None)
        self._groups.forget(flow, run_id)
        if self.address is not None and not self._packages and not self._attempts:
            client, self._client = self._client, None
            if client is not None:
                threading.Thread(
                    target=self._close_blocking, args=(client,), name="tideflow-dask-close"
                ).start()

    async def aclose(self) -> None:
        """Close the client (and the local cluster this executor started)."""
        client, self._client = self._client, None
        if client is not None:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._close_blocking, client)

    def _close_blocking(self, client: Any) -> None:
        for topic in (self._topic, "all"):
            with contextlib.suppress(Exception):
                client.unsubscribe_topic(topic)
        client.close()
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    async def run_task(
        self, spec: TaskSpec, sink: TaskSink, *, env: Mapping[str, str], cwd: str
    ) -> TaskOutcome:
        """Run the attempt on the cluster; cancellation stops its processes on the worker."""
        client = await self.client()
        package = await self._package(spec)
        attempt = _Attempt()
        key = (
            f"tideflow-{spec.flow_name}-{spec.run_id}-{spec.step}-{spec.task_id}"
            f"-{spec.attempt}-{attempt.id[:12]}"
        )
        payload = msgspec.msgpack.encode(
            DaskTask(
                spec=msgspec.msgpack.encode(spec),
                attempt_id=attempt.id,
                key=key,
                topic=self._topic,
                env=dict(env),
                cwd=cwd,
                package=package,
                python_version=python_version(),
                kill_grace=self._grace,
                fork=self._warm_hosts,
            )
        )
        submission = _Submission(client, spec, key, payload, attempt)
        self._attempts[attempt.id] = attempt
        self._by_key[key] = attempt
        try:
            try:
                await self._submissions.add(submission)
                if submission.error is not None:
                    raise submission.error
                if submission.problem is not None:
                    return TaskOutcome(done=None, returncode=None, problem=submission.problem)
                return await self._follow(attempt, sink, submission.future)
            except anyio.get_cancelled_exc_class():
                if submission.future is not None:
                    with anyio.CancelScope(shield=True):
                        await self._stop(attempt, submission.future)
                raise
        finally:
            del self._attempts[attempt.id]
            del self._by_key[key]
            attempt.send.close()
            attempt.receive.close()

    def _submit_batch(self, batch: list[_Submission]) -> None:
        """Submit a batch of attempts (in a worker thread): one graph update for those
        that ask for the same resources and placement."""
        groups: defaultdict[tuple[Any, str], list[_Submission]] = defaultdict(list)
        options: dict[str, dict[str, Any]] = {}
        for submission in batch:
            client, spec = submission.client, submission.spec
            try:
                resources = dask_resources(spec, client)
            except TideflowError as exc:
                submission.problem = str(exc)
                continue
            placement = self._groups.place(spec, client)
            how = {"resources": resources, **placement}
            label = repr(sorted(how.items()))
            options[label] = how
            groups[client, label].append(submission)
        for (client, label), members in groups.items():
            try:
                futures = client.map(
                    run_attempt,
                    [m.payload for m in members],
                    key=[m.key for m in members],
                    pure=False,
                    **options[label],
                )
            except Exception as exc:  # noqa: BLE001 (raised by each attempt of the group)
                for member in members:
                    member.error = exc
                continue
            for member, future in zip(members, futures, strict=True):
                member.future = future
                future.add_done_callback(
                    lambda f, a=member.attempt: self._post(a, _result_message(f))
                )

    async def _follow(self, attempt: _Attempt, sink: TaskSink, future: Any) -> TaskOutcome:
        """Feed the sink until the result is in; return the outcome."""
        async for message in attempt.receive:
            kind = message["k"]
            if kind == "lines":
                attempt.lines += 1
                await sink.lines(message["s"], [(t, bytes(line)) for t, line in message["l"]])
            elif kind == "started":
                attempt.worker = message["worker"]
                await sink.started(int(message["pid"]))
            elif kind == "lost" and message["worker"] == attempt.worker:
                await self._cancels.add(future)
                return TaskOutcome(
                    done=None,
                    returncode=None,
                    problem=f"the Dask worker {attempt.worker} died or left the cluster "
                    "while it ran the task",
                )
            elif kind == "outcome":
                return await self._outcome(attempt, sink, message)
            elif kind == "finished":
                # The result is in before its event (it should not be): fetch it.
                try:
                    value = await anyio.to_thread.run_sync(future.result, limiter=self._limiter)
                except Exception as exc:  # noqa: BLE001 (reported as the attempt's failure)
                    return TaskOutcome(done=None, returncode=None, problem=f"the Dask task: {exc}")
                return await self._outcome(attempt, sink, {"value": value})
            elif kind == "result":
                return await self._outcome(attempt, sink, message)
        raise AssertionError("the attempt's stream ended before its result")  # pragma: no cover

    async def _outcome(
        self, attempt: _Attempt, sink: TaskSink, message: dict[str, Any]
    ) -> TaskOutcome:
        if message.get("error") is not None:
            return TaskOutcome(done=None, returncode=None, problem=message["error"])
        remote = msgspec.msgpack.decode(message["value"], type=RemoteOutcome)
        # Line events travel beside the result: wait for the last ones.
        with anyio.move_on_after(DRAIN_TIMEOUT):
            while attempt.lines < remote.events:
                late = await attempt.receive.receive()
                if late["k"] == "lines":
                    attempt.lines += 1
                    await sink.lines(late["s"], [(t, bytes(line)) for t, line in late["l"]])
        problem = remote.problem
        if problem is not None and remote.worker:
            problem = f"{problem} (on the Dask worker {remote.worker})"
        return TaskOutcome(
            done=remote.done, returncode=remote.returncode, pid=remote.pid, problem=problem
        )

    async def _stop(self, attempt: _Attempt, future: Any) -> None:
        """Cancel the Dask task and wait until its worker says its processes are gone."""
        with anyio.move_on_after(STOP_TIMEOUT + self._grace):
            await self._cancels.add(future)
            if attempt.worker is None:
                return  # it never started
            async for message in attempt.receive:
                if message["k"] in ("end", "result", "outcome", "finished"):
                    return

    async def _package(self, spec: TaskSpec) -> CodePackage | None:
        """The run's code package, packed on the run's first task."""
        run = (spec.flow_name, spec.run_id)
        if run in self._packages:
            return self._packages[run]
        lock = self._packing.setdefault(run, anyio.Lock())
        async with lock:
            if run not in self._packages:
                self._packages[run] = await anyio.to_thread.run_sync(_pack, spec)
        return self._packages[run]


def _result_message(future: Any) -> dict[str, Any]:
    """The ``result`` message for a finished Dask future (called on a Dask thread)."""
    if future.status == "finished":
        return {"k": "finished"}  # its outcome came as an event (or is fetched then)
    if future.status == "error":
        error = future.exception()
        name = type(error).__name__
        return {"k": "result", "error": f"the Dask task failed: {name}: {error}"}
    try:
        future.result(timeout=5)
    except Exception as exc:  # noqa: BLE001 (its message says why: a lost scheduler, ...)
        return {"k": "result", "error": f"the Dask task was {future.status}: {exc}"}
    return {"k": "result", "error": f"the Dask task was {future.status}"}  # pragma: no cover


def _cancel_batch(futures: list[Any]) -> None:
    """Cancel Dask futures (in a worker thread): one message for each client's."""
    by_client: defaultdict[Any, list[Any]] = defaultdict(list)
    for future in futures:
        by_client[future.client].append(future)
    for client, cancelled in by_client.items():
        client.cancel(cancelled)


def _pack(spec: TaskSpec) -> CodePackage | None:
    from .._stores._bundle import open_datastore

    source = spec.flow_source
    if not source.endswith(".py"):
        return None  # a module reference: the workers import it themselves
    blobs, _ = open_datastore(spec.datastore_url, root=Path(spec.root))
    return pack_directory(Path(source).resolve().parent, blobs)

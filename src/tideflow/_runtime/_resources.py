"""What the machine has, and a pool that keeps running tasks within it (``@resources``).

A task with ``@resources(cpu=..., memory=..., gpu=...)`` takes its cpu, memory and GPUs
from a :class:`ResourcePool` for as long as it runs; tasks without the decorator ask for
nothing and are bounded by ``max_workers`` only. The machine's GPUs are counted from
``TIDEFLOW_GPUS`` if set, else ``CUDA_VISIBLE_DEVICES``, else the NVIDIA driver's device
list; a machine without any has none, so a step asking for a GPU fails at once there.

The pool never deadlocks: a request is checked against the whole machine before it
waits (:meth:`ResourcePool.check`), so once every running task has ended the request
fits. It is not first-come-first-served: small tasks may start while a large one waits
for room, which keeps the machine busy at the cost of making the large one wait longer.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import msgspec
from anyio.lowlevel import RunVar

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = (
    "Machine",
    "PoolStatistics",
    "Request",
    "ResourcePool",
    "count_gpus",
    "machine_pool",
    "read_machine",
    "request_of",
)


class Machine(msgspec.Struct, frozen=True, kw_only=True):
    """The capacity of this machine: logical CPUs, total memory in megabytes, GPUs."""

    cpu: float
    memory: float
    gpu: float = 0.0


class Request(msgspec.Struct, frozen=True, kw_only=True):
    """What one task asks for while it runs (memory in megabytes)."""

    cpu: float = 0.0
    memory: float = 0.0
    gpu: float = 0.0

    @property
    def empty(self) -> bool:
        """Whether the task asks for nothing (so never waits for the pool)."""
        return self.cpu <= 0 and self.memory <= 0 and self.gpu <= 0


class PoolStatistics(msgspec.Struct, frozen=True, kw_only=True):
    """A snapshot of a :class:`ResourcePool`."""

    machine: Machine
    cpu_used: float
    memory_used: float
    tasks_running: int
    gpu_used: float = 0.0
    tasks_waiting: int


def _total_memory_mb(meminfo: Path = Path("/proc/meminfo")) -> float:
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / (1024 * 1024)
    except (ValueError, OSError, AttributeError):
        return math.inf


def count_gpus(
    env: Mapping[str, str] | None = None, devices: Path = Path("/proc/driver/nvidia/gpus")
) -> float:
    """How many GPUs tasks may use: ``TIDEFLOW_GPUS``, else ``CUDA_VISIBLE_DEVICES``, else
    the NVIDIA driver's devices, else none."""
    env = os.environ if env is None else env
    if (given := env.get("TIDEFLOW_GPUS")) is not None:
        try:
            return max(0.0, float(given))
        except ValueError:
            return 0.0
    if (visible := env.get("CUDA_VISIBLE_DEVICES")) is not None:
        return float(len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"]))
    try:
        return float(sum(1 for _ in devices.iterdir()))
    except OSError:
        return 0.0


def read_machine() -> Machine:
    """Read this machine's CPU count, total memory (``/proc/meminfo`` or ``sysconf``) and
    GPUs (:func:`count_gpus`)."""
    return Machine(cpu=float(os.cpu_count() or 1), memory=_total_memory_mb(), gpu=count_gpus())


def request_of(attributes: Mapping[str, object] | None) -> Request:
    """The request of a step's ``@resources`` arguments; no decorator asks for nothing."""
    if attributes is None:
        return Request()
    return Request(
        cpu=float(attributes.get("cpu") or 0),  # type: ignore[arg-type]
        memory=float(attributes.get("memory") or 0),  # type: ignore[arg-type]
        gpu=float(attributes.get("gpu") or 0),  # type: ignore[arg-type]
    )


def _amount(value: float) -> str:
    return f"{value:g}"


class ResourcePool:
    """CPU and memory shared by the running tasks; see the module docstring.

    :param machine: the capacity to share (default: this machine's).
    """

    def __init__(self, machine: Machine | None = None) -> None:
        self.machine = machine if machine is not None else read_machine()
        self._cpu = 0.0
        self._memory = 0.0
        self._gpu = 0.0
        self._running = 0
        self._waiting = 0
        self._changed: anyio.Event | None = None

    def __repr__(self) -> str:
        m = self.machine
        return (
            f"<ResourcePool cpu={_amount(self._cpu)}/{_amount(m.cpu)} "
            f"memory={_amount(self._memory)}/{_amount(m.memory)}MB running={self._running}>"
        )

    def statistics(self) -> PoolStatistics:
        """What is in use and how many tasks run or wait."""
        return PoolStatistics(
            machine=self.machine,
            cpu_used=self._cpu,
            memory_used=self._memory,
            gpu_used=self._gpu,
            tasks_running=self._running,
            tasks_waiting=self._waiting,
        )

    def check(self, request: Request, step: str) -> str | None:
        """Why ``request`` can never run on this machine, or ``None`` when it can."""
        m = self.machine
        problems = []
        if request.cpu > m.cpu:
            problems.append(f"cpu={_amount(request.cpu)} but it has {_amount(m.cpu)} CPUs")
        if request.memory > m.memory:
            problems.append(
                f"memory={_amount(request.memory)} MB but it has {_amount(m.memory)} MB"
            )
        if request.gpu > m.gpu:
            problems.append(f"gpu={_amount(request.gpu)} but it has {_amount(m.gpu)} GPUs")
        if not problems:
            return None
        return (
            f"Step '{step}' asks for more than this machine has: @resources "
            f"{' and '.join(problems)}. Lower the request in @resources (or --with "
            "resources:...), or run the step where there is more room."
        )

    def _fits(self, request: Request) -> bool:
        cpu_ok = self._cpu + request.cpu <= self.machine.cpu + 1e-9
        memory_ok = self._memory + request.memory <= self.machine.memory + 1e-9
        gpu_ok = self._gpu + request.gpu <= self.machine.gpu + 1e-9
        return cpu_ok and memory_ok and gpu_ok

    async def acquire(self, request: Request) -> None:
        """Wait until ``request`` fits next to the running tasks, then take it.

        The caller must have checked the request with :meth:`check`; a request larger
        than the machine would wait forever.
        """
        await anyio.lowlevel.checkpoint()
        if request.empty:
            return
        self._waiting += 1
        try:
            while not self._fits(request):
                if self._changed is None:
                    self._changed = anyio.Event()
                await self._changed.wait()
        finally:
            self._waiting -= 1
        self._cpu += request.cpu
        self._memory += request.memory
        self._gpu += request.gpu
        self._running += 1

    def try_acquire(self, request: Request) -> bool:
        """Take ``request`` now if it fits and no task waits before it; else False
        (then :meth:`acquire` waits in line)."""
        if request.empty:
            return True
        if self._waiting or not self._fits(request):
            return False
        self._cpu += request.cpu
        self._memory += request.memory
        self._gpu += request.gpu
        self._running += 1
        return True

    def release(self, request: Request) -> None:
        """Give back what :meth:`acquire` took; wake the waiting tasks."""
        if request.empty:
            return
        self._cpu = max(0.0, self._cpu - request.cpu)
        self._memory = max(0.0, self._memory - request.memory)
        self._gpu = max(0.0, self._gpu - request.gpu)
        self._running -= 1
        event, self._changed = self._changed, None
        if event is not None:
            event.set()


_pool: RunVar[ResourcePool] = RunVar("tideflow_resource_pool")


def machine_pool() -> ResourcePool:
    """The pool of this machine for the running event loop, shared by all its runs."""
    try:
        return _pool.get()
    except LookupError:
        pool = ResourcePool()
        _pool.set(pool)
        return pool

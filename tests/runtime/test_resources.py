"""The resource pool behind @resources: requests wait for room, never forever."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import pytest
from anyio.lowlevel import checkpoint

from tideflow._runtime._resources import (
    Machine,
    Request,
    ResourcePool,
    _total_memory_mb,
    count_gpus,
    read_machine,
    request_of,
)

if TYPE_CHECKING:
    from pathlib import Path


def test_machine_is_read_from_the_system(tmp_path: Path) -> None:
    machine = read_machine()
    assert machine.cpu >= 1
    assert machine.memory > 0
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:        2048000 kB\nMemFree: 1 kB\n")
    assert _total_memory_mb(meminfo) == 2000
    assert _total_memory_mb(tmp_path / "missing") > 0  # falls back to sysconf


def test_requests_come_from_the_decorator_arguments() -> None:
    assert request_of(None).empty
    assert request_of({"cpu": 2, "memory": 512, "gpu": 1}) == Request(cpu=2, memory=512, gpu=1)


def test_a_request_larger_than_the_machine_is_refused() -> None:
    pool = ResourcePool(Machine(cpu=4, memory=1000))
    assert pool.check(Request(cpu=4, memory=1000), "train") is None
    assert pool.check(Request(cpu=8, memory=2000), "train") == (
        "Step 'train' asks for more than this machine has: @resources cpu=8 but it has 4 "
        "CPUs and memory=2000 MB but it has 1000 MB. Lower the request in @resources (or "
        "--with resources:...), or run the step where there is more room."
    )


def test_gpus_are_counted_from_the_environment_or_the_driver(tmp_path: Path) -> None:
    """TIDEFLOW_GPUS wins, then CUDA_VISIBLE_DEVICES, then the driver's device list."""
    devices = tmp_path / "gpus"
    assert count_gpus({}, devices) == 0  # no driver: no GPU
    devices.mkdir()
    for name in ("0000:01:00.0", "0000:02:00.0"):
        (devices / name).mkdir()
    assert count_gpus({}, devices) == 2
    assert count_gpus({"CUDA_VISIBLE_DEVICES": "1"}, devices) == 1
    assert count_gpus({"CUDA_VISIBLE_DEVICES": ""}, devices) == 0
    assert count_gpus({"TIDEFLOW_GPUS": "4", "CUDA_VISIBLE_DEVICES": "0"}, devices) == 4


def test_a_gpu_request_on_a_machine_without_gpus_is_refused() -> None:
    pool = ResourcePool(Machine(cpu=4, memory=1000, gpu=0))
    assert pool.check(Request(gpu=1), "train") == (
        "Step 'train' asks for more than this machine has: @resources gpu=1 but it has 0 "
        "GPUs. Lower the request in @resources (or --with resources:...), or run the step "
        "where there is more room."
    )


async def test_gpu_tasks_take_turns() -> None:
    """Invariant: tasks never hold more GPUs than the machine has."""
    pool = ResourcePool(Machine(cpu=8, memory=1000, gpu=1))
    holding: list[int] = []
    most = 0

    async def task(index: int) -> None:
        nonlocal most
        await pool.acquire(Request(gpu=1))
        holding.append(index)
        most = max(most, len(holding))
        await checkpoint()
        await checkpoint()
        holding.remove(index)
        pool.release(Request(gpu=1))

    async with anyio.create_task_group() as tg:
        for index in range(3):
            tg.start_soon(task, index)
    assert most == 1
    assert pool.statistics().gpu_used == 0


async def test_tasks_wait_for_room_and_small_ones_may_pass_a_big_one() -> None:
    """Invariant: running tasks never hold more than the machine; every waiter gets in."""
    pool = ResourcePool(Machine(cpu=4, memory=1000))
    order: list[str] = []
    gates = {name: anyio.Event() for name in ("a", "big", "small")}
    peak = 0.0

    async def task(name: str, request: Request) -> None:
        nonlocal peak
        await pool.acquire(request)
        try:
            order.append(name)
            stats = pool.statistics()
            peak = max(peak, stats.cpu_used)
            await gates[name].wait()
        finally:
            pool.release(request)

    async with anyio.create_task_group() as tg:
        tg.start_soon(task, "a", Request(cpu=3, memory=100))
        await anyio.wait_all_tasks_blocked()
        tg.start_soon(task, "big", Request(cpu=4, memory=100))
        await anyio.wait_all_tasks_blocked()
        tg.start_soon(task, "small", Request(cpu=1, memory=100))
        await anyio.wait_all_tasks_blocked()
        assert order == ["a", "small"]  # the big one waits; the small one fits
        assert pool.statistics().tasks_waiting == 1
        gates["a"].set()
        await anyio.wait_all_tasks_blocked()
        assert order == ["a", "small"]  # still no room for cpu=4
        gates["small"].set()
        await anyio.wait_all_tasks_blocked()
        assert order == ["a", "small", "big"]
        gates["big"].set()
    assert peak <= 4
    stats = pool.statistics()
    assert (stats.cpu_used, stats.memory_used, stats.tasks_running) == (0, 0, 0)


async def test_cancelled_waiter_takes_nothing() -> None:
    pool = ResourcePool(Machine(cpu=1, memory=1000))
    await pool.acquire(Request(cpu=1))
    with anyio.move_on_after(0.01):
        await pool.acquire(Request(cpu=1))
    stats = pool.statistics()
    assert (stats.cpu_used, stats.tasks_running, stats.tasks_waiting) == (1, 1, 0)
    pool.release(Request(cpu=1))
    await pool.acquire(Request(cpu=1))  # the room is there again
    pool.release(Request(cpu=1))


async def test_empty_requests_never_wait() -> None:
    pool = ResourcePool(Machine(cpu=1, memory=1))
    await pool.acquire(Request(cpu=1, memory=1))
    with anyio.fail_after(1):
        await pool.acquire(Request())
    pool.release(Request())
    await checkpoint()
    assert pool.statistics().tasks_running == 1


@pytest.mark.parametrize("cpu", [0.5, 1.5])
async def test_fractional_cpus(cpu: float) -> None:
    pool = ResourcePool(Machine(cpu=2, memory=10))
    await pool.acquire(Request(cpu=cpu))
    await pool.acquire(Request(cpu=2 - cpu))
    assert pool.statistics().cpu_used == 2

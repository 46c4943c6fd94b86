"""What the ``dask`` executor knows of a cluster, apart from running attempts on it.

The ``tideflow[dask]`` extra's import, the settings of the clusters tideflow starts on this
machine, the scheduler address of what a user passes in, the check of the workers'
versions and Dask resources, and where the tasks of a ``@parallel`` group run.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .._exceptions import TideflowError
from ._dask_remote import versions

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .._messages import TaskSpec

__all__ = (
    "RESOURCE_NAMES",
    "ParallelGroups",
    "check_versions",
    "dask_address",
    "dask_resources",
    "import_distributed",
    "local_cluster_options",
    "temporary_cluster_options",
)


def import_distributed() -> Any:
    """The ``distributed`` module, or a one-line error naming the extra to install."""
    try:
        import distributed
    except ImportError:
        raise TideflowError(
            "The dask executor needs dask.distributed: install it with "
            "pip install 'tideflow[dask]'."
        ) from None
    return distributed


def local_cluster_options(**overrides: Any) -> dict[str, Any]:
    """``LocalCluster`` settings of a cluster on this machine only: worker processes on
    127.0.0.1, no dashboard, the scheduler's HTTP endpoints on a free loopback port."""
    return {
        "processes": True,
        "host": "127.0.0.1",
        "dashboard_address": None,
        "scheduler_kwargs": {"dashboard": False, "dashboard_address": "127.0.0.1:0"},
        **overrides,
    }


def temporary_cluster_options(
    slots: int | None = None, machine: Mapping[str, float] | None = None
) -> dict[str, Any]:
    """``LocalCluster`` settings of the executor's temporary cluster (no address given):
    its scheduler and one worker run in the supervisor's process, on Dask's in-process
    transport, and each attempt still runs in a process of its own. The worker runs
    ``slots`` attempts at once (default: Dask's, a thread per core) and declares
    ``machine`` (``cpu``, ``memory`` in megabytes, ``gpu``, as ``@resources`` names
    them) as its Dask resources.

    Worker processes would be started by :mod:`multiprocessing`, which imports the
    caller's ``__main__`` file again in each of them: a script without an
    ``if __name__ == "__main__":`` guard would start its runs once more in every worker.
    """
    options = local_cluster_options(
        processes=False,
        host=None,
        n_workers=1,
        resources={RESOURCE_NAMES[name]: v for name, v in (machine or {}).items()},
    )
    if slots is not None:
        options["threads_per_worker"] = slots
    return options


def dask_address(target: object) -> str:
    """The scheduler address of ``target``: an address, a Dask cluster or a client.

    :raises TypeError: if ``target`` is none of those.
    """
    if isinstance(target, str):
        return target
    address = getattr(target, "scheduler_address", None)  # a cluster
    if isinstance(address, str):
        return address
    scheduler = getattr(target, "scheduler", None)  # a client
    address = getattr(scheduler, "address", None)
    if isinstance(address, str):
        return address
    raise TypeError(
        f"dask_address must be a scheduler address, a Dask cluster or a Dask client, "
        f"not {type(target).__name__}."
    )


def check_versions(found: Mapping[str, Mapping[str, str]]) -> None:
    """Refuse workers whose tideflow or Python differ from the supervisor's."""
    mine = versions()
    for worker, theirs in found.items():
        if dict(theirs) != mine:
            raise TideflowError(
                f"The Dask worker {worker} runs tideflow {theirs.get('tideflow')} on Python "
                f"{theirs.get('python')}, this process tideflow {mine['tideflow']} on Python "
                f"{mine['python']}: install the same versions on the workers."
            )


#: Dask worker resource names of the ``@resources`` arguments.
RESOURCE_NAMES = {"cpu": "CPU", "memory": "MEMORY", "gpu": "GPU"}


def dask_resources(spec: TaskSpec, client: Any) -> dict[str, float] | None:
    """The Dask resources of the task's ``@resources`` (``None``: it asks for none).

    :raises TideflowError: if no worker of the cluster has that much of them (Dask would
        hold the task forever), naming the resources and how workers declare them.
    """
    wanted = {RESOURCE_NAMES[k]: v for k, v in spec.resources.items() if v}
    if not wanted:
        return None
    workers = client.scheduler_info(n_workers=-1)["workers"]
    if not any(
        all(info.get("resources", {}).get(name, 0) >= v for name, v in wanted.items())
        for info in workers.values()
    ):
        asked = ",".join(f"{name}={v:g}" for name, v in wanted.items())
        raise TideflowError(
            f"Step '{spec.step}' asks for @resources that no Dask worker has ({asked}): "
            f'start workers with --resources "{asked}" (dask worker), or lower the request.'
        )
    return wanted


class ParallelGroups:
    """Where the tasks of each ``@parallel`` group run: all on one machine.

    ``current.parallel.main_ip`` is the loopback address, as for local tasks, so the nodes
    of a group must share the control task's machine: the group's first task picks the
    machine whose workers have the most threads, and every task of the group (and its
    retries, while that machine has workers) is restricted to its workers.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: The machine of each group, by (flow, run, control task id).
        self._hosts: dict[tuple[str, str, str], str] = {}

    def place(self, spec: TaskSpec, client: Any) -> dict[str, Any]:
        """The Dask placement options of ``spec``'s task (none outside a group)."""
        if spec.parallel_control is None:
            return {}
        group = (spec.flow_name, spec.run_id, spec.parallel_control)
        with self._lock:
            threads: dict[str, int] = {}
            for address, info in client.scheduler_info(n_workers=-1)["workers"].items():
                host = info.get("host") or urlsplit(address).hostname or address
                threads[host] = threads.get(host, 0) + int(info.get("nthreads", 1))
            host = self._hosts.get(group)
            if host not in threads:
                if not threads:
                    return {}
                host = max(threads, key=lambda h: threads[h])
                self._hosts[group] = host
        return {"workers": [host], "allow_other_workers": False}

    def forget(self, flow: str, run_id: str) -> None:
        """Drop the groups of an ended run."""
        with self._lock:
            for group in [g for g in self._hosts if g[:2] == (flow, run_id)]:
                del self._hosts[group]

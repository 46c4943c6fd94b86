"""Management commands over stored runs: ``tideflow runs`` (and the flow's ``logs``,
``tag`` and ``dump`` commands)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

from .._config import find_root, load_config
from .._exceptions import CommandError
from .._metadata._sqlite import MetadataStore
from .._runtime._loader import LoadedFlow
from ._parser import FlowParser

__all__ = ("add_management_commands", "run_management_command", "runs_main")


def add_management_commands(commands: Any) -> None:
    """Add the management sub-commands to a flow's parser."""


def run_management_command(flow: LoadedFlow, args: argparse.Namespace, top: dict[str, Any]) -> int:
    """Run a management sub-command of a flow."""
    raise CommandError(f"Unknown command '{args.command}'.")


def _duration(start: float, end: float | None) -> str:
    seconds = (end or time.time()) - start
    return f"{seconds:.1f}s" if seconds < 120 else f"{seconds / 60:.1f}m"


def runs_main(argv: Sequence[str]) -> int:
    """``tideflow runs [FLOW] [--limit N]``: recent runs with their state and duration."""
    parser = FlowParser(prog="tideflow runs")
    parser.add_argument("flow", nargs="?", default=None)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--root", default=None)
    args = parser.parse_args(list(argv))
    root = find_root(load_config(root=args.root))
    with MetadataStore(root) as store:
        flows = [args.flow] if args.flow else store.list_flows()
        rows = []
        for flow in flows:
            rows.extend(store.list_runs(flow, limit=args.limit))
    rows.sort(key=lambda r: r.created_at, reverse=True)
    if not rows:
        print("No runs found" + (f" for flow {args.flow}" if args.flow else "") + f" in {root}.")
        return 0
    print(f"{'RUN':<28} {'STATE':<10} {'STARTED (UTC)':<20} {'DURATION':>9}")
    for run in rows[: args.limit]:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(run.created_at))
        pathspec = f"{run.flow}/{run.run_id}"
        print(
            f"{pathspec:<28} {run.status:<10} {started:<20} {_duration(run.created_at, run.finished_at):>9}"
        )
    return 0

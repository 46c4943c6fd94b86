"""Management commands over stored runs: ``tideflow runs`` and the flow's ``logs``, ``tag``
and ``dump`` commands.

They read the stores directly. Before reading run states they record the runs whose
supervisor died as ``crashed`` (see :func:`~tideflow._runtime._state.mark_crashed_runs`).
"""

from __future__ import annotations

import pprint
import sys
import time
from typing import TYPE_CHECKING, Any

from .._config import Config, find_root, load_config, resolve_username
from .._datastore._artifacts import load
from .._exceptions import CommandError, NotFound, TideflowError
from .._logs._writer import STREAMS
from .._runtime._state import mark_crashed_runs
from .._states import RunState
from .._stores._bundle import open_stores
from .._stores._interfaces import LogKey
from ._parser import FlowParser, add_store_urls, at_least_one

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence

    from .._metadata._records import AttemptRecord, RunRecord, TaskRecord
    from .._runtime._loader import LoadedFlow
    from .._stores._bundle import Stores
    from .._stores._interfaces import BlobStore

__all__ = ("add_management_commands", "run_management_command", "runs_main")

#: Stored artifacts larger than this are not loaded by ``dump``.
DUMP_LOAD_LIMIT = 64 * 1024 * 1024


def add_management_commands(add: Callable[..., argparse.ArgumentParser]) -> None:
    """Add the ``logs``, ``tag``, ``dump`` and ``card`` sub-commands to a flow's parser.

    :param add: adds a sub-command's parser, as ``add_subparsers().add_parser`` does.
    """
    logs = add("logs", help="show what a task (or every task of a step) printed")
    logs.add_argument("pathspec", metavar="RUN/STEP[/TASK]")
    streams = logs.add_mutually_exclusive_group()
    streams.add_argument(
        "--stdout", dest="stream", action="store_const", const="stdout", help="stdout only"
    )
    streams.add_argument(
        "--stderr", dest="stream", action="store_const", const="stderr", help="stderr only"
    )
    logs.add_argument(
        "--attempt", type=int, default=None, help="which attempt (default: the last one)"
    )

    tag = add("tag", help="add, remove, replace or list the user tags of a run")
    actions = tag.add_subparsers(dest="tag_action", metavar="ACTION", parser_class=FlowParser)
    actions.required = True
    run_help = "the run (default: your latest run of the flow)"
    for action, text in (("add", "add user tags"), ("remove", "remove user tags")):
        parser = actions.add_parser(action, help=text)
        parser.add_argument("--run-id", default=None, help=run_help)
        parser.add_argument("tags", nargs="+", metavar="TAG")
    replace = actions.add_parser("replace", help="replace one user tag with another")
    replace.add_argument("--run-id", default=None, help=run_help)
    replace.add_argument("old", metavar="OLD")
    replace.add_argument("new", metavar="NEW")
    listing = actions.add_parser("list", help="list the tags of a run (or of recent runs)")
    listing.add_argument("--run-id", default=None, help="the run (default: the recent runs)")
    listing.add_argument(
        "--limit", type=at_least_one, default=10, help="how many recent runs (10)"
    )

    dump = add("dump", help="print the artifacts of a task or of a step's tasks")
    dump.add_argument("pathspec", metavar="RUN/STEP[/TASK]")
    dump.add_argument(
        "--include", default=None, metavar="NAMES", help="only these artifacts (a,b,...)"
    )
    dump.add_argument(
        "--max-value-size",
        type=int,
        default=1000,
        metavar="CHARS",
        help="print at most this many characters of each value (1000)",
    )
    from ._cards import add_card_command

    add_card_command(add)


def run_management_command(flow: LoadedFlow, args: argparse.Namespace, top: dict[str, Any]) -> int:
    """Run the ``logs``, ``tag`` or ``dump`` sub-command of a flow.

    :raises CommandError: for a malformed pathspec or an unknown command.
    :raises NotFound: for an unknown run, step, task or attempt.
    """
    config = load_config(
        root=str(top["root"]) if top.get("root") else None,
        metadata_url=top.get("metadata_url"),
        datastore_url=top.get("datastore_url"),
    )
    from ._cards import card_command

    commands = {"logs": _logs, "tag": _tag, "dump": _dump, "card": card_command}
    command = commands.get(args.command)
    if command is None:
        raise CommandError(f"Unknown command '{args.command}'.")
    with open_stores(config) as stores:
        mark_crashed_runs(stores.metadata, config, flow.name)
        return command(_Context(flow.name, stores, config), args)


class _Context:
    """The flow, its stores and the configuration a management command works with."""

    def __init__(self, flow: str, stores: Stores, config: Config) -> None:
        self.flow = flow
        self.stores = stores
        self.store = stores.metadata
        self.config = config

    def run(self, run_id: str) -> RunRecord:
        try:
            return self.store.get_run(self.flow, run_id)
        except NotFound:
            raise NotFound(
                f"Run '{self.flow}/{run_id}' does not exist. See the runs of the flow with: "
                f"tideflow runs {self.flow}"
            ) from None

    def tasks(self, pathspec: str) -> list[TaskRecord]:
        """The tasks a ``RUN/STEP[/TASK]`` pathspec names, by foreach index, then id."""
        run_id, step, task_id = _split_pathspec(self.flow, pathspec)
        self.run(run_id)
        if task_id is not None:
            try:
                return [self.store.get_task(self.flow, run_id, step, task_id)]
            except NotFound:
                self._step_tasks(run_id, step)  # an unknown step says so first
                raise
        return sorted(self._step_tasks(run_id, step), key=_task_order)

    def _step_tasks(self, run_id: str, step: str) -> list[TaskRecord]:
        try:
            return self.store.list_tasks(self.flow, run_id, step)
        except NotFound:
            steps = sorted(s.step for s in self.store.list_steps(self.flow, run_id))
            raise NotFound(
                f"Step '{self.flow}/{run_id}/{step}' does not exist. The run has the steps: "
                f"{', '.join(steps) or 'none'}."
            ) from None

    def attempt(self, task: TaskRecord, wanted: int | None) -> AttemptRecord | None:
        attempts = self.store.list_attempts(task.flow, task.run_id, task.step, task.task_id)
        if wanted is None:
            return attempts[-1] if attempts else None
        for attempt in attempts:
            if attempt.attempt == wanted:
                return attempt
        have = ", ".join(str(a.attempt) for a in attempts) or "none"
        raise NotFound(
            f"Task '{task.pathspec}' has no attempt {wanted}; its attempts are: {have}."
        )


def _task_order(task: TaskRecord) -> tuple[int, int, str]:
    number = int(task.task_id) if task.task_id.isdigit() else 0
    return (task.index or 0, number, task.task_id)


def _split_pathspec(flow: str, pathspec: str) -> tuple[str, str, str | None]:
    parts = pathspec.strip("/").split("/")
    if len(parts) in (3, 4) and parts[0] == flow:
        parts = parts[1:]
    if len(parts) not in (2, 3) or not all(parts):
        raise CommandError(
            f"Cannot read the pathspec '{pathspec}': write RUN/STEP or RUN/STEP/TASK, as in "
            "1795308495261278/start or 1795308495261278/start/1."
        )
    return parts[0], parts[1], parts[2] if len(parts) == 3 else None


# -- logs --------------------------------------------------------------------------------


def _logs(context: _Context, args: argparse.Namespace) -> int:
    tasks = context.tasks(args.pathspec)
    streams = (args.stream,) if args.stream else STREAMS
    blocks = []
    for task in tasks:
        attempt = context.attempt(task, args.attempt)
        number = attempt.attempt if attempt is not None else 0
        for stream in streams:
            key = LogKey(
                flow=task.flow,
                run_id=task.run_id,
                step=task.step,
                task_id=task.task_id,
                attempt=number,
                stream=stream,
            )
            text = context.stores.logs.read_text(key)
            blocks.append((f"{task.pathspec} (attempt {number}) {stream}", text))
    headers = len(blocks) > 1
    for title, text in blocks:
        if headers:
            print(f"=== {title} ===")
            text = text or "(no output)\n"
        sys.stdout.write(text)
    sys.stdout.flush()
    return 0


# -- tag ---------------------------------------------------------------------------------


def _tag(context: _Context, args: argparse.Namespace) -> int:
    store, flow = context.store, context.flow
    action = args.tag_action
    if action == "list":
        runs = (
            [context.run(args.run_id)]
            if args.run_id
            else store.list_runs(flow, limit=max(1, args.limit))
        )
        if not runs:
            print(f"{flow} has no runs.")
        for run in runs:
            print(f"{run.pathspec} ({run.status})")
            print(f"    user tags:   {', '.join(run.user_tags) or '(none)'}")
            print(f"    system tags: {', '.join(run.system_tags)}")
        return 0
    run_id = args.run_id or _latest_run_id(context)
    context.run(run_id)
    if action == "add":
        run = store.add_tags(flow, run_id, args.tags)
    elif action == "remove":
        run = store.remove_tags(flow, run_id, args.tags)
    else:
        run = store.replace_tags(flow, run_id, [args.old], [args.new])
    print(f"{run.pathspec} now has the user tags: {', '.join(run.user_tags) or '(none)'}")
    return 0


def _latest_run_id(context: _Context) -> str:
    """The id of the user's latest run of the flow, as the reference's ``tag`` commands
    default to.

    :raises CommandError: if the user has no run of the flow.
    """
    user = f"user:{resolve_username(context.config)}"
    runs = context.store.list_runs(context.flow, (user,), limit=1)
    if not runs:
        raise CommandError(
            f"{context.flow} has no run of {user} to tag: name the run with --run-id "
            f"(see the runs with: tideflow runs {context.flow})."
        )
    return runs[0].run_id


# -- dump --------------------------------------------------------------------------------


def _dump(context: _Context, args: argparse.Namespace) -> int:
    include = [n.strip() for n in args.include.split(",") if n.strip()] if args.include else None
    limit = max(0, args.max_value_size)
    blobs = context.stores.blobs
    listed = []
    for task in context.tasks(args.pathspec):
        attempt = context.attempt(task, None)
        number = attempt.attempt if attempt is not None else 0
        records = context.store.list_artifacts(
            task.flow, task.run_id, task.step, task.task_id, number
        )
        listed.append((task, attempt, number, records))
    seen = {r.name for *_, records in listed for r in records}
    if include is not None and seen and not seen & set(include):
        raise CommandError(
            f"No artifact named {', '.join(include)} in {args.pathspec}. Its artifacts are: "
            f"{', '.join(sorted(seen))}."
        )
    for task, attempt, number, records in listed:
        state = attempt.state if attempt is not None else "not started"
        print(f"{task.pathspec} (attempt {number}, {state}):")
        if not records:
            print("    (no artifacts: the task did not finish successfully)")
        for record in records:
            if include is not None and record.name not in include:
                continue
            text = _value_text(blobs, record.sha, record.size, record.name, limit)
            first, *rest = text.split("\n")
            print(f"    {record.name} = {first}")
            for line in rest:
                print(f"        {line}")
    return 0


def _value_text(blobs: BlobStore, sha: str, size: int, name: str, limit: int) -> str:
    if size > DUMP_LOAD_LIMIT:
        return f"<{size} bytes stored; too large to print here>"
    try:
        value = load(blobs, sha, name)
    except TideflowError as exc:
        return f"<cannot load: {exc}>"
    text = pprint.pformat(value, width=88, compact=True, sort_dicts=False)
    if len(text) > limit:
        text = f"{text[:limit]}... ({len(text) - limit} more characters)"
    return text


# -- tideflow runs -----------------------------------------------------------------------


def _duration(run: RunRecord) -> str:
    """How long the run ran: to its end, to its last heartbeat if it crashed, or so far."""
    end = run.finished_at
    if run.status == RunState.CRASHED and run.heartbeat_at is not None:
        end = run.heartbeat_at if end is None else min(end, run.heartbeat_at)
    seconds = max(0.0, (end or time.time()) - run.created_at)
    return f"{seconds:.1f}s" if seconds < 120 else f"{seconds / 60:.1f}m"


def _runs_parser() -> FlowParser:
    parser = FlowParser(
        prog="tideflow runs",
        description="List recent runs, newest first: state, user, local start time, "
        "duration and the run a resume started from.",
    )
    parser.add_argument(
        "flow", nargs="?", default=None, metavar="FLOW", help="only the runs of this flow"
    )
    parser.add_argument(
        "--limit", type=at_least_one, default=20, help="how many runs to list (20)"
    )
    parser.add_argument(
        "--root", default=None, help="the store folder (default: .tideflow, or TIDEFLOW_ROOT)"
    )
    add_store_urls(parser)
    return parser


def runs_main(argv: Sequence[str]) -> int:
    """``tideflow runs [FLOW] [--limit N]``: recent runs with their state and duration."""
    args = _runs_parser().parse_args(list(argv))
    config = load_config(
        root=args.root, metadata_url=args.metadata_url, datastore_url=args.datastore_url
    )
    root = find_root(config)
    with open_stores(config, root=root) as stores:
        store = stores.metadata
        mark_crashed_runs(store, config, args.flow)
        flows = [args.flow] if args.flow else store.list_flows()
        rows = []
        for flow in flows:
            rows.extend(store.list_runs(flow, limit=args.limit))
    rows.sort(key=lambda r: r.created_at, reverse=True)
    if not rows:
        print("No runs found" + (f" for flow {args.flow}" if args.flow else "") + f" in {root}.")
        return 0
    rows = rows[: args.limit]
    width = max(len("RUN"), *(len(run.pathspec) for run in rows))
    users = max(len("USER"), *(len(run.user) for run in rows))
    print(
        f"{'RUN':<{width}}  {'STATE':<10} {'USER':<{users}}  {'STARTED':<19} {'DURATION':>9}"
        "  ORIGIN"
    )
    for run in rows:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run.created_at))
        origin = f"resumes {run.origin_run_id}" if run.origin_run_id else ""
        line = (
            f"{run.pathspec:<{width}}  {run.status:<10} {run.user:<{users}}  {started:<19} "
            f"{_duration(run):>9}  {origin}"
        )
        print(line.rstrip())
    return 0

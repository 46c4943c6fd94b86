"""Entry points: :func:`flow_main` for ``python myflow.py ...`` and :func:`main` for ``tideflow``."""

from __future__ import annotations

import argparse
import contextlib
import sys
import traceback
from typing import TYPE_CHECKING, Any

import anyio

from .._exceptions import CommandError, ParameterError, TideflowError
from .._runtime._loader import LoadedFlow, load_flow
from .._runtime._request import build_request
from .._version import __version__
from ._parser import (
    FlowParser,
    add_parameters,
    add_top_level,
    at_least_one,
    refuse_parameters,
)
from ._show import FORMATS, show_text

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from .._flow._spec import FlowSpec

__all__ = ("flow_main", "main")

EXIT_ERROR = 1
EXIT_USAGE = 2


#: The commands of ``tideflow`` (``runs`` needs no flow file).
COMMANDS = (
    "run",
    "resume",
    "show",
    "check",
    "logs",
    "tag",
    "dump",
    "card",
    "runs",
    "db",
    "ui",
)


def _flow_parser(
    flow: LoadedFlow, prog: str, command_prog: Callable[[str], str] | None = None
) -> tuple[FlowParser, Any]:
    """The parser of a flow's commands; ``command_prog(name)`` is a command's usage name."""
    runs_hint = f"See the recent runs of this flow with: tideflow runs {flow.name}"
    parser = FlowParser(
        prog=prog, description=(flow.cls.__doc__ or "").strip() or None, epilog=runs_hint
    )
    add_top_level(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=FlowParser)

    def add(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        usage = command_prog(name) if command_prog is not None else None
        sub: argparse.ArgumentParser = commands.add_parser(name, prog=usage, **kwargs)
        return sub

    parameters = flow.cls._tf_parameters()
    run = add("run", help="run the flow")
    pick = add_parameters(run, parameters)
    _run_options(run)
    resume = add("resume", help="resume a run from its first failed step")
    resume.add_argument("step_to_rerun", nargs="?", default=None, metavar="STEP")
    resume.add_argument(
        "--origin-run-id", default=None, help="the run to resume (default: latest)"
    )
    refuse_parameters(resume, parameters, command_prog("run") if command_prog else f"{prog} run")
    _run_options(resume)
    show = add("show", help="show the flow's docstring, its steps and their transitions")
    show.add_argument(
        "--format",
        dest="show_format",
        choices=FORMATS,
        default="text",
        help="text (the default), mermaid (a Mermaid flowchart) or dot (Graphviz)",
    )
    add("check", help="validate the flow without running it")
    from ._manage import add_management_commands

    add_management_commands(add)
    return parser, pick


def _run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-workers", type=at_least_one, default=None, help="tasks run at once (16)"
    )
    parser.add_argument(
        "--max-num-splits", type=at_least_one, default=None, help="largest foreach allowed (100)"
    )
    parser.add_argument("--tag", dest="tags", action="append", default=[], help="a user tag")
    parser.set_defaults(tf_no_progress=False)
    # A flow's own --no-progress (a bool parameter named progress) wins over this one.
    with contextlib.suppress(argparse.ArgumentError):
        parser.add_argument(
            "--no-progress",
            dest="tf_no_progress",
            action="store_true",
            help="no live status block under the lines on a terminal",
        )
    parser.add_argument("--run-id-file", default=None, help="write the run id to this file")
    parser.add_argument(
        "--namespace",
        dest="user_namespace",
        default=None,
        help="the namespace tasks see as current.namespace (default: user:<name>)",
    )


def _top_level(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "decospecs": args.decospecs,
        "quiet": args.quiet,
        "executor": args.executor,
        "root": args.root,
        "config": [tuple(pair) for pair in args.config] or None,
        "config_value": [tuple(pair) for pair in args.config_value] or None,
        "branch": args.branch,
        "production": args.production or None,
        "metadata_url": args.metadata_url,
        "datastore_url": args.datastore_url,
    }


def _dispatch(
    flow: LoadedFlow,
    argv: Sequence[str],
    prog: str,
    command_prog: Callable[[str], str] | None = None,
) -> int:
    parser, pick = _flow_parser(flow, prog, command_prog)
    args = parser.parse_command_line(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    if args.command == "check":
        print(f"Validating {flow.name}... The graph looks good!")
        return 0
    if args.command == "show":
        text = show_text(flow, args.show_format)
        if args.show_format == "text":
            print(text)
        else:
            sys.stdout.write(text)
        return 0
    if args.command in ("run", "resume"):
        resume = args.command == "resume"
        options: dict[str, Any] = {
            "tags": args.tags,
            "max_workers": args.max_workers,
            "max_num_splits": args.max_num_splits,
            "run_id_file": args.run_id_file,
            "user_namespace": args.user_namespace,
        }
        if resume:
            options["origin_run_id"] = args.origin_run_id
            options["step_to_rerun"] = args.step_to_rerun
        else:
            options.update(pick(args))
        request = build_request(
            flow,
            top_level=_top_level(args),
            options={k: v for k, v in options.items() if v is not None},
            resume=resume,
            from_text=True,
        )
        from .._worker._blank import start_early_host
        from ._run import run_in_terminal, say

        # The fork host's interpreter starts while the event loop and the supervisor do.
        started = start_early_host(request.config.executor, request.env, request.cwd)
        try:
            if not request.quiet:
                say("Validating your flow...\n    The graph looks good!")
            return anyio.run(run_in_terminal, request, not args.tf_no_progress, started)
        finally:
            if started is not None and not started.taken:
                started.close()
    from ._manage import run_management_command

    return run_management_command(flow, args, _top_level(args))


def _print_error(exc: BaseException) -> None:
    # Text from the command line may hold lone surrogates (undecodable bytes): escape them.
    print(f"error: {exc}".encode("utf-8", "backslashreplace").decode(), file=sys.stderr)


def _unwrapped(call: Any) -> int:
    """Call ``call``; an exception group holding one error (a task group around the run)
    is raised as that error, so it reads as one line like any other."""
    try:
        return int(call())
    except BaseExceptionGroup as group:
        leaves = _leaves(group)
        if len(leaves) == 1 and isinstance(leaves[0], Exception):
            raise leaves[0] from group
        raise


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    found: list[BaseException] = []
    for exc in group.exceptions:
        found.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return found


def _guarded(call: Any, argv: Sequence[str]) -> int:
    show_traceback = "--traceback" in argv
    try:
        return _unwrapped(call)
    except (CommandError, ParameterError) as exc:
        if show_traceback:
            traceback.print_exc()
        _print_error(exc)
        return EXIT_USAGE
    except (TideflowError, ValueError, TypeError) as exc:
        if show_traceback or not isinstance(exc, (TideflowError, ValueError)):
            traceback.print_exc()
        _print_error(exc)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130


def flow_main(cls: type[FlowSpec], argv: Sequence[str] | None = None) -> int:
    """``python myflow.py COMMAND ...``: what calling a FlowSpec subclass at ``__main__`` runs."""
    argv = list(sys.argv[1:] if argv is None else argv)

    def call() -> int:
        flow = load_flow(cls)
        script = sys.argv[0] if sys.argv and sys.argv[0] else cls.__name__
        return _dispatch(flow, argv, prog=f"python {script}")

    return _guarded(call, argv)


_USAGE = (
    "usage: tideflow COMMAND FLOW_FILE [OPTIONS]   (run, resume, show, check, logs, tag, "
    "dump, card)\n       tideflow runs [FLOW] [--limit N]   list recent runs\n"
    "       tideflow ui [--root DIR] [--port N] [--open]   the web UI\n"
    "       tideflow --version\n\n"
    "FLOW_FILE is a file (flow.py), a flow of a file of several (flow.py:MyFlow) or a "
    "module\nand class (package.module:MyFlow, found in the working directory too). "
    "Help on a\ncommand: tideflow run flow.py --help"
)


def main(argv: Sequence[str] | None = None) -> int:
    """The ``tideflow`` command: ``tideflow COMMAND FLOW_FILE ...`` and ``tideflow runs``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    helped = argv[0] not in ("runs", "ui") and argv[1:2] in (["-h"], ["--help"]) if argv else False
    if not argv or argv[0] in ("-h", "--help") or helped:
        print(_USAGE)
        return 0 if argv else EXIT_USAGE
    if argv[0] == "--version":
        print(f"tideflow {__version__}")
        return 0
    if argv[0] == "ui":
        from ._ui import ui_main

        return _guarded(lambda: ui_main(argv[1:]), argv)
    if argv[0] == "runs":
        from ._manage import runs_main

        return _guarded(lambda: runs_main(argv[1:]), argv)
    if argv[0] == "db":
        from ._db import db_main

        return _guarded(lambda: db_main(argv[1:]), argv)
    if argv[0] not in COMMANDS:
        print(
            f"error: unknown command '{argv[0]}': choose from {', '.join(COMMANDS)}. "
            "See tideflow --help.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if len(argv) < 2 or argv[1].startswith("-"):
        print(
            f"error: tideflow {argv[0]} needs a flow file, right after the command: "
            f"tideflow {argv[0]} myflow.py [OPTIONS]",
            file=sys.stderr,
        )
        return EXIT_USAGE
    command, flow_file, *rest = argv

    def call() -> int:
        flow = load_flow(flow_file)
        return _dispatch(
            flow,
            [*_leading_options(rest), command, *_trailing(rest)],
            prog=f"tideflow {command} {flow_file}",
            command_prog=lambda name: f"tideflow {name} {flow_file}",
        )

    return _guarded(call, argv)


_TOP_LEVEL_FLAGS = {"--quiet", "--no-pylint", "--pylint", "--traceback", "--production"}
#: Top-level options that take two values (NAME and PATH or JSON).
_TOP_LEVEL_PAIRS = {"--config", "--config-value"}
_TOP_LEVEL_VALUES = {
    "--with",
    "--metadata",
    "--datastore",
    "--environment",
    "--executor",
    "--root",
    "--branch",
    "--metadata-url",
    "--datastore-url",
}


def _split(rest: Sequence[str]) -> tuple[list[str], list[str]]:
    leading: list[str] = []
    trailing: list[str] = []
    items = list(rest)
    i = 0
    while i < len(items):
        item = items[i]
        if item in _TOP_LEVEL_FLAGS:
            leading.append(item)
        elif item in _TOP_LEVEL_PAIRS and i + 2 < len(items):
            leading.extend(items[i : i + 3])
            i += 2
        elif item in _TOP_LEVEL_VALUES and i + 1 < len(items):
            leading.extend(items[i : i + 2])
            i += 1
        elif item.split("=", 1)[0] in _TOP_LEVEL_VALUES:
            leading.append(item)
        else:
            trailing.append(item)
        i += 1
    return leading, trailing


def _leading_options(rest: Sequence[str]) -> list[str]:
    return _split(rest)[0]


def _trailing(rest: Sequence[str]) -> list[str]:
    return _split(rest)[1]

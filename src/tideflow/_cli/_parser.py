"""Argument parsers for the flow commands, built from the flow's parameters."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from .._exceptions import CommandError, StoreError
from .._stores._bundle import check_url

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from .._flow._parameter import Parameter

__all__ = (
    "FlowParser",
    "add_parameters",
    "add_store_urls",
    "add_top_level",
    "at_least_one",
    "refuse_parameters",
)


class FlowParser(argparse.ArgumentParser):
    """An ArgumentParser that raises :class:`CommandError` instead of exiting."""

    def error(self, message: str) -> Any:
        raise CommandError(f"{message}. Run with --help to see the options.")

    def parse_command_line(self, argv: Sequence[str]) -> argparse.Namespace:
        """Parse ``argv`` as :meth:`parse_args` does; an option of this parser given after
        the command (``run --quiet``) is an error that says where it goes.

        :raises CommandError: for a usage error.
        """
        parsed, extras = self.parse_known_args(list(argv))
        if not extras:
            return parsed
        command = getattr(parsed, "command", None)
        for item in extras:
            action = self._option_string_actions.get(item.split("=", 1)[0])
            if command and action is not None and not isinstance(action, argparse._HelpAction):
                option = item.split("=", 1)[0]
                value = "" if action.nargs == 0 else f" {action.metavar or 'VALUE'}"
                raise CommandError(
                    f"{option} is a top-level option: it goes before the command, as in: "
                    f"{self.prog} {option}{value} {command} ..."
                )
        self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed  # not reached: error() raises


def at_least_one(text: str) -> int:
    """An argparse type: a whole number >= 1 (a bad value is a usage error, exit code 2)."""
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return number


class _KeptParameter(argparse.Action):
    """A flow parameter given to ``resume``: refused, since a resume keeps the origin
    run's parameters."""

    def __init__(self, *args: Any, run_prog: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.run_prog = run_prog

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        given = f"{option_string} {values}" if isinstance(values, str) else option_string
        raise CommandError(
            f"{option_string} is a flow parameter, and a resume keeps the parameters of the "
            f"origin run. To run with other values, start a new run: {self.run_prog} {given}"
        )


def refuse_parameters(
    parser: argparse.ArgumentParser, parameters: Mapping[str, Parameter], run_prog: str
) -> None:
    """Make the flow's ``--name`` options errors that say why (for ``resume``)."""
    for parameter in parameters.values():
        names = [f"--{parameter.name}"]
        if parameter.is_flag:
            names.append(f"--no-{parameter.name}")
        parser.add_argument(
            *names,
            dest=f"kept__{parameter.name}",
            nargs=0 if parameter.is_flag else "?",
            action=_KeptParameter,
            run_prog=run_prog,
            help=argparse.SUPPRESS,
        )


def add_top_level(parser: argparse.ArgumentParser) -> None:
    """The options that come before the command (``--with``, ``--quiet``, ...)."""
    parser.add_argument(
        "--with",
        dest="decospecs",
        action="append",
        default=[],
        metavar="DECORATOR",
        help="add a step decorator to every step, as in --with retry:times=2",
    )
    parser.add_argument("--quiet", action="store_true", help="print only the tasks' output")
    parser.add_argument("--no-pylint", dest="pylint", action="store_false", help="accepted; no-op")
    parser.add_argument("--pylint", dest="pylint", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--metadata", default=None, choices=["local"], help="metadata backend")
    parser.add_argument("--datastore", default=None, choices=["local"], help="artifact backend")
    parser.add_argument("--environment", default=None, choices=["local"], help=argparse.SUPPRESS)
    parser.add_argument(
        "--executor",
        default=None,
        choices=["spawn", "fork", "dask"],
        help="how task processes start: a fresh interpreter each (spawn), forked from a "
        "warm host (fork), or on a Dask cluster (dask; TIDEFLOW_DASK_ADDRESS)",
    )
    parser.add_argument("--root", default=None, help="the store folder (default: .tideflow)")
    add_store_urls(parser)
    parser.add_argument(
        "--config",
        dest="config",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "PATH"),
        help="read the flow's Config NAME from the file PATH",
    )
    parser.add_argument(
        "--config-value",
        dest="config_value",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "JSON"),
        help="give the flow's Config NAME the value JSON",
    )
    parser.add_argument(
        "--branch", default=None, help="with @project: run on the branch test.BRANCH"
    )
    parser.add_argument(
        "--production", action="store_true", default=False, help="with @project: run on prod"
    )
    parser.add_argument(
        "--traceback", action="store_true", help="show full tracebacks of tideflow errors"
    )


def _url_type(kind: str) -> Callable[[str], str]:
    def check(text: str) -> str:
        try:
            check_url(kind, text, "the URL")
        except StoreError as exc:
            raise argparse.ArgumentTypeError(str(exc).rstrip(".")) from None
        return text

    check.__name__ = f"{kind} URL"
    return check


def add_store_urls(parser: argparse.ArgumentParser) -> None:
    """``--metadata-url`` and ``--datastore-url``: where runs and artifacts are stored."""
    parser.add_argument(
        "--metadata-url",
        type=_url_type("metadata"),
        default=None,
        metavar="URL",
        help="where run metadata is stored: sqlite:///path/metadata.db or postgresql://... "
        "(default: TIDEFLOW_METADATA_URL, else the SQLite database in the store folder)",
    )
    parser.add_argument(
        "--datastore-url",
        type=_url_type("datastore"),
        default=None,
        metavar="URL",
        help="where artifacts and logs are stored: file:///path or s3://bucket/prefix "
        "(default: TIDEFLOW_DATASTORE_URL, else the store folder)",
    )


def _parameter_help(parameter: Parameter) -> str:
    parts = [parameter.help or ""]
    parts.append(f"[{parameter.type_name}")
    if parameter.required:
        parts[-1] += ", required]"
    elif parameter.show_default and not callable(parameter.default):
        parts[-1] += f", default: {parameter.default!r}]"
    else:
        parts[-1] += "]"
    if parameter.separator:
        parts.append(f"(items separated by {parameter.separator!r})")
    return " ".join(p for p in parts if p)


def add_parameters(
    parser: argparse.ArgumentParser, parameters: Mapping[str, Parameter]
) -> Callable[[argparse.Namespace], dict[str, Any]]:
    """Add ``--name`` options for the flow's parameters; return a function picking them out."""
    group = parser.add_argument_group("flow parameters")
    dests: dict[str, str] = {}
    for parameter in parameters.values():
        dest = f"param__{parameter.name}"
        dests[parameter.name] = dest
        if parameter.is_flag:
            group.add_argument(
                f"--{parameter.name}",
                dest=dest,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=_parameter_help(parameter),
            )
        else:
            group.add_argument(
                f"--{parameter.name}",
                dest=dest,
                default=None,
                metavar="VALUE",
                help=_parameter_help(parameter),
            )

    def pick(namespace: argparse.Namespace) -> dict[str, Any]:
        values = {}
        for name, dest in dests.items():
            value = getattr(namespace, dest)
            if value is not None:
                values[name] = str(value).lower() if isinstance(value, bool) else value
        return values

    return pick

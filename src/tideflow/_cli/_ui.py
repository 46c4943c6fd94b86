"""``tideflow ui``: serve the local web UI on the store at hand."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

import anyio

from .._client._store import resolve_root, store_for
from ._parser import FlowParser

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ("ui_main",)


def _port(text: str) -> int:
    """An argparse type: a port number, 0 to 65535 (0: any free port)."""
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 0 to 65535, got {text!r}")
    return int(text)


def _parser() -> FlowParser:
    parser = FlowParser(
        prog="tideflow ui",
        description="Serve a read-only web page over the runs of a tideflow store.",
    )
    parser.add_argument("--root", default=None, help="the store folder (default: .tideflow)")
    parser.add_argument("--port", type=_port, default=8421, help="the port (8421; 0: any free)")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address to listen on (127.0.0.1). Another one lets other machines read "
        "the store, pickled artifacts included.",
    )
    parser.add_argument("--open", action="store_true", help="open the page in a browser")
    parser.add_argument(
        "--backend", choices=["asyncio", "trio"], default="asyncio", help="the event loop"
    )
    return parser


def ui_main(argv: Sequence[str]) -> int:
    """Parse ``tideflow ui`` options and serve until Ctrl-C; return the exit code."""
    from .._ui._serve import LOOPBACK, check_extra, serve

    args = _parser().parse_args(list(argv))
    problem = check_extra()
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    if args.host not in LOOPBACK:
        print(
            f"warning: serving on {args.host}: anyone who can reach this address can read "
            "every run of the store, and artifacts are pickles (loading one runs code).",
            file=sys.stderr,
        )
    root = resolve_root(args.root)
    if not store_for(root).exists():
        print(f"note: no tideflow store at {root} yet; runs show up once there is one.")
    try:
        anyio.run(
            lambda: serve(
                root,
                host=args.host,
                port=args.port,
                open_browser=args.open,
                backend=args.backend,
                say=lambda text: print(text, flush=True),
            ),
            backend=args.backend,
        )
    except OSError as exc:
        print(
            f"error: cannot serve on {args.host}:{args.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 1
    return 0

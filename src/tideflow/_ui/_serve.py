"""Serving the web UI with Hypercorn, under asyncio or trio, until Ctrl-C.

The listening socket is bound here, before Hypercorn starts (it takes it as ``fd://``),
so port 0 works and the address printed is the one in use.
"""

from __future__ import annotations

import signal
import socket
import webbrowser
from typing import TYPE_CHECKING, Final

import anyio

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

__all__ = ("LOOPBACK", "MISSING_EXTRA", "check_extra", "serve")

#: Hosts that only this machine can reach.
LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1"})
MISSING_EXTRA: Final = (
    "tideflow ui needs the web extra, which is not installed. Install it with: "
    "pip install 'tideflow[ui]'"
)


def check_extra() -> str | None:
    """``None`` when the ``ui`` extra's packages import, else the message saying what to do."""
    try:
        import hypercorn  # noqa: F401
        import jinja2  # noqa: F401
        import starlette  # noqa: F401
    except ImportError:
        return MISSING_EXTRA
    return None


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    """``http://host:port`` of a listening socket."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def serve(
    root: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8421,
    open_browser: bool = False,
    backend: str = "asyncio",
    say: Callable[[str], object] = lambda text: None,
) -> None:
    """Serve the UI over ``root`` on ``host:port`` until SIGINT or SIGTERM.

    :param say: called with the line that tells where the UI is, once it listens, and
        with a line when it has stopped.

    :raises OSError: if the address cannot be bound (the port is taken, ...).
    """
    from hypercorn.config import Config

    from ._app import create_app

    sock = _listen(host, port)
    url = url_of(sock)
    config = Config()
    # Hypercorn owns the socket from here on, and closes it when it stops.
    config.bind = [f"fd://{sock.detach()}"]
    config.accesslog = None
    config.loglevel = "WARNING"
    config.graceful_timeout = 1.0
    app = create_app(root)
    stop = anyio.Event()
    say(f"tideflow ui: serving {root} on {url} (Ctrl-C to stop)")
    if open_browser:
        await anyio.to_thread.run_sync(webbrowser.open, url)
    async with anyio.create_task_group() as tg:
        tg.start_soon(_stop_on_signal, stop)
        if backend == "trio":
            from hypercorn.trio import serve as trio_serve

            await trio_serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]
        else:
            from hypercorn.asyncio import serve as asyncio_serve

            await asyncio_serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]
        tg.cancel_scope.cancel()
    say("tideflow ui: stopped.")


async def _stop_on_signal(stop: anyio.Event) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            stop.set()
            return

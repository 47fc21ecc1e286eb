"""A real S3 HTTP endpoint on loopback for the tests, and faulty ones.

- :class:`MotoServer`: moto's standalone server in a subprocess.
- :class:`FaultProxy`: an HTTP proxy in front of it that answers chosen
  requests with an error status before passing the rest through.
- :class:`Blackhole`: a socket that accepts connections and never answers.

The ``moto_server`` fixture is session-scoped (the server starts once) and
sets fake credentials in the environment so nothing reaches real AWS.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import boto3
import pytest

from imageattach.stores.s3 import S3Store

ACCESS_KEY = "testing"
SECRET_KEY = "testing"
REGION = "us-east-1"

#: Environment that points boto3 at fake credentials and away from any real
#: AWS configuration of the machine.
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": ACCESS_KEY,
    "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


S3StoreFactory = Callable[..., S3Store]


def s3_options(endpoint_url: str, **options: Any) -> dict[str, Any]:
    """S3Store options that talk to ``endpoint_url`` with the fake credentials."""
    defaults: dict[str, Any] = {
        "endpoint_url": endpoint_url,
        "region": REGION,
        "aws_access_key_id": ACCESS_KEY,
        "aws_secret_access_key": SECRET_KEY,
    }
    return defaults | options


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class MotoServer:
    """``python -m moto.server`` on a free loopback port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("moto server did not start")
            time.sleep(0.05)

    def client(self) -> object:
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def new_bucket(self) -> str:
        """Create a bucket with a fresh name (tests never share one)."""
        name = f"test-{uuid.uuid4().hex[:20]}"
        self.client().create_bucket(Bucket=name)  # type: ignore[attr-defined]
        return name

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """The moto S3 server, started once per test session."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in FAKE_AWS_ENV.items():
            patch.setenv(name, value)
        server = MotoServer()
        try:
            yield server
        finally:
            server.stop()


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ProxyServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _handle(self) -> None:
        # One request per connection, so that close() really stops the endpoint.
        self.close_connection = True
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        proxy = self.server.proxy
        proxy.record_headers(self.command, self.path, self.headers.items())
        delay = proxy.delay_for(self.command)
        if delay:
            time.sleep(delay)
        status = proxy.take_failure(self.command, self.path)
        if status is not None:
            proxy.record_answer(self.command, self.path, status)
            code = {
                403: "AccessDenied",
                412: "PreconditionFailed",
                500: "InternalError",
                501: "NotImplemented",
            }.get(status, "ServiceUnavailable")
            payload = f"<Error><Code>{code}</Code><Message>injected</Message></Error>".encode()
            self.send_response(status)
            self.send_header("Connection", "close")
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
            return
        upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() != "expect"}
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            data = response.read()
        finally:
            upstream.close()
        proxy.record_answer(self.command, self.path, response.status)
        self.send_response(response.status)
        self.send_header("Connection", "close")
        for name, value in response.getheaders():
            if name.lower() not in {"transfer-encoding", "connection", "content-length"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


class _ProxyServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    proxy: FaultProxy


class FaultProxy:
    """A loopback HTTP proxy in front of ``upstream_url`` that answers the
    next ``fail(n, ...)`` matching requests with an error status itself.

    ``requests`` records ``(method, path, status or None)`` of every request,
    ``headers`` ``(method, path, {lower-case name: value})``, ``answers``
    ``(method, path, status)`` with the status the client got.

    ``delay`` injects latency: every request waits that many seconds (a
    number), or, given a mapping of HTTP methods to seconds, the seconds of
    its method (``"*"``: the other methods), before it is answered or passed
    on.  Requests wait in parallel (one thread each).  See :meth:`set_delay`.
    """

    def __init__(self, upstream_url: str, delay: float | Mapping[str, float] | None = None) -> None:
        self.upstream_port = int(upstream_url.rsplit(":", 1)[1])
        self.requests: list[tuple[str, str, int | None]] = []
        self.headers: list[tuple[str, str, dict[str, str]]] = []
        self.answers: list[tuple[str, str, int]] = []
        self._failures = 0
        self._status = 503
        self._method: str | None = None
        self._lock = threading.Lock()
        self._delays: dict[str, float] = {}
        self.set_delay(delay)
        self._server = _ProxyServer(("127.0.0.1", 0), _ProxyHandler)
        self._server.proxy = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def fail(self, count: int, status: int = 503, method: str | None = None) -> None:
        """Answer the next ``count`` requests (of ``method``, if given) with ``status``."""
        with self._lock:
            self._failures, self._status, self._method = count, status, method

    def set_delay(self, delay: float | Mapping[str, float] | None) -> None:
        """Delay every request by ``delay`` seconds, or each by the seconds
        ``delay`` maps its method to (``"*"`` for the others); ``None`` or
        ``0``: no delay (the default)."""
        if delay is None:
            delays: dict[str, float] = {}
        elif isinstance(delay, Mapping):
            delays = {method.upper(): float(seconds) for method, seconds in delay.items()}
        else:
            delays = {"*": float(delay)}
        if any(seconds < 0 for seconds in delays.values()):
            raise ValueError(f"delays must not be negative: {delay!r}")
        with self._lock:
            self._delays = delays

    def delay_for(self, method: str) -> float:
        """The seconds a ``method`` request waits."""
        with self._lock:
            return self._delays.get(method, self._delays.get("*", 0.0))

    def take_failure(self, method: str, path: str) -> int | None:
        with self._lock:
            status = None
            if self._failures and self._method in (None, method):
                self._failures -= 1
                status = self._status
            self.requests.append((method, path, status))
            return status

    def record_headers(self, method: str, path: str, headers: Iterable[tuple[str, str]]) -> None:
        with self._lock:
            self.headers.append((method, path, {k.lower(): v for k, v in headers}))

    def record_answer(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.answers.append((method, path, status))

    def count(self, method: str) -> int:
        return sum(1 for m, _, _ in self.requests if m == method)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class Blackhole:
    """A TCP port that accepts connections and never sends a byte."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(64)
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                self._held.append(self._socket.accept()[0])

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._socket.close()
        for held in self._held:
            held.close()

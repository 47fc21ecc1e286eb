"""A counting HTTP proxy in front of an S3 endpoint: every request is passed
on and tallied by method, path and status; ``GET /__counts`` answers the
tally as JSON (``[[method, path, status, count], ...]``).

``python -m bench.s3count --port P --upstream http://127.0.0.1:Q`` runs it
as a process of its own, so that its work is not done under the GIL of the
benchmark's client.  moto's own request recorder would also see every
request, but it writes each one (body included) to a file from many
threads at once, and the lines of concurrent PUTs can interleave.
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import json
import sys
import threading
from collections import Counter
from urllib.parse import urlsplit

COUNTS_PATH = "/__counts"

# Hop-by-hop headers (RFC 9110 7.6.1), and the length, which is set anew.
_NOT_PASSED = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "expect", "te", "upgrade", "content-length"}
)


class _Tally:
    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str, int]] = Counter()
        self.lock = threading.Lock()

    def add(self, method: str, path: str, status: int) -> None:
        with self.lock:
            self.counts[method, path, status] += 1

    def json(self) -> bytes:
        with self.lock:
            rows = [[*key, count] for key, count in sorted(self.counts.items())]
        return json.dumps(rows).encode()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, port: int, upstream: tuple[str, int]) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.upstream = upstream
        self.tally = _Tally()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    _upstream: http.client.HTTPConnection | None = None

    def log_message(self, format: str, *args: object) -> None:
        pass

    def finish(self) -> None:
        super().finish()
        if self._upstream is not None:
            self._upstream.close()

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(parts)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, body: bytes, headers: dict[str, str]) -> http.client.HTTPResponse:
        # One upstream connection per client connection, opened anew when the
        # kept-alive one was closed by the upstream in between.
        for attempt in (1, 2):
            if self._upstream is None:
                self._upstream = http.client.HTTPConnection(*self.server.upstream, timeout=60)
            try:
                self._upstream.request(self.command, self.path, body=body, headers=headers)
                return self._upstream.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self._upstream.close()
                self._upstream = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _handle(self) -> None:
        if self.path == COUNTS_PATH:
            self._reply(200, [("Content-Type", "application/json")], self.server.tally.json())
            return
        body = self._body()
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _NOT_PASSED}
        headers["Content-Length"] = str(len(body))
        try:
            response = self._send(body, headers)
            data = response.read()
        except OSError as error:
            self.server.tally.add(self.command, urlsplit(self.path).path, 502)
            self._reply(502, [("Content-Type", "text/plain")], f"upstream: {error}".encode())
            return
        self.server.tally.add(self.command, urlsplit(self.path).path, response.status)
        passed = [(k, v) for k, v in response.getheaders() if k.lower() not in _NOT_PASSED]
        if self.command == "HEAD":
            length = response.getheader("Content-Length")
            passed += [("Content-Length", length)] if length is not None else []
        self._reply(response.status, passed, data)

    def _reply(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


def counts(port: int) -> list[tuple[str, str, int, int]]:
    """The tally of the proxy on ``port``: ``(method, path, status, count)``."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", COUNTS_PATH)
        response = connection.getresponse()
        rows = json.loads(response.read())
    finally:
        connection.close()
    return [(str(m), str(p), int(s), int(n)) for m, p, s, n in rows]


def serve(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.s3count", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="http://127.0.0.1:PORT")
    options = parser.parse_args(argv)
    upstream = urlsplit(options.upstream)
    if upstream.scheme != "http" or upstream.hostname is None or upstream.port is None:
        parser.error(f"--upstream must be http://HOST:PORT, not {options.upstream!r}")
    server = _Server(options.port, (upstream.hostname, upstream.port))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1:]))

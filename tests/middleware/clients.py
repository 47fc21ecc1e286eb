"""One small client interface over both front ends, so that every HTTP rule
is asserted through WSGI and ASGI alike.

- :class:`WSGIClient`: Werkzeug's test client, the app wrapped in
  :func:`wsgiref.validate.validator`; optionally with ``wsgi.file_wrapper``.
- :class:`ASGIClient`: a tiny scope/receive/send driver (httpx's
  ASGITransport cannot do ``pathsend``) that also checks the message
  sequence; optionally advertising ``http.response.pathsend``.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote
from wsgiref.util import FileWrapper
from wsgiref.validate import validator

import anyio
from werkzeug.test import Client

from imageattach.hosturl import current_host_url

Headers = Iterable[tuple[str, str]]


@dataclass
class Result:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    #: ASGI: the type of the message that carried the body.
    body_via: str = "body"
    messages: list[MutableMapping[str, Any]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        """The value of ``name`` (case-insensitive), repeated ones joined."""
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ", ".join(values) if values else None

    @property
    def fell_through(self) -> bool:
        """Whether the wrapped app answered."""
        return self.header("X-App") == "1"


# -- the apps that the middlewares wrap ---------------------------------------


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """Answers 200 with the current host URL as its body."""
    body = (current_host_url() or "-").encode()
    start_response(
        "200 OK",
        [("Content-Type", "text/plain"), ("Content-Length", str(len(body))), ("X-App", "1")],
    )
    return [body]


async def asgi_app(
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[Any]],
    send: Callable[[Any], Awaitable[None]],
) -> None:
    """Answers 200 with the current host URL as its body."""
    assert scope["type"] == "http"
    body = (current_host_url() or "-").encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"x-app", b"1")],
        }
    )
    await send({"type": "http.response.body", "body": body})


# -- WSGI ---------------------------------------------------------------------


class WSGIClient:
    def __init__(
        self, app: Any, *, file_wrapper: bool = False, validate: bool = True, script_name: str = ""
    ) -> None:
        self.app = app
        self.client = Client(validator(app) if validate else app)
        self.file_wrapper = file_wrapper
        self.script_name = script_name

    def request(
        self, method: str, target: str, headers: Headers = (), environ: dict[str, Any] | None = None
    ) -> Result:
        overrides: dict[str, Any] = dict(environ or {})
        if self.file_wrapper:
            overrides["wsgi.file_wrapper"] = FileWrapper
        path, _, query = target.partition("?")
        response = self.client.open(
            path,
            method=method,
            query_string=query,
            headers=list(headers),
            environ_overrides=overrides,
            base_url=f"http://localhost{self.script_name}/" if self.script_name else None,
        )
        try:
            body = response.get_data()
        finally:
            response.close()
        return Result(response.status_code, list(response.headers.items()), body)


# -- ASGI ---------------------------------------------------------------------


class ASGIClient:
    def __init__(self, app: Any, *, pathsend: bool = False, root_path: str = "") -> None:
        self.app = app
        self.pathsend = pathsend
        self.root_path = root_path

    def scope(self, method: str, target: str, headers: Headers = ()) -> dict[str, Any]:
        path, _, query = target.partition("?")
        header_list = [(b"host", b"testserver")]
        header_list += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "root_path": self.root_path,
            # like uvicorn: path includes root_path, decoded once
            "path": self.root_path + unquote(path),
            "raw_path": (self.root_path + path).encode("latin-1"),
            "query_string": query.encode("latin-1"),
            "headers": header_list,
            "server": ("testserver", 80),
            "client": ("127.0.0.1", 50000),
            "extensions": {"http.response.pathsend": {}} if self.pathsend else {},
            "state": {},
        }

    def request(self, method: str, target: str, headers: Headers = ()) -> Result:
        return anyio.run(self.arequest, method, target, headers)

    async def arequest(
        self,
        method: str,
        target: str,
        headers: Headers = (),
        *,
        scope: dict[str, Any] | None = None,
        on_message: Callable[[MutableMapping[str, Any]], None] | None = None,
    ) -> Result:
        if scope is None:
            scope = self.scope(method, target, headers)
        messages: list[MutableMapping[str, Any]] = []
        done = anyio.Event()
        requested = False

        async def receive() -> dict[str, Any]:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            assert not done.is_set(), f"message after the response was complete: {message}"
            messages.append(message)
            if on_message is not None:
                on_message(message)
            if message["type"] == "http.response.pathsend" or (
                message["type"] == "http.response.body" and not message.get("more_body", False)
            ):
                done.set()

        await self.app(scope, receive, send)
        return _assemble(messages, complete=done.is_set())


def _assemble(messages: list[MutableMapping[str, Any]], *, complete: bool) -> Result:
    """Check the ASGI message sequence and turn it into a :class:`Result`."""
    assert messages, "no response"
    start, rest = messages[0], messages[1:]
    assert start["type"] == "http.response.start", start
    headers = []
    for name, value in start["headers"]:
        assert isinstance(name, bytes) and isinstance(value, bytes)
        assert name == name.lower(), f"ASGI header names are lower case: {name!r}"
        headers.append((name.decode("latin-1"), value.decode("latin-1")))
    body = b""
    via = "body"
    for message in rest:
        if message["type"] == "http.response.pathsend":
            assert os.path.isabs(message["path"])
            with open(message["path"], "rb") as file:
                body += file.read()
            via = "pathsend"
        else:
            assert message["type"] == "http.response.body", message
            assert isinstance(message.get("body", b""), bytes)
            body += message.get("body", b"")
    assert complete, "the response was not completed"
    return Result(start["status"], headers, body, via, messages)

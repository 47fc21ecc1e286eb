"""Messages between the serving process and a decoding worker.

A message is a JSON object behind a 4-byte length, on a Unix socket, with
file descriptors passed alongside (``SCM_RIGHTS``): image bytes travel as a
descriptor of a file or an anonymous memory file, never through the socket.
JSON, not pickle: a worker runs ImageMagick on hostile bytes, and a worker
taken over by an exploit must not be able to run code in the server by
sending it a crafted pickle.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import time
from collections.abc import Sequence
from typing import Any

__all__ = ["MAX_FDS", "anonymous_file", "receive", "send"]

#: Most descriptors one message carries.
MAX_FDS = 2
#: Largest message accepted: messages are small dictionaries.
_MAX_LENGTH = 1024**2
_HEADER = struct.Struct("!I")


def send(sock: socket.socket, message: dict[str, Any], fds: Sequence[int] = ()) -> None:
    """Send ``message`` with ``fds`` (the receiver gets duplicates)."""
    payload = json.dumps(message, separators=(",", ":")).encode()
    data = _HEADER.pack(len(payload)) + payload
    sent = socket.send_fds(sock, [data], list(fds)) if fds else sock.send(data)
    if sent < len(data):
        sock.sendall(data[sent:])


def receive(sock: socket.socket, deadline: float | None = None) -> tuple[dict[str, Any], list[int]]:
    """The next message and the descriptors that came with it (the caller
    closes them), by ``deadline`` (a :func:`time.monotonic` time) if given.

    :raises TimeoutError: the deadline passed first.
    :raises EOFError: the other end closed the socket.
    :raises ValueError: a malformed message.
    """
    _wait(sock, deadline)
    header, fds, _flags, _address = socket.recv_fds(sock, _HEADER.size, MAX_FDS)
    try:
        header += _read_exactly(sock, _HEADER.size - len(header), deadline)
        (length,) = _HEADER.unpack(header)
        if length > _MAX_LENGTH:
            raise ValueError(f"message of {length} bytes")
        try:
            message = json.loads(_read_exactly(sock, length, deadline))
        except RecursionError:
            raise ValueError("message nested too deeply") from None
        if not isinstance(message, dict):
            raise ValueError("message is not an object")
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    return message, fds


def _wait(sock: socket.socket, deadline: float | None) -> None:
    """Make the next read on ``sock`` give up at ``deadline``."""
    if deadline is None:
        sock.settimeout(None)
        return
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("deadline passed")
    sock.settimeout(remaining)


def _read_exactly(sock: socket.socket, size: int, deadline: float | None) -> bytes:
    chunks = []
    while size > 0:
        _wait(sock, deadline)
        chunk = sock.recv(min(size, 65536))
        if not chunk:
            raise EOFError("the other end closed the channel")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def anonymous_file(data: bytes | memoryview | None = None) -> int:
    """A descriptor of a new file that lives in memory and has no name
    (``memfd`` on Linux, an unlinked temporary file elsewhere), holding ``data``."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("imageattach", os.MFD_CLOEXEC)
    else:  # pragma: no cover - not Linux
        import tempfile

        with tempfile.TemporaryFile() as file:
            fd = os.dup(file.fileno())
    try:
        if data:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
    except BaseException:
        os.close(fd)
        raise
    return fd

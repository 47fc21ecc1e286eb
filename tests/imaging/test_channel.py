"""Messages between the server and a decoding worker."""

from __future__ import annotations

import os
import socket
import struct
import threading
import time

import pytest

from imageattach.imaging import channel


def test_a_message_carries_descriptors() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        fd = channel.anonymous_file(b"image bytes")
        try:
            channel.send(ours, {"job": "probe", "offset": 0}, [fd])
        finally:
            os.close(fd)
        message, fds = channel.receive(theirs, time.monotonic() + 5)
        assert message == {"job": "probe", "offset": 0}
        assert [os.pread(received, 100, 0) for received in fds] == [b"image bytes"]
        for received in fds:
            os.close(received)


def test_a_reply_dribbled_byte_by_byte_still_meets_the_deadline() -> None:
    ours, theirs = socket.socketpair()
    payload = b'{"a": 1}'
    data = struct.pack("!I", len(payload)) + payload

    def dribble() -> None:
        for byte in data:
            try:
                ours.send(bytes([byte]))
            except OSError:
                return
            time.sleep(0.2)

    sender = threading.Thread(target=dribble)
    sender.start()
    started = time.monotonic()
    try:
        with pytest.raises(TimeoutError):
            channel.receive(theirs, time.monotonic() + 0.5)
        assert time.monotonic() - started < 1.5
    finally:
        ours.close()
        theirs.close()
        sender.join()


@pytest.mark.parametrize(
    "payload",
    [b"[" * 1_000_000, b"[1, 2]", b"not json", b'"a string"'],
    ids=["deep", "list", "garbage", "string"],
)
def test_malformed_messages_are_refused(payload: bytes) -> None:
    ours, theirs = socket.socketpair()
    sender = threading.Thread(
        target=ours.sendall, args=(struct.pack("!I", len(payload)) + payload,)
    )
    sender.start()
    try:
        with pytest.raises(ValueError):
            channel.receive(theirs, time.monotonic() + 5)
    finally:
        sender.join()
        ours.close()
        theirs.close()


def test_an_oversized_message_is_refused_unread() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.sendall(struct.pack("!I", 2**31))
        with pytest.raises(ValueError, match="bytes"):
            channel.receive(theirs, time.monotonic() + 5)

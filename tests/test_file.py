"""File proxies: a common, safe shape for whatever readable object a store returns."""

from __future__ import annotations

import io

import pytest

from imageattach.exceptions import ArgumentError
from imageattach.file import FileProxy, ReusableFileProxy, SeekableFileProxy, open_file_proxy


class ReadOnly:
    """Has ``read()`` and nothing else (no readline, seek or close)."""

    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self.buffer.read(size)


class Closable(ReadOnly):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.closed = False

    def readline(self, size: int = -1) -> bytes:
        return self.buffer.readline(size)

    def readlines(self) -> list[bytes]:
        return self.buffer.readlines()

    def close(self) -> None:
        self.closed = True


def test_file_proxy_needs_read() -> None:
    with pytest.raises(TypeError, match="read"):
        FileProxy(object())


def test_file_proxy_reads_lines_of_a_read_only_object() -> None:
    proxy = FileProxy(ReadOnly(b"one\ntwo\nthree"))
    assert proxy.readline() == b"one\n"
    assert proxy.readline(2) == b"tw"
    assert list(proxy) == [b"o\n", b"three"]
    assert proxy.read() == b""
    assert proxy.readable() and not proxy.seekable()
    proxy.close()  # nothing to close: no error


def test_file_proxy_readlines_with_hint() -> None:
    assert FileProxy(ReadOnly(b"a\nb\nc\n")).readlines() == [b"a\n", b"b\n", b"c\n"]
    assert FileProxy(ReadOnly(b"aa\nbb\ncc\n")).readlines(4) == [b"aa\n", b"bb\n"]


def test_file_proxy_closes_on_exit() -> None:
    wrapped = Closable(b"data")
    with FileProxy(wrapped) as proxy:
        assert proxy.read(2) == b"da"
    assert wrapped.closed
    assert "Closable" in repr(proxy)


def test_seekable_file_proxy() -> None:
    with pytest.raises(TypeError, match="seekable"):
        SeekableFileProxy(ReadOnly(b"x"))
    proxy = SeekableFileProxy(io.BytesIO(b"0123456789"))
    assert proxy.seekable()
    proxy.read(4)
    assert proxy.tell() == 4
    assert proxy.seek(-2, io.SEEK_END) == 8
    assert proxy.read() == b"89"


def test_reusable_file_proxy_reads_from_0_and_restores_the_position() -> None:
    # The seed's semantics: each block starts at 0; the caller's position
    # is back after it; the borrowed file stays open.
    source = io.BytesIO(b"headerIMAGE")
    source.seek(6)
    proxy = ReusableFileProxy(source)
    with proxy as f:
        assert f.read() == b"headerIMAGE"
    assert source.tell() == 6
    source.seek(3)
    with proxy as f:
        assert f.read(2) == b"he"
        with proxy as inner:
            assert inner.read(1) == b"h"
        assert f.tell() == 2  # a nested block restores the outer one's position
    assert source.tell() == 3
    assert not source.closed


def test_reusable_file_proxy_start_offset() -> None:
    source = io.BytesIO(b"headerIMAGE")
    proxy = ReusableFileProxy(source, start=6)
    for _ in range(2):
        with proxy as f:
            assert f.read() == b"IMAGE"
    assert source.tell() == 0  # where it was before the blocks
    proxy.close()
    assert source.tell() == 6 and not source.closed
    with pytest.raises(ArgumentError, match="start"):
        ReusableFileProxy(source, start=-1)


def test_reusable_file_proxy_buffers_a_non_seekable_source() -> None:
    proxy = ReusableFileProxy(ReadOnly(b"stream"))
    for _ in range(2):
        with proxy as f:
            assert f.read() == b"stream"


def test_open_file_proxy_keeps_real_files() -> None:
    real = io.BytesIO(b"abc")
    assert open_file_proxy(real, use_seek=False) is real
    assert open_file_proxy(real, use_seek=True) is real


def test_open_file_proxy_wraps_bare_streams() -> None:
    stream = Closable(b"abc")
    proxy = open_file_proxy(stream, use_seek=False)
    assert isinstance(proxy, FileProxy) and not proxy.seekable()
    with proxy as f:
        assert f.read() == b"abc"
    assert stream.closed


def test_open_file_proxy_buffers_for_seeking() -> None:
    stream = Closable(b"abc")
    seekable = open_file_proxy(stream, use_seek=True)
    assert stream.closed  # read into memory, then closed
    with seekable as f:
        f.seek(1)
        assert f.read() == b"bc"


def test_open_file_proxy_needs_a_file_like_object() -> None:
    with pytest.raises(TypeError, match="readline"):
        open_file_proxy(ReadOnly(b"x"), use_seek=False)

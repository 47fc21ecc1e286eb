"""Signatures and the allowlist: every field is covered, keys rotate."""

from __future__ import annotations

import pytest

from imageattach.exceptions import ConfigurationError
from imageattach.ondemand.signing import Signer, is_allowlisted, normalize_allowlist
from imageattach.ondemand.url import ResizeRequest, make_request
from imageattach.stores.fs import FileSystemStore

KEY = "k" * 32
OTHER = "o" * 32


@pytest.fixture
def store(tmp_path: object) -> FileSystemStore:
    return FileSystemStore(str(tmp_path), "http://example.com/")


def request(store: FileSystemStore, **changes: object) -> ResizeRequest:
    fields: dict[str, object] = {
        "object_type": "user-picture",
        "object_id": 1234,
        "width": 150,
        "height": 113,
        "source_width": 640,
        "source_height": 480,
        "source_mimetype": "image/jpeg",
        "tag": "20240102030405000006",
    }
    fields.update(changes)
    return make_request(store, **fields)  # type: ignore[arg-type]


def test_signature_verifies(store: FileSystemStore) -> None:
    signer = Signer(KEY)
    message = request(store).message
    assert signer.verify(message, signer.sign(message))


@pytest.mark.parametrize(
    "change",
    [
        {"object_type": "user-pictures"},
        {"object_id": 1235},
        {"width": 151},
        {"height": 114},
        {"source_width": 641},
        {"source_height": 481},
        {"source_mimetype": "image/png"},
        {"tag": "20240102030405000007"},
        {"tag": ""},
    ],
)
def test_each_field_is_signed(store: FileSystemStore, change: dict[str, object]) -> None:
    signer = Signer(KEY)
    signature = signer.sign(request(store).message)
    assert not signer.verify(request(store, **change).message, signature)


def test_tampered_signature(store: FileSystemStore) -> None:
    signer = Signer(KEY)
    message = request(store).message
    signature = signer.sign(message)
    for i in range(len(signature)):
        flipped = "A" if signature[i] != "A" else "B"
        assert not signer.verify(message, signature[:i] + flipped + signature[i + 1 :])
    assert not signer.verify(message, signature[:-1])
    assert not signer.verify(message, "")


def test_key_rotation(store: FileSystemStore) -> None:
    message = request(store).message
    old_signature = Signer(OTHER).sign(message)
    rotated = Signer([KEY, OTHER])
    assert rotated.verify(message, old_signature)
    assert rotated.sign(message) == Signer(KEY).sign(message) != old_signature
    assert not Signer(KEY).verify(message, old_signature)


def test_str_and_bytes_keys_agree(store: FileSystemStore) -> None:
    message = request(store).message
    assert Signer(KEY).sign(message) == Signer(KEY.encode()).sign(message)


def test_key_is_not_used_raw(store: FileSystemStore) -> None:
    # A signature is not the plain HMAC of the message under the app's key,
    # so a key shared with another signer cannot forge resize URLs.
    import base64
    import hashlib
    import hmac

    message = request(store).message
    raw = hmac.digest(KEY.encode(), message, hashlib.sha256)[:16]
    assert Signer(KEY).sign(message) != base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize("key", ["short", b"", [], ["k" * 32, 5], 42, None])
def test_bad_keys_refused(key: object) -> None:
    with pytest.raises(ConfigurationError):
        Signer(key)  # type: ignore[arg-type]


def test_allowlist(store: FileSystemStore) -> None:
    allowlist = normalize_allowlist([150, 100])
    assert is_allowlisted(allowlist, request(store))  # width=150 of 640x480
    assert is_allowlisted(allowlist, request(store, width=133, height=100))  # height=100
    assert not is_allowlisted(allowlist, request(store, width=151, height=113))
    # An allowlisted width with a height that does not follow from it.
    assert not is_allowlisted(allowlist, request(store, width=150, height=150))
    assert not is_allowlisted(frozenset(), request(store))


@pytest.mark.parametrize("sizes", ["150", [0], [-5], [True], [1.5], 150])
def test_bad_allowlists_refused(sizes: object) -> None:
    with pytest.raises(ConfigurationError):
        normalize_allowlist(sizes)  # type: ignore[arg-type]

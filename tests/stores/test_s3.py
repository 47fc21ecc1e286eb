"""S3Store and S3SandboxStore against moto's standalone S3 server over HTTP."""

from __future__ import annotations

import io
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import botocore.exceptions
import pytest
from images import jpeg, png
from stores.s3server import (
    Blackhole,
    FaultProxy,
    MotoServer,
    S3StoreFactory,
    s3_options,
)

from imageattach.exceptions import (
    ConfigurationError,
    FileNotFoundInStoreError,
    StoreAccessDeniedError,
    StoreError,
    StoreUnavailableError,
    UnknownMimeTypeError,
)
from imageattach.stores.s3 import DELETED_MARK_MIMETYPE, S3SandboxStore, S3Store

PNG = png(4, 3)


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        data: bytes = response.read()
        return data


def head(store: S3Store, key: str) -> dict[str, Any]:
    response: dict[str, Any] = store.client.head_object(Bucket=store.bucket, Key=key)
    return response


# -- keys, metadata, round trips --------------------------------------------


@pytest.mark.parametrize("prefix", ["", "images", "/images/", "a/b"])
def test_key_layout_and_round_trip(make_s3_store: S3StoreFactory, prefix: str) -> None:
    store = make_s3_store(prefix=prefix)
    store.put_file(io.BytesIO(PNG), "user-picture", 42, 4, 3, "image/png", False)
    expected_key = "user-picture/42/4x3.png"
    if prefix:
        expected_key = f"{prefix.strip('/')}/{expected_key}"
    listed = store.client.list_objects_v2(Bucket=store.bucket)["Contents"]
    assert [item["Key"] for item in listed] == [expected_key]
    with store.get_file("user-picture", 42, 4, 3, "image/png") as stream:
        assert stream.read() == PNG


def test_jpeg_keys_end_in_jpe(s3_store: S3Store) -> None:
    data = jpeg(5, 5)
    s3_store.put_file(io.BytesIO(data), "things", 7, 5, 5, "image/jpeg", False)
    assert s3_store.get_key("things", 7, 5, 5, "image/jpeg") == "things/7/5x5.jpe"
    assert head(s3_store, "things/7/5x5.jpe")["ContentType"] == "image/jpeg"


def test_unknown_mimetype_is_refused_before_any_request(make_s3_store: S3StoreFactory) -> None:
    store = make_s3_store(bucket="never-created-bucket")
    with pytest.raises(UnknownMimeTypeError):
        store.put_file(io.BytesIO(b"x"), "things", 1, 1, 1, "text/html", False)


def test_headers_written_with_each_file(make_s3_store: S3StoreFactory) -> None:
    store = make_s3_store(max_age=600, reproducible_storage_class="STANDARD_IA")
    store.put_file(io.BytesIO(PNG), "things", 1, 4, 3, "image/png", False)
    store.put_file(io.BytesIO(PNG), "things", 1, 2, 1, "image/png", True)
    original = head(store, "things/1/4x3.png")
    thumbnail = head(store, "things/1/2x1.png")
    assert original["CacheControl"] == thumbnail["CacheControl"] == "max-age=600"
    assert original["ContentType"] == "image/png"
    assert original.get("StorageClass", "STANDARD") == "STANDARD"
    assert thumbnail["StorageClass"] == "STANDARD_IA"


def test_default_max_age_is_a_year(s3_store: S3Store) -> None:
    s3_store.put_file(io.BytesIO(PNG), "things", 1, 4, 3, "image/png", False)
    assert head(s3_store, "things/1/4x3.png")["CacheControl"] == "max-age=31536000"


def _public_read(store: S3Store, key: str) -> bool:
    grants = store.client.get_object_acl(Bucket=store.bucket, Key=key)["Grants"]
    return any(
        grant["Grantee"].get("URI", "").endswith("/global/AllUsers")
        and grant["Permission"] == "READ"
        for grant in grants
    )


def test_acl_only_when_asked(make_s3_store: S3StoreFactory) -> None:
    private = make_s3_store()
    public = make_s3_store(acl="public-read")
    private.put_file(io.BytesIO(PNG), "things", 1, 4, 3, "image/png", False)
    public.put_file(io.BytesIO(PNG), "things", 2, 4, 3, "image/png", False)
    assert not _public_read(private, "things/1/4x3.png")
    assert _public_read(public, "things/2/4x3.png")


class _NonSeekable(io.RawIOBase):
    """A stream of ``size`` bytes that records the largest single read."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.largest_read = 0
        self.counter = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = min(len(buffer), self.left)
        self.largest_read = max(self.largest_read, len(buffer))
        buffer[:count] = bytes((self.counter + i) % 251 for i in range(count))
        self.counter += count
        self.left -= count
        return count


def test_large_upload_is_streamed_in_parts(make_s3_store: S3StoreFactory) -> None:
    threshold = 5 * 1024 * 1024
    store = make_s3_store(multipart_threshold=threshold)
    size = 2 * threshold + 12345
    source = _NonSeekable(size)
    store.put_file(source, "things", 9, 8000, 8000, "image/png", False)
    assert source.largest_read <= 8 * 1024 * 1024
    etag = head(store, "things/9/8000x8000.png")["ETag"]
    assert etag.strip('"').endswith("-2")  # a multipart upload of two 8 MiB parts
    expected = bytes(i % 251 for i in range(size))
    with store.get_file("things", 9, 8000, 8000, "image/png") as stream:
        assert stream.read() == expected


def test_get_file_is_a_closable_buffered_stream(s3_store: S3Store) -> None:
    data = b"line one\nline two\n" + PNG
    s3_store.put_file(io.BytesIO(data), "things", 3, 4, 3, "image/png", False)
    stream = s3_store.get_file("things", 3, 4, 3, "image/png")
    with stream:
        assert stream.readline() == b"line one\n"
        assert stream.read(4) == b"line"
        assert stream.read() == data[13:]
    assert stream.closed


def test_missing_key_is_file_not_found(s3_store: S3Store) -> None:
    with pytest.raises(FileNotFoundInStoreError) as caught:
        s3_store.get_file("things", 404, 1, 1, "image/png")
    assert isinstance(caught.value, FileNotFoundError)
    assert "things/404/1x1.png" in str(caught.value)


def test_missing_bucket_is_a_store_error_not_a_missing_file(
    make_s3_store: S3StoreFactory,
) -> None:
    store = make_s3_store(bucket="no-such-bucket-here")
    with pytest.raises(StoreError) as caught:
        store.get_file("things", 1, 1, 1, "image/png")
    assert not isinstance(caught.value, FileNotFoundError)
    assert "NoSuchBucket" in str(caught.value)
    with pytest.raises(StoreError, match="NoSuchBucket"):
        store.delete_file("things", 1, 1, 1, "image/png")


def test_delete_file(s3_store: S3Store) -> None:
    s3_store.put_file(io.BytesIO(PNG), "things", 5, 4, 3, "image/png", False)
    s3_store.delete_file("things", 5, 4, 3, "image/png")
    with pytest.raises(FileNotFoundInStoreError):
        s3_store.get_file("things", 5, 4, 3, "image/png")
    s3_store.delete_file("things", 5, 4, 3, "image/png")  # already gone: silent


def test_list_files_and_exists(s3_store: S3Store) -> None:
    sizes = [(4, 3, "image/png"), (2, 1, "image/png"), (8, 6, "image/jpeg")]
    for width, height, mimetype in sizes:
        s3_store.put_file(io.BytesIO(PNG), "things", 42, width, height, mimetype, True)
    # neighbours whose keys share a textual prefix, and a foreign object
    s3_store.put_file(io.BytesIO(PNG), "things", 420, 1, 1, "image/png", False)
    s3_store.put_file(io.BytesIO(PNG), "things-2", 42, 1, 1, "image/png", False)
    s3_store.client.put_object(Bucket=s3_store.bucket, Key="things/42/notes.txt", Body=b"x")
    assert s3_store.list_files("things", 42) == sorted(sizes)
    assert s3_store.list_files("things", 43) == []
    assert s3_store.exists("things", 42, 8, 6, "image/jpeg") is True
    assert s3_store.exists("things", 42, 8, 6, "image/png") is False


def test_list_files_pages_through_many_keys(
    make_s3_store: S3StoreFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("imageattach.stores.s3.store._LIST_PAGE_SIZE", 2)
    store = make_s3_store(prefix="p")
    for width in range(1, 6):
        store.client.put_object(Bucket=store.bucket, Key=f"p/things/1/{width}x1.png", Body=b"x")
    assert store.list_files("things", 1) == [(w, 1, "image/png") for w in range(1, 6)]


# -- URLs -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, "https://my-bucket.s3.amazonaws.com/things/1/4x3.png"),
        ({"region": "eu-west-1"}, "https://my-bucket.s3.eu-west-1.amazonaws.com/things/1/4x3.png"),
        ({"prefix": "pre/"}, "https://my-bucket.s3.amazonaws.com/pre/things/1/4x3.png"),
        ({"addressing_style": "path"}, "https://s3.amazonaws.com/my-bucket/things/1/4x3.png"),
        (
            {"bucket": "my.dotted.bucket"},
            "https://s3.amazonaws.com/my.dotted.bucket/things/1/4x3.png",
        ),
        (
            {"endpoint_url": "https://minio.example.com:9000/"},
            "https://minio.example.com:9000/my-bucket/things/1/4x3.png",
        ),
        (
            {"endpoint_url": "https://r2.example.com", "addressing_style": "virtual"},
            "https://my-bucket.r2.example.com/things/1/4x3.png",
        ),
        (
            {"public_base_url": "https://cdn.example.com"},
            "https://cdn.example.com/things/1/4x3.png",
        ),
        (
            {"public_base_url": "https://cdn.example.com/img/", "prefix": "x"},
            "https://cdn.example.com/img/x/things/1/4x3.png",
        ),
    ],
)
def test_public_url_forms(options: dict[str, Any], expected: str) -> None:
    store = S3Store(options.pop("bucket", "my-bucket"), **options)
    assert store.get_url("things", 1, 4, 3, "image/png") == expected


def test_public_url_is_served_by_the_endpoint(make_s3_store: S3StoreFactory) -> None:
    public = make_s3_store(acl="public-read")
    public.put_file(io.BytesIO(PNG), "things", 1, 4, 3, "image/png", False)
    url = public.get_url("things", 1, 4, 3, "image/png")
    assert url.startswith(f"{public.endpoint_url}/{public.bucket}/")
    assert fetch(url) == PNG
    private = make_s3_store()
    private.put_file(io.BytesIO(PNG), "things", 2, 4, 3, "image/png", False)
    with pytest.raises(urllib.error.HTTPError) as caught:
        fetch(private.get_url("things", 2, 4, 3, "image/png"))
    assert caught.value.code == 403


def test_presigned_url(make_s3_store: S3StoreFactory) -> None:
    store = make_s3_store(presigned=True, presigned_expires=120)
    store.put_file(io.BytesIO(PNG), "things", 1, 4, 3, "image/png", False)
    url = store.get_url("things", 1, 4, 3, "image/png")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["120"]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert fetch(url) == PNG


# -- configuration ------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"bucket": ""},
        {"bucket": "a/b"},
        {"prefix": 3},
        {"public_base_url": "cdn.example.com"},
        {"endpoint_url": "ftp://x"},
        {"addressing_style": "dns"},
        {"max_age": -1},
        {"max_age": True},
        {"max_retry": 1.5},
        {"connect_timeout": 0},
        {"read_timeout": float("inf")},
        {"acl": "public"},
        {"reproducible_storage_class": "GLACIER"},
        {"presigned": True, "public_base_url": "https://cdn.example.com"},
        {"presigned_expires": 8 * 24 * 3600},
        {"multipart_threshold": 1024},
        {"aws_access_key_id": "only-the-id"},
        {"access_key": "a", "secret_key": "b", "aws_access_key_id": "c"},
        {"region": ""},
    ],
)
def test_invalid_options_are_refused_at_construction(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        S3Store(options.pop("bucket", "my-bucket"), **options)


def test_client_excludes_connection_options(moto_server: MotoServer) -> None:
    client = moto_server.client()
    with pytest.raises(ConfigurationError):
        S3Store("my-bucket", client=client, region="eu-west-1")  # type: ignore[arg-type]
    store = S3Store("my-bucket", client=client)  # type: ignore[arg-type]
    assert store.client is client
    assert store.get_url("things", 1, 4, 3, "image/png") == (
        f"{moto_server.url}/my-bucket/things/1/4x3.png"
    )


def test_seed_credential_names(moto_server: MotoServer, bucket: str) -> None:
    store = S3Store(
        bucket, endpoint_url=moto_server.url, access_key="seed-key", secret_key="seed-secret"
    )
    store.put_file(io.BytesIO(PNG), "things", 1, 4, 3, "image/png", False)
    assert store.client._request_signer._credentials.access_key == "seed-key"  # type: ignore[attr-defined]


def test_standard_credential_chain(
    moto_server: MotoServer, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = S3Store(bucket, endpoint_url=moto_server.url)
    store.put_file(io.BytesIO(PNG), "things", 1, 4, 3, "image/png", False)  # env credentials
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    without = S3Store(bucket, endpoint_url=moto_server.url, max_retry=0)
    with pytest.raises(StoreError, match="credentials"):
        without.get_file("things", 1, 4, 3, "image/png")


# -- faults -------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_retried(
    make_s3_store: S3StoreFactory, fault_proxy: FaultProxy, status: int
) -> None:
    store = make_s3_store(endpoint_url=fault_proxy.url, max_retry=3)
    fault_proxy.fail(2, status, method="PUT")
    store.put_file(io.BytesIO(PNG), "things", 1, 4, 3, "image/png", False)
    assert [s for m, _, s in fault_proxy.requests if m == "PUT"] == [status, status, None]
    fault_proxy.fail(3, status, method="GET")
    with store.get_file("things", 1, 4, 3, "image/png") as stream:
        assert stream.read() == PNG
    assert fault_proxy.count("GET") == 4


def test_retries_give_up_with_store_unavailable(
    make_s3_store: S3StoreFactory, fault_proxy: FaultProxy
) -> None:
    store = make_s3_store(endpoint_url=fault_proxy.url, max_retry=1)
    fault_proxy.fail(5, 503)
    with pytest.raises(StoreUnavailableError, match=r"503|ServiceUnavailable"):
        store.put_file(io.BytesIO(PNG), "things", 1, 4, 3, "image/png", False)
    assert fault_proxy.count("PUT") == 2  # the first attempt and one retry


def test_access_denied(make_s3_store: S3StoreFactory, fault_proxy: FaultProxy) -> None:
    store = make_s3_store(endpoint_url=fault_proxy.url)
    fault_proxy.fail(1, 403)
    with pytest.raises(StoreAccessDeniedError) as caught:
        store.get_file("things", 1, 4, 3, "image/png")
    assert isinstance(caught.value, PermissionError)
    assert fault_proxy.count("GET") == 1  # a 403 is not retried


@pytest.mark.timeout(30)
def test_unanswered_connection_times_out(
    make_s3_store: S3StoreFactory, blackhole: Blackhole
) -> None:
    store = make_s3_store(endpoint_url=blackhole.url, read_timeout=0.5, max_retry=0)
    with pytest.raises(StoreUnavailableError, match=r"timeout|timed out") as caught:
        store.get_file("things", 1, 4, 3, "image/png")
    assert isinstance(caught.value.__cause__, botocore.exceptions.ReadTimeoutError)


def test_stopped_endpoint(make_s3_store: S3StoreFactory) -> None:
    hole = Blackhole()
    url = hole.url
    hole.close()  # nothing listens on the port any more
    store = make_s3_store(endpoint_url=url, max_retry=1)
    with pytest.raises(StoreUnavailableError, match="Could not connect"):
        store.put_file(io.BytesIO(PNG), "things", 1, 4, 3, "image/png", False)
    with pytest.raises(StoreUnavailableError):
        store.delete_file("things", 1, 4, 3, "image/png")


# -- the sandbox ----------------------------------------------------------------


@pytest.fixture
def sandbox(moto_server: MotoServer) -> S3SandboxStore:
    return S3SandboxStore(
        moto_server.new_bucket(),
        moto_server.new_bucket(),
        underlying_prefix="under",
        overriding_prefix="over",
        **s3_options(moto_server.url),
    )


def test_sandbox_reads_through_and_writes_aside(sandbox: S3SandboxStore) -> None:
    under, over = sandbox.underlying, sandbox.overriding
    production = png(4, 3, color="blue")
    under.put_file(io.BytesIO(production), "things", 1, 4, 3, "image/png", False)
    with sandbox.get_file("things", 1, 4, 3, "image/png") as stream:
        assert stream.read() == production
    assert sandbox.get_url("things", 1, 4, 3, "image/png") == under.get_url(
        "things", 1, 4, 3, "image/png"
    )

    sandbox.put_file(io.BytesIO(PNG), "things", 2, 4, 3, "image/png", False)
    assert over.exists("things", 2, 4, 3, "image/png")
    assert not under.exists("things", 2, 4, 3, "image/png")
    assert sandbox.get_url("things", 2, 4, 3, "image/png") == over.get_url(
        "things", 2, 4, 3, "image/png"
    )
    assert sandbox.list_files("things", 1) == [(4, 3, "image/png")]
    assert sandbox.exists("things", 1, 4, 3, "image/png")


def test_sandbox_delete_writes_a_tombstone(sandbox: S3SandboxStore) -> None:
    under, over = sandbox.underlying, sandbox.overriding
    under.put_file(io.BytesIO(PNG), "things", 1, 4, 3, "image/png", False)
    under.put_file(io.BytesIO(PNG), "things", 1, 2, 1, "image/png", True)
    sandbox.delete_file("things", 1, 4, 3, "image/png")

    tombstone = head(over, over.get_key("things", 1, 4, 3, "image/png"))
    assert tombstone["ContentType"] == DELETED_MARK_MIMETYPE
    assert tombstone["ContentLength"] == 0
    with pytest.raises(FileNotFoundInStoreError, match="deleted in the sandbox"):
        sandbox.get_file("things", 1, 4, 3, "image/png")
    with under.get_file("things", 1, 4, 3, "image/png") as stream:
        assert stream.read() == PNG  # production untouched
    assert sandbox.list_files("things", 1) == [(2, 1, "image/png")]
    assert sandbox.exists("things", 1, 4, 3, "image/png") is False

    sandbox.put_file(io.BytesIO(b"new"), "things", 1, 4, 3, "image/png", False)
    with sandbox.get_file("things", 1, 4, 3, "image/png") as stream:
        assert stream.read() == b"new"


def test_sandbox_get_url_resolves_each_key_once(moto_server: MotoServer) -> None:
    proxy = FaultProxy(moto_server.url)
    try:
        over = S3Store(moto_server.new_bucket(), **s3_options(proxy.url))
        under = S3Store(moto_server.new_bucket(), **s3_options(moto_server.url))
        sandbox = S3SandboxStore(under, over)
        under.put_file(io.BytesIO(PNG), "things", 1, 4, 3, "image/png", False)
        urls = {sandbox.get_url("things", 1, 4, 3, "image/png") for _ in range(5)}
        assert urls == {under.get_url("things", 1, 4, 3, "image/png")}
        assert proxy.count("HEAD") == 1
        sandbox.put_file(io.BytesIO(PNG), "things", 1, 4, 3, "image/png", False)
        urls = {sandbox.get_url("things", 1, 4, 3, "image/png") for _ in range(5)}
        assert urls == {over.get_url("things", 1, 4, 3, "image/png")}
        assert proxy.count("HEAD") == 1  # its own write updated the answer
    finally:
        proxy.close()


def test_sandbox_falls_through_on_404_only(moto_server: MotoServer) -> None:
    proxy = FaultProxy(moto_server.url)
    try:
        over = S3Store(moto_server.new_bucket(), max_retry=0, **s3_options(proxy.url))
        under = S3Store(moto_server.new_bucket(), **s3_options(moto_server.url))
        under.put_file(io.BytesIO(PNG), "things", 1, 4, 3, "image/png", False)
        sandbox = S3SandboxStore(under, over)
        proxy.fail(1, 403)
        with pytest.raises(StoreAccessDeniedError):
            sandbox.get_file("things", 1, 4, 3, "image/png")
        proxy.fail(1, 503)
        with pytest.raises(StoreUnavailableError):
            sandbox.get_file("things", 1, 4, 3, "image/png")
        with sandbox.get_file("things", 1, 4, 3, "image/png") as stream:
            assert stream.read() == PNG
    finally:
        proxy.close()


def test_sandbox_options(moto_server: MotoServer) -> None:
    with pytest.raises(ConfigurationError):
        S3SandboxStore(S3Store("bucket-a"), S3Store("bucket-b"), max_age=5)
    with pytest.raises(ConfigurationError):
        S3SandboxStore("bucket-a", "bucket-b", url_cache_size=-1)
    sandbox = S3SandboxStore("bucket-a", "bucket-b", overriding_prefix="o", max_age=5)
    assert (sandbox.overriding.prefix, sandbox.overriding.max_age) == ("o", 5)
    assert (sandbox.underlying.prefix, sandbox.underlying.max_age) == ("", 5)

"""Compatibility with SQLAlchemy-ImageAttach 1.1 (issue 11): names and call
forms the seed had, and the argument errors, each as a seed user meets them.
The deliberate differences are listed in docs/migration.md."""

from __future__ import annotations

import importlib.util
import io
import math
import threading
import tomllib
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from entity_models import Manything, Something, sessions
from images import png
from sqlalchemy import Engine
from sqlalchemy.orm import Query, Session, sessionmaker
from stores.s3server import ACCESS_KEY, REGION, SECRET_KEY, MotoServer

from imageattach import util, version
from imageattach.context import (
    context_stacks,
    get_current_context_id,
    pop_store_context,
    push_store_context,
    store_context,
)
from imageattach.entity import (
    BaseImageQuery,
    ImageSubset,
    MultipleImageSet,
    NoopContext,
    SingleImageSet,
)
from imageattach.exceptions import (
    ArgumentError,
    ArgumentTypeError,
    ConfigurationError,
    ImageAttachError,
)
from imageattach.file import ReusableFileProxy
from imageattach.stores.fs import FileSystemStore, HttpExposedFileSystemStore
from imageattach.stores.s3 import DEFAULT_MAX_AGE, S3SandboxStore, S3Store

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    yield from sessions(engine)


# -- S3Store and S3SandboxStore: the seed's positional arguments -------------


def credential_of(store: S3Store) -> str:
    """The access key id the store's client signs with (from a presigned URL)."""
    url = store.client.generate_presigned_url(
        "get_object", Params={"Bucket": store.bucket, "Key": "k"}, ExpiresIn=60
    )
    credential = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["X-Amz-Credential"]
    return credential[0].split("/")[0]


def test_s3_store_takes_the_seeds_positional_arguments(moto_server: MotoServer) -> None:
    bucket = moto_server.new_bucket()
    # S3Store(bucket, access_key, secret_key, max_age, prefix, public_base_url,
    # region, max_retry), as in the seed.
    store = S3Store(
        bucket,
        "AKIASEEDPOSITIONAL",
        SECRET_KEY,
        60,
        "pre/",
        "https://cdn.example.com/",
        REGION,
        0,
        endpoint_url=moto_server.url,
    )
    assert (store.max_age, store.prefix, store.region, store.max_retry) == (60, "pre", REGION, 0)
    assert store.public_base_url == "https://cdn.example.com"
    assert credential_of(store) == "AKIASEEDPOSITIONAL"
    short = S3Store(bucket, ACCESS_KEY, SECRET_KEY, endpoint_url=moto_server.url, region=REGION)
    assert credential_of(short) == ACCESS_KEY
    assert short.max_age == DEFAULT_MAX_AGE
    short.put_file(io.BytesIO(b"data"), "thing", 1, 2, 3, "image/png", False)
    with short.get_file("thing", 1, 2, 3, "image/png") as file:
        assert file.read() == b"data"


def test_s3_store_newer_options_stay_keyword_only() -> None:
    with pytest.raises(TypeError):
        S3Store("bucket", None, None, 60, "", None, None, 5, "http://127.0.0.1:9")  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match="not both"):
        S3Store("bucket", "key", "secret", aws_access_key_id="key", aws_secret_access_key="s")


def test_s3_sandbox_store_regions_and_positional_arguments() -> None:
    sandbox = S3SandboxStore(
        "prod-images",
        "staging-images",
        "AKIASEED",
        "secret",
        120,
        "under",
        "over",
        "eu-west-1",
        "ap-northeast-2",
        1,
    )
    under, over = sandbox.underlying, sandbox.overriding
    assert (under.bucket, under.prefix, under.region) == ("prod-images", "under", "eu-west-1")
    assert (over.bucket, over.prefix, over.region) == ("staging-images", "over", "ap-northeast-2")
    assert under.max_age == over.max_age == 120
    assert under.max_retry == over.max_retry == 1
    assert credential_of(under) == credential_of(over) == "AKIASEED"
    assert under.public_base_url == "https://prod-images.s3.eu-west-1.amazonaws.com"
    keyword = S3SandboxStore("a-bucket", "b-bucket", underlying_region="us-west-2")
    assert (keyword.underlying.region, keyword.overriding.region) == ("us-west-2", None)
    both = S3SandboxStore("a-bucket", "b-bucket", region="sa-east-1")
    assert both.underlying.region == both.overriding.region == "sa-east-1"


def test_s3_sandbox_store_region_conflicts() -> None:
    with pytest.raises(ConfigurationError, match="underlying_region"):
        S3SandboxStore("a-bucket", "b-bucket", region="us-east-1", overriding_region="eu-west-1")
    with pytest.raises(ConfigurationError, match="instances"):
        S3SandboxStore(S3Store("a-bucket"), S3Store("b-bucket"), underlying_region="eu-west-1")


# -- imageattach.util --------------------------------------------------------


def test_get_minimum_indent() -> None:
    assert util.get_minimum_indent("Hello") == ""
    assert util.get_minimum_indent("Hello\n    world::\n\n        code\n  \n") == "    "
    assert util.get_minimum_indent("  Hello\n\tworld") == "\t"
    assert util.get_minimum_indent("  Hello\n    world", 0) == "  "
    assert util.get_minimum_indent("Hello\n\n   \n") == ""


def test_append_docstring() -> None:
    doc = "Summary.\n\n    :returns: a number\n    "
    assert util.append_docstring(doc, ".. note::", "", "   Appended!") == (
        "Summary.\n\n    :returns: a number\n    \n    .. note::\n\n       Appended!"
    )
    assert util.append_docstring("One line.") == "One line."


def test_append_docstring_attributes() -> None:
    class Documented:
        """An attribute's doc.

        Second paragraph.
        """

    class Undocumented:
        pass

    result = util.append_docstring_attributes(
        "Entity.\n\n    Body.\n", {"cover": Documented(), "plain": Undocumented()}
    )
    assert result == (
        "Entity.\n\n    Body.\n\n\n"
        "    .. attribute:: cover\n\n"
        "       An attribute's doc.\n\n"
        "       Second paragraph."
    )
    assert util.append_docstring_attributes(None, {}) == ""


# -- version -----------------------------------------------------------------


def test_sqla_compat_version_is_the_supported_range() -> None:
    requirement = next(
        line
        for line in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
        if line.lower().startswith("sqlalchemy")
    )
    assert f">={version.SQLA_COMPAT_VERSION}" in requirement
    assert "<{}.{}".format(*version.SQLA_MAX_VERSION_INFO) in requirement
    assert ".".join(map(str, version.SQLA_COMPAT_VERSION_INFO)) == version.SQLA_COMPAT_VERSION
    installed = tuple(int(part) for part in sqlalchemy.__version__.split(".")[:3])
    assert installed >= version.SQLA_COMPAT_VERSION_INFO
    assert installed[:2] < version.SQLA_MAX_VERSION_INFO


# -- context_stacks and get_current_context_id --------------------------------


def test_context_stacks_views_the_current_stack(fs_store: FileSystemStore) -> None:
    assert dict(context_stacks) == {}
    other = FileSystemStore("/nonexistent", "http://other.example.com/")
    with store_context(fs_store):
        me = get_current_context_id()
        assert dict(context_stacks) == {me: (fs_store,)}
        push_store_context(other)
        assert context_stacks[me] == (fs_store, other)
        seen: list[object] = []
        thread = threading.Thread(
            target=lambda: seen.extend([get_current_context_id(), dict(context_stacks)])
        )
        thread.start()
        thread.join()
        assert seen[0] != me and seen[1] == {}
        pop_store_context()
        with pytest.raises(KeyError):
            context_stacks[object()]
    assert len(context_stacks) == 0
    assert not hasattr(context_stacks, "setdefault")  # read-only: push_store_context()


# -- entity: BaseImageQuery, NoopContext ---------------------------------------


def test_base_image_query_is_the_base_of_both_sets(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    assert issubclass(SingleImageSet, BaseImageQuery)
    assert issubclass(MultipleImageSet, BaseImageQuery)
    assert issubclass(BaseImageQuery, Query)
    with factory() as session, store_context(fs_store):
        thing, many = Something(), Manything()
        session.add_all([thing, many])
        session.flush()
        subset = many.covers.get_image_set(cover_id=1)
        assert isinstance(thing.cover, BaseImageQuery)
        assert isinstance(many.covers, BaseImageQuery)
        assert isinstance(subset, ImageSubset) and not isinstance(subset, BaseImageQuery)


def test_noop_context() -> None:
    value = object()
    with NoopContext(value) as given:
        assert given is value


# -- ReusableFileProxy ---------------------------------------------------------


def test_reusable_file_proxy_seed_semantics() -> None:
    buffer = io.BytesIO(b"abcde" * 100)
    buffer.seek(20)
    with ReusableFileProxy(buffer) as proxy:
        assert proxy.tell() == 0
        assert proxy.read() == b"abcde" * 100
    assert buffer.tell() == 20


def test_pending_image_reads_from_the_raw_files_offset(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    # from_raw_file() of a file positioned after a header: the pending
    # image's open_file() must read the image, not the header (the
    # proxy starts at the offset, not at 0).
    data = png(6, 4)
    raw = io.BytesIO(b"HEADER" + data)
    raw.seek(6)
    with factory() as session, store_context(fs_store):
        thing = Something()
        session.add(thing)
        thing.cover.from_raw_file(raw, fs_store)
        raw.seek(2)
        with thing.cover.open_file() as file:
            assert file.read() == data
        assert raw.tell() == 2
        session.commit()
        assert thing.cover.make_blob() == data


# -- argument errors are ImageAttachError subclasses ----------------------------


@pytest.mark.parametrize(
    ("call", "error"),
    [
        ({"ratio": 0}, ArgumentError),
        ({"ratio": -0.5}, ArgumentError),
        ({"ratio": math.nan}, ArgumentError),
        ({"ratio": math.inf}, ArgumentError),
        ({"ratio": "2"}, ArgumentTypeError),
        ({"width": -5}, ArgumentError),
        ({"width": 0}, ArgumentError),
        ({"height": -1}, ArgumentError),
        ({"width": 1.5}, ArgumentTypeError),
        ({"width": 10, "ratio": 0.5}, ArgumentTypeError),
        ({}, ArgumentTypeError),
        ({"width": 10, "filter": "nope"}, ArgumentError),
        ({"width": 10, "filter": None}, ArgumentError),
    ],
)
def test_generate_thumbnail_and_locate_argument_errors(
    factory: sessionmaker[Session],
    fs_store: FileSystemStore,
    call: dict[str, Any],
    error: type[ArgumentError],
) -> None:
    with factory() as session, store_context(fs_store):
        thing = Something()
        session.add(thing)
        thing.cover.from_blob(png(40, 30))
        session.commit()
        with pytest.raises(error) as raised:
            thing.cover.generate_thumbnail(**call)
        assert isinstance(raised.value, ImageAttachError)
        builtin = TypeError if error is ArgumentTypeError else ValueError
        assert isinstance(raised.value, builtin)
        assert thing.cover.count() == 1  # nothing attached
        if call and "filter" not in call:  # locate() alone is the original's URL
            with pytest.raises(error):
                thing.cover.locate(**call)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        ({"width": -1}, ArgumentError),
        ({"height": 0}, ArgumentError),
        ({"width": "10"}, ArgumentTypeError),
        ({}, ArgumentTypeError),
    ],
)
def test_find_thumbnail_argument_errors(
    factory: sessionmaker[Session],
    fs_store: FileSystemStore,
    call: dict[str, Any],
    error: type[ArgumentError],
) -> None:
    with factory() as session, store_context(fs_store):
        thing = Something()
        session.add(thing)
        thing.cover.from_blob(png(40, 30))
        session.commit()
        with pytest.raises(error) as raised:
            thing.cover.find_thumbnail(**call)
        assert isinstance(raised.value, ImageAttachError)


# -- str() and templates ---------------------------------------------------------

IMG = '<img src="http://static.example.com/ia-something-cover/'


def test_str_of_an_image_set_is_its_img_tag(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    with factory() as session:
        thing, many = Something(), Manything()
        session.add_all([thing, many])
        with store_context(fs_store):
            assert str(thing.cover) == ""  # no original yet
            thing.cover.from_blob(png(40, 30))
            many.covers.get_image_set(cover_id=1).from_blob(png(8, 6))
            session.commit()
            assert str(thing.cover) == thing.cover.__html__()
            assert str(thing.cover).startswith(IMG)
            assert 'width="40" height="30">' in str(thing.cover)
            assert "SELECT" not in str(many.covers)
            assert str(many.covers) == repr(many.covers)
            assert str(many.covers.get_image_set(cover_id=1)).startswith("<img ")
        # No store context: str() must not raise (logs, debuggers).
        assert str(thing.cover) == repr(thing.cover)
        assert "SELECT" not in repr(thing.cover)
        assert repr(thing.cover).startswith("<SingleImageSet of ")


def test_str_without_a_base_url_is_the_repr(factory: sessionmaker[Session], tmp_path: Path) -> None:
    store = HttpExposedFileSystemStore(tmp_path / "images", secret_key="k" * 32)
    with factory() as session, store_context(store):
        thing = Something()
        session.add(thing)
        thing.cover.from_blob(png(4, 4))
        session.commit()
        assert str(thing.cover) == repr(thing.cover)  # outside a request: no URL


def test_jinja2_renders_the_img_tag_with_and_without_autoescape(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    jinja2 = pytest.importorskip("jinja2")
    with factory() as session, store_context(fs_store):
        thing = Something()
        session.add(thing)
        thing.cover.from_blob(png(40, 30))
        session.commit()
        expected = thing.cover.__html__()
        for autoescape in (True, False):
            env = jinja2.Environment(autoescape=autoescape)
            assert env.from_string("{{ c }}").render(c=thing.cover) == expected


def mako_template() -> Any:
    if importlib.util.find_spec("mako") is None:
        pytest.skip("mako is not installed")
    from mako.template import Template  # type: ignore[import-not-found]

    return Template


def test_mako_renders_the_img_tag(
    factory: sessionmaker[Session], fs_store: FileSystemStore
) -> None:
    template = mako_template()
    with factory() as session, store_context(fs_store):
        thing = Something()
        session.add(thing)
        thing.cover.from_blob(png(40, 30))
        session.commit()
        expected = thing.cover.__html__()
        assert template("${c}").render(c=thing.cover) == expected
        # With h as the default filter, markupsafe's escape() honours __html__.
        assert template("${c}", default_filters=["h"]).render(c=thing.cover) == expected
        assert "SELECT" not in template("${c}").render(c=thing.cover)

"""Variants through the resizer: names, rendering, signatures, auto, cleanup."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from images import jpeg, png
from storefiles import image_files

from imageattach.middleware.miss import FILE_READY, MissResponse
from imageattach.ondemand.resizer import Resizer
from imageattach.stores.fs import FileSystemStore
from imageattach.tracking import _purge_derived
from imageattach.variants import (
    Variant,
    choose_format,
    keyed_mimetype,
    negotiate,
    split_mimetype,
    split_suffix,
)

from .conftest import AddOriginal, CountingStore, decode_size, split

MakeResizer = Callable[..., Resizer]
COVER = Variant("cover")


@pytest.mark.parametrize(
    ("variant", "token"),
    [
        (Variant(), "contain"),
        (Variant("contain", "north"), "contain"),  # contain has no gravity
        (Variant("cover"), "cover"),
        (Variant("cover", "northwest", quality=70), "cover-northwest-q70"),
        (Variant("cover", "entropy"), "cover-entropy"),
        (Variant("cover", "focal", (250, 600)), "cover-focal250x600"),
        (Variant("contain", quality=100), "contain-q100"),
    ],
)
def test_tokens_round_trip(variant: Variant, token: str) -> None:
    assert variant.token == token
    assert Variant.parse(token) == variant


@pytest.mark.parametrize(
    "token",
    [
        "",
        "cover-center",  # not canonical: center is the default
        "contain-north",
        "cover-q080",
        "cover-q0",
        "cover-q101",
        "cover-focal1001x5",
        "cover-focal05x5",
        "cover-q70-north",
        "COVER",
        "cover-",
        "cover-focal",
        "cover" + "-north" * 20,
        "cover-" + "a" * 100_000,
        "cover-focal" + "1" * 100_000 + "x1",
        "cover-north\n",
        "cover-nörth",
    ],
)
def test_hostile_tokens_refused(token: str) -> None:
    assert Variant.parse(token) is None


def test_variant_names_never_collide_with_seed_names(tmp_path: object) -> None:
    store = FileSystemStore(str(tmp_path), "http://h/")
    plain = store.key_path("thing", 5, 30, 20, "image/jpeg")
    assert plain == "thing/5/0/5.30x20.jpe"
    names = {plain}
    for variant in (Variant(), COVER, Variant("cover", "north"), Variant(quality=70)):
        for mimetype in ("image/jpeg", "image/webp", "image/avif", "image/png"):
            keyed = keyed_mimetype(mimetype, variant)
            path = store.key_path("thing", 5, 30, 20, keyed)
            assert path not in names
            names.add(path)
            assert store.split_key_path(path) == ("thing", 5, 30, 20, keyed)
    assert store.split_key_path(plain) == ("thing", 5, 30, 20, "image/jpeg")


@pytest.mark.parametrize(
    "suffix",
    [
        ".cover.JPE",
        ".cover.jpe.jpe",
        "..jpe",
        ".cover..jpe",
        ".cover.nope",
        ".x" * 5000,
        ".cover.webp/",
    ],
)
def test_malformed_suffixes_refused(suffix: str) -> None:
    assert split_suffix(suffix) is None


def test_bad_keyed_mimetype_raises() -> None:
    with pytest.raises(ValueError, match="not a variant token"):
        split_mimetype("image/webp; variant=cover-center")


def test_cover_webp_rendered_and_stored(
    store: CountingStore, add_original: AddOriginal, make_resizer: MakeResizer
) -> None:
    original = add_original(jpeg(640, 480))
    resizer = make_resizer()
    url = resizer.url(original, 150, 150, variant=COVER, format="image/webp")  # type: ignore[arg-type]
    assert "/user-picture/234/1/1234.150x150.cover.webp?" in url
    assert resizer.handle(*split(url)) is FILE_READY
    with open(f"{store.path}/user-picture/234/1/1234.150x150.cover.webp", "rb") as file:
        data = file.read()
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    assert decode_size(data) == ("WEBP", 150, 150)
    assert image_files(store.path) == [
        "user-picture/234/1/1234.150x150.cover.webp",
        "user-picture/234/1/1234.640x480.jpe",
    ]


def test_png_alpha_kept_in_webp(
    store: CountingStore, add_original: AddOriginal, make_resizer: MakeResizer
) -> None:
    original = add_original(png(200, 100, alpha=True))
    resizer = make_resizer()
    url = resizer.url(original, 50, 50, variant=COVER, format="image/webp")  # type: ignore[arg-type]
    assert resizer.handle(*split(url)) is FILE_READY
    from wand.image import Image as WandImage

    with WandImage(filename=f"{store.path}/user-picture/234/1/1234.50x50.cover.webp") as image:
        assert image.alpha_channel


def _swap(url: str, old: str, new: str) -> tuple[str, str]:
    path, query = split(url)
    assert old in path
    return path.replace(old, new), query


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (".cover.webp", ".cover-north.webp"),  # gravity
        (".cover.webp", ".cover-q50.webp"),  # quality
        (".cover.webp", ".cover.avif"),  # format
        (".cover.webp", ".contain.webp"),  # fit
        ("150x150", "150x100"),  # size
    ],
)
def test_every_option_is_signed(
    store: CountingStore,
    add_original: AddOriginal,
    make_resizer: MakeResizer,
    old: str,
    new: str,
) -> None:
    original = add_original(jpeg(640, 480))
    resizer = make_resizer()
    url = resizer.url(original, 150, 150, variant=COVER, format="image/webp")  # type: ignore[arg-type]
    answer = resizer.handle(*_swap(url, old, new))
    assert isinstance(answer, MissResponse)
    assert answer.status in (403, 404)
    if new != ".contain.webp" and new != "150x100":
        assert answer.status == 403
    assert resizer.generations == 0
    assert store.opened == 0


def test_focal_point_is_signed(add_original: AddOriginal, make_resizer: MakeResizer) -> None:
    original = add_original(jpeg(640, 480))
    resizer = make_resizer()
    variant = Variant("cover", "focal", (250, 600))
    url = resizer.url(original, 100, 100, variant=variant, format="image/jpeg")  # type: ignore[arg-type]
    assert ".100x100.cover-focal250x600.jpe?" in url
    answer = resizer.handle(*_swap(url, "focal250x600", "focal250x601"))
    assert isinstance(answer, MissResponse) and answer.status == 403
    assert resizer.handle(*split(url)) is FILE_READY


def test_variants_need_the_key(add_original: AddOriginal, make_resizer: MakeResizer) -> None:
    original = add_original(jpeg(640, 480))
    signed = make_resizer().url(original, 150, 150, variant=COVER, format="image/webp")  # type: ignore[arg-type]
    path, query = split(signed)
    unsigned = "&".join(p for p in query.split("&") if not p.startswith("sig="))
    resizer = make_resizer(secret_key=None, resize_allowlist=[150])
    answer = resizer.handle(path, unsigned)
    assert isinstance(answer, MissResponse) and answer.status == 403


def test_auto_url_signs_the_auto_name(
    store: CountingStore, add_original: AddOriginal, make_resizer: MakeResizer
) -> None:
    original = add_original(jpeg(640, 480))
    resizer = make_resizer()
    url = resizer.url(original, 150, 150, variant=COVER, format="auto")  # type: ignore[arg-type]
    path, query = split(url)
    assert path == "user-picture/234/1/1234.150x150.cover.auto.jpe"
    for accept, name, magic in [
        ("image/avif,image/webp,*/*", "1234.150x150.cover.avif", b"ftyp"),
        ("image/webp,*/*", "1234.150x150.cover.webp", b"WEBP"),
        ("*/*", "1234.150x150.cover.jpe", b"\xff\xd8"),
    ]:
        concrete = negotiate(path, accept)
        assert concrete == f"user-picture/234/1/{name}"
        assert resizer.handle(concrete, query) is FILE_READY
        with open(f"{store.path}/{concrete}", "rb") as file:
            assert magic in file.read(16)
    # The auto signature is no key to other formats.
    png_path = path.replace(".auto.jpe", ".png")
    answer = resizer.handle(png_path, query)
    assert isinstance(answer, MissResponse) and answer.status == 403
    # Nor is the auto name itself a file.
    answer = resizer.handle(path, query)
    assert isinstance(answer, MissResponse) and answer.status == 404


# Accept headers the browsers send for <img> (2024-2025 releases).
CHROMIUM = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
FIREFOX = "image/avif,image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5"
SAFARI = (
    "image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,"
    "image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5"
)
SAFARI_15 = "image/webp,image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5"
OLD = "image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5"


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (CHROMIUM, "image/avif"),
        (FIREFOX, "image/avif"),
        (SAFARI, "image/avif"),
        (SAFARI_15, "image/webp"),
        (OLD, None),
        ("*/*", None),
        ("image/*", None),
        ("image/avif;q=0, image/webp", "image/webp"),
        ("image/avif;q=0.5, image/webp;q=0.9", "image/webp"),
        ("image/avif;q=0, image/webp;q=0", None),
        ("", None),
        (None, None),
        ("image/avif" + ", x" * 5000, None),  # over 2 KiB: ignored
        ("image/avif;q=nonsense", None),
        (",,,;;;q=", None),
    ],
)
def test_choose_format(accept: str | None, chosen: str | None) -> None:
    assert choose_format(accept) == chosen


def test_cleanup_takes_every_variant(
    store: CountingStore, add_original: AddOriginal, make_resizer: MakeResizer
) -> None:
    original = add_original(jpeg(640, 480))
    resizer = make_resizer()
    urls = [
        resizer.url(original, 150, 113),  # type: ignore[arg-type]
        resizer.url(original, 150, 150, variant=COVER, format="image/webp"),  # type: ignore[arg-type]
        resizer.url(original, 150, 150, variant=Variant("cover", "north", quality=60)),  # type: ignore[arg-type]
        resizer.url(original, 150, 113, variant=Variant(), format="image/png"),  # type: ignore[arg-type]
    ]
    for url in urls:
        assert resizer.handle(*split(url)) is FILE_READY
    assert len(image_files(store.path)) == 5
    derived = store.derived_files("user-picture", 1234)
    assert len(derived) == 4
    assert len(store.list_files("user-picture", 1234)) == 5
    key = ("user-picture", 1234, 640, 480, "image/jpeg")
    with store.lock_object("user-picture", 1234):
        store.delete_file(*key)
        _purge_derived(store, key, None)
    assert image_files(store.path) == []
    assert store.derived_files("user-picture", 1234) == {}


def test_bomb_through_the_variant_path(
    store: CountingStore, add_original: AddOriginal, make_resizer: MakeResizer
) -> None:
    from images import huge_png_header

    original = add_original(
        huge_png_header(20_000, 20_000), size=(2000, 2000), mimetype="image/png"
    )
    resizer = make_resizer()
    url = resizer.url(original, 100, 100, variant=COVER, format="image/webp")  # type: ignore[arg-type]
    answer = resizer.handle(*split(url))
    assert isinstance(answer, MissResponse) and answer.status == 422
    assert image_files(store.path) == ["user-picture/234/1/1234.2000x2000.png"]


def test_overlong_variant_path_is_not_found(make_resizer: MakeResizer) -> None:
    resizer = make_resizer()
    path = "user-picture/234/1/1234.150x150." + "cover-" * 2000 + ".webp"
    answer = resizer.handle(path, "src=640x480.jpe&sig=AAAA")
    assert isinstance(answer, MissResponse) and answer.status == 404


def test_put_file_of_a_variant_is_typed_plainly(tmp_path: object) -> None:
    store = FileSystemStore(str(tmp_path), "http://h/")
    keyed = keyed_mimetype("image/webp", COVER)
    store.put_file(io.BytesIO(b"x"), "thing", 5, 3, 2, keyed, True)
    assert store.list_files("thing", 5) == [(3, 2, keyed)]

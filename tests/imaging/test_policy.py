"""The ImageMagick policy is in force and refuses dangerous coders.

Each hardening test runs in a child interpreter: under Debian's stock policy a
``text:`` read aborts the whole process, which must not take pytest with it.
"""

from __future__ import annotations

import pytest
from images import mvg_payload, text_payload
from wand.resource import limits

from imageattach.imaging import POLICY_DIR, policy

from .helpers import run_json, run_python

PAYLOADS = """
from images import msl_payload, mvg_payload, text_payload
PAYLOADS = {"mvg": mvg_payload(), "msl": msl_payload(), "text": text_payload()}
"""


def test_stock_policy_is_dangerous() -> None:
    """What the library protects against, shown without its policy: an MVG
    blob renders, and a ``text:`` read kills the process."""
    rendered = run_python(
        f"""
        from wand.image import Image
        with Image(blob={mvg_payload()!r}, format="mvg") as image:
            print(image.size)
        """
    )
    if rendered.returncode != 0 or "(64, 64)" not in rendered.stdout:
        pytest.skip(f"the system policy here already refuses MVG: {rendered.stderr[-300:]}")
    aborted = run_python(
        f"""
        from wand.image import Image
        try:
            Image(blob={text_payload()!r}, format="text")
        except Exception as error:
            print("raised", type(error).__name__)
        """
    )
    if aborted.returncode >= 0:
        pytest.skip("a text: read does not abort with this ImageMagick")
    assert "raised" not in aborted.stdout


def test_payloads_refused_and_process_survives() -> None:
    result = run_json(
        PAYLOADS
        + """
import json
from imageattach.exceptions import ImageError
from imageattach.imaging import ImageInfo, make_thumbnail, probe
from wand.image import Image

outcome = {}
for name, payload in PAYLOADS.items():
    for disguise in ("image/jpeg", "image/png"):
        try:
            make_thumbnail(payload, width=8, height=8, info=ImageInfo(disguise, 64, 64, 1, 1))
            outcome[f"{name} as {disguise}"] = "decoded"
        except ImageError as error:
            outcome[f"{name} as {disguise}"] = type(error).__name__
    try:
        probe(payload)
        outcome[f"probe {name}"] = "accepted"
    except ImageError as error:
        outcome[f"probe {name}"] = type(error).__name__
    try:  # even asked for by name, ImageMagick's own coder is refused
        Image(blob=payload, format=name)
        outcome[f"wand {name}"] = "decoded"
    except Exception as error:
        outcome[f"wand {name}"] = type(error).__name__
print(json.dumps(outcome))
"""
    )
    for name in ("mvg", "msl", "text"):
        assert result[f"wand {name}"] == "PolicyError"
        assert result[f"probe {name}"] in ("UnsupportedImageError", "CorruptImageError")
        for disguise in ("image/jpeg", "image/png"):
            assert result[f"{name} as {disguise}"] == "CorruptImageError"


def test_policy_in_force_here() -> None:
    assert policy.check() == []
    assert not policy.is_coder_readable("MVG")
    assert not policy.is_coder_readable("MSL")
    assert not policy.is_coder_readable("TEXT")
    assert not policy.is_coder_readable("URL")
    assert not policy.is_coder_readable("EPHEMERAL")
    assert not policy.is_coder_readable("SVG")  # SVG goes to librsvg, never to ImageMagick
    assert policy.is_coder_readable("JPEG")
    assert policy.is_coder_readable("PNG")


def test_resource_limits() -> None:
    assert limits["thread"] == 1
    assert limits["memory"] <= 256 * 1024**2
    assert limits["disk"] <= 1024**3


def test_set_resource_limits_validates() -> None:
    with pytest.raises(ValueError):
        policy.set_resource_limits(time=10)
    with pytest.raises(ValueError):
        policy.set_resource_limits(memory=0)
    before = limits["memory"]
    policy.set_resource_limits(memory=before // 2)
    try:
        assert limits["memory"] == before // 2
    finally:
        policy.set_resource_limits(memory=before)


def test_wand_imported_first_is_detected_and_workers_still_have_the_policy() -> None:
    result = run_json(
        """
import json, warnings
from wand.image import Image
with Image(width=1, height=1) as image:  # ImageMagick starts with the system policy only
    image.format = "png"
    image.make_blob()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import imageattach.imaging
from images import mvg_payload, png
from imageattach.exceptions import ImageError
try:
    imageattach.imaging.probe(mvg_payload())
    outcome = "processed"
except ImageError:
    outcome = "refused"
width = imageattach.imaging.probe(png()).width
print(json.dumps([[str(w.message) for w in caught], outcome, width]))
"""
    )
    messages, outcome, width = result
    assert any("import imageattach.imaging before wand" in m for m in messages)
    assert any("MVG" in m and "MAGICK_CONFIGURE_PATH" in m for m in messages)
    # Decoding happens in workers, which start with imageattach's policy.
    assert outcome == "refused"
    assert width == 400


def test_wand_imported_first_with_environment_set() -> None:
    result = run_json(
        """
import json, warnings
warnings.simplefilter("error")
import wand.image
import imageattach.imaging
from images import png
print(json.dumps(imageattach.imaging.probe(png()).mimetype))
""",
        env={"MAGICK_CONFIGURE_PATH": POLICY_DIR},
    )
    assert result == "image/png"

"""``policy.allow_coders()``: the app's own Wand drawing (``xc:``,
``gradient:``, ``label:``) works after the opt-in, dangerous coders are
refused, and the decoding workers keep imageattach's policy.

The opt-in changes the policy of the whole process, so each test that makes
it runs in a child interpreter.
"""

from __future__ import annotations

import textwrap

import pytest

from imageattach.exceptions import ConfigurationError
from imageattach.imaging import policy

from .helpers import run_json

DRAW = """
from wand.color import Color
from wand.drawing import Drawing
from wand.image import Image

def draw():
    with Image(width=120, height=40, pseudo="gradient:red-blue") as image:
        with Image(width=120, height=40, pseudo="xc:white") as canvas, \\
                Image(width=60, height=20, pseudo="label:(c) me") as label:
            canvas.composite(label, left=0, top=0)
            with Drawing() as drawing:
                drawing.fill_color = Color("black")
                drawing.rectangle(left=100, top=30, right=119, bottom=39)
                drawing(canvas)
            return image[0, 20].red_int8, canvas[110, 35].red_int8, canvas[119, 0].red_int8
"""


def test_wand_drawing_fails_before_the_opt_in_and_works_after() -> None:
    result = run_json(
        textwrap.dedent(
            """
            import json
            import imageattach
            from imageattach.imaging import policy
            """
        )
        + DRAW
        + textwrap.dedent(
            """
        try:
            draw()
            before = "drew"
        except Exception as error:
            before = str(error)
        policy.allow_coders("xc", "gradient:", "LABEL")
        print(json.dumps({
            "before": before,
            "after": draw(),
            "allowed": sorted(policy.allowed_coders()),
            "check": policy.check(),
        }))
        """
        )
    )
    assert "not allowed by the security policy" in result["before"]
    middle_red, black, white = result["after"]
    assert 100 < middle_red < 160 and black == 0 and white == 255
    assert result["allowed"] == ["GRADIENT", "LABEL", "XC"]
    assert result["check"] == []


@pytest.mark.parametrize(
    "coder",
    ["url", "https", "msl", "mvg", "ephemeral", "text", "txt", "inline", "svg", "ps", "pdf",
     "@/etc/passwd", "xc,url", "{XC,URL}", "*", "", "miff", "fd"],
)  # fmt: skip
def test_dangerous_or_unknown_coders_are_refused(coder: str) -> None:
    readable = policy.is_coder_readable("XC")
    with pytest.raises(ConfigurationError, match="cannot allow ImageMagick coder"):
        policy.allow_coders("xc", coder)
    assert policy.is_coder_readable("XC") is readable  # nothing changed
    assert policy.check() == []


def test_a_name_must_be_a_string() -> None:
    with pytest.raises(ConfigurationError, match="must be a str"):
        policy.allow_coders(b"xc")  # type: ignore[arg-type]


def test_untrusted_decoding_is_not_loosened() -> None:
    result = run_json(
        """
        import json, subprocess, sys, tempfile
        from images import jpeg, mvg_payload, msl_payload, text_payload
        from wand.image import Image
        from imageattach.exceptions import ImageError
        from imageattach.imaging import probe, make_thumbnail, policy, process

        policy.allow_coders("xc", "gradient", "label", "caption")
        refused = {}
        for name, payload in [("mvg", mvg_payload()), ("msl", msl_payload()),
                              ("text", text_payload()), ("xc", b"xc:red"),
                              ("gradient", b"gradient:red-blue")]:
            try:
                probe(payload)
                refused[name] = False
            except ImageError:
                refused[name] = True
        try:
            Image(filename="label:@/etc/passwd")
            at_path = "read"
        except Exception as error:
            at_path = str(error)
        with tempfile.TemporaryDirectory() as temp:   # a worker's environment
            worker = subprocess.run(
                [sys.executable, "-c", "from imageattach.imaging import policy; "
                 "print([c for c in ('XC', 'GRADIENT', 'LABEL') if policy.is_coder_readable(c)])"],
                env=process._environment(temp), capture_output=True, text=True, check=True,
            )
        thumbnail, mimetype = make_thumbnail(jpeg(40, 30), width=20, height=15)
        print(json.dumps({
            "refused": refused, "at_path": at_path, "worker": worker.stdout.strip(),
            "thumbnail": mimetype, "here": policy.is_coder_readable("XC"),
        }))
        """
    )
    assert result["here"] is True
    assert result["refused"] == dict.fromkeys(["mvg", "msl", "text", "xc", "gradient"], True)
    assert "not allowed by the security policy" in result["at_path"]
    assert result["worker"] == "[]"
    assert result["thumbnail"] == "image/jpeg"

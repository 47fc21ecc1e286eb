"""Every fenced code block of README.md and docs/*.md runs, or says why not.

The convention, for whoever writes a page:

- The ``python`` blocks of a page run in order, like a tutorial, in one fresh
  interpreter per page (warnings are errors, but for deprecations inside
  third-party packages; anything else on stderr with "Warning" fails too), with a fresh
  temporary directory as the working directory.  That directory holds
  ``me.jpg`` (a 400x300 JPEG), ``photo.jpg`` (640x480) and ``photo.png``
  (a 640x480 PNG), and the
  environment has ``IMAGEATTACH_SECRET_KEY`` and ``SECRET_KEY`` set, as a
  reader's would.  The blocks run with ``__name__ == "__docs__"``, so
  ``if __name__ == "__main__":`` guards what would start a server.
- A block preceded, on the line right before its fence, by
  ``<!-- fragment -->`` or ``<!-- fragment: reason -->`` is not run.
- A block preceded by ``<!-- checked by tests/<file>.py -->`` is checked by
  that test, which must exist and name the page's file.
- Other languages run here where they can: ``ini`` through Pyramid's paste
  loader (and its ``imageattach.*`` settings through the Pyramid adapter),
  ``jinja`` and ``html`` templates rendered with a real image set, ``json``
  and ``xml`` parsed.  Any other unmarked block fails the test, so a block
  that nobody runs cannot slip in.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest
from images import jpeg, png

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+|~~~+)(?P<lang>[^`\s]*)[^`]*$")
MARKER = re.compile(
    r"^\s*<!--\s*(?:(?P<fragment>fragment)(?:\s*:\s*(?P<reason>.*?))?"
    r"|checked by (?P<checked>tests/\S+\.py))\s*-->\s*$"
)
#: Languages run here besides ``python``.
RUNNABLE = {"python", "ini", "jinja", "html", "json", "xml"}
SECRET_KEY = "docs-test-secret-key-0123456789"


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    page: Path
    line: int  # of the first line of code, 1-based
    lang: str
    code: str
    fragment: bool = False
    checked_by: str | None = None

    @property
    def id(self) -> str:
        return f"{self.page.name}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The fenced code blocks of ``page``, with the marker before each."""
    lines = page.read_text().splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if match is None:
            i += 1
            continue
        indent, fence = len(match["indent"]), match["fence"]
        start = i
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            i += 1
        code = "\n".join(line[indent:] for line in lines[start + 1 : i]) + "\n"
        marker = MARKER.match(lines[start - 1]) if start else None
        found.append(
            Block(
                page=page,
                line=start + 2,
                lang=match["lang"].lower(),
                code=code,
                fragment=bool(marker and marker["fragment"]),
                checked_by=marker["checked"] if marker else None,
            )
        )
        i += 1
    return found


ALL = [block for page in PAGES for block in blocks(page)]


def _marked(block: Block) -> bool:
    return block.fragment or block.checked_by is not None


def _ids(page: Path) -> str:
    return page.name


# -- the convention --------------------------------------------------------------------------


def test_the_parser_finds_the_blocks() -> None:
    assert len(ALL) > 50
    readme = blocks(ROOT / "README.md")
    assert readme[0].lang == "sh" and "make demo" in readme[0].code


@pytest.mark.parametrize("block", [b for b in ALL if not _marked(b)], ids=lambda b: b.id)
def test_every_unmarked_block_is_run_here(block: Block) -> None:
    assert block.lang in RUNNABLE, (
        f"{block.id}: a ```{block.lang or '(no language)'} block that this test cannot run; "
        "make it runnable, or put <!-- fragment: reason --> or "
        "<!-- checked by tests/<file>.py --> on the line before its fence"
    )


@pytest.mark.parametrize("block", [b for b in ALL if b.checked_by], ids=lambda b: b.id)
def test_the_checking_test_exists_and_names_the_page(block: Block) -> None:
    assert block.checked_by is not None
    test = ROOT / block.checked_by
    assert test.is_file(), f"{block.id}: {block.checked_by} does not exist"
    assert block.page.name in test.read_text(), f"{block.checked_by} never names {block.page.name}"


# -- python: one interpreter per page, blocks in order -------------------------------------------

DRIVER = """
import json, sys, types, warnings
warnings.simplefilter("error")
# Deprecations inside third-party packages (e.g. WebOb importing cgi) are
# not the reader's to fix, and Python does not show them by default.
warnings.filterwarnings(
    "ignore", category=DeprecationWarning, module=r"(?!imageattach|__docs__)"
)
warnings.filterwarnings(
    "ignore", category=PendingDeprecationWarning, module=r"(?!imageattach|__docs__)"
)
module = sys.modules["__docs__"] = types.ModuleType("__docs__")  # Pyramid looks it up
namespace = module.__dict__
with open(sys.argv[1]) as f:
    blocks = json.load(f)
for page, line, code in blocks:
    print(f"--- {page}:{line}", flush=True)
    exec(compile("\\n" * (line - 1) + code, page, "exec"), namespace)
"""


def _tutorial_dir(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    (work / "me.jpg").write_bytes(jpeg(400, 300))
    (work / "photo.png").write_bytes(png(640, 480))
    (work / "photo.jpg").write_bytes(jpeg(640, 480))
    return work


def _environment() -> dict[str, str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if name != "MAGICK_CONFIGURE_PATH" and not name.startswith(("AWS_", "IMAGEATTACH_"))
    }
    environment["PYTHONPATH"] = str(ROOT)
    environment["IMAGEATTACH_SECRET_KEY"] = SECRET_KEY
    environment["SECRET_KEY"] = SECRET_KEY
    return environment


def run_page_python(page: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run the page's unmarked python blocks in order in one fresh interpreter."""
    code = [
        [str(b.page.relative_to(ROOT)), b.line, b.code]
        for b in blocks(page)
        if b.lang == "python" and not _marked(b)
    ]
    script = tmp_path / "blocks.json"
    script.write_text(json.dumps(code))
    return subprocess.run(
        [sys.executable, "-c", DRIVER, str(script)],
        cwd=_tutorial_dir(tmp_path),
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


PYTHON_PAGES = [
    page for page in PAGES if any(b.lang == "python" and not _marked(b) for b in blocks(page))
]


@pytest.mark.parametrize("page", PYTHON_PAGES, ids=_ids)
def test_python_blocks_run_as_a_tutorial(page: Path, tmp_path: Path) -> None:
    result = run_page_python(page, tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-6000:]
    assert "Warning" not in result.stderr, result.stderr[-6000:]


def test_a_failing_or_warning_block_fails_the_page(tmp_path: Path) -> None:
    """The test can fail: a warning is an error, and the failing block is named."""
    page = tmp_path / "page.md"
    page.write_text(
        "```python\nx = 1\n```\n\n```python\nimport warnings\nwarnings.warn('boo')\n```\n"
    )
    code = [[str(page), b.line, b.code] for b in blocks(page)]
    (tmp_path / "blocks.json").write_text(json.dumps(code))
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, str(tmp_path / "blocks.json")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert f'File "{page}", line 7' in result.stderr


# -- ini: Pyramid's paste loader, then the Pyramid adapter -----------------------------------


@pytest.mark.parametrize(
    "block", [b for b in ALL if b.lang == "ini" and not _marked(b)], ids=lambda b: b.id
)
def test_ini_block_loads_through_pyramid(block: Block, tmp_path: Path) -> None:
    import plaster
    from pyramid.config import Configurator

    ini = tmp_path / "development.ini"
    ini.write_text(block.code)
    sections = re.findall(r"^\[(app:[^\]]+)\]", block.code, flags=re.MULTILINE)
    assert sections, f"{block.id}: no [app:...] section"
    for section in sections:
        settings = plaster.get_settings(str(ini), section)
        if any(key.startswith("imageattach.") for key in settings):
            from imageattach.adapters.pyramid import get_store
            from imageattach.store import Store

            with Configurator(settings=dict(settings)) as config:
                config.include("imageattach.adapters.pyramid")
            assert isinstance(get_store(config.registry), Store)


# -- jinja / html templates: rendered with a real image set -------------------------------------

RENDER = """
import json, sys
import jinja2
from sqlalchemy import ForeignKey, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship
from imageattach.context import store_context
from imageattach.entity import Image, image_attachment
from imageattach.stores.fs import HttpExposedFileSystemStore

class Base(DeclarativeBase):
    pass

class User(Base):
    __tablename__ = "user"
    id: Mapped[int] = mapped_column(primary_key=True)
    picture = image_attachment("UserPicture", back_populates="user")

class UserPicture(Base, Image):
    __tablename__ = "user_picture"
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), primary_key=True)
    user: Mapped[User] = relationship(back_populates="picture")

store = HttpExposedFileSystemStore(
    "images", secret_key=%(key)r, host_url_getter=lambda: "https://example.com/"
)
engine = create_engine("sqlite://")
Base.metadata.create_all(engine)
with open(sys.argv[1]) as f:
    template = f.read()
with Session(engine) as session, store_context(store):
    user = User()
    with open("me.jpg", "rb") as f:
        user.picture.from_file(f)
    session.add(user)
    session.commit()
    escaped, plain = (
        jinja2.Environment(autoescape=autoescape).from_string("{{ user.picture }}").render(
            user=user
        )
        for autoescape in (True, False)
    )
    assert escaped == plain, (escaped, plain)  # the docs do not say "with autoescape on"
    print(jinja2.Environment(autoescape=True).from_string(template).render(user=user))
"""


@pytest.mark.parametrize(
    "block",
    [b for b in ALL if b.lang in {"jinja", "html"} and not _marked(b)],
    ids=lambda b: b.id,
)
def test_template_block_renders(block: Block, tmp_path: Path) -> None:
    work = _tutorial_dir(tmp_path)
    (work / "template.html").write_text(block.code)
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", RENDER % {"key": SECRET_KEY}, "template.html"],
        cwd=work,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    html = result.stdout
    assert "{{" not in html and "SELECT" not in html
    for url in re.findall(r'src="([^"]+)"', html):
        assert url.startswith("https://example.com/__images__/user-picture/"), url
    if "user.picture" in block.code:
        assert "<img" in html or "https://example.com/__images__/" in html


# -- json, xml: parsed -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "block", [b for b in ALL if b.lang == "json" and not _marked(b)], ids=lambda b: b.id
)
def test_json_block_parses(block: Block) -> None:
    json.loads(block.code)


@pytest.mark.parametrize(
    "block", [b for b in ALL if b.lang == "xml" and not _marked(b)], ids=lambda b: b.id
)
def test_xml_block_parses(block: Block) -> None:
    ET.fromstring(textwrap.dedent(block.code))

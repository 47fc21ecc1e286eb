"""End to end: the example apps behind real servers, driven by headless Chromium.

Flask runs under gunicorn, Pyramid under its own ``python -m`` server.  The
browser uploads through the forms, every ``<img>`` on the page (made by
``img()``) must have a ``srcset``, ``width`` and ``height``, and decode the
candidate Chromium chose, of the size that candidate announces (on-demand
thumbnails included); a reload must not download the images again (the
server's access log shows no 200 for them), and deletes remove the files.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import images
import pytest
from example_servers import Server, StartServer
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = pytest.mark.e2e

REQUEST_LINE = re.compile(r'"GET (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3})')
#: Werkzeug's development server colours every request line but a 200's.
ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")

ALL_IMAGES_LOADED = """
return Array.from(document.images).map(
    img => ({src: img.currentSrc, complete: img.complete, width: img.naturalWidth,
             height: img.naturalHeight, srcset: img.getAttribute("srcset"),
             widthAttribute: img.getAttribute("width"),
             heightAttribute: img.getAttribute("height"),
             placeholder: (img.getAttribute("style") || "").includes("data:image/png;base64,"),
             className: img.className}));
"""


#: The real pixel size of each image's chosen candidate (``naturalWidth`` of
#: an ``<img>`` with a ``w`` srcset is scaled by the ``sizes`` it fills).
INTRINSIC_SIZES = """
const done = arguments[arguments.length - 1];
Promise.all(Array.from(document.images).map(img => {
    const copy = new Image();
    copy.src = img.currentSrc;
    return copy.decode().then(() => [copy.naturalWidth, copy.naturalHeight]);
})).then(done, error => done(String(error)));
"""


def image_files(instance: Path) -> list[str]:
    root = instance / "images"
    if not root.exists():
        return []
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def image_requests(server: Server) -> list[tuple[str, int]]:
    """``(path, status)`` of every image request in the server's access log."""
    return [
        (m["path"], int(m["status"]))
        for m in REQUEST_LINE.finditer(ANSI_COLOUR.sub("", server.output()))
        if m["path"].startswith("/__images__/")
    ]


def wait_for_images(browser: Any, expected: int) -> list[dict[str, Any]]:
    """Wait until the page's images finished loading; all must have decoded."""

    def loaded(driver: Any) -> list[dict[str, Any]] | None:
        found: list[dict[str, Any]] = driver.execute_script(ALL_IMAGES_LOADED)
        return found if all(img["complete"] for img in found) else None

    found = WebDriverWait(browser, 30).until(loaded)
    assert len(found) == expected, found
    broken = [img["src"] for img in found if img["width"] == 0]
    assert broken == [], f"images that did not decode: {broken}"
    intrinsic = browser.execute_async_script(INTRINSIC_SIZES)
    for img, size in zip(found, intrinsic, strict=True):
        check_chosen_candidate(img, size)
    return found


def check_chosen_candidate(img: dict[str, Any], intrinsic: list[int]) -> None:
    """The ``<img>`` (from ``img()``) has a srcset, its width and height, and
    Chromium loaded one of its candidates, whose real size (``intrinsic``)
    is the one the candidate announces.  The avatar is a preset: one size,
    no srcset."""
    if img["className"] == "avatar":
        assert not img["srcset"] and ".auto." in img["src"], img
        assert (img["widthAttribute"], img["heightAttribute"]) == ("96", "96"), img
        assert intrinsic == [96, 96], (img, intrinsic)
        return
    assert img["srcset"], img
    assert img["widthAttribute"] and img["heightAttribute"], img
    candidates = dict(reversed(c.rsplit(" ", 1)) for c in img["srcset"].split(", "))
    chosen = {url: d for d, url in candidates.items()}.get(img["src"])
    assert chosen is not None, f"{img['src']} is not in the srcset {img['srcset']}"
    if chosen.endswith("w"):
        assert intrinsic[0] == int(chosen[:-1]), (img, intrinsic)
    else:
        # Chromium takes a denser candidate when it has it already (the 2x of
        # the 150 px thumbnail is the 300 px one's 1x), and scales it down.
        density = float(chosen[:-1])
        expected = [round(int(img[f"{side}Attribute"]) * density) for side in ("width", "height")]
        assert all(abs(a - e) <= 1 for a, e in zip(intrinsic, expected, strict=True)), (
            img,
            intrinsic,
        )
        assert abs(img["width"] - int(img["widthAttribute"])) <= 1, img


def submit(browser: Any, form: str, fields: dict[str, str], files: dict[str, list[Path]]) -> None:
    form_element = browser.find_element(By.CSS_SELECTOR, form)
    for name, value in fields.items():
        form_element.find_element(By.NAME, name).send_keys(value)
    for name, paths in files.items():
        form_element.find_element(By.NAME, name).send_keys("\n".join(str(p) for p in paths))
    click_to_next_page(browser, form_element.find_element(By.TAG_NAME, "button"))


def click_to_next_page(browser: Any, element: Any) -> None:
    """Click ``element`` and wait until the browser has left the page."""
    old_page = browser.find_element(By.TAG_NAME, "html")
    element.click()

    def left(driver: Any) -> bool:
        try:
            old_page.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as error:
            # What Chromium sometimes answers instead of "stale" for a node
            # of a document it has just replaced.
            if "does not belong to the document" in str(error):
                return True
            raise
        return False

    WebDriverWait(browser, 30).until(left)


def click(browser: Any, selector: str) -> None:
    click_to_next_page(browser, browser.find_element(By.CSS_SELECTOR, selector))


def exercise_gallery(
    browser: Any, server: Server, instance: Path, tmp_path: Path, screenshot: Any, name: str
) -> None:
    picture = tmp_path / "picture.jpg"
    picture.write_bytes(images.jpeg(800, 600))
    photos = [tmp_path / "one.png", tmp_path / "two.jpg"]
    photos[0].write_bytes(images.png(640, 320, color="blue"))
    photos[1].write_bytes(images.jpeg(300, 400, orientation=6, color="green"))

    browser.get(server.url + "/")
    assert "No users yet" in browser.page_source
    submit(browser, "#new-user form", {"name": "Ada"}, {"picture": [picture]})
    found = wait_for_images(browser, 4)  # the original and three on-demand sizes
    # The original is shown 16rem (256 px) wide: Chromium chose its 320w
    # candidate, not the 800 px original, and the placeholder is inline.
    assert ".320x240." in found[0]["src"] and found[0]["widthAttribute"] == "800", found[0]
    assert found[0]["placeholder"]
    submit(browser, "#new-post", {"text": "Two photos"}, {"photos": photos})
    found = wait_for_images(browser, 7)  # + the author's avatar (a preset) and two photos
    assert sum("post-photos" in img["src"] for img in found) == 2
    assert [img["placeholder"] for img in found if "post-photos" in img["src"]] == [True, True]
    screenshot(f"{name}-gallery")
    files = image_files(instance)
    # user: 1 + 320 px from the srcset + 3 sizes; post: 2 + 2 sizes; the
    # avatar preset, negotiated: Chromium takes AVIF.
    avatars = [f for f in files if ".96x96." in f]
    assert avatars == ["user-pictures/1/0/1.96x96.cover-entropy.avif"], files
    assert len(files) == 10, files
    first_load = image_requests(server)
    # The log is parsed: at least the first page's four images were seen.
    assert len({path for path, _ in first_load}) >= 4, first_load
    assert all(status == 200 for _, status in first_load)

    before = len(image_requests(server))
    browser.refresh()
    wait_for_images(browser, 7)
    after_reload = image_requests(server)[before:]
    # Versioned URLs are cached as immutable: no image is downloaded again.
    assert [r for r in after_reload if r[1] == 200] == []
    transferred = browser.execute_script(
        "return performance.getEntriesByType('resource')"
        ".filter(e => e.name.includes('/__images__/')).map(e => e.transferSize);"
    )
    assert all(size < 1000 for size in transferred), transferred

    click(browser, "#post-1 button.danger")
    wait_for_images(browser, 4)
    assert not [f for f in image_files(instance) if f.startswith("post-photos/")]
    click(browser, "#user-1 button.danger")
    assert "No users yet" in browser.page_source
    assert image_files(instance) == []
    screenshot(f"{name}-deleted")


def test_flask_example_under_gunicorn(
    browser: Any, start_server: StartServer, tmp_path: Path, screenshot: Any
) -> None:
    instance = tmp_path / "instance"
    server = start_server(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            "127.0.0.1:{port}",
            "--worker-class",
            "gthread",
            "--threads",
            "4",
            "--access-logfile",
            "-",
            "--no-control-socket",  # its default path is shared by every gunicorn
            "examples.flask_app:create_app()",
        ],
        env={"EXAMPLE_INSTANCE_PATH": str(instance)},
    )
    assert server.wait_ready().status_code == 200
    exercise_gallery(browser, server, instance, tmp_path, screenshot, "flask")


def test_pyramid_example_on_its_own_server(
    browser: Any, start_server: StartServer, tmp_path: Path, screenshot: Any
) -> None:
    instance = tmp_path / "instance"
    server = start_server(
        [sys.executable, "-m", "examples.pyramid_app"],
        env={"EXAMPLE_INSTANCE_PATH": str(instance)},
    )
    assert server.wait_ready().status_code == 200
    exercise_gallery(browser, server, instance, tmp_path, screenshot, "pyramid")

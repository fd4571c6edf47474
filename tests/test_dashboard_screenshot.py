"""The dashboard in a real browser: headless Chromium (the Debian package) renders / and an
item page at desktop and phone widths, showing the seeded stories. The pages carry no
script and their Content-Security-Policy allows none, so what renders here is what a
browser with JavaScript off shows. (Chromium's headless mode needs its own script engine
to dump the DOM and take screenshots, so it cannot be switched off here.)

Skipped when Chromium is absent, except under CI=true, where it fails (.ci/run
installs it). ``WATCHER_UPDATE_SCREENSHOT=1`` also writes docs/dashboard.png and
docs/dashboard-phone.png, the pictures README shows.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import struct
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dashboard_site import Site, running_site
from watcher.clock import utc_now

REPO = Path(__file__).resolve().parents[1]
DESKTOP, PHONE = 1280, 390
BROWSERS = ("chromium", "chromium-browser")


def chromium_binary() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI") == "true":
        pytest.fail("Chromium is missing; CI installs it (.ci/run: apt-get install chromium)")
    pytest.skip("Chromium is not installed (apt-get install chromium)")


class Browser:
    def __init__(self, binary: str, profile: Path) -> None:
        self.binary = binary
        self.profile = profile

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [
            self.binary,
            "--headless",
            # Tests run as root in containers, where Chromium's sandbox cannot start.
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            f"--user-data-dir={self.profile}",
            *args,
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
        assert result.returncode == 0, result.stderr[-2000:]
        return result

    def dom(self, url: str, width: int) -> str:
        return self._run(f"--window-size={width},1400", "--dump-dom", url).stdout

    def screenshot(self, url: str, width: int, path: Path) -> bytes:
        self._run(
            f"--window-size={width},1400",
            f"--screenshot={path}",
            url,
        )
        return path.read_bytes()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Browser:
    return Browser(chromium_binary(), tmp_path_factory.mktemp("chromium-profile"))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with running_site(tmp_path_factory.mktemp("shots"), hostile=False) as running:
        # A reader's judgement, so the pictures show a recorded label too.
        rehearsal = running.item_id("Tanks roll")
        running.store.set_label(rehearsal, "parade-coverage", True, origin="web", now=utc_now())
        yield running


def visible_text(dom: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", dom))


def png_size_and_colours(data: bytes) -> tuple[int, int, int]:
    """Width, height and the number of distinct byte values of the decoded pixels."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    position, compressed = 8, b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        if kind == b"IDAT":
            compressed += data[position + 8 : position + 8 + length]
        position += 12 + length
    pixels = zlib.decompress(compressed)
    return width, height, len(set(pixels))


@pytest.mark.slow
@pytest.mark.parametrize("width", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_index_renders_the_seeded_stories(
    browser: Browser, site: Site, width: int, tmp_path: Path
) -> None:
    dom = browser.dom(site.url + "/", width)
    assert "Stories, last 24 hours" in dom
    for section in ("Leader travel", "Parade coverage", "Tides"):
        assert section in dom
    text = visible_text(dom)
    for title in (
        "Premier Aldous departs for state visit to Verania",
        "Tanks roll through Verania's capital in parade rehearsal",
        "Spring tide floods the harbour road twice in one day",
    ):
        assert title in text
    assert dom.count(">Relevant</button>") == 3
    assert dom.count("vote-on") == 1  # the recorded label shows as a pressed button
    assert "Also reported by" in dom
    assert "<script" not in dom
    shot = browser.screenshot(site.url + "/", width, tmp_path / "index.png")
    shot_width, height, colours = png_size_and_colours(shot)
    assert (shot_width, height) == (width, 1400)
    # A blank or error page has a handful of colours; text and highlights have many.
    assert colours > 100
    if os.environ.get("WATCHER_UPDATE_SCREENSHOT"):
        name = "dashboard.png" if width == DESKTOP else "dashboard-phone.png"
        (REPO / "docs").mkdir(exist_ok=True)
        (REPO / "docs" / name).write_bytes(shot)


@pytest.mark.slow
@pytest.mark.parametrize("width", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_item_page_renders_its_explanations(
    browser: Browser, site: Site, width: int, tmp_path: Path
) -> None:
    item = site.item_id("Tanks roll")
    url = f"{site.url}/items/{item}"
    dom = browser.dom(url, width)
    assert "Tanks roll through Verania's capital in parade rehearsal" in visible_text(dom)
    assert "Parade coverage" in dom and "matched</span>" in dom
    assert "Night rehearsal of the armistice parade" in dom  # the story's other source
    shot_width, _, colours = png_size_and_colours(
        browser.screenshot(url, width, tmp_path / "item.png")
    )
    assert shot_width == width and colours > 100

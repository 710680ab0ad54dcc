"""The debug error page (``Stellina(debug=True)``) served by uvicorn and opened in headless
Chromium through playwright: its text, its screenshot, and its fold-out frames.

Needs the system's Chromium at ``/usr/bin/chromium`` (Debian's ``chromium`` package);
playwright is only the driver here and downloads no browser.
"""

from __future__ import annotations

import os
import struct
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serving import APPS, free_port, serve

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
# Without these, Chromium on a closed network stalls on updates, sync and QUIC probes.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT: ViewportSize = {"width": 800, "height": 600}
MESSAGE = "gear 7 slipped <loudly> & stuck"
# Colors of the page's stylesheet: the background, and the failing line's highlight.
BACKGROUND = (0xFA, 0xFA, 0xFA)
ERROR_LINE = (0xFD, 0xE7, 0xE9)


@pytest.fixture(scope="module")
def page_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    args = ["-m", "uvicorn", "debug_app:app", "--host", "127.0.0.1", "--port", str(port)]
    log = tmp_path_factory.mktemp("debug") / "server.log"
    with serve([*args, "--log-level", "warning"], port, log, paths=[APPS]) as address:
        yield f"http://{address}/explode?gear=7"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} is missing: install Chromium from the system's packages "
            "(Debian/Ubuntu: `sudo apt-get install chromium`); playwright is told not to "
            "download a browser.",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser, page_url: str) -> Iterator[Page]:
    opened = browser.new_page(viewport=VIEWPORT)
    try:
        response = opened.goto(page_url)
        assert response is not None
        assert response.status == 500
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        yield opened
    finally:
        opened.close()


def test_page_shows_the_exception_and_its_frames(page: Page) -> None:
    assert page.title() == "500 Server Error"
    assert page.locator("h1").inner_text() == "500 Server Error"
    # The message is escaped by the server, so the browser shows it as written.
    assert page.locator("h2").inner_text() == f"FrobnicatorJammed: {MESSAGE}"
    frames = page.locator("details > summary")
    innermost, caller = frames.nth(0).inner_text(), frames.nth(1).inner_text()
    assert "debug_app.py" in innermost
    assert innermost.endswith("in jam_the_frobnicator")
    assert "debug_app.py" in caller
    assert caller.endswith("in explode")
    # The innermost frame is unfolded, its failing line highlighted.
    failing = page.locator("details").nth(0).locator(".line.error")
    expect(failing).to_be_visible()
    assert "raise FrobnicatorJammed(" in failing.inner_text()


def test_frames_fold_and_unfold_on_click(page: Page) -> None:
    frames = page.locator("details")
    innermost, caller = frames.nth(0), frames.nth(1)
    expect(innermost.locator("pre")).to_be_visible()
    expect(caller.locator("pre")).to_be_hidden()
    caller.locator("summary").click()
    expect(caller.locator("pre")).to_be_visible()
    assert "jam_the_frobnicator(int(" in caller.locator(".line.error").inner_text()
    innermost.locator("summary").click()
    expect(innermost.locator("pre")).to_be_hidden()
    innermost.locator("summary").click()
    expect(innermost.locator("pre")).to_be_visible()


def test_screenshot_shows_the_styled_page(page: Page, tmp_path: Path) -> None:
    shot = tmp_path / "debug-page.png"
    page.screenshot(path=shot)
    data = shot.read_bytes()
    assert len(data) > 5000
    width, height, colors = _png_colors(data)
    assert (width, height) == (VIEWPORT["width"], VIEWPORT["height"])
    assert len(colors) > 16, sorted(colors)[:20]
    assert BACKGROUND in colors
    assert ERROR_LINE in colors


def _png_colors(data: bytes) -> tuple[int, int, set[tuple[int, ...]]]:
    """Width, height and the set of RGB colors of an 8-bit RGB or RGBA, non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position, compressed = 8, bytearray()
    header = b""
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        chunk = data[position + 8 : position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            header = chunk
        elif kind == b"IDAT":
            compressed += chunk
    width, height, depth, color_type, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert (depth, interlace) == (8, 0) and color_type in (2, 6), header
    pixel = 3 if color_type == 2 else 4
    stride = width * pixel
    raw = zlib.decompress(bytes(compressed))
    previous = bytearray(stride)
    colors: set[tuple[int, ...]] = set()
    for row in range(height):
        start = row * (stride + 1)
        line = _unfilter(
            raw[start], bytearray(raw[start + 1 : start + 1 + stride]), previous, pixel
        )
        colors.update(tuple(line[i : i + 3]) for i in range(0, stride, pixel))
        previous = line
    return width, height, colors


def _unfilter(kind: int, line: bytearray, previous: bytearray, pixel: int) -> bytearray:
    """Undo one scanline's PNG filter (None, Sub, Up, Average or Paeth), in place."""
    assert kind in range(5), f"unknown PNG filter {kind}"
    if kind == 0:
        return line
    if kind == 2:
        return bytearray((a + b) & 0xFF for a, b in zip(line, previous, strict=True))
    for i in range(len(line)):
        left = line[i - pixel] if i >= pixel else 0
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + (left + previous[i]) // 2) & 0xFF
        else:
            up = previous[i]
            corner = previous[i - pixel] if i >= pixel else 0
            estimate = left + up - corner
            near_left, near_up = abs(estimate - left), abs(estimate - up)
            if near_left <= near_up and near_left <= abs(estimate - corner):
                best = left
            elif near_up <= abs(estimate - corner):
                best = up
            else:
                best = corner
            line[i] = (line[i] + best) & 0xFF
    return line

"""The web view in a real browser: Debian's headless Chromium, driven by Playwright.

What a person sees: the items, the shows, the highlighted phrase, links that answer, a search
typed into the form, the feed table; no console errors, dark mode, a phone's width without
horizontal scrolling. Skipped when Chromium or Playwright is missing. With
FEEDWATCH_SCREENSHOT=path the front page is also saved there as a PNG (docs/web-view.png).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from httpserver import FeedServer
from webkit import Site, serve_site

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 375, "height": 740}
PAGES = ["/", "/shows/daredevil/", "/search?q=season", "/feeds", "/nowhere"]

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright for Python is not installed (the dev extra has it)"
)
if not CHROMIUM.exists() and not shutil.which("chromium"):
    pytest.skip(
        f"Chromium not found at {CHROMIUM}: apt-get install chromium", allow_module_level=True
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with FeedServer() as server, serve_site(tmp_path_factory.mktemp("site"), server) as served:
        yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield launched
        launched.close()


class Tab:
    """A browser page on the site that records console errors and failed requests."""

    def __init__(self, browser, site: Site, **options: object) -> None:
        self.context = browser.new_context(**options)
        self.page = self.context.new_page()
        self.base = site.url
        self.errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on(
            "response",
            lambda response: response.status >= 400
            and not response.url.endswith("/nowhere")
            and self.errors.append(f"{response.status} {response.url}"),
        )

    def _console(self, message) -> None:
        # A 404 page logs its own status as a console error; that one is expected.
        if message.type == "error" and "404" not in message.text:
            self.errors.append(message.text)

    def open(self, path: str) -> int:
        response = self.page.goto(self.base + path)
        assert response is not None
        return response.status

    def texts(self, selector: str) -> list[str]:
        return [" ".join(text.split()) for text in self.page.locator(selector).all_inner_texts()]

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def tab(browser, site) -> Iterator[Tab]:
    opened = Tab(browser, site, viewport={"width": 1000, "height": 900})
    yield opened
    assert opened.errors == []
    opened.close()


def test_the_front_page_shows_the_items_and_their_phrases(tab: Tab):
    assert tab.open("/") == 200
    assert tab.page.title() == "Test digest"
    assert tab.texts(".item h2")[:2] == ["Jessica Jones & friends", "Harlem's hero is back"]
    item = tab.page.locator(".item").nth(1)
    assert item.locator(".summary mark").inner_text() == "Power Man"
    matches = " ".join(item.locator(".matches").inner_text().split())
    assert matches == "Luke Cage: matched “Power Man”"
    # The mark stands out from the summary around it.
    mark = item.locator(".summary mark").evaluate("e => getComputedStyle(e).backgroundColor")
    summary = item.locator(".summary").evaluate("e => getComputedStyle(e).backgroundColor")
    assert mark != summary
    assert tab.texts(".shows a") == ["Daredevil", "Luke Cage", "Marvel's Jessica Jones"]
    screenshot = os.environ.get("FEEDWATCH_SCREENSHOT")
    if screenshot:
        tab.page.screenshot(path=screenshot, full_page=True)


def test_every_link_on_every_page_answers(tab: Tab):
    checked: set[str] = set()
    for path in PAGES[:-1]:
        tab.open(path)
        hrefs = tab.page.locator("a[href^='/'], link[href^='/']").evaluate_all(
            "nodes => nodes.map(node => node.getAttribute('href'))"
        )
        for href in set(hrefs) - checked:
            checked.add(href)
            response = tab.page.request.get(tab.base + href)
            assert response.status == 200, href
    assert {"/feed.xml", "/feed.atom", "/feed.json", "/opml.xml", "/shows/daredevil/"} <= checked


def test_a_show_is_one_click_away(tab: Tab):
    tab.open("/")
    tab.page.get_by_role("navigation", name="Shows").get_by_role("link", name="Daredevil").click()
    assert tab.page.url == tab.base + "/shows/daredevil/"
    assert tab.texts("h1") == ["Daredevil"]
    assert all("Daredevil" in title for title in tab.texts(".item h2"))


def test_a_search_typed_into_the_form(tab: Tab):
    tab.open("/")
    tab.page.get_by_role("searchbox").fill("charlie cox")
    tab.page.get_by_role("button", name="Search").click()
    tab.page.wait_for_url("**/search?q=charlie+cox")
    assert tab.texts(".item h2") == ["Daredevil: Born Again films its second season"]
    assert tab.texts(".item .summary mark") == ["Charlie", "Cox"]


def test_the_feeds_table(tab: Tab, site: Site):
    tab.open("/feeds")
    assert tab.texts("tbody th") == ["TV Wire", "Screen Beat", site.broken_feed]
    failing = tab.page.locator("tr.failing td.error")
    assert failing.inner_text() == "HTTP 500 Internal Server Error"


def test_an_unknown_page_says_so(tab: Tab):
    assert tab.open("/nowhere") == 404
    assert tab.texts("h1") == ["Not found"]
    tab.page.get_by_role("link", name="Back to the latest articles").click()
    assert tab.page.url == tab.base + "/"


def _luminance(color: str) -> float:
    red, green, blue = (int(part) for part in color[color.index("(") + 1 : -1].split(",")[:3])
    return (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255


def test_dark_mode(browser, site):
    for scheme, dark in (("light", False), ("dark", True)):
        tab = Tab(browser, site)
        tab.page.emulate_media(color_scheme=scheme)
        tab.open("/")
        background = tab.page.evaluate("getComputedStyle(document.body).backgroundColor")
        text = tab.page.evaluate("getComputedStyle(document.body).color")
        assert (_luminance(background) < 0.2) is dark, (scheme, background)
        assert abs(_luminance(background) - _luminance(text)) > 0.6
        assert tab.errors == []
        tab.close()


def test_a_phone_never_scrolls_sideways(browser, site):
    tab = Tab(browser, site, viewport=PHONE, is_mobile=True, has_touch=True)
    for path in PAGES:
        tab.open(path)
        width = tab.page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], (path, width)
    # The feed table is a card per feed there, the error in full on its own line.
    tab.open("/feeds")
    error = tab.page.locator("tr.failing td.error")
    assert error.inner_text() == "HTTP 500 Internal Server Error"
    box = error.bounding_box()
    assert box is not None and box["x"] + box["width"] <= PHONE["width"]
    assert tab.errors == []
    tab.close()

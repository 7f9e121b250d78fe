"""The real headless browser the report tests open pages in (Debian's chromium through playwright),
and what every page must satisfy: no script error, no console error, no request off the disk.

The other report tests import `Browser` from here; the tests in this file check the helper itself
can fail: a page with a script error and a page that tries the network are caught.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


@dataclass
class Opened:
    page: object
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    load_s: float = 0.0

    def off_disk(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(("file://", "data:", "blob:"))]


class Browser:
    def __init__(self, playwright) -> None:
        self.browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)

    @contextmanager
    def open(self, path: Path, view: str = "", *, wait: str = "body[data-ready='1']",
             viewport: tuple[int, int] = (1400, 900)) -> Iterator[Opened]:
        ctx = self.browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        page = ctx.new_page()
        opened = Opened(page)
        page.on("console", lambda m: opened.errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: opened.errors.append(f"pageerror: {e}"))
        page.on("request", lambda r: opened.requests.append(r.url))
        t0 = time.perf_counter()
        page.goto(Path(path).resolve().as_uri() + (f"#{view}" if view else ""))
        page.wait_for_selector(wait, state="attached", timeout=30_000)
        opened.load_s = time.perf_counter() - t0
        try:
            yield opened
        finally:
            ctx.close()

    def close(self) -> None:
        self.browser.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = Browser(p)
        yield b
        b.close()


def check_clean(opened: Opened) -> None:
    """What every report page must satisfy, asserted at the end of each browser test."""
    assert opened.errors == [], opened.errors
    assert opened.off_disk() == [], opened.off_disk()


def test_the_helper_catches_script_errors_and_network_requests(browser, tmp_path):
    from matheval.html_report.page import _asset

    # The report's own Content-Security-Policy meta tag, on a page that breaks both rules.
    head = _asset("template.html").split("<title>")[0]
    bad = tmp_path / "bad.html"
    bad.write_text(head + "</head><body><script>fetch('http://127.0.0.1:9/x').catch(() => {});"
                   "document.body.dataset.ready = '1'; undefinedFunction();</script></body></html>")
    with browser.open(bad) as opened:
        opened.page.wait_for_timeout(300)
        errors = list(opened.errors)
    assert any("undefinedFunction" in e for e in errors), errors
    # The CSP refuses the request before it leaves the page, and says so on the console.
    assert any("Content Security Policy" in e for e in errors), errors
    with pytest.raises(AssertionError):
        check_clean(opened)

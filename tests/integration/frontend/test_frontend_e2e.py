"""End to end: the built page in Debian's Chromium, driven by Playwright,
against real `countq producer` + `countq consumer` on the real Redis and
MariaDB (the `live_stack` fixture). Screenshots land in build/frontend/.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pymysql
import pytest
import redis
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from tests.helpers.processes import LiveStack, wait_until
from tests.helpers.services import MYSQL, REDIS_URL, ROOT, require_tool

DIST = ROOT / "frontend" / "dist"
ARTIFACTS = ROOT / "build" / "frontend"
# Without the background-networking flags Chromium keeps dialling out, and
# this machine's closed network refuses it many times a second.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1100, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = require_tool("chromium")
    if not (DIST / "index.html").is_file():
        pytest.fail(f"{DIST} is not built: run `make frontend-build` (make test does)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Session:
    """One page of the app in a fresh browser context, with every URL it asked for."""

    def __init__(self, browser: Browser, stack: LiveStack, viewport: dict[str, int]) -> None:
        self.context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
        self.page: Page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.requested: list[str] = []
        self.page.on("request", lambda request: self.requested.append(request.url))
        self.page.goto(stack.url)
        # The first answers are in once the figures replace their placeholders.
        expect(self.figure("Stored rows")).to_have_text(re.compile(r"^[\d,]+$"))

    def figure(self, label: str) -> Locator:
        return self.page.get_by_label(label, exact=True)

    def button(self, name: str) -> Locator:
        return self.page.get_by_role("button", name=name)

    def shot(self, name: str) -> None:
        self.page.screenshot(path=ARTIFACTS / name, full_page=True)


@pytest.fixture
def desktop(browser: Browser, live_stack: LiveStack) -> Iterator[Session]:
    session = Session(browser, live_stack, DESKTOP)
    yield session
    session.context.close()


def api(stack: LiveStack, path: str) -> dict[str, object]:
    response = httpx.get(f"{stack.url}{path}", timeout=5)
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


def test_post_stores_the_current_timestamp(desktop: Session, live_stack: LiveStack) -> None:
    expect(desktop.figure("Stored rows")).to_have_text("0")
    expect(desktop.figure("Last value")).to_have_text("none yet")

    desktop.button("POST current timestamp").click()
    feedback = desktop.page.get_by_role("status", name="POST result")
    expect(feedback).to_have_text(re.compile(r"^Queued \d+ as message [0-9a-f-]{36}$"))
    posted = int(re.findall(r"\d+", feedback.inner_text())[0])
    assert abs(posted - time.time()) < 60, "the page posts the current unix time"

    expect(desktop.figure("Stored rows")).to_have_text("1")
    expect(desktop.figure("Last value")).to_have_text(str(posted))
    count = api(live_stack, "/count")
    assert (count["rows"], count["last_value"]) == (1, posted)
    expect(desktop.figure("Served by")).to_have_text(str(count["hostname"]))
    desktop.shot("after-post.png")

    # Same origin, relative paths: nothing left the page's own host and port.
    assert f"{live_stack.url}/count" in desktop.requested
    assert all(url.startswith(f"{live_stack.url}/") for url in desktop.requested), desktop.requested


def test_pipeline_figures_match_stats(desktop: Session, live_stack: LiveStack) -> None:
    for value in (11, 22, 33):
        httpx.post(f"{live_stack.url}/count", json={"count": value}, timeout=5).raise_for_status()
    # A dead letter as the consumer would leave one, so that figure is not 0 too.
    with redis.Redis.from_url(REDIS_URL) as client:
        client.xadd(
            f"{{{live_stack.settings.redis_queue}}}:dead", {"id": "poison", "reason": "e2e test"}
        )
    wait_until(lambda: api(live_stack, "/stats")["stored_rows"] == 3, timeout=20)

    desktop.button("GET: refresh now").click()
    stats = api(live_stack, "/stats")
    assert (stats["backlog"], stats["pending"], stats["dead_letters"]) == (0, 0, 1)
    for label, key in [
        ("Backlog", "backlog"),
        ("Pending", "pending"),
        ("Dead letters", "dead_letters"),
        ("Consumers", "consumers"),
    ]:
        expect(desktop.figure(label)).to_have_text(str(stats[key]))
    expect(desktop.figure("Stored rows")).to_have_text(str(stats["stored_rows"]))
    expect(desktop.figure("Last value")).to_have_text("33")
    expect(
        desktop.page.get_by_role("img", name=re.compile(r"^Stored rows over .*: from 0 to 3$"))
    ).to_be_visible()
    desktop.shot("pipeline.png")


def test_stopped_api_is_shown_then_recovers(desktop: Session, live_stack: LiveStack) -> None:
    live_stack.stop_producer()
    desktop.button("GET: refresh now").click()
    alert = desktop.page.get_by_role("alert")
    expect(alert).to_contain_text("The API is not answering as it should.")
    expect(alert).to_contain_text(f"GET /count: cannot reach the API at {live_stack.url}")
    desktop.button("POST current timestamp").click()
    expect(desktop.page.get_by_role("status", name="POST result")).to_contain_text(
        f"POST /count: cannot reach the API at {live_stack.url}"
    )
    desktop.shot("api-down.png")

    live_stack.start_producer()
    desktop.button("GET: refresh now").click()
    expect(alert).to_have_count(0)


def test_server_message_is_shown(desktop: Session, live_stack: LiveStack) -> None:
    # The database vanishing under the running stack: the producer answers 503
    # with its own explanation, which the page must show as it is.
    database = live_stack.settings.effective_database_url().rsplit("/", 1)[1].split("?")[0]
    with pymysql.connect(**MYSQL) as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE {database}")
    response = httpx.get(f"{live_stack.url}/count", timeout=5)
    assert response.status_code == 503
    detail = response.json()["detail"]

    desktop.button("GET: refresh now").click()
    expect(desktop.page.get_by_role("alert")).to_contain_text(
        f"GET /count failed: HTTP 503: {detail}"
    )


def test_fits_a_phone_screen(browser: Browser, live_stack: LiveStack) -> None:
    phone = Session(browser, live_stack, PHONE)
    try:
        phone.button("POST current timestamp").click()
        expect(phone.figure("Stored rows")).to_have_text("1")
        width = phone.page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"page scrolls sideways on a phone: {width}"
        for name in ("POST current timestamp", "GET: refresh now", "Send"):
            box = phone.button(name).bounding_box()
            assert (
                box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
            ), name
            assert box["height"] >= 40, f"{name} is too small to tap: {box}"
        phone.shot("phone.png")
    finally:
        phone.context.close()

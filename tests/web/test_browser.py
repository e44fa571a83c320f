"""The page in a real browser: Playwright driving Debian's Chromium (never a downloaded browser) against the page
served on 127.0.0.1 beside the Telegram backend, which talks to the local Telegram server on the test clock.

One browser for the module's one story, which walks every page; screenshots of the main pages go under
tests/artifacts/web/ (printed), for a reviewer to look at.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import open_app
from bot.config import Settings
from bot.telegram_backend.backend import TelegramBackend, TelegramOptions
from bot.web.server import start_page
from handlers.i18n import Translator
from tests.clock import TestClock
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.harness import TOKEN, TelegramHarness
from tests.web.conftest import COURSE, OTHER, populate

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "web"

playwright_api = pytest.importorskip("playwright.async_api")
pytestmark = pytest.mark.skipif(shutil.which("chromium") is None, reason="run scripts/install-system-packages")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def telegram_with_page(settings: Settings, clock: TestClock, tg: FakeTelegram) -> AsyncIterator[TelegramHarness]:
    """What ``studybot run --web`` runs: the Telegram backend and the page, in one process over one core."""
    options = TelegramOptions(token=TOKEN, api_base_url=tg.base_url.removesuffix("/bot"), poll_timeout=1)
    backend = TelegramBackend(options, Translator.load(settings.default_language), clock)
    async with open_app(settings, {backend.platform: backend}, clock, web=True) as app:
        await backend.start(app.dispatcher.dispatch)
        page = await start_page(settings, app)
        try:
            await app.scheduler.tick()
            yield TelegramHarness(tg, app, backend, clock, None)
        finally:
            await page.cleanup()
            await backend.stop()


async def test_an_instructor_works_the_page_in_chromium(settings: Settings, clock: TestClock) -> None:
    settings = settings.model_copy(update={"web_listen": f"127.0.0.1:{free_port()}"})
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots of the web page: {ARTIFACTS}")
    async with FakeTelegram(TOKEN, clock=clock) as tg, telegram_with_page(settings, clock, tg) as h:
        questions = await populate(h)
        wrong_place = await h.command("tyler", "/web")
        assert "private chat" in wrong_place
        reply = await h.command("tyler", "/web", private=True)
        found = re.search(r"(http://127\.0\.0\.1:\d+/login\?t=\S+)", reply)
        assert found, reply
        link = found.group(1)
        base = link.split("/login")[0]

        async with playwright_api.async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
            try:
                page = await browser.new_page(locale="en-US")
                dialogs: list[str] = []
                page.on("dialog", lambda dialog: dialogs.append(dialog.message))

                await page.goto(link)
                await page.click(f"a[href='/c/{COURSE}']")
                await page.wait_for_selector("ol.questions")
                assert await page.locator("li.question").count() == 4
                await page.screenshot(path=str(ARTIFACTS / "1-questions.png"), full_page=True)

                await page.fill("input[name=q]", "GPU")
                await page.click("form.filters button")
                assert await page.locator("li.question").count() == 1
                assert "Which GPU" in await page.inner_text("ol.questions")
                await page.fill("input[name=q]", "分布式")
                await page.click("form.filters button")
                assert "分布式训练" in await page.inner_text("ol.questions")
                await page.screenshot(path=str(ARTIFACTS / "2-search-chinese.png"), full_page=True)
                await page.fill("input[name=q]", "")
                await page.select_option("select[name=state]", "answered")
                await page.click("form.filters button")
                assert await page.locator("li.question").count() == 0

                await page.goto(f"{base}/c/{COURSE}/q/{questions['hostile']}")
                shown = await page.inner_text("#question-text")
                assert "<script>" in shown and "onerror" in shown  # as text, not markup
                assert await page.locator("main script, main img").count() == 0
                assert dialogs == []
                await page.screenshot(path=str(ARTIFACTS / "3-hostile-question.png"), full_page=True)

                await page.goto(f"{base}/c/{COURSE}/q/{questions['gpu']}")
                await page.fill("textarea#answer", "An RTX 4090 is plenty.")
                await page.click("form.answer-form button")
                await page.wait_for_selector("#answer-text")
                await page.screenshot(path=str(ARTIFACTS / "4-answered.png"), full_page=True)
                await h.settle()
                assert any(
                    "An RTX 4090 is plenty." in m and "Answer from instructor" in m for m in h.group_messages()
                ), h.group_messages()

                await page.goto(f"{base}/c/{COURSE}")
                async with page.expect_response(lambda r: r.url.endswith("/chart.png")) as drawn:
                    await page.click("a.chart-link")
                assert (await drawn.value).status == 200
                await page.wait_for_load_state("load")
                await page.screenshot(path=str(ARTIFACTS / "5-chart.png"), full_page=True)

                other = await page.goto(f"{base}/c/{OTHER}")
                assert other is not None and other.status == 404
                await page.screenshot(path=str(ARTIFACTS / "6-other-course.png"))

                clock.advance(hours=5)
                fresh = await browser.new_page(locale="zh-CN")
                expired = await fresh.goto(link)
                assert expired is not None and expired.status == 410
                assert "过期" in await fresh.inner_text("#error")
                await fresh.screenshot(path=str(ARTIFACTS / "7-expired-link.png"))
            finally:
                await browser.close()

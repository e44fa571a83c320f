"""``/web`` in the chat: a signed link for instructors in a private chat, and a course's read-only share link."""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import AsyncIterator

from bot.app import open_app
from bot.config import Settings
from bot.console import ConsoleBackend
from tests.clock import TestClock
from tests.scenarios.harness import ConsoleHarness
from tests.web.conftest import COURSE, populate


async def test_without_the_page_web_says_how_to_start_it(console: ConsoleHarness) -> None:
    await populate(console)
    assert "--web" in await console.command("tyler", "/web", private=True)


@contextlib.asynccontextmanager
async def console_with_page(settings: Settings, clock: TestClock) -> AsyncIterator[ConsoleHarness]:
    """The console group of ``studybot run --web``: /web can hand out the page's links."""
    out = io.StringIO()
    backend = ConsoleBackend(out, clock, session="t", charts_dir=settings.database_path.parent / "charts")
    async with open_app(settings, {backend.platform: backend}, clock, web=True) as app:
        await app.scheduler.tick()
        yield ConsoleHarness(app, backend, out, clock)


async def test_web_gives_instructors_a_link_and_admins_a_share_link(settings: Settings, clock: TestClock) -> None:
    settings = settings.model_copy(update={"web_base_url": "https://study.example.org"})
    async with console_with_page(settings, clock) as h:
        await populate(h)
        assert "private chat" in await h.command("tyler", "/web")
        assert "Only a course's instructors" in await h.command("alice", "/web", private=True)
        link = await h.command("tyler", "/web", private=True)
        assert re.search(r"https://study\.example\.org/login\?t=[\w\-.]+", link), link
        assert "Only the group's admins" in await h.command("alice", "/web share")
        shared = await h.command("anna", "/web share", admin=True)
        token = re.search(r"https://study\.example\.org/share/([\w\-]+)", shared)
        assert token, shared
        assert await h.app.store.web_share_course(token.group(1)) == COURSE
        assert "is off" in await h.command("anna", "/web share off", admin=True)
        assert await h.app.store.web_share_course(token.group(1)) is None
        assert "has no share link" in await h.command("anna", "/web share off", admin=True)
        assert "Usage" in await h.command("anna", "/web nonsense", admin=True)


async def test_the_links_come_from_the_service(settings: Settings, clock: TestClock) -> None:
    from bot.app import open_app
    from handlers.vocabulary.domain import Member

    settings = settings.model_copy(update={"web_base_url": "https://study.example.org/"})
    async with ConsoleHarness.open(settings, clock) as h:
        await populate(h)
    async with open_app(settings, {}, clock, web=True) as app:
        links = app.services.web_links
        assert links is not None
        login = await links.login_link(Member("console", "tyler", "Tyler"), "tyler")
        assert re.fullmatch(r"https://study\.example\.org/login\?t=[\w\-.]+", login)
        share = await links.share_link(COURSE)
        assert share == await links.share_link(COURSE)  # one per course until revoked
        assert await links.revoke_share(COURSE)
        assert not await links.revoke_share(COURSE)
        assert await links.share_link(COURSE) != share

"""A course with an instructor, questions in Chinese and English and a hostile one, on the console backend; and
the web app on aiohttp's test server over the same store, clock and dispatcher."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.web.auth import LINK_LIFETIME, Signer, Visitor
from bot.web.server import build_app
from handlers.vocabulary.domain import Course, LessonDraft
from storage.web_reads import WebFilter
from tests.scenarios.harness import ConsoleHarness, StudyGroupHarness

COURSE = "ai-systems"
OTHER = "other-course"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> why does this break?'


@dataclass
class WebSetup:
    h: ConsoleHarness
    client: TestClient
    signer: Signer
    questions: dict[str, int]

    def login_link(self, user: str = "tyler", *, hours: float | None = None) -> str:
        lifetime = LINK_LIFETIME if hours is None else timedelta(hours=hours)
        expires = self.h.clock.now() + lifetime
        token = self.signer.sign("login", Visitor("console", user, user.title()), expires)
        return f"/login?t={token}"


async def populate(h: StudyGroupHarness | ConsoleHarness) -> dict[str, int]:
    await h.add_course(COURSE, "AI Systems in Practice")
    await h.add_lesson(LessonDraft(COURSE, "intro", "Why learn AI systems", "Welcome.", "https://example.com/0", 0))
    await h.add_lesson(LessonDraft(COURSE, "gpus", "GPUs", "Hardware.", "https://example.com/1", 1))
    await h.command("anna", f"/setup {COURSE}", admin=True)
    await h.command("anna", "/lesson", admin=True)
    post = h.lesson_post("Why learn AI systems")
    hello = await h.say("tyler", "Hi all, I am the instructor.")
    await h.command("anna", "/instructor", admin=True, reply_to=hello)
    texts = {
        "gpu": "Which GPU should I buy for the labs?",
        "zh": "什么时候讲分布式训练？",
        "short": "显存不够怎么办",
        "hostile": HOSTILE,
    }
    for user, key in zip(("alice", "bob", "carol", "dave"), texts, strict=True):
        await h.say(user, texts[key], reply_to=post)
    # Another course with its own instructor and a question: never visible from the first.
    await h.app.store.upsert_course(Course(slug=OTHER, title="Other", language="zh"), h.clock.now())
    await h.add_lesson(LessonDraft(OTHER, "l1", "Other lesson", "x", "https://example.com/o", 0))
    ids: dict[str, int] = {}
    found, _ = await h.app.store.web_questions(WebFilter(COURSE))
    for key, text in texts.items():
        match = [q.id for q in found if q.text == text]
        assert match, (key, [q.text for q in found])
        ids[key] = match[0]
    return ids


@pytest.fixture
async def web(settings, clock) -> AsyncIterator[WebSetup]:  # type: ignore[no-untyped-def]
    async with ConsoleHarness.open(settings, clock) as h:
        questions = await populate(h)
        secret = await h.app.store.web_secret()
        app = await build_app(
            h.app.store, h.app.dispatcher.dispatch, clock, h.app.services.i18n, secret, h.app.services
        )
        async with TestClient(TestServer(app)) as client:
            yield WebSetup(h, client, Signer(secret), questions)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, html
    return match.group(1)

"""Two platforms' leaders sending one digest at once (issue 13): two studybot processes on one SQLite file, one
leading Discord, the other Telegram, on one test clock. Each delivers its own share; the digest must end up
marked sent however their steps interleave, without waiting for a later wake-up."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from itertools import count
from pathlib import Path

from bot.app import open_app
from bot.config import Settings
from handlers.vocabulary.actions import Action, DirectMessage
from handlers.vocabulary.domain import ChatRef, Course, Instructor, LessonDraft, Member, MessageRef, NewPost, PostKind
from handlers.vocabulary.events import DigestDue, Leading
from tests.clock import TestClock

COURSE = "ai-systems"
PLATFORMS = ("discord", "telegram")


class HeldDirectMessages:
    """A platform's backend whose private messages are held until every leader has begun sending its share: the
    interleaving in which each leader reads the digest's deliveries before the other's is recorded."""

    def __init__(self, platform: str, all_sending: asyncio.Barrier) -> None:
        self.platform = platform
        self.sent: list[str] = []
        self._all_sending = all_sending
        self._ids = count(1)

    async def send(self, action: Action) -> MessageRef | None:
        assert isinstance(action, DirectMessage), action
        await self._all_sending.wait()
        self.sent.append(action.user_id)
        return MessageRef(self.platform, action.user_id, str(next(self._ids)))

    def link_to(self, ref: MessageRef) -> str | None:
        return None


async def test_two_leaders_finishing_together_mark_the_digest_sent(tmp_path: Path) -> None:
    settings = Settings(database_path=tmp_path / "shared.db", _env_file=None)  # type: ignore[call-arg]
    clock = TestClock()
    barrier = asyncio.Barrier(len(PLATFORMS))
    backends = {platform: HeldDirectMessages(platform, barrier) for platform in PLATFORMS}
    async with (
        open_app(settings, {"discord": backends["discord"]}, clock, holder="discord-leader") as discord,
        open_app(settings, {"telegram": backends["telegram"]}, clock, holder="telegram-leader") as telegram,
    ):
        store = discord.store
        await store.upsert_course(Course(COURSE, "AI"), clock.now())
        lesson, _ = await store.upsert_lesson(LessonDraft(COURSE, "l1", "Lesson 1"), clock.now())
        group = await store.setup_group(ChatRef("discord", "g1"), "Group", COURSE, "en")
        asker = Member("discord", "u1", "Ann")
        ref = MessageRef("discord", "g1", "m1")
        await store.add_post(
            NewPost(lesson.id, group.id, asker, ref, "How do I install CUDA?", PostKind.QUESTION, clock.now())
        )
        for platform in PLATFORMS:
            await store.add_instructor(Instructor(COURSE, platform, f"tyler-{platform}", "Tyler"))
        clock.advance(days=7)
        due = clock.now() - timedelta(minutes=1)

        def leading(platform: str) -> Leading:
            return Leading(frozenset({platform}), frozenset(PLATFORMS) - {platform})

        await asyncio.gather(
            discord.dispatcher.dispatch(DigestDue(COURSE, due, leading("discord"))),
            telegram.dispatcher.dispatch(DigestDue(COURSE, due, leading("telegram"))),
        )

        assert backends["discord"].sent == ["tyler-discord"] and backends["telegram"].sent == ["tyler-telegram"]
        assert await store.unsent_digests() == []  # marked sent now, not at a leader's next wake-up

"""Webhook workers (issue 13): updates deduplicated by update_id in the database, several `studybot run` processes
on one port and one SQLite file, and polling that ends clearly when another process polls with the token."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bot.app import App, open_app
from bot.config import Settings
from bot.telegram_backend.backend import TelegramBackend, TelegramOptions
from handlers.i18n import Translator
from handlers.vocabulary.domain import Course, LessonDraft
from storage import SqliteStore
from tests.clock import TestClock
from tests.fakes.telegram_api import FakeTelegram
from tests.process import studybot
from tests.telegram.harness import TOKEN, visible

COURSE = "ai-systems"
SECRET = "s3cret-token_value"
START_UP = 20.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def seed(database: Path, clock: TestClock) -> None:
    """A course with one lesson, written before any worker starts (so no two of them migrate at once)."""
    store = await SqliteStore.open(database)
    try:
        await store.upsert_course(Course(COURSE, "AI Systems", language="en"), clock.now())
        await store.upsert_lesson(LessonDraft(COURSE, "intro", "Why learn AI systems", "Welcome."), clock.now())
    finally:
        await store.close()


class Group:
    """A supergroup where the bot is an admin, with an admin who sets it up, as people act through the fake."""

    def __init__(self, tg: FakeTelegram) -> None:
        self.tg = tg
        self.chat = tg.add_chat("supergroup", "AI study group")
        tg.set_bot_admin(self.chat, True)
        self.admin = self.member("anna", "administrator")

    def member(self, name: str, status: str = "member") -> dict[str, Any]:
        user = self.tg.add_user(name, username=name)
        self.tg.add_member(self.chat, user, status=status)
        return user

    async def settled(self, within: float = 20.0) -> None:
        await self.tg.wait_for(lambda t: t.pending_updates() == 0, timeout=within, what="the updates to be handled")

    async def command(self, text: str) -> str:
        before = len(self.tg.sent(self.chat["id"]))
        self.tg.user_sends(self.chat, self.admin, text)
        await self.tg.wait_for(
            lambda t: len(t.sent(self.chat["id"])) > before, timeout=START_UP, what=f"the answer to {text}"
        )
        await self.settled()
        return "\n".join(visible(m) for m in self.tg.sent(self.chat["id"])[before:])

    async def set_up_with_lesson(self) -> int:
        """/setup, then the lesson post's message id (posted by /setup, or by /lesson)."""
        await self.command(f"/setup {COURSE}")
        posts = [m for m in self.tg.sent(self.chat["id"]) if "Why learn AI systems" in visible(m)]
        if not posts:
            await self.command("/lesson")
            posts = [m for m in self.tg.sent(self.chat["id"]) if "Why learn AI systems" in visible(m)]
        assert len(posts) == 1
        return int(posts[0]["message_id"])


@asynccontextmanager
async def webhook_worker(settings: Settings, clock: TestClock, tg: FakeTelegram, port: int) -> AsyncIterator[App]:
    """The real backend in webhook mode in this process, wired as `studybot run` wires it."""
    options = TelegramOptions(
        token=TOKEN,
        api_base_url=tg.base_url.removesuffix("/bot"),
        webhook_url=f"http://127.0.0.1:{port}/telegram",
        webhook_secret=SECRET,
        webhook_listen=f"127.0.0.1:{port}",
    )
    backend = TelegramBackend(options, Translator.load("en"), clock)
    async with open_app(settings, {backend.platform: backend}, clock) as app:
        backend.use_ports(update_log=app.store)
        await backend.start(app.dispatcher.dispatch)
        try:
            yield app
        finally:
            await backend.stop()


def likes_of(database: Path, text: str) -> tuple[int, int]:
    """(the question's like count, its reaction rows), read straight from the file."""
    with sqlite3.connect(database) as db:
        row = db.execute(
            "SELECT q.likes, (SELECT COUNT(*) FROM reactions r WHERE r.question_id = q.id) FROM questions q"
            " WHERE q.text = ?",
            (text,),
        ).fetchone()
    assert row is not None, f"no question {text!r}"
    return int(row[0]), int(row[1])


async def test_an_update_delivered_twice_is_handled_once(tmp_path: Path, clock: TestClock) -> None:
    database = tmp_path / "w.db"
    settings = Settings(database_path=database, default_language="en", _env_file=None)  # type: ignore[call-arg]
    await seed(database, clock)
    async with FakeTelegram(TOKEN, clock=clock) as tg, webhook_worker(settings, clock, tg, free_port()):
        group = Group(tg)
        post = await group.set_up_with_lesson()

        alice, bob = group.member("alice"), group.member("bob")
        tg.user_sends(group.chat, alice, "Why do GPUs help?", reply_to=post)
        await group.settled()
        question = tg.webhook_deliveries[-1].update_id
        like = tg.user_reacts(group.chat, tg.messages(group.chat["id"])[-1]["message_id"], bob, new=["👍"])
        assert like is not None
        await group.settled()
        answered = len(tg.sent(group.chat["id"]))
        await group.command("/help")
        help_update = tg.webhook_deliveries[-1].update_id
        helped = len(tg.sent(group.chat["id"]))
        assert helped == answered + 1

        # Telegram did not get our 200 in time: it sends each again; each is answered 200 and not handled again.
        for update_id in (question, like["update_id"], help_update):
            tg.redeliver(update_id)
        await group.settled()
        again = [d for d in tg.webhook_deliveries if d.update_id in (question, like["update_id"], help_update)]
        assert len(again) == 6 and all(d.status == 200 for d in again)
        assert len(tg.sent(group.chat["id"])) == helped  # /help answered once
    assert likes_of(database, "Why do GPUs help?") == (1, 1)
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT COUNT(*) FROM questions WHERE text = 'Why do GPUs help?'").fetchone() == (1,)


async def test_two_worker_processes_on_one_port_count_every_like_once(tmp_path: Path, clock: TestClock) -> None:
    """Two real `studybot run` processes behind one URL (SO_REUSEPORT), one SQLite file; Telegram (the fake) opens
    a connection per delivery, several at once, and also redelivers part of the burst."""
    database = tmp_path / "studybot.db"  # tests.process puts every worker's DATABASE_PATH here
    await seed(database, clock)
    port = free_port()
    async with FakeTelegram(TOKEN, clock=clock, webhook_connections=8, webhook_tls_proxy=True) as tg:
        env = {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": tg.base_url.removesuffix("/bot"),
            "TELEGRAM_WEBHOOK_URL": f"https://127.0.0.1:{port}/telegram",  # TLS ends at the "proxy" (the fake)
            "TELEGRAM_WEBHOOK_SECRET": SECRET,
            "TELEGRAM_WEBHOOK_LISTEN": f"127.0.0.1:{port}",
            "LOG_LEVEL": "INFO",
        }
        async with studybot(tmp_path, "run", env=env) as one, studybot(tmp_path, "run", env=env) as two:
            for worker in (one, two):
                await worker.wait_for_output("listening on", within=START_UP)
            group = Group(tg)
            post = await group.set_up_with_lesson()
            alice = group.member("alice")
            tg.user_sends(group.chat, alice, "What is a TPU?", reply_to=post)
            await group.settled()
            question = tg.messages(group.chat["id"])[-1]["message_id"]

            fans = [group.member(f"fan{n}") for n in range(120)]
            burst = [tg.user_reacts(group.chat, question, fan, new=["👍"]) for fan in fans]
            await group.settled(within=60)
            for update in burst[::3]:  # a third of them again, as after answers that came too late
                assert update is not None
                tg.redeliver(update["update_id"])
            await group.settled(within=60)
            for worker in (one, two):
                worker.send_signal(2)
            finished = [await one.finish(within=15), await two.finish(within=15)]
    assert [f.returncode for f in finished] == [0, 0], [f.stderr for f in finished]
    for f in finished:
        f.assert_quiet()
    assert likes_of(database, "What is a TPU?") == (120, 120)
    served = [f.stderr.count("POST /telegram") for f in finished]
    assert all(n > 0 for n in served), served  # the kernel spread the connections over both workers
    assert sum(served) == len(tg.webhook_deliveries)


async def test_a_second_polling_process_ends_with_a_clear_message(tmp_path: Path, clock: TestClock) -> None:
    async with FakeTelegram(TOKEN, clock=clock) as tg:
        env = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": tg.base_url.removesuffix("/bot")}
        first_dir, second_dir = tmp_path / "a", tmp_path / "b"
        first_dir.mkdir()
        second_dir.mkdir()
        async with studybot(first_dir, "run", env=env) as first, studybot(second_dir, "run", env=env) as second:
            # Each long poll ends the other's with 409 until one of them gives up; the other polls on.
            done, _ = await asyncio.wait(
                [asyncio.create_task(p.process.wait()) for p in (first, second)],
                timeout=60,
                return_when=asyncio.FIRST_COMPLETED,
            )
            assert done, "neither process ended"
            ended, survivor = (first, second) if first.process.returncode is not None else (second, first)
            finished = await ended.finish(within=5)
            assert survivor.process.returncode is None
            survivor.send_signal(15)
            assert (await survivor.finish(within=15)).returncode == 0
    assert finished.returncode == 2, finished.stderr
    lines = [line for line in finished.stderr.splitlines() if line.startswith("studybot:")]
    assert lines == [
        "studybot: Telegram answers 409 Conflict: another process is polling with this TELEGRAM_BOT_TOKEN (or a"
        " webhook is set for it). Only one process may poll; to run several, use webhook mode (TELEGRAM_WEBHOOK_URL)."
    ]
    finished.assert_quiet()

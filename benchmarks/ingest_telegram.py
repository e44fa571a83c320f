"""Telegram ingest benchmark: reactions/s from the local Bot API server through python-telegram-bot into
committed likes.

Run: ``.venv/bin/python benchmarks/ingest_telegram.py [--events N]``. It prints numbers and asserts nothing.

Both runs get the same burst of ``message_reaction`` updates from the local server (tests/fakes/telegram_api.py)
over real HTTP long polling:

(a) baseline: python-telegram-bot's own Application and Updater dispatching every update to a handler that
    does nothing;
(b) studybot: the Telegram backend translating each update and the core committing the like (group commit in
    SQLite), timed until every update is confirmed to the server, which the backend does only after commit;
(c) the ratio (b)/(a) — the share of the library's own rate that studybot keeps (target ≥ 0.8).
(d) CPU time per event, (a)/(b): the same comparison in process CPU time (both threads), which the
    neighbours of a shared machine do not move as they move wall-clock rates.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, TypeHandler

from benchmarks.rounds import Run, compare, timed
from bot.app import open_app
from bot.config import Settings
from bot.telegram_backend.backend import TelegramBackend, TelegramOptions
from handlers.domain import ChatRef, Course, LessonDraft, Member, MessageRef, NewPost, PostKind
from handlers.i18n import Translator
from tests.clock import TestClock
from tests.fakes.telegram_api import FakeTelegram

TOKEN = "123456:AAbenchmark-token-for-the-local-bot-api"
QUESTIONS, USERS = 200, 100


def world(tg: FakeTelegram) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    chat = tg.add_chat("supergroup", "Bench group")
    tg.set_bot_admin(chat, True)
    users = [tg.add_user(f"u{n}") for n in range(USERS)]
    return chat, users


def burst(tg: FakeTelegram, chat: dict[str, Any], users: list[dict[str, Any]], n: int) -> None:
    """n reactions, each a different (member, question) pair, all queued at once on the server."""
    made = 0
    for user in users:
        for message_id in range(1, QUESTIONS + 1):
            if made == n:
                return
            tg.user_reacts(chat, message_id, user, new=["👍"], old=[])
            made += 1


async def baseline(n: int) -> Run:
    async with FakeTelegram(TOKEN, clock=TestClock()) as tg:
        chat, users = world(tg)
        seen, done = 0, asyncio.Event()

        async def count(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            nonlocal seen
            if update.message_reaction is not None:
                seen += 1
                if seen == n:
                    done.set()

        app = ApplicationBuilder().token(TOKEN).base_url(tg.base_url).build()
        app.add_handler(TypeHandler(Update, count))
        async with app:
            await app.start()
            await app.updater.start_polling(  # type: ignore[union-attr]
                timeout=1, allowed_updates=["message", "message_reaction"]
            )
            await asyncio.sleep(0.2)  # let the first long poll register allowed_updates with the server
            burst(tg, chat, users, n)
            with timed(Run(), n) as run:
                await asyncio.wait_for(done.wait(), 600)
            await app.updater.stop()  # type: ignore[union-attr]
            await app.stop()
    return run


async def studybot(n: int, folder: Path) -> Run:
    clock = TestClock()
    settings = Settings(database_path=folder / "bench.db", default_language="en", _env_file=None)  # type: ignore[call-arg]
    async with FakeTelegram(TOKEN, clock=clock) as tg:
        chat, users = world(tg)
        options = TelegramOptions(token=TOKEN, api_base_url=tg.base_url.removesuffix("/bot"), poll_timeout=1)
        backend = TelegramBackend(options, Translator.load("en"))
        async with open_app(settings, {backend.platform: backend}, clock) as app:
            store = app.store
            await store.upsert_course(Course("bench", "Bench", language="en"), clock.now())
            lesson, _ = await store.upsert_lesson(LessonDraft("bench", "l", "Lesson"), clock.now())
            group = await store.setup_group(ChatRef("telegram", str(chat["id"])), "Bench", "bench", "en")
            author = Member("telegram", "1", "Author")
            for message_id in range(1, QUESTIONS + 1):
                ref = MessageRef("telegram", str(chat["id"]), str(message_id))
                post = NewPost(
                    lesson.id, group.id, author, ref, f"Question {message_id}?", PostKind.QUESTION, clock.now()
                )
                await store.add_post(post)
            await backend.start(app.dispatcher.dispatch)
            await asyncio.sleep(0.2)  # as in the baseline: the first long poll is waiting
            burst(tg, chat, users, n)
            with timed(Run(), n) as run:
                await tg.wait_for(lambda t: t.pending_updates() == 0, timeout=600)
            run.likes = (await store.stats("bench")).likes
            await backend.stop()
    return run


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000, help="reactions per run (default 10,000)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds of (a) and (b) (default 5)")
    args = parser.parse_args()
    n = min(args.events, QUESTIONS * USERS)
    logging.basicConfig(level=logging.WARNING)
    await compare(baseline, studybot, n, args.rounds, "reactions")


if __name__ == "__main__":
    asyncio.run(main())

"""Telegram ingest benchmark: reactions/s from the local Bot API server through python-telegram-bot into
committed likes.

Run: ``.venv/bin/python benchmarks/ingest_telegram.py [--events N] [--rounds R] [--reference] [--no-targets]``.

Both runs get the same burst of ``message_reaction`` updates from the local server (tests/fakes/telegram_api/)
over real HTTP long polling:

(a) baseline: the library taking the same getUpdates batches at the same place as studybot and doing nothing
    with them — the Application studybot builds (TelegramBackend's, no Updater), polled the way studybot
    polls (``bot.get_updates`` with studybot's allowed updates, the offset moved past a batch once it is
    handled), every Update handed to a handler that does nothing; timed, like (b), until the server has every
    update confirmed;
(a') with ``--reference``, the older baseline for context: python-telegram-bot's own Updater and Application
    dispatching every update through its handler groups to a TypeHandler that does nothing;
(b) studybot: the Telegram backend translating each update and the core committing the like (group commit in
    SQLite), timed until every update is confirmed to the server (which the backend does once a batch's likes
    are kept in the store) and every like is counted;
(c) the ratio (b)/(a) — the share of the library's own rate that studybot keeps — per round, with its
    min / median / max; target: median ≥ 0.8;
(d) CPU time per event, (a)/(b): the same comparison in process CPU time (both threads), which the
    neighbours of a shared machine do not move as they move wall-clock rates.

Every studybot round checks its work: exactly N reaction rows and N likes counted in the database; otherwise
it stops with "ROUND FAILED" and exit status 2. Exit status 1 when the median ratio misses the target (not with
``--no-targets``, the test suite's quick run), 0 otherwise; figures printed either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, TypeHandler

from benchmarks import rounds
from benchmarks.round_stores import RoundStores
from benchmarks.rounds import RoundFailed, Run, Side, compare, timed
from bot.app import open_app
from bot.telegram_backend.backend import ALLOWED_UPDATES, TelegramBackend, TelegramOptions
from handlers.i18n import Translator
from handlers.vocabulary.domain import ChatRef, Course, LessonDraft, Member, MessageRef, NewPost, PostKind
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


def options(tg: FakeTelegram) -> TelegramOptions:
    return TelegramOptions(token=TOKEN, api_base_url=tg.base_url.removesuffix("/bot"), poll_timeout=1)


async def poll_baseline(n: int) -> Run:
    """(a) python-telegram-bot alone, polled as studybot polls: reactions/s until every update is confirmed."""
    async with FakeTelegram(TOKEN, clock=TestClock()) as tg:
        chat, users = world(tg)
        seen = 0

        def nothing(update: Update) -> None:
            nonlocal seen
            if update.message_reaction is not None:
                seen += 1

        opts = options(tg)
        app = TelegramBackend(opts, Translator.load("en"), TestClock()).application  # built as studybot builds it
        await app.initialize()
        bot = app.bot

        async def poll() -> None:
            offset: int | None = None
            while True:
                updates = await bot.get_updates(
                    offset=offset, timeout=opts.poll_timeout, allowed_updates=ALLOWED_UPDATES
                )
                for update in updates:
                    nothing(update)
                if updates:
                    offset = updates[-1].update_id + 1

        poller = asyncio.create_task(poll())
        await asyncio.sleep(0.2)  # as for studybot: the first long poll is waiting
        burst(tg, chat, users, n)
        with timed(Run(), n) as run:
            await tg.wait_for(lambda t: t.pending_updates() == 0, timeout=600)
        poller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poller
        await app.shutdown()
        if seen != n:
            raise RoundFailed(f"the baseline saw {seen:,} of {n:,} reactions")
    return run


async def updater_baseline(n: int) -> Run:
    """(a') python-telegram-bot's Updater and handler groups: reactions/s until the n-th handler call."""
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


async def studybot(n: int, folder: Path, stores: RoundStores) -> Run:
    clock = TestClock()
    settings = stores.settings(folder)
    async with FakeTelegram(TOKEN, clock=clock) as tg:
        chat, users = world(tg)
        backend = TelegramBackend(options(tg), Translator.load("en"), clock)
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
                await store.settled()  # the last batch's likes are kept once confirmed: timed until counted
            await backend.stop()
            if app.dispatcher.failed_events:
                raise RoundFailed(f"{app.dispatcher.failed_events:,} events (runs of reactions) logged as failed")
        run.likes = await stores.check_committed(settings, n)
    return run


async def main() -> int:
    args = rounds.arguments(__doc__.split("\n\n")[0], "reactions")
    n = min(args.events, QUESTIONS * USERS)
    baseline = Side("python-telegram-bot, studybot's Application and getUpdates, do-nothing handler", poll_baseline)
    reference = Side("python-telegram-bot, Updater and handler groups, TypeHandler (old baseline)", updater_baseline)
    async with RoundStores(args.store) as stores:
        return await compare(
            baseline,
            lambda events, folder: studybot(events, folder, stores),
            n,
            args.rounds,
            "reactions",
            reference=reference if args.reference else None,
            targets=not args.no_targets,
        )


if __name__ == "__main__":
    rounds.main(main)

"""kill -9 in the middle of a burst of 1,000 reactions, then a restart: exactly the right like counts.

The bot runs as a real process (`studybot run`) against the local Bot API server in this test's event loop.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path

from handlers.vocabulary.domain import Course, LessonDraft
from storage import SqliteStore
from tests.clock import TestClock
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.harness import TOKEN, visible

REACTORS = 1000
WITHDRAWN = 100  # the first hundred take their 👍 back later in the burst


async def start_bot(
    tg: FakeTelegram, db: Path, workdir: Path, log_level: str = "WARNING"
) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_TOKEN")}
    env.update(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": tg.base_url.removesuffix("/bot"),
            "TELEGRAM_POLL_TIMEOUT": "1",
            "DATABASE_PATH": str(db),
            "DEFAULT_LANGUAGE": "en",
            "LOG_LEVEL": log_level,
        }
    )
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        cwd=workdir,  # which holds no .env
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_kill_9_during_a_reaction_burst_loses_and_doubles_nothing(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    async with await SqliteStore.open(db) as store:
        now = datetime.now(UTC)
        await store.upsert_course(Course("ai", "AI", language="en"), now)
        await store.upsert_lesson(LessonDraft("ai", "intro", "Crash course", "Intro."), now)

    async with FakeTelegram(TOKEN, clock=TestClock()) as tg:
        chat = tg.add_chat("supergroup", "Burst group")
        tg.set_bot_admin(chat, True)
        anna, alice = tg.add_user("Anna"), tg.add_user("Alice")
        tg.add_member(chat, anna, status="administrator")
        reactors = [tg.add_user(f"R{n}") for n in range(REACTORS)]

        first = await start_bot(tg, db, tmp_path)
        try:
            tg.user_sends(chat, anna, "/setup ai")
            tg.user_sends(chat, anna, "/lesson")
            await tg.wait_for(lambda t: any("Crash course" in visible(m) for m in t.sent(chat["id"])), timeout=20)
            post = next(m for m in tg.sent(chat["id"]) if "Crash course" in visible(m))
            question = tg.user_sends(chat, alice, "Will my like survive a crash?", reply_to=post["message_id"])
            await tg.wait_for(lambda t: t.pending_updates() == 0, timeout=20)

            burst_start = tg.confirmed_offset
            for user in reactors:
                tg.user_reacts(chat, question["message_id"], user, new=["👍"])
            for user in reactors[:WITHDRAWN]:
                tg.user_reacts(chat, question["message_id"], user, new=[])
            await tg.wait_for(lambda t: t.confirmed_offset >= burst_start + 300, timeout=30)
        finally:
            first.send_signal(signal.SIGKILL)
            await first.wait()
        left = tg.pending_updates()
        assert 0 < left < REACTORS + WITHDRAWN, left  # killed in the middle, with work still unconfirmed

        second = await start_bot(tg, db, tmp_path)
        try:
            await tg.wait_for(lambda t: t.pending_updates() == 0, timeout=60, what="the restarted bot to catch up")
        finally:
            second.send_signal(signal.SIGTERM)
            _, stderr = await second.communicate()
        assert second.returncode == 0, stderr.decode()

    with sqlite3.connect(db) as raw:
        likes, reactions = raw.execute(
            "SELECT likes, (SELECT count(*) FROM reactions r WHERE r.question_id = q.id) FROM questions q"
            " WHERE text = 'Will my like survive a crash?'"
        ).fetchone()
    assert (likes, reactions) == (REACTORS - WITHDRAWN, REACTORS - WITHDRAWN)


async def test_the_token_never_reaches_the_logs(tmp_path: Path) -> None:
    async with FakeTelegram(TOKEN, clock=TestClock()) as tg:
        chat = tg.add_chat("supergroup", "Log group")
        anna = tg.add_user("Anna")
        tg.add_member(chat, anna, status="administrator")
        bot = await start_bot(tg, tmp_path / "log.db", tmp_path, log_level="INFO")
        try:
            tg.user_sends(chat, anna, "/help")
            await tg.wait_for(lambda t: bool(t.sent(chat["id"])), timeout=20)
        finally:
            bot.send_signal(signal.SIGTERM)
            _, stderr = await bot.communicate()
    log = stderr.decode()
    # INFO logging was on. (Not "studybot is running": a SIGTERM may now cut start-up short after the reply.)
    assert "telegram: polling as @" in log
    assert TOKEN not in log and TOKEN.split(":", 1)[1] not in log

"""Broadcast benchmark: one lesson to many Telegram groups at Telegram's rate, never above it.

Run: ``.venv/bin/python benchmarks/broadcast.py [--groups N] [--latency S]``. The local Bot API server
(tests/fakes/telegram_api/) enforces Telegram's published limits (30 messages a second overall, 20 a minute
per group; it answers 429 above them) and adds a round trip to every call (100 ms by default). The real
TelegramBackend sends; the core's broadcast (handlers/features/lessons.py) runs as in production.

Prints (a) the broadcast's time, (b) the platform's limit time (groups / 30 msgs/s), (c) their ratio (b)/(a),
the share of the allowed rate achieved (target ≥ 0.9), (d) the 429s the server answered (target 0) and
(e) groups missed or doubled (target 0). Exits non-zero when a target is missed; prints the figures either way.
1,000 groups take at least 33 s by design; ``--groups`` runs smaller (the ratio is then lower: the first
round trips weigh more).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.app import open_app
from bot.config import Settings
from bot.telegram_backend.backend import TelegramBackend, TelegramOptions
from handlers.features.lessons import publish_lesson
from handlers.i18n import Translator
from handlers.vocabulary.domain import ChatRef, Course, LessonDraft
from tests.clock import TestClock
from tests.fakes.telegram_api import FakeTelegram

TOKEN = "123456:AAbenchmark-token-for-the-local-bot-api"
COURSE = "bench"
PER_SECOND = 30
TARGET_RATIO = 0.9


async def run(groups: int, latency: float, database: Path) -> bool:
    clock = TestClock()
    settings = Settings(database_path=database, default_language="en", _env_file=None)  # type: ignore[call-arg]
    async with FakeTelegram(TOKEN, clock=clock) as tg:
        options = TelegramOptions(token=TOKEN, api_base_url=tg.base_url.removesuffix("/bot"), poll_timeout=1)
        backend = TelegramBackend(options, Translator.load("en"), clock)
        async with open_app(settings, {backend.platform: backend}, clock) as app:
            await backend.start(app.dispatcher.dispatch)
            try:
                await app.store.upsert_course(Course(COURSE, "Bench"), clock.now())
                chats = []
                for i in range(groups):
                    chat = tg.add_chat("supergroup", f"Group {i}")
                    tg.set_bot_admin(chat, True)
                    await app.store.setup_group(ChatRef("telegram", str(chat["id"])), f"Group {i}", COURSE, "en")
                    chats.append(chat)
                lesson, _ = await app.store.upsert_lesson(LessonDraft(COURSE, "l1", "Lesson 1"), clock.now())
                tg.enable_rate_limits()
                tg.latency = latency
                started = time.monotonic()
                posted = await publish_lesson(app.services, lesson.id)
                took = time.monotonic() - started
            finally:
                await backend.stop()
    counts = [len(tg.sent(chat)) for chat in chats]
    missed, doubled = counts.count(0), sum(1 for n in counts if n > 1)
    floods = len(tg.floods)
    limit = groups / PER_SECOND
    ratio = limit / took
    print(f"groups: {groups}, round trip: {latency * 1000:.0f} ms, posts reported: {posted}")
    print(f"(a) broadcast time: {took:.2f} s")
    print(f"(b) platform limit time ({groups} / {PER_SECOND} msgs/s): {limit:.2f} s")
    print(f"(c) ratio (b)/(a), allowed rate achieved: {ratio:.3f} (target >= {TARGET_RATIO})")
    print(f"(d) 429 answers: {floods} (target 0)")
    print(f"(e) groups missed: {missed}, doubled: {doubled} (target 0)")
    ok = ratio >= TARGET_RATIO and floods == 0 and missed == 0 and doubled == 0
    print("targets met" if ok else "TARGET MISSED")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--groups", type=int, default=1000, help="groups following the course (default 1000)")
    parser.add_argument("--latency", type=float, default=0.1, help="round trip of each call, seconds (0.1)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        ok = asyncio.run(run(args.groups, args.latency, Path(tmp) / "bench.db"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

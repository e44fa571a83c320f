"""Broadcast benchmark: one lesson to many Telegram groups and Discord channels at each platform's rate.

Run: ``.venv/bin/python benchmarks/broadcast.py [--groups N] [--latency S] [--platform telegram|discord|both]``.
The local Bot API server (tests/fakes/telegram_api/) enforces Telegram's published limits (30 messages a second
overall, 20 a minute per group; it answers 429 above them); the local Discord server (tests/fakes/discord_api/)
enforces Discord's global limit (50 requests a second, 429 with ``"global": true``) and each route's bucket.
Both add a round trip to every call (100 ms by default). The real backends send; the core's broadcast
(handlers/features/lessons.py) runs as in production.

Prints (a) the broadcast's time, (b) the platform's limit time (Telegram: groups / 30 messages a second;
Discord: the broadcast's REST requests / 50 a second, two per channel: the lesson and its thread), (c) their
ratio (b)/(a), the share of the allowed rate achieved (target ≥ 0.9), (d) the 429s the server answered
(target 0) and (e) groups missed or doubled (target 0). Exits non-zero when a target is missed on either
platform; prints the figures either way. 1,000 groups take at least 33 s on Telegram and 40 s on Discord by
design; ``--groups`` runs smaller (the ratio is then lower: the first round trips weigh more).
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
from bot.discord_backend.backend import DiscordBackend, DiscordOptions
from bot.telegram_backend.backend import TelegramBackend, TelegramOptions
from handlers.features.lessons import publish_lesson
from handlers.i18n import Translator
from handlers.vocabulary.domain import ChatRef, Course, LessonDraft
from tests.clock import TestClock
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.telegram_api import FakeTelegram

TOKEN = "123456:AAbenchmark-token-for-the-local-bot-api"
COURSE = "bench"
PER_SECOND = 30
DISCORD_PER_SECOND = 50
DISCORD_CHANNELS_PER_GUILD = 500  # Discord's cap on a guild's channels
TARGET_RATIO = 0.9


async def run_telegram(groups: int, latency: float, database: Path) -> bool:
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
    print(f"Telegram: {groups} groups, round trip: {latency * 1000:.0f} ms, posts reported: {posted}")
    return report(took, groups / PER_SECOND, f"{groups} / {PER_SECOND} msgs/s", len(tg.floods), counts)


async def run_discord(channels: int, latency: float, database: Path) -> bool:
    clock = TestClock()
    settings = Settings(database_path=database, default_language="en", _env_file=None)  # type: ignore[call-arg]
    async with FakeDiscord(clock=clock, message_content=True) as dc, dc.patch_discord():
        guilds = [dc.add_guild(f"Guild {n}") for n in range(-(-channels // DISCORD_CHANNELS_PER_GUILD))]
        targets = [dc.add_channel(guilds[i // DISCORD_CHANNELS_PER_GUILD], f"study-{i}") for i in range(channels)]
        options = DiscordOptions(
            token=dc.token, api_base_url=dc.base_url, guild_ready_timeout=0.05, identify_delay=False
        )
        backend = DiscordBackend(options, Translator.load("en"), clock)
        async with open_app(settings, {backend.platform: backend}, clock) as app:
            await backend.start(app.dispatcher.dispatch)
            try:
                await app.store.upsert_course(Course(COURSE, "Bench"), clock.now())
                for channel in targets:
                    await app.store.setup_group(ChatRef("discord", str(channel.id)), channel.name, COURSE, "en")
                lesson, _ = await app.store.upsert_lesson(LessonDraft(COURSE, "l1", "Lesson 1"), clock.now())
                dc.enable_global_limit(DISCORD_PER_SECOND)
                dc.latency = latency
                before = len(dc.requests)
                started = time.monotonic()
                posted = await publish_lesson(app.services, lesson.id)
                took = time.monotonic() - started
                requests = len(dc.requests) - before
            finally:
                await backend.stop()
    counts = [len(dc.sent_by_bot(channel)) for channel in targets]
    print(f"Discord: {channels} channels, round trip: {latency * 1000:.0f} ms, posts reported: {posted}")
    limit = requests / DISCORD_PER_SECOND
    return report(took, limit, f"{requests} requests / {DISCORD_PER_SECOND} per s", len(dc.rate_limited), counts)


def report(took: float, limit: float, limit_is: str, floods: int, counts: list[int]) -> bool:
    """Print the figures; whether every target was met."""
    missed, doubled = counts.count(0), sum(1 for n in counts if n > 1)
    ratio = limit / took
    print(f"(a) broadcast time: {took:.2f} s")
    print(f"(b) platform limit time ({limit_is}): {limit:.2f} s")
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
    parser.add_argument("--platform", choices=("telegram", "discord", "both"), default="both")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.platform in ("telegram", "both"):
            results.append(asyncio.run(run_telegram(args.groups, args.latency, Path(tmp) / "telegram.db")))
        if args.platform in ("discord", "both"):
            results.append(asyncio.run(run_discord(args.groups, args.latency, Path(tmp) / "discord.db")))
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()

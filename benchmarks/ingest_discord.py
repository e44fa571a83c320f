"""Discord ingest benchmark: reaction events/s from the local gateway through discord.py into committed likes.

Run: ``.venv/bin/python benchmarks/ingest_discord.py [--events N]``. It prints numbers and asserts nothing.

Both runs push the same burst of MESSAGE_REACTION_ADD dispatches from the local Discord server
(tests/fakes/discord_api.py) over a real websocket into a real discord.py client:

(a) baseline: the library dispatching ``on_raw_reaction_add`` to a handler that does nothing;
(b) studybot: the Discord backend translating each event and the core committing the like (group commit in
    SQLite), timed until every like is committed;
(c) the ratio (b)/(a) — the share of the library's own event rate that studybot keeps (target ≥ 0.8).
(d) CPU time per event, (a)/(b): the same comparison in process CPU time (both threads), which the
    neighbours of a shared machine do not move as they move wall-clock rates.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import discord

from benchmarks.rounds import Run, compare, timed
from bot.app import open_app
from bot.config import Settings
from bot.discord_backend.backend import DiscordBackend, DiscordOptions
from handlers.domain import Course, LessonDraft
from handlers.i18n import Translator
from tests.clock import TestClock
from tests.fakes.discord_api import FakeDiscord

QUESTIONS, USERS = 200, 100


def seed_fake(dc: FakeDiscord) -> tuple[object, list[object]]:
    guild = dc.add_guild("bench")
    channel = dc.add_channel(guild, "general")
    users = [dc.add_user(f"u{i}") for i in range(USERS)]
    for user in users:
        dc.add_member(guild, user)
    return channel, users


async def baseline(n: int) -> Run:
    """(a) discord.py alone: events/s from the first frame queued to the n-th handler call."""
    async with FakeDiscord(message_content=True, clock=TestClock()) as dc, dc.patch_discord():
        channel, users = seed_fake(dc)
        author = users[0]
        messages = [await dc.user_sends(channel, author, f"q{i}", dispatch=False) for i in range(QUESTIONS)]
        intents = discord.Intents.none()
        intents.guilds = intents.guild_reactions = intents.guild_messages = intents.message_content = True
        client = discord.Client(intents=intents, guild_ready_timeout=0.05)
        seen, done = 0, asyncio.Event()

        async def on_raw_reaction_add(payload: discord.RawReactionActionEvent) -> None:
            nonlocal seen
            seen += 1
            if seen == n:
                done.set()

        client.event(on_raw_reaction_add)
        await client.login(dc.token)
        task = asyncio.create_task(client.connect())
        await asyncio.wait_for(client.wait_until_ready(), 10)
        with timed(Run(), n) as run:
            await dc.burst_reactions(channel, messages, users[1:], "👍", n)
            await asyncio.wait_for(done.wait(), 600)
        await client.close()
        with contextlib.suppress(Exception):
            await task
    return run


async def studybot(n: int, folder: Path) -> Run:
    """(b) the backend and the core: events/s until every like is committed; returns the rate and the likes."""
    clock = TestClock()
    settings = Settings(database_path=folder / "bench.db", default_language="en", _env_file=None)  # type: ignore[call-arg]
    async with FakeDiscord(message_content=True, clock=clock) as dc, dc.patch_discord():
        channel, users = seed_fake(dc)
        owner = dc.add_user("admin")
        guild = dc.guild(channel.guild_id)  # type: ignore[attr-defined]
        dc.add_member(guild, owner, admin=True)
        handled, done = 0, asyncio.Event()

        def observe(kind: str, key: object) -> None:
            nonlocal handled
            if kind == "react":
                handled += 1
                if handled == n:
                    done.set()

        options = DiscordOptions(
            dc.token, dc.base_url, guild_ready_timeout=0.05, identify_delay=False, reconcile_days=0
        )
        backend = DiscordBackend(options, Translator.load("en"), observer=observe)
        async with open_app(settings, {backend.platform: backend}, clock) as app:
            backend.use_services(app.services)
            await backend.start(app.dispatcher.dispatch)
            await app.store.upsert_course(Course("bench", "Bench", language="en"), clock.now())
            await app.store.upsert_lesson(LessonDraft("bench", "l", "Lesson", "", "", 1), clock.now())
            await dc.invoke_command(guild, channel, owner, "setup", {"course": "bench"})
            await dc.invoke_command(guild, channel, owner, "lesson", {"lesson": "1"})
            await dc.wait_for(lambda: bool(dc.threads(channel)), timeout=10)
            [thread] = dc.threads(channel)
            author = users[0]
            messages = [await dc.user_sends(thread, author, f"How do I do {i}?") for i in range(QUESTIONS)]
            # Every question is stored before the burst (discord.py handles messages as concurrent tasks, so the
            # last one stored is not the last one sent): poll the store, yielding to the loop in between.
            for _ in range(100_000):
                if (await app.store.stats("bench")).questions == QUESTIONS:
                    break
                await asyncio.sleep(0)
            with timed(Run(), n) as run:
                await dc.burst_reactions(thread, messages, users[1:], "👍", n)
                await asyncio.wait_for(done.wait(), 600)
            run.likes = (await app.store.stats("bench")).likes
            await backend.stop()
    return run


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000, help="reaction events per run (default 10,000)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds of (a) and (b) (default 5)")
    args = parser.parse_args()
    n = min(args.events, QUESTIONS * (USERS - 1))
    logging.basicConfig(level=logging.WARNING)
    await compare(baseline, studybot, n, args.rounds, "events")


if __name__ == "__main__":
    asyncio.run(main())

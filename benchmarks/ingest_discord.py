"""Discord ingest benchmark: reaction events/s from the local gateway through discord.py into committed likes.

Run: ``.venv/bin/python benchmarks/ingest_discord.py [--events N] [--rounds R] [--reference] [--no-targets]``.

Both runs push the same burst of MESSAGE_REACTION_ADD dispatches from the local Discord server
(tests/fakes/discord_api/) over a real websocket into a real discord.py client:

(a) baseline: the library taking the same events at the same place as studybot and doing nothing with them —
    an AutoShardedBot built with studybot's options whose ``dispatch`` override drops the raw reaction events
    (no task per event, no listener), as studybot's client takes them (bot/discord_backend/client.py);
(a') with ``--reference``, the older baseline for context: a plain Client dispatching ``on_raw_reaction_add``
    to a do-nothing listener (discord.py's task per event, which studybot does not pay);
(b) studybot: the Discord backend translating each event and the core committing the like (group commit in
    SQLite), timed until every like is committed;
(c) the ratio (b)/(a) — the share of the library's own event rate that studybot keeps — per round, with its
    min / median / max; target: median ≥ 0.8;
(d) CPU time per event, (a)/(b): the same comparison in process CPU time (both threads), which the
    neighbours of a shared machine do not move as they move wall-clock rates.

Every studybot round checks its work: no lot logged as failed, and exactly N reaction rows and N likes counted
in the database; otherwise it stops with "ROUND FAILED" and exit status 2. Exit status 1 when the median ratio
misses the target (not with ``--no-targets``, the test suite's quick run), 0 otherwise; figures printed either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import discord
from discord.ext import commands

from benchmarks import rounds
from benchmarks.round_stores import RoundStores
from benchmarks.rounds import RoundFailed, Run, Side, compare, timed
from bot.app import open_app
from bot.discord_backend.backend import NO_MENTIONS, DiscordBackend, DiscordOptions, intents
from handlers.i18n import Translator
from handlers.vocabulary.domain import Course, LessonDraft, ReactionChange
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


class DropReactions(commands.AutoShardedBot):
    """discord.py as studybot's client is built, taking raw reaction events in ``dispatch`` and dropping them."""

    def __init__(self, n: int) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=intents(),
            shard_count=None,
            guild_ready_timeout=0.05,
            allowed_mentions=NO_MENTIONS,
            chunk_guilds_at_startup=False,
            max_messages=None,
        )
        self.seen, self.n, self.done = 0, n, asyncio.Event()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None  # as studybot's identify_delay=False against the local server

    def dispatch(self, event_name: str, /, *args: Any, **kwargs: Any) -> None:
        if event_name == "raw_reaction_add":
            self.seen += 1
            if self.seen == self.n:
                self.done.set()
            return
        super().dispatch(event_name, *args, **kwargs)


async def dispatch_baseline(n: int) -> Run:
    """(a) discord.py alone, taking raw reactions where studybot does: events/s until the n-th is dropped."""
    async with FakeDiscord(message_content=True, clock=TestClock()) as dc, dc.patch_discord():
        channel, users = seed_fake(dc)
        messages = [await dc.user_sends(channel, users[0], f"q{i}", dispatch=False) for i in range(QUESTIONS)]
        client = DropReactions(n)
        await client.login(dc.token)
        task = asyncio.create_task(client.connect())
        await asyncio.wait_for(client.wait_until_ready(), 10)
        with timed(Run(), n) as run:
            await dc.burst_reactions(channel, messages, users[1:], "👍", n)
            await asyncio.wait_for(client.done.wait(), 600)
        await client.close()
        with contextlib.suppress(Exception):
            await task
    return run


async def listener_baseline(n: int) -> Run:
    """(a') discord.py alone, the listener way: events/s from the first frame queued to the n-th handler call."""
    async with FakeDiscord(message_content=True, clock=TestClock()) as dc, dc.patch_discord():
        channel, users = seed_fake(dc)
        author = users[0]
        messages = [await dc.user_sends(channel, author, f"q{i}", dispatch=False) for i in range(QUESTIONS)]
        wanted = discord.Intents.none()
        wanted.guilds = wanted.guild_reactions = wanted.guild_messages = wanted.message_content = True
        client = discord.Client(intents=wanted, guild_ready_timeout=0.05)
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


class Counted:
    """The backend's observer here: counts the reactions handled, lot by lot, and says when all ``n`` are."""

    def __init__(self, n: int, done: asyncio.Event) -> None:
        self.n, self.done, self.count = n, done, 0

    def handled(self, kind: str, key: object) -> None:
        return None

    def reactions_handled(self, lot: Sequence[ReactionChange]) -> None:
        self.count += len(lot)
        if self.count >= self.n:
            self.done.set()


async def until(check: Callable[[], Awaitable[bool]], what: str, seconds: float = 60) -> None:
    """Poll ``check`` (yielding to the loop in between) until it holds; a round fails when it never does."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not await check():
        if loop.time() > deadline:
            raise RoundFailed(f"not {what} within {seconds:.0f} s")
        await asyncio.sleep(0.001)


async def _nonempty(items: Awaitable[Sequence[object]]) -> bool:
    return bool(await items)


async def _questions_are(stats: Awaitable[Any], expected: int) -> bool:
    return bool((await stats).questions == expected)


async def studybot(n: int, folder: Path, stores: RoundStores) -> Run:
    """(b) the backend and the core: events/s until every like is committed; returns the rate and the likes."""
    clock = TestClock()
    settings = stores.settings(folder)
    async with FakeDiscord(message_content=True, clock=clock) as dc, dc.patch_discord():
        channel, users = seed_fake(dc)
        owner = dc.add_user("admin")
        guild = dc.guild(channel.guild_id)  # type: ignore[attr-defined]
        dc.add_member(guild, owner, admin=True)
        done = asyncio.Event()
        counter = Counted(n, done)

        options = DiscordOptions(
            dc.token, dc.base_url, guild_ready_timeout=0.05, identify_delay=False, reconcile_days=0
        )
        backend = DiscordBackend(options, Translator.load("en"), clock, observer=counter)
        async with open_app(settings, {backend.platform: backend}, clock) as app:
            backend.use_ports(catalog=app.store, catch_up=app.store)
            await backend.start(app.dispatcher.dispatch)
            try:  # a failed round still stops the client: its connection would hold the fake's exit
                await app.store.upsert_course(Course("bench", "Bench", language="en"), clock.now())
                await app.store.upsert_lesson(LessonDraft("bench", "l", "Lesson", "", "", 1), clock.now())
                await dc.invoke_command(guild, channel, owner, "setup", {"course": "bench"})
                await dc.invoke_command(guild, channel, owner, "lesson", {"lesson": "1"})
                await dc.wait_for(lambda: bool(dc.threads(channel)), timeout=10)
                [thread] = dc.threads(channel)
                # The thread is on the server before the store records the lesson post in it; a message sent in
                # between is in no lesson's thread, so no question. Wait for the record (the slower the store, the
                # longer the gap: on PostgreSQL most of the questions were lost here).
                posted = lambda: app.store.recent_lesson_posts(backend.platform, clock.now() - timedelta(days=1))  # noqa: E731
                await until(lambda: _nonempty(posted()), "the lesson post recorded")
                author = users[0]
                messages = [await dc.user_sends(thread, author, f"How do I do {i}?") for i in range(QUESTIONS)]
                # Every question is stored before the burst (discord.py handles messages as concurrent tasks, so the
                # last one stored is not the last one sent).
                stored = lambda: _questions_are(app.store.stats("bench"), QUESTIONS)  # noqa: E731
                await until(stored, f"all {QUESTIONS} questions stored")
                with timed(Run(), n) as run:
                    await dc.burst_reactions(thread, messages, users[1:], "👍", n)
                    try:
                        await asyncio.wait_for(done.wait(), 600)
                    except TimeoutError:
                        raise RoundFailed(f"only {counter.count:,} of {n:,} reactions handled within 600 s") from None
            finally:
                await backend.stop()
            if backend.failed_reactions:
                raise RoundFailed(f"{backend.failed_reactions:,} of {n:,} reactions logged as not handled")
            if app.dispatcher.failed_events:
                raise RoundFailed(f"{app.dispatcher.failed_events:,} events (lots of reactions) logged as failed")
        run.likes = await stores.check_committed(settings, n)
    return run


async def main() -> int:
    args = rounds.arguments(__doc__.split("\n\n")[0], "reaction events")
    n = min(args.events, QUESTIONS * (USERS - 1))
    baseline = Side("discord.py, dispatch() drops raw reactions (studybot's entry point)", dispatch_baseline)
    reference = Side("discord.py, on_raw_reaction_add listener (a task each; old baseline)", listener_baseline)
    async with RoundStores(args.store) as stores:
        return await compare(
            baseline,
            lambda events, folder: studybot(events, folder, stores),
            n,
            args.rounds,
            "events",
            reference=reference if args.reference else None,
            targets=not args.no_targets,
        )


if __name__ == "__main__":
    rounds.main(main)

"""Catch-up of messages after downtime: Discord never sends a bot the gateway events it missed while offline.

At start the backend reads back, through the REST API, what members wrote where lessons were posted in the last
``DISCORD_RECONCILE_DAYS``: each lesson's thread (or forum post) and, for a lesson posted without a thread, its
channel after the post. Reading starts after the last message studybot kept there (else after the lesson post)
and goes oldest first, 100 a page, until a page comes back empty. Each member's message becomes the very core
event a live one does (:func:`.translate.message_event`, as ``on_message`` does), in the order written, so a
reply to a missed question is that question's discussion, as it would have been live. The likes are reconciled
after this (:mod:`.reconcile`), so the missed questions' likes are counted too.

Live messages meanwhile: where reading starts is taken from the store before the gateway connects
(:func:`plan_replay`), so nothing that arrives live can move it past the missed messages; and a live message,
edit or delete in a channel not read back yet waits at that channel's gate until it has been
(:meth:`MessageReplay.wait_for`). So the missed question a live reply answers is kept before the reply, and a
message that comes both ways is kept once (the store ignores a message it has).

Requests go one after another through discord.py's HTTP client, which keeps to the rate-limit buckets and waits
out 429s. A channel the bot cannot read — 403 or 404, or no Read Message History, for which Discord answers an
empty list rather than an error — is logged and skipped; a channel of another shard's guild is left to its
process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import aiohttp
import discord

from bot.discord_backend import translate
from handlers.ports.backends import CatchUpStore
from handlers.vocabulary.domain import ChatRef
from handlers.vocabulary.events import Dispatch

logger = logging.getLogger(__name__)

Readable = discord.Thread | discord.TextChannel | discord.VoiceChannel | discord.StageChannel

PAGE = 100  # the most messages GET …/messages returns at once


@dataclass(frozen=True, slots=True)
class ReplayTarget:
    """One channel to read back: a lesson's thread (``chat.thread_id``), or a channel with lesson posts in it."""

    chat: ChatRef
    after: int  # the last message kept there, or the (first) lesson post: what is newer was missed

    @property
    def channel_id(self) -> int:
        return int(self.chat.thread_id or self.chat.chat_id)

    def describe(self) -> str:
        if self.chat.thread_id is not None:
            return f"thread {self.chat.thread_id} of channel {self.chat.chat_id}"
        return f"channel {self.chat.chat_id}"


@dataclass(slots=True)
class ReplayReport:
    """What a start's replay did: its part of the start-up's catch-up log line, and what tests check."""

    read: int = 0  # threads and channels read back
    messages: int = 0  # members' messages handed to the core (the store ignores those it has)
    unreadable: int = 0  # 403, 404, or no permission to read the history
    failed: int = 0  # Discord or the network failed otherwise (after discord.py's retries)
    skipped: int = 0  # another shard's, or a channel this bot no longer sees

    def summary(self) -> str:
        text = (
            f"replayed {self.messages} message(s) from {self.read} thread(s)/channel(s), {self.unreadable} unreadable"
        )
        if self.failed:
            text += f", {self.failed} failed"
        if self.skipped:
            text += f", {self.skipped} skipped"
        return text


async def plan_replay(store: CatchUpStore, since: datetime) -> list[ReplayTarget]:
    """What to read back: every channel with a lesson posted since ``since``, from where its kept messages end.

    To be called before the gateway connects: a message kept live after that must not count as where the
    missed ones end.
    """
    first_post: dict[ChatRef, int] = {}
    for post in await store.recent_lesson_posts(translate.PLATFORM, since):
        if post.ref is not None and post.ref.message_id.isdigit():
            chat, posted = post.ref.chat, int(post.ref.message_id)
            first_post[chat] = min(posted, first_post.get(chat, posted))
    targets = []
    for chat, posted in first_post.items():
        last = await store.last_message_id(chat)
        targets.append(ReplayTarget(chat, max(posted, int(last)) if last is not None else posted))
    return targets


class MessageReplay:
    """One start's replay: the channels to read back, and a gate in each that live messages wait at."""

    def __init__(self, targets: Sequence[ReplayTarget]) -> None:
        self.targets = tuple(targets)
        self._gates = {target.channel_id: asyncio.Event() for target in self.targets}

    async def wait_for(self, channel_id: int) -> None:
        """Return once ``channel_id`` is read back (at once for a channel that is not to be)."""
        gate = self._gates.get(channel_id)
        if gate is not None:
            await gate.wait()

    def open_all(self) -> None:
        """Let every waiting live message through: the replay is over, failed or was cancelled."""
        for channel_id in list(self._gates):
            self._open(channel_id)

    def _open(self, channel_id: int) -> None:
        gate = self._gates.pop(channel_id, None)
        if gate is not None:
            gate.set()

    async def run(self, client: discord.Client, dispatch: Dispatch) -> ReplayReport:
        """Read every target back in turn, handing each member's message to ``dispatch`` oldest first."""
        report = ReplayReport()
        try:
            for target in self.targets:
                try:
                    await _read_back(client, target, dispatch, report)
                finally:
                    self._open(target.channel_id)
        finally:
            self.open_all()
        return report


async def _read_back(client: discord.Client, target: ReplayTarget, dispatch: Dispatch, report: ReplayReport) -> None:
    """One channel, page after page; whatever stops it is counted and logged, and the next channel is read."""
    if client.get_channel(int(target.chat.chat_id)) is None:
        report.skipped += 1  # a guild of another shard's process, or a channel we no longer see
        return
    try:
        channel = client.get_channel(target.channel_id)
        if channel is None:  # an archived thread is not among the guild's active threads discord.py has
            channel = await client.fetch_channel(target.channel_id)
        if not isinstance(channel, Readable) or not _may_read(channel):
            report.unreadable += 1
            logger.warning(
                "discord: cannot read %s (%s); messages missed there are skipped",
                target.describe(),
                "no Read Message History" if isinstance(channel, Readable) else "it has no messages of its own",
            )
            return
        after = target.after
        while page := [m async for m in channel.history(limit=PAGE, after=discord.Object(after), oldest_first=True)]:
            for message in sorted(page, key=lambda m: m.id):
                event = translate.message_event(message)  # (None for bots, ourselves included, as live)
                if event is not None:
                    await dispatch(event)
                    report.messages += 1
            after = max(message.id for message in page)
    except (discord.Forbidden, discord.NotFound) as error:
        report.unreadable += 1
        logger.warning(
            "discord: cannot read %s (%s %s %s); messages missed there are skipped",
            target.describe(),
            error.status,
            error.code,
            error.text,
        )
        return
    except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as error:
        report.failed += 1
        logger.warning(
            "discord: reading %s back failed (%r); messages missed there are skipped", target.describe(), error
        )
        return
    report.read += 1


def _may_read(channel: Readable) -> bool:
    """Whether the bot may read the history, as far as discord.py's cache tells (when it cannot, Discord decides)."""
    me = channel.guild.me
    if me is None:
        return True
    try:
        permissions = channel.permissions_for(me)
    except discord.ClientException:  # a thread whose parent discord.py does not have
        return True
    return permissions.view_channel and permissions.read_message_history

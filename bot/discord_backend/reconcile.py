"""Catch-up after downtime: Discord does not replay gateway events a bot missed while it was offline.

At start the backend reads back, through the REST API, the reactions of every post of the last days (setting
``DISCORD_RECONCILE_DAYS``) that lives in a channel this process serves, members' only (bots are left out
here, at the border, as live), and the store brings the kept likes to exactly that under its one like rule
(:class:`~handlers.ports.backends.CatchUpStore`). Requests go one after another through discord.py's HTTP
client, which keeps to each route's rate-limit bucket and waits out 429s; a post whose message is gone becomes
the :class:`~handlers.vocabulary.events.MessageDeleted` event the missed delete would have been. It runs after the
messages missed meanwhile are read back (:mod:`.replay`), so their likes are reconciled too, and its summary is the
start-up's catch-up line for both.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import discord

from bot.discord_backend import translate
from bot.discord_backend.replay import ReplayReport
from handlers.ports import Clock
from handlers.ports.backends import CatchUpStore
from handlers.vocabulary.domain import Member, MessageRef, ReactionFix
from handlers.vocabulary.events import Dispatch, MessageDeleted

logger = logging.getLogger(__name__)


PAGE = 100  # the most users GET …/reactions/{emoji} returns at once
ATTEMPTS = 3  # reads of one post, when live reactions keep changing it meanwhile


@dataclass(slots=True)
class ReconcileReport:
    since: datetime
    checked: int = 0
    skipped: int = 0  # channels this process does not serve (another shard) or cannot read
    deleted: int = 0
    fixes: list[ReactionFix] = field(default_factory=list)
    replayed: ReplayReport | None = None  # the messages read back before (None when that did not run)

    @property
    def added(self) -> int:
        return sum(len(fix.added) for fix in self.fixes)

    @property
    def removed(self) -> int:
        return sum(len(fix.removed) for fix in self.fixes)

    def summary(self) -> str:
        likes = (
            f"checked {self.checked} posts since {self.since:%Y-%m-%d %H:%M} UTC: {self.added} like(s) added, "
            f"{self.removed} removed on {len(self.fixes)} post(s), {self.deleted} deleted, {self.skipped} skipped"
        )
        return f"{self.replayed.summary()}; {likes}" if self.replayed is not None else likes


async def reactions_of(client: discord.Client, channel_id: int, message: dict[str, Any]) -> list[tuple[Member, str]]:
    """Every (member, emoji) on a message, bots' left out: each emoji's users, paged by 100."""
    found: list[tuple[Member, str]] = []
    for reaction in message.get("reactions") or []:
        emoji = reaction.get("emoji") or {}
        key = translate.emoji_key_from_payload(emoji)
        route_emoji = f"{emoji.get('name')}:{emoji['id']}" if emoji.get("id") else str(emoji.get("name"))
        after: int | None = None
        while True:
            users = await client.http.get_reaction_users(channel_id, int(message["id"]), route_emoji, PAGE, after)
            found.extend((translate.member_from_payload(dict(user)), key) for user in users if not user.get("bot"))
            if len(users) < PAGE:
                break
            after = max(int(user["id"]) for user in users)
    return found


@dataclass(frozen=True, slots=True)
class Reconciling:
    """What reconciliation works with besides Discord: the store's catch-up port, the clock, and the core's
    dispatch (for the posts deleted meanwhile)."""

    store: CatchUpStore
    clock: Clock
    dispatch: Dispatch


async def reconcile_likes(
    client: discord.Client,
    core: Reconciling,
    since: datetime,
    live: set[int] | None = None,
    *,
    replayed: ReplayReport | None = None,
) -> ReconcileReport:
    """``live`` collects the ids of messages that got a live reaction event meanwhile (the backend adds them).

    Why: a post read back before a live like arrived and corrected after it would take the like away again. So
    a post touched live while it was read or corrected is read and corrected again (up to :data:`ATTEMPTS`
    times); a live event that comes after its last correction is applied after it, so it stands.

    ``replayed``, the report of the messages read back just before, goes into the one summary logged at the end.
    """
    report = ReconcileReport(since, replayed=replayed)
    for question in await core.store.recent_questions(translate.PLATFORM, since):
        ref = question.ref
        if ref is None or not ref.message_id.isdigit():
            continue
        if client.get_channel(int(ref.chat_id)) is None:
            report.skipped += 1  # a guild of another shard's process, or a channel we no longer see
            continue
        await _reconcile_post(client, core, question.id, ref, live, report)
    logger.info("discord: caught up after downtime: %s", report.summary())
    return report


async def _reconcile_post(
    client: discord.Client,
    core: Reconciling,
    question_id: int,
    ref: MessageRef,
    live: set[int] | None,
    report: ReconcileReport,
) -> None:
    channel_id, message_id = int(ref.thread_id or ref.chat_id), int(ref.message_id)
    for attempt in range(1, ATTEMPTS + 1):
        if live is not None:
            live.discard(message_id)
        try:
            message = await client.http.get_message(channel_id, message_id)
            reactions = await reactions_of(client, channel_id, dict(message))
        except discord.NotFound as error:
            if error.code == 10008:  # Unknown Message: deleted while we were away
                await core.dispatch(MessageDeleted(ref, core.clock.now()))
                report.deleted += 1
                logger.info("reconcile: post %s was deleted while the bot was offline", question_id)
            else:
                report.skipped += 1
            return
        except discord.Forbidden:
            report.skipped += 1
            return
        touched = live is not None and message_id in live
        if touched and attempt < ATTEMPTS:
            continue  # what was read is already out of date
        fix = await core.store.reconcile_reactions(ref, reactions, core.clock.now())
        if fix is not None and fix.changed:
            report.fixes.append(fix)
            logger.info(
                "reconciled question %s on %s: %d like(s) added, %d removed",
                fix.question_id,
                ref.platform,
                len(fix.added),
                len(fix.removed),
            )
        if live is None or message_id not in live or attempt == ATTEMPTS:
            break  # (live reactions that keep coming after the last attempt are applied as they come)
        logger.debug("reconcile: post %s got live reactions while it was corrected; reading it again", question_id)
    report.checked += 1

"""The like path: reactions kept as likes, one by one, in bursts, and reconciled with what a platform reports."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import aiosqlite

from handlers.vocabulary.domain import (
    Member,
    MessageRef,
    ReactionChange,
    ReactionFix,
)
from storage import codec
from storage.base import BY_REF, UPSERT_MEMBER, StoreBase, _ref
from storage.json_text import json_text
from storage.kept_bursts import KeptBursts
from storage.writer import Batch, Statement

logger = logging.getLogger(__name__)

# THE LIKE RULE is the view countable_likes (migration 0009): a reaction is kept only when it is one of its rows
# (a like emoji of the post's group, by a member who is neither the post's author nor a bot). Every path that
# keeps a like reads it: the single statement below, the batch views like_batches (migration 0013) and like_groups
# (0021), the burst triggers of like_bursts and reaction_changes, and reconcile_reactions. None of them repeats the
# rule, and no Python check stands in for it.

# One statement per like, so a burst of them is one executemany: the post is found by its message.
ADD_REACTION = """
    INSERT OR IGNORE INTO reactions (question_id, member_id, emoji, created_at)
    SELECT question_id, member_id, emoji, ?
    FROM countable_likes
    WHERE emoji = ? AND member_platform = ? AND user_id = ? AND platform = ? AND chat_id = ? AND message_id = ?
"""

# The same for lone likes queued together: their parameter lists as one JSON array, through the like_batches view
# (migrations 0013, 0018), which keeps them by the like rule and then adds to each question it touched, once, the
# members whose first reaction on it this is, instead of updating the count once per like.
ADD_REACTIONS_BATCH = "INSERT INTO like_batches (likes) VALUES (?)"

# Who of the reported (member, emoji) pairs may like the post at all (may_like: not its author, not a bot),
# whatever the emoji: the reconciliation keeps such a reaction when it was kept, even if its emoji stopped being
# a like emoji, as add and remove events would.
MAY_LIKE_REPORTED = """
    SELECT l.member_id, j.value ->> 2
    FROM json_each(?) AS j
    CROSS JOIN may_like l
    WHERE l.question_id = ? AND l.member_platform = j.value ->> 0 AND l.user_id = j.value ->> 1
"""
KEPT_REACTIONS = (
    "SELECT r.member_id, r.emoji, m.user_id FROM reactions r JOIN members m ON m.id = r.member_id"
    " WHERE r.question_id = ?"
)

# A burst of likes, set-based through the like_bursts view (migrations 0007, 0009, 0021): two JSON arrays, the
# members to upsert (often none) and the likes grouped by post as the like_groups view takes them (0021), which
# counts them as like_batches does.
LIKE_BURST = "INSERT INTO like_bursts (members, likes) VALUES (?, ?)"
# Bursts queued together (the next lot's, while this one commits) still go as one statement: a view row each.
LIKE_BURSTS_BATCH = (
    "INSERT INTO like_bursts (members, likes) SELECT value ->> 0, value ->> 1 FROM json_each(?) ORDER BY key"
)

# A burst of changes, in order, through the reaction_changes view (migrations 0006, 0009): adds, removes and the upserts
# of new members in ONE statement. Its row: platform, chat, message, user, emoji, added, time, name or NULL, bot.
APPLY_CHANGE = """
    INSERT INTO reaction_changes (platform, chat_id, message_id, user_id, emoji, added, created_at, display_name,
        is_bot)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
APPLY_CHANGES_BATCH = """
    INSERT INTO reaction_changes (platform, chat_id, message_id, user_id, emoji, added, created_at, display_name,
        is_bot)
    SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7,
        value ->> 8
    FROM json_each(?) ORDER BY key
"""

REMOVE_REACTION = """
    DELETE FROM reactions
    WHERE question_id = (SELECT id FROM questions WHERE platform = ? AND chat_id = ? AND message_id = ?)
      AND member_id = (SELECT id FROM members WHERE platform = ? AND user_id = ?)
      AND emoji = ?
"""

CLEAR_REACTIONS = """
    DELETE FROM reactions
    WHERE question_id = (SELECT id FROM questions WHERE platform = ? AND chat_id = ? AND message_id = ?)
"""
CLEAR_EMOJI = CLEAR_REACTIONS + " AND emoji = ?"


def _member_rows(members: Sequence[Member]) -> str:
    """The members to upsert as like_bursts takes them: a JSON array of [platform, user id, name, is bot]."""
    return json_text([[m.platform, m.user_id, m.display_name, int(m.is_bot)] for m in members])


def _micros(changes: Sequence[ReactionChange]) -> list[int]:
    """Each change's time in microseconds (ValueError for a naive one). The changes of a burst mostly share
    their time, so a time equal to the one before is not converted again."""
    times: list[int] = []
    last: datetime | None = None
    micros = 0
    for change in changes:
        at = change.at
        if last is None or at != last:  # equal aware times are the same instant: the same microseconds
            micros, last = codec.to_micros(at), at
        times.append(micros)
    return times


class LikeRows(StoreBase):
    """The likes part of :class:`storage.SqliteStore`."""

    _kept: KeptBursts

    # likes -----------------------------------------------------------------------------------------------
    async def add_reaction(self, ref: MessageRef, member: Member, emoji: str, at: datetime) -> None:
        """Count a like when the like rule (``countable_likes``) says it counts: ``emoji`` is one of the group's
        like emojis and ``member`` is neither the author nor a bot.

        One like per member per question, however many like emojis; idempotent for redelivered events. One
        batched INSERT … SELECT, preceded (hoisted to the front of the batch) by the member's upsert unless the
        member is already known to be stored under this name.
        """
        await self.apply_reactions([ReactionChange(ref, member, emoji, at)])

    async def apply_reactions(self, changes: Sequence[ReactionChange]) -> None:
        """Apply the changes in order, all or none, and wait once.

        Every time is checked before anything is queued, so a bad change (a naive datetime) changes nothing.
        A burst is always one statement, so one call into SQLite and one commit, chosen for what SQLite pays
        per like: a lone change takes the plain statement (which the writer groups with its neighbours); a burst
        of likes, the like_bursts view (the upserts of its new members, then its likes grouped by post, each post
        found once, set-based); a burst with removals, the reaction_changes view, which applies its rows one by
        one in order.
        """
        times = _micros(changes)
        if not changes:
            return
        if len(changes) == 1:
            await self._apply_one(changes[0], times[0])
            return
        timed = list(zip(changes, times, strict=True))
        if all(change.added for change, _ in timed):
            await self._apply_likes(timed)
            return
        rows: list[tuple[str, Sequence[Any], str | None]] = []
        new_members: dict[tuple[str, str], Member] = {}
        for change, created in timed:
            member, ref = change.member, change.ref
            name = None
            if change.added and not self._members.current(member):
                key = (member.platform, member.user_id)
                if new_members.get(key) != member:
                    new_members[key] = member
                    name = member.display_name
            params = (*_ref(ref), member.user_id, change.emoji, int(change.added), created, name, int(member.is_bot))
            rows.append((APPLY_CHANGE, params, APPLY_CHANGES_BATCH))
        await self._writer.submit(Batch(rows))
        for member in new_members.values():
            self._members.committed(member)

    async def _apply_likes(self, likes: list[tuple[ReactionChange, int]]) -> None:
        """A burst of adds: like_bursts, its new members (if any) and its likes in one statement, a group
        already, so it goes to SQLite at once when the writer is idle (``at_once``, see storage.writer)."""
        groups, new_members = self._like_groups(likes)
        await self._writer.submit(
            Statement(
                LIKE_BURST, (_member_rows(new_members), json_text(groups)), batch_sql=LIKE_BURSTS_BATCH, at_once=True
            )
        )
        for member in new_members:
            self._members.committed(member)

    def _like_groups(self, likes: list[tuple[ReactionChange, int]]) -> tuple[list[list[Any]], list[Member]]:
        """The burst's likes as like_groups takes them (migration 0021), and its members not known to be stored
        as they are.

        A group is the likes on one post with one emoji by members of one platform at one instant: [platform,
        chat_id, message_id, emoji, member platform, created_at, [user_id, ...]]. A burst brings many likes by the
        same members to the same posts, and the backends hand the same Member and MessageRef objects for them: so
        each distinct object is looked at once (by identity, while the burst holds it), not once per like — this
        loop runs on the event loop, for every like of a burst.
        """
        groups: list[list[Any]] = []
        likers_of: dict[tuple[tuple[str, str, str], str, str, int], list[str]] = {}
        new_members: dict[tuple[str, str], Member] = {}
        refs: dict[int, tuple[str, str, str]] = {}
        current: dict[int, bool] = {}
        is_current = self._members.current
        for change, created in likes:
            ref, member = change.ref, change.member
            where = refs.get(id(ref))
            if where is None:  # (equal refs in different objects, as Telegram's updates bring, share a group)
                where = refs[id(ref)] = _ref(ref)
            key = (where, change.emoji, member.platform, created)
            likers = likers_of.get(key)
            if likers is None:
                likers = likers_of[key] = []
                groups.append([*where, change.emoji, member.platform, created, likers])
            likers.append(member.user_id)
            known = current.get(id(member))
            if known is None:
                known = current[id(member)] = is_current(member)
            if not known:  # every time, as before: the last name given for a member in the burst is the one kept
                new_members[(member.platform, member.user_id)] = member
        return groups, list(new_members.values())

    async def keep_reactions(self, changes: Sequence[ReactionChange]) -> None:
        """Return once the burst is kept (committed to like_inbox), before its likes are counted.

        Why: Telegram's poller may confirm a batch of updates as soon as it is kept, so the count's SQL runs on
        the writer thread while the event loop fetches the next batch, instead of between the two. The count is
        queued with the row, at once: every write queued later runs after it, every read started later waits for
        it (:meth:`settled`), a count that fails is tried again (:mod:`storage.kept_bursts`), and a burst kept by a
        process that stopped before counting it is counted when the store next opens. A burst that is not all
        likes (removals, or a single change) is applied as :meth:`apply_reactions` applies it: there is nothing
        to gain.
        """
        times = _micros(changes)
        if len(changes) < 2 or not all(change.added for change in changes):
            await self.apply_reactions(changes)
            return
        groups, new_members = self._like_groups(list(zip(changes, times, strict=True)))
        await self._kept.keep(_member_rows(new_members), json_text(groups), new_members)

    async def settled(self) -> None:
        """Until every burst kept so far is counted (benchmarks and tests; reads wait for it themselves)."""
        await self._reader.settled()

    async def _apply_one(self, change: ReactionChange, created: int) -> None:
        member, ref = change.member, change.ref
        if not change.added:
            await self._exec(REMOVE_REACTION, (*_ref(ref), member.platform, member.user_id, change.emoji))
            return
        upsert = self._upsert_member(member)
        params = (created, change.emoji, member.platform, member.user_id, *_ref(ref))
        await self._writer.submit(Batch([(ADD_REACTION, params, ADD_REACTIONS_BATCH)]))
        await self._member_stored(member, upsert)

    async def remove_reaction(self, ref: MessageRef, member: Member, emoji: str) -> None:
        await self._exec(REMOVE_REACTION, (*_ref(ref), member.platform, member.user_id, emoji))

    async def clear_reactions(self, ref: MessageRef, emoji: str | None) -> None:
        """All of the message's reactions (``emoji`` None) or only those with ``emoji``."""
        if emoji is None:
            await self._exec(CLEAR_REACTIONS, _ref(ref))
        else:
            await self._exec(CLEAR_EMOJI, (*_ref(ref), emoji))

    async def set_base_likes(self, question_id: int, likes: int) -> None:
        """Imported likes without members; kept apart from members' likes and added in ``score``.

        In no port (imports set base likes inside :meth:`import_lesson`); tests seed with this."""
        if likes < 0:
            raise ValueError(f"base likes cannot be negative (got {likes})")
        await self._exec("UPDATE questions SET base_likes = ? WHERE id = ?", (likes, question_id))

    async def reconcile_reactions(
        self, ref: MessageRef, reactions: Sequence[tuple[Member, str]], at: datetime
    ) -> ReactionFix | None:
        """Kept reactions become exactly ``reactions`` (by the like rule, as add_reaction), in one transaction.

        Kept ones that no reported reaction by a member who may like the post (``may_like``) stands for are
        removed; reported ones are added through the same statement as a burst of likes, so the like rule
        decides. A reported reaction whose emoji is no longer a like emoji stays kept if it was (as add/remove
        events would leave it); the like counts follow every insert and delete.
        """
        created = codec.to_micros(at)
        reported = list(dict.fromkeys(reactions))
        members = {(m.platform, m.user_id): m for m, _ in reported}  # the last name reported wins
        pairs = json_text([[m.platform, m.user_id, emoji] for m, emoji in reported])
        likes = json_text([[created, emoji, m.platform, m.user_id, *_ref(ref)] for m, emoji in reported])

        async def op(conn: aiosqlite.Connection) -> ReactionFix | None:
            async with conn.execute(f"SELECT id FROM questions WHERE {BY_REF}", _ref(ref)) as cur:
                found = await cur.fetchone()
            if found is None:
                return None
            question_id = found[0]
            await conn.executemany(
                UPSERT_MEMBER, [(m.platform, m.user_id, m.display_name, int(m.is_bot)) for m in members.values()]
            )
            async with conn.execute(MAY_LIKE_REPORTED, (pairs, question_id)) as cur:
                wanted = {(r[0], r[1]) for r in await cur.fetchall()}
            async with conn.execute(KEPT_REACTIONS, (question_id,)) as cur:
                kept_rows = list(await cur.fetchall())
            kept = {(r[0], r[1]) for r in kept_rows}
            removed = sorted(kept - wanted)
            await conn.executemany(
                "DELETE FROM reactions WHERE question_id = ? AND member_id = ? AND emoji = ?",
                [(question_id, member_id, emoji) for member_id, emoji in removed],
            )
            await conn.execute(ADD_REACTIONS_BATCH, (likes,))
            async with conn.execute(KEPT_REACTIONS, (question_id,)) as cur:
                now_rows = list(await cur.fetchall())
            added = sorted({(r[0], r[1]) for r in now_rows} - (kept - set(removed)))
            users = {r[0]: r[2] for r in kept_rows + now_rows}
            return ReactionFix(
                question_id,
                tuple((users[m], e) for m, e in added),
                tuple((users[m], e) for m, e in removed),
            )

        return await self._writer.call(op)

    async def set_anonymous_likes(self, ref: MessageRef, counts: Sequence[tuple[str, int]]) -> None:
        """Anonymous reactions arrive as totals per emoji. What the totals of the group's like emojis hold beyond
        the members' reactions we know is kept as the question's base likes (likes without member ids)."""
        if not counts:
            counts = [("", 0)]
        values = ", ".join("(?, ?)" for _ in counts)
        flat = [item for pair in counts for item in pair]
        await self._exec(
            f"WITH totals(emoji, n) AS (VALUES {values})"
            " UPDATE questions SET base_likes = MAX(0,"
            "   COALESCE((SELECT SUM(t.n) FROM totals t JOIN group_like_emojis e"
            "             ON e.emoji = t.emoji AND e.group_id = questions.group_id), 0)"
            "   - (SELECT COUNT(*) FROM reactions r WHERE r.question_id = questions.id))"
            " WHERE platform = ? AND chat_id = ? AND message_id = ?",
            (*flat, *_ref(ref)),
        )

"""The like path on PostgreSQL: reactions kept as likes, one by one, in bursts, and reconciled with a platform.

The like rule is the view ``countable_likes`` (the baseline migration), as on SQLite: a reaction is kept only
when it is one of its rows; no statement here repeats the rule. A burst is one statement over arrays
(``unnest`` joined to ``countable_likes``, ``ON CONFLICT DO NOTHING``), and the bursts and single likes that
arrive together share one transaction (:mod:`storage.postgres.like_queue`, FIFO).

Counts: each like transaction locks its questions' rows first (in id order), changes reactions, then sets each
changed question's ``likes`` to its number of distinct likers, recounted from its reaction rows — once per
question per transaction, where a per-row trigger would rewrite the row and its score indexes once per like.
The recount runs after the locks were granted, so it sees every committed change: no count is lost or doubled
when several processes like the same question at once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from handlers.vocabulary.domain import Member, MessageRef, ReactionChange, ReactionFix
from storage import codec
from storage.likes import _micros
from storage.postgres.base import Conn, PgBase, affected, ref_params
from storage.postgres.like_queue import Change, LikeOp, LikeQueue, Locked

logger = logging.getLogger(__name__)

# The group's questions, locked in id order before any reaction of theirs changes (see the module's note).
LOCK_QUESTIONS = """
    SELECT q.id, q.platform, q.chat_id, q.message_id
    FROM questions q
    JOIN unnest($1::text[], $2::text[], $3::text[]) AS t(platform, chat_id, message_id)
      ON q.platform = t.platform AND q.chat_id = t.chat_id AND q.message_id = t.message_id
    ORDER BY q.id
    FOR NO KEY UPDATE OF q
"""

# Members in key order, so that two transactions upserting the same members never wait on each other in a cycle.
UPSERT_MEMBERS = """
    INSERT INTO members (platform, user_id, display_name, is_bot)
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[]) ORDER BY 1, 2
    ON CONFLICT (platform, user_id) DO UPDATE SET display_name = excluded.display_name, is_bot = excluded.is_bot
    WHERE members.display_name IS DISTINCT FROM excluded.display_name
       OR members.is_bot IS DISTINCT FROM excluded.is_bot
"""

# A run of likes: kept by the like rule (countable_likes), on the locked questions only; the first of duplicates
# keeps its time, as SQLite's INSERT OR IGNORE does.
ADD_LIKES = """
    INSERT INTO reactions (question_id, member_id, emoji, created_at)
    SELECT l.question_id, l.member_id, l.emoji, t.created_at
    FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
         WITH ORDINALITY AS t(created_at, emoji, member_platform, user_id, platform, chat_id, message_id, n)
    JOIN countable_likes l
      ON l.platform = t.platform AND l.chat_id = t.chat_id AND l.message_id = t.message_id
     AND l.emoji = t.emoji AND l.member_platform = t.member_platform AND l.user_id = t.user_id
    WHERE l.question_id = ANY($8::bigint[])
    ORDER BY t.n
    ON CONFLICT DO NOTHING
"""

REMOVE_LIKES = """
    DELETE FROM reactions r
    USING unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
              AS t(platform, chat_id, message_id, member_platform, user_id, emoji),
          questions q, members m
    WHERE q.platform = t.platform AND q.chat_id = t.chat_id AND q.message_id = t.message_id
      AND m.platform = t.member_platform AND m.user_id = t.user_id
      AND r.question_id = q.id AND r.member_id = m.id AND r.emoji = t.emoji AND q.id = ANY($7::bigint[])
"""

# Each locked question's likes: its distinct likers. Written only where it changed.
RECOUNT = """
    UPDATE questions q SET likes = c.n
    FROM (SELECT t.id, (SELECT count(DISTINCT r.member_id) FROM reactions r WHERE r.question_id = t.id) AS n
          FROM unnest($1::bigint[]) AS t(id)) AS c
    WHERE q.id = c.id AND q.likes <> c.n
"""

# Who of the reported (member, emoji) pairs may like the post at all (may_like), whatever the emoji.
MAY_LIKE_REPORTED = """
    SELECT l.member_id, t.emoji
    FROM unnest($1::text[], $2::text[], $3::text[]) AS t(member_platform, user_id, emoji)
    JOIN may_like l ON l.member_platform = t.member_platform AND l.user_id = t.user_id
    WHERE l.question_id = $4
"""
KEPT_REACTIONS = (
    "SELECT r.member_id, r.emoji, m.user_id FROM reactions r JOIN members m ON m.id = r.member_id"
    " WHERE r.question_id = $1"
)
REMOVE_KEPT = """
    DELETE FROM reactions
    WHERE question_id = $1 AND (member_id, emoji) IN (SELECT * FROM unnest($2::bigint[], $3::text[]))
"""

ANONYMOUS_LIKES = """
    UPDATE questions SET base_likes = GREATEST(0,
        COALESCE((SELECT SUM(t.n) FROM unnest($2::text[], $3::int[]) AS t(emoji, n)
                  JOIN group_like_emojis e ON e.emoji = t.emoji AND e.group_id = questions.group_id), 0)
        - (SELECT COUNT(*) FROM reactions r WHERE r.question_id = questions.id))
    WHERE id = $1
"""


def _columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """Rows as ``width`` column arrays, the parameters of an ``unnest``."""
    return [[row[i] for row in rows] for i in range(width)] if rows else [[] for _ in range(width)]


def _change(change: ReactionChange, created: int) -> Change:
    member, ref = change.member, change.ref
    return (change.added, created, change.emoji, member.platform, member.user_id, *ref_params(ref))


class PgLikeRows(PgBase):
    """The likes part of :class:`storage.postgres.PostgresStore`."""

    _like_queue: LikeQueue | None = None

    @property
    def like_queue(self) -> LikeQueue:
        """The store's like queue (made at first use: the store's constructor is shared by every role)."""
        if self._like_queue is None:
            self._like_queue = LikeQueue(self._run_like_group)
        return self._like_queue

    async def _submit(self, op: LikeOp) -> Any:
        self._check_open()
        return await self.like_queue.submit(op)

    # likes -----------------------------------------------------------------------------------------------
    async def add_reaction(self, ref: MessageRef, member: Member, emoji: str, at: datetime) -> None:
        """Count a like when the like rule (``countable_likes``) says it counts; one like per member per question
        however many like emojis; idempotent for redelivered events."""
        await self.apply_reactions([ReactionChange(ref, member, emoji, at)])

    async def apply_reactions(self, changes: Sequence[ReactionChange]) -> None:
        """Apply the changes in order, all or none (every time is checked before anything is sent)."""
        times = _micros(changes)
        if not changes:
            return
        rows = [_change(change, created) for change, created in zip(changes, times, strict=True)]
        members = [change.member for change in changes if change.added]
        await self._submit(LikeOp(list(dict.fromkeys(row[5:] for row in rows)), members, rows))

    async def remove_reaction(self, ref: MessageRef, member: Member, emoji: str) -> None:
        where = ref_params(ref)
        await self._submit(LikeOp([where], [], [(False, 0, emoji, member.platform, member.user_id, *where)]))

    async def clear_reactions(self, ref: MessageRef, emoji: str | None) -> None:
        """All of the message's reactions (``emoji`` None) or only those with ``emoji``."""
        where = ref_params(ref)

        async def clear(conn: Conn, locked: Locked) -> tuple[bool, None]:
            question_id = locked.get(where)
            if question_id is None:
                return False, None
            if emoji is None:
                status = await conn.execute("DELETE FROM reactions WHERE question_id = $1", question_id)
            else:
                status = await conn.execute(
                    "DELETE FROM reactions WHERE question_id = $1 AND emoji = $2", question_id, emoji
                )
            return affected(status) > 0, None

        await self._submit(LikeOp([where], work=clear))

    async def set_base_likes(self, question_id: int, likes: int) -> None:
        """Imported likes without members; kept apart from members' likes and added in ``score``."""
        if likes < 0:
            raise ValueError(f"base likes cannot be negative (got {likes})")
        await self._execute("UPDATE questions SET base_likes = $1 WHERE id = $2", likes, question_id)

    async def reconcile_reactions(
        self, ref: MessageRef, reactions: Sequence[tuple[Member, str]], at: datetime
    ) -> ReactionFix | None:
        """Kept reactions become exactly ``reactions`` (by the like rule, as add_reaction), in one transaction;
        see :meth:`storage.SqliteStore.reconcile_reactions` for the rules."""
        created = codec.to_micros(at)
        reported = list(dict.fromkeys(reactions))
        where = ref_params(ref)

        async def reconcile(conn: Conn, locked: Locked) -> tuple[bool, ReactionFix | None]:
            question_id = locked.get(where)
            if question_id is None:
                return False, None
            pairs = _columns([(m.platform, m.user_id, emoji) for m, emoji in reported], 3)
            wanted = {(r[0], r[1]) for r in await conn.fetch(MAY_LIKE_REPORTED, *pairs, question_id)}
            kept_rows = list(await conn.fetch(KEPT_REACTIONS, question_id))
            kept = {(r[0], r[1]) for r in kept_rows}
            removed = sorted(kept - wanted)
            if removed:
                await conn.execute(REMOVE_KEPT, question_id, *_columns(removed, 2))
            likes = [(created, emoji, m.platform, m.user_id, *where) for m, emoji in reported]
            await conn.execute(ADD_LIKES, *_columns(likes, 7), [question_id])
            now_rows = list(await conn.fetch(KEPT_REACTIONS, question_id))
            added = sorted({(r[0], r[1]) for r in now_rows} - (kept - set(removed)))
            users = {r[0]: r[2] for r in kept_rows + now_rows}
            fix = ReactionFix(
                question_id,
                tuple((users[m], e) for m, e in added),
                tuple((users[m], e) for m, e in removed),
            )
            return bool(added or removed), fix

        members = [m for m, _ in reported]
        result: ReactionFix | None = await self._submit(LikeOp([where], members, work=reconcile))
        return result

    async def set_anonymous_likes(self, ref: MessageRef, counts: Sequence[tuple[str, int]]) -> None:
        """What the totals of the group's like emojis hold beyond the members' reactions we know is kept as the
        question's base likes (likes without member ids)."""
        where = ref_params(ref)

        async def anonymous(conn: Conn, locked: Locked) -> tuple[bool, None]:
            question_id = locked.get(where)
            if question_id is not None:
                await conn.execute(ANONYMOUS_LIKES, question_id, *_columns(list(counts), 2))
            return False, None  # base likes only: no like count moved

        await self._submit(LikeOp([where], work=anonymous))

    # the group's transaction -------------------------------------------------------------------------------
    async def _run_like_group(self, ops: list[LikeOp]) -> list[Any]:
        """Lock, upsert the members, apply every operation in order, recount the changed questions; one
        transaction. Returns each operation's result."""
        refs = list(dict.fromkeys(ref for op in ops for ref in op.refs))
        members: dict[tuple[str, str], Member] = {}
        for op in ops:
            for member in op.members:
                members[(member.platform, member.user_id)] = member  # the last name given wins
        results: list[Any] = []
        async with self._transaction() as conn:
            locked: Locked = {}
            if refs:
                rows = await conn.fetch(LOCK_QUESTIONS, *_columns(refs, 3))
                locked = {(r["platform"], r["chat_id"], r["message_id"]): r["id"] for r in rows}
            if members:
                params = [(m.platform, m.user_id, m.display_name, int(m.is_bot)) for m in members.values()]
                await conn.execute(UPSERT_MEMBERS, *_columns(params, 4))
            ids = sorted(locked.values())
            changed = False
            run: list[Change] = []
            for op in ops:
                if op.changes is not None:
                    run.extend(op.changes)
                    results.append(None)
                    continue
                changed = await _apply_changes(conn, run, ids) or changed
                run = []
                assert op.work is not None
                moved, result = await op.work(conn, locked)
                changed = changed or bool(moved)
                results.append(result)
            changed = await _apply_changes(conn, run, ids) or changed
            if changed and ids:
                await conn.execute(RECOUNT, ids)
        return results


async def _apply_changes(conn: Conn, changes: list[Change], ids: list[int]) -> bool:
    """The changes in order, one statement per run of adds or of removes; True when a reaction changed."""
    if not changes or not ids:
        return False
    changed = False
    start = 0
    while start < len(changes):
        added = changes[start][0]
        end = start
        while end < len(changes) and changes[end][0] == added:
            end += 1
        run = changes[start:end]
        if added:
            status = await conn.execute(ADD_LIKES, *_columns([c[1:] for c in run], 7), ids)
        else:
            rows = [(c[5], c[6], c[7], c[3], c[4], c[2]) for c in run]
            status = await conn.execute(REMOVE_LIKES, *_columns(rows, 6), ids)
        changed = changed or affected(status) > 0
        start = end
    return changed

"""The like path on PostgreSQL: reactions kept as likes, one by one, in bursts, and reconciled with a platform.

The like rule is the view ``countable_likes`` (the baseline migration), as on SQLite: a reaction is kept only
when it is one of its rows; no statement here repeats the rule. A burst is one statement over arrays
(``unnest`` joined to ``countable_likes``, ``ON CONFLICT DO NOTHING``), and the bursts and single likes that
arrive together share one transaction (:mod:`storage.postgres.like_queue`, FIFO).

Counts live in ``question_counts`` (migration 0020), apart from the question's row, so a like rewrites only a
narrow row and its ranking indexes. Each like transaction locks its questions' counts first (in id order), then
changes reactions and their counts in the same statement: a run of likes adds to each question the members whose
first reaction on it this is, a run of removals takes off those left with none — one update per question per
statement, where a per-row trigger would rewrite the row and its score indexes once per like. A clear or a
reconciliation recounts its question from its rows. Every statement after the lock reads a snapshot that holds all
committed reactions of the locked questions, and no other transaction can change them until this one commits: no
count is lost or doubled when several processes like the same question at once.
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

# The group's questions, locked in id order before any reaction of theirs changes (see the module's note); each
# with the place of its message in the arguments (which is cheaper to hand back than the message's three texts).
LOCK_QUESTIONS = """
    SELECT q.id, t.n
    FROM questions q
    JOIN unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS t(platform, chat_id, message_id, n)
      ON q.platform = t.platform AND q.chat_id = t.chat_id AND q.message_id = t.message_id
    JOIN question_counts c ON c.id = q.id
    ORDER BY q.id
    FOR NO KEY UPDATE OF c
"""

# New members inserted in key order (so two transactions inserting the same new members never wait on each other
# in a cycle); known ones updated only where their name or bot flag changed, so a known member's row is neither
# locked nor rewritten. One statement: the UPDATE does not see the rows its CTE inserts.
UPSERT_MEMBERS = """
    WITH given AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[])
                   AS t(platform, user_id, display_name, is_bot)),
    inserted AS (
        INSERT INTO members (platform, user_id, display_name, is_bot)
        SELECT * FROM given ORDER BY 1, 2
        ON CONFLICT (platform, user_id) DO NOTHING)
    UPDATE members m SET display_name = g.display_name, is_bot = g.is_bot
    FROM given g
    WHERE m.platform = g.platform AND m.user_id = g.user_id
      AND (m.display_name IS DISTINCT FROM g.display_name OR m.is_bot IS DISTINCT FROM g.is_bot)
"""

# A run of likes: kept by the like rule (countable_likes), on the locked questions only (the callers pass the ids
# the lock returned); the first of duplicates keeps its time, as SQLite's INSERT OR IGNORE does.
ADD_LIKES = """
    INSERT INTO reactions (question_id, member_id, emoji, created_at)
    SELECT l.question_id, l.member_id, l.emoji, t.created_at
    FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[])
         WITH ORDINALITY AS t(question_id, created_at, emoji, member_platform, user_id, n)
    JOIN countable_likes l
      ON l.question_id = t.question_id AND l.emoji = t.emoji
     AND l.member_platform = t.member_platform AND l.user_id = t.user_id
    ORDER BY t.n
    ON CONFLICT DO NOTHING"""

REMOVE_LIKES = """
    DELETE FROM reactions r
    USING unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS t(question_id, member_platform, user_id, emoji),
          members m
    WHERE m.platform = t.member_platform AND m.user_id = t.user_id
      AND r.question_id = t.question_id AND r.member_id = m.id AND r.emoji = t.emoji"""

# A run of likes and the counts it moves, in one statement: a question's count grows by the members whose first
# reaction on it this is. The NOT EXISTS reads the statement's snapshot, taken after the questions were locked,
# which holds every committed reaction of them and none of the rows the CTE inserts.
ADD_AND_COUNT = f"""
    WITH added AS ({ADD_LIKES} RETURNING question_id, member_id)
    UPDATE question_counts q SET likes = q.likes + f.n
    FROM (SELECT a.question_id, COUNT(DISTINCT a.member_id) AS n FROM added a
          WHERE NOT EXISTS (SELECT 1 FROM reactions r WHERE r.question_id = a.question_id AND r.member_id = a.member_id)
          GROUP BY a.question_id) AS f
    WHERE q.id = f.question_id
"""

# A run of removals likewise: a count falls by the members left with no reaction on the question.
REMOVE_AND_COUNT = f"""
    WITH removed AS ({REMOVE_LIKES} RETURNING r.question_id, r.member_id, r.emoji)
    UPDATE question_counts q SET likes = q.likes - f.n
    FROM (SELECT d.question_id, COUNT(DISTINCT d.member_id) AS n FROM removed d
          WHERE NOT EXISTS (
              SELECT 1 FROM reactions r
              WHERE r.question_id = d.question_id AND r.member_id = d.member_id
                AND NOT EXISTS (SELECT 1 FROM removed o WHERE o.question_id = r.question_id
                                AND o.member_id = r.member_id AND o.emoji = r.emoji))
          GROUP BY d.question_id) AS f
    WHERE q.id = f.question_id
"""

# A question's likes recounted from its reaction rows (its distinct likers), after a clear or a reconciliation.
RECOUNT = """
    UPDATE question_counts q SET likes = c.n
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
        however many like emojis; idempotent for redelivered events. (apply_reactions for one change, without
        its loops: a busy bot calls this for every reaction.)"""
        created = codec.to_micros(at)
        where = (ref.platform, ref.chat_id, ref.message_id)
        await self._submit(LikeOp([where], [member], [(True, created, emoji, member.platform, member.user_id, *where)]))

    async def apply_reactions(self, changes: Sequence[ReactionChange]) -> None:
        """Apply the changes in order, all or none (every time is checked before anything is sent)."""
        times = _micros(changes)
        if not changes:
            return
        rows = [_change(change, created) for change, created in zip(changes, times, strict=True)]
        members = [change.member for change in changes if change.added]
        await self._submit(LikeOp(list(dict.fromkeys(row[5:] for row in rows)), members, rows))

    async def keep_reactions(self, changes: Sequence[ReactionChange]) -> None:
        """Applied at once: the count runs on the server, not on a thread of the process that polls, so keeping
        the burst first would only add a write."""
        await self.apply_reactions(changes)

    async def settled(self) -> None:
        """Nothing kept waits to be counted here (see :meth:`keep_reactions`)."""

    async def remove_reaction(self, ref: MessageRef, member: Member, emoji: str) -> None:
        where = ref_params(ref)
        await self._submit(LikeOp([where], [], [(False, 0, emoji, member.platform, member.user_id, *where)]))

    async def clear_reactions(self, ref: MessageRef, emoji: str | None) -> None:
        """All of the message's reactions (``emoji`` None) or only those with ``emoji``."""
        where = ref_params(ref)

        async def clear(conn: Conn, locked: Locked) -> None:
            question_id = locked.get(where)
            if question_id is None:
                return
            if emoji is None:
                status = await conn.execute("DELETE FROM reactions WHERE question_id = $1", question_id)
            else:
                status = await conn.execute(
                    "DELETE FROM reactions WHERE question_id = $1 AND emoji = $2", question_id, emoji
                )
            if affected(status):
                await conn.execute(RECOUNT, [question_id])

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

        async def reconcile(conn: Conn, locked: Locked) -> ReactionFix | None:
            question_id = locked.get(where)
            if question_id is None:
                return None
            pairs = _columns([(m.platform, m.user_id, emoji) for m, emoji in reported], 3)
            wanted = {(r[0], r[1]) for r in await conn.fetch(MAY_LIKE_REPORTED, *pairs, question_id)}
            kept_rows = list(await conn.fetch(KEPT_REACTIONS, question_id))
            kept = {(r[0], r[1]) for r in kept_rows}
            removed = sorted(kept - wanted)
            if removed:
                await conn.execute(REMOVE_KEPT, question_id, *_columns(removed, 2))
            likes = [(question_id, created, emoji, m.platform, m.user_id) for m, emoji in reported]
            await conn.execute(ADD_LIKES, *_columns(likes, 5))
            now_rows = list(await conn.fetch(KEPT_REACTIONS, question_id))
            added = sorted({(r[0], r[1]) for r in now_rows} - (kept - set(removed)))
            users = {r[0]: r[2] for r in kept_rows + now_rows}
            fix = ReactionFix(
                question_id,
                tuple((users[m], e) for m, e in added),
                tuple((users[m], e) for m, e in removed),
            )
            if added or removed:
                await conn.execute(RECOUNT, [question_id])
            return fix

        members = [m for m, _ in reported]
        result: ReactionFix | None = await self._submit(LikeOp([where], members, work=reconcile))
        return result

    async def set_anonymous_likes(self, ref: MessageRef, counts: Sequence[tuple[str, int]]) -> None:
        """What the totals of the group's like emojis hold beyond the members' reactions we know is kept as the
        question's base likes (likes without member ids)."""
        where = ref_params(ref)

        async def anonymous(conn: Conn, locked: Locked) -> None:
            question_id = locked.get(where)
            if question_id is not None:
                await conn.execute(ANONYMOUS_LIKES, question_id, *_columns(list(counts), 2))

        await self._submit(LikeOp([where], work=anonymous))

    # the group's transaction -------------------------------------------------------------------------------
    async def _run_like_group(self, ops: list[LikeOp]) -> list[Any]:
        """Lock, upsert the members, apply every operation in order with its count updates; one transaction.
        Returns each operation's result."""
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
                locked = {refs[n - 1]: question_id for question_id, n in rows}
            if members:
                params = [(m.platform, m.user_id, m.display_name, int(m.is_bot)) for m in members.values()]
                await conn.execute(UPSERT_MEMBERS, *_columns(params, 4))
            run: list[Change] = []
            for op in ops:
                if op.changes is not None:
                    run.extend(op.changes)
                    results.append(None)
                    continue
                await _apply_changes(conn, run, locked)
                run = []
                assert op.work is not None
                results.append(await op.work(conn, locked))
            await _apply_changes(conn, run, locked)
        return results


async def _apply_changes(conn: Conn, changes: list[Change], locked: Locked) -> None:
    """The changes in order, one statement (with its count updates) per run of adds or of removes; a change on a
    message that is no locked question (no question, or not one when the lock was taken) is not a like."""
    start = 0
    while start < len(changes):
        added = changes[start][0]
        end = start
        while end < len(changes) and changes[end][0] == added:
            end += 1
        rows = []
        for c in changes[start:end]:
            question_id = locked.get((c[5], c[6], c[7]))
            if question_id is not None:
                rows.append((question_id, c[1], c[2], c[3], c[4]) if added else (question_id, c[3], c[4], c[2]))
        if rows:
            await conn.execute(ADD_AND_COUNT if added else REMOVE_AND_COUNT, *_columns(rows, len(rows[0])))
        start = end

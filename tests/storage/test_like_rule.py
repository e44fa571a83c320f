"""The like rule, stated once (the view countable_likes), holds on every path that keeps a like.

A reaction counts when its emoji is one of the group's like emojis and its member is neither the post's author
nor a bot. The paths: a live reaction (add_reaction), bursts (apply_reactions: by known members, with new
members, with removals) and the reconciliation with what a platform reports (reconcile_reactions).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest

import storage.postgres
from handlers.vocabulary.domain import Member, MessageRef, ReactionChange
from storage import SqliteStore
from tests.storage.helpers import ANN, BOB, CAT, DAN, T0, World
from tests.storage.raw import rows

LIKE, LAUGH = "👍", "😂"
BOT = Member("telegram", "99", "a bot", is_bot=True)
# The author's own like, a bot's like, a reaction that is not a like emoji, and the one like that counts.
REPORTED = [(ANN, LIKE), (BOT, LIKE), (BOB, LAUGH), (CAT, LIKE)]

Way = Callable[[World, MessageRef], Awaitable[None]]


async def live(world: World, ref: MessageRef) -> None:
    for member, emoji in REPORTED:
        await world.store.add_reaction(ref, member, emoji, T0)


async def burst_with_new_members(world: World, ref: MessageRef) -> None:
    await world.store.apply_reactions([ReactionChange(ref, m, e, T0) for m, e in REPORTED])


async def burst_by_known_members(world: World, ref: MessageRef) -> None:
    other = (await world.post(author=DAN)).ref
    assert other is not None
    await world.store.apply_reactions([ReactionChange(other, m, e, T0) for m, e in REPORTED])  # members stored
    await world.store.apply_reactions([ReactionChange(ref, m, e, T0 + timedelta(seconds=1)) for m, e in REPORTED])


async def burst_with_removals(world: World, ref: MessageRef) -> None:
    changes = [ReactionChange(ref, m, e, T0) for m, e in REPORTED]
    changes.append(ReactionChange(ref, DAN, LIKE, T0, added=False))
    await world.store.apply_reactions(changes)


async def reconciled(world: World, ref: MessageRef) -> None:
    fix = await world.store.reconcile_reactions(ref, REPORTED, T0)
    assert fix is not None
    assert fix.added == ((CAT.user_id, LIKE),) and fix.removed == ()


@pytest.mark.parametrize(
    "path", [live, burst_with_new_members, burst_by_known_members, burst_with_removals, reconciled]
)
async def test_only_a_like_emoji_by_another_member_who_is_not_a_bot_counts(world: World, path: Way) -> None:
    question = await world.post(author=ANN)
    assert question.ref is not None
    await path(world, question.ref)
    stored = await world.store.get_question(question.id)
    assert stored is not None and stored.likes == 1
    again = await world.store.reconcile_reactions(question.ref, REPORTED, T0)
    assert again is not None and again.added == () and again.removed == ()  # every path kept the same reaction


async def test_reconcile_removes_what_is_no_longer_reported_and_keeps_a_former_like_emoji(world: World) -> None:
    store = world.store
    question = await world.post(author=ANN)
    assert question.ref is not None
    await store.set_like_emojis(world.group.id, [LIKE, LAUGH])
    await store.add_reaction(question.ref, BOB, LAUGH, T0)
    await store.add_reaction(question.ref, CAT, LIKE, T0)
    await store.set_like_emojis(world.group.id, [LIKE])
    fix = await store.reconcile_reactions(question.ref, [(BOB, LAUGH), (BOT, LIKE)], T0)
    assert fix is not None and fix.added == () and fix.removed == ((CAT.user_id, LIKE),)
    stored = await store.get_question(question.id)
    assert stored is not None and stored.likes == 1  # Bob's 😂 was a like when given, and is still reported


async def test_the_rule_is_written_once_in_the_schema(world: World) -> None:
    """The guard against self-likes and bots is in the view may_like only; every path reads the views."""
    store = world.store
    if isinstance(store, SqliteStore):
        async with store._reader.conn.execute(
            "SELECT name FROM sqlite_schema WHERE sql LIKE '%is_bot = 0%' OR sql LIKE '%<> q.author_id%'"
        ) as cursor:
            assert [row[0] for row in await cursor.fetchall()] == ["may_like"]
        return
    found = await rows(
        store,
        "SELECT viewname::text FROM pg_views WHERE schemaname = current_schema()"
        " AND (definition LIKE '%is_bot = 0%' OR definition LIKE '%<> q.author_id%')"
        " UNION ALL SELECT proname::text FROM pg_proc WHERE prosrc LIKE '%is_bot = 0%' OR prosrc LIKE '%author_id%'",
    )
    assert found == [("may_like",)]
    # Nor the self-like guard in the PostgreSQL store's SQL. (Its bot guard does appear there once more, for a
    # different rule: answers notify no bot, in notify.py, as on SQLite.)
    for module in Path(storage.postgres.__file__).parent.glob("*.py"):
        assert "<> q.author_id" not in module.read_text(encoding="utf-8"), module.name

"""Like counts of batches (migration 0013): a batch updates each question's count once, recounted from its
reaction rows, so a burst that touches one question many times must still leave exactly its distinct likers."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from handlers.vocabulary.domain import Member, MessageRef, ReactionChange
from storage import SqliteStore
from storage.codec import to_micros
from tests.storage.helpers import ANN, BOB, CAT, DAN, T0, AnyStore, World
from tests.storage.raw import rows, value

LIKE, HEART, LAUGH = "👍", "❤️", "😂"


async def likes(world: World, ref: MessageRef) -> int:
    question = await world.store.question_by_ref(ref)
    assert question is not None
    return question.likes


async def stored_counts(store: AnyStore) -> tuple[list[tuple[int, int, int]], int]:
    """Each question's (id, likes, distinct likers in its reaction rows), and the rows left in like_batch (a
    table of SQLite's batch view only; PostgreSQL recounts without one)."""
    counts = await rows(
        store,
        "SELECT q.id, q.likes, (SELECT COUNT(DISTINCT member_id) FROM reactions r WHERE r.question_id = q.id)"
        " FROM counted_questions q ORDER BY q.id",
    )
    left = await value(store, "SELECT COUNT(*) FROM like_batch") if isinstance(store, SqliteStore) else 0
    return counts, left


async def test_a_burst_touching_one_question_many_times_leaves_the_exact_count(world: World) -> None:
    store = world.store
    await store.set_like_emojis(world.group.id, [LIKE, HEART])
    ref = (await world.post("Eight?", author=ANN)).ref
    other = (await world.post("Nine?", author=ANN)).ref
    assert ref is not None and other is not None
    await store.apply_reactions([ReactionChange(ref, BOB, LIKE, T0), ReactionChange(ref, BOB, HEART, T0)])
    newcomers = [Member("telegram", str(700 + n), f"Newcomer {n}") for n in range(5)]
    known = [BOB, CAT, DAN]
    burst = [
        ReactionChange(where, who, emoji, T0)
        for _ in range(3)  # every like redelivered three times
        for where in (ref, other, ref)
        for who in [*known, ANN]  # Ann wrote both: hers never count
        for emoji in (LIKE, HEART, LAUGH)  # two like emojis, one not
    ]
    await store.apply_reactions(burst)  # known members only: the plain statement, as one batch
    assert (await likes(world, ref), await likes(world, other)) == (3, 3)
    await store.apply_reactions([ReactionChange(ref, who, e, T0) for who in newcomers for e in (LIKE, HEART)] * 2)
    assert (await likes(world, ref), await likes(world, other)) == (8, 3)
    counts, left = await stored_counts(store)
    assert all(count == distinct for _, count, distinct in counts) and left == 0


async def test_counts_stay_exact_when_batches_and_single_changes_mix(world: World) -> None:
    """Lone adds queued together become one batch; removals and clears after it still move the count."""
    store = world.store
    await store.set_like_emojis(world.group.id, [LIKE, HEART])
    ref = (await world.post("Ten?", author=ANN)).ref
    assert ref is not None
    await asyncio.gather(*(store.add_reaction(ref, who, e, T0) for who in (BOB, CAT, DAN) for e in (LIKE, HEART)))
    assert await likes(world, ref) == 3
    await store.remove_reaction(ref, BOB, LIKE)
    assert await likes(world, ref) == 3  # Bob still has ❤️
    await store.remove_reaction(ref, BOB, HEART)
    await store.add_reaction(ref, BOB, LIKE, T0)  # a lone like after a batch counts by the per-like trigger
    assert await likes(world, ref) == 3
    await store.clear_reactions(ref, HEART)
    assert await likes(world, ref) == 3  # each of them still has 👍
    await store.apply_reactions([ReactionChange(ref, CAT, LIKE, T0, added=False), ReactionChange(ref, DAN, HEART, T0)])
    assert await likes(world, ref) == 2  # Cat's 👍 went; Dan's ❤️ came back
    fix = await store.reconcile_reactions(ref, [(CAT, HEART), (DAN, LIKE)], T0)
    assert fix is not None and await likes(world, ref) == 2  # Bob gone, Cat back, Dan kept
    await store.clear_reactions(ref, None)
    assert await likes(world, ref) == 0
    counts, left = await stored_counts(store)
    assert all(count == distinct for _, count, distinct in counts) and left == 0


async def test_two_postgresql_stores_liking_the_same_questions_at_once_keep_exact_counts(postgres_url: str) -> None:
    """Two stores on one database stand for two processes: their like transactions (each locking its questions
    in id order, then recounting) interleave on the same questions and members, and every count stays exactly
    its distinct likers — nothing lost, nothing counted twice, no deadlock."""
    from storage.locations import Database, open_store
    from tests.storage.helpers import make_world

    database = Database.parse(postgres_url)
    one, two = await open_store(database), await open_store(database)
    try:
        world = await make_world(one)
        await one.set_like_emojis(world.group.id, [LIKE, HEART])
        refs = [(await world.post(f"Question {n}?", author=ANN)).ref for n in range(4)]
        assert all(ref is not None for ref in refs)
        fans = [Member("telegram", str(600 + n), f"Fan {n}") for n in range(12)]

        def burst(store_index: int, round_: int) -> list[ReactionChange]:
            changes = []
            for n, who in enumerate(fans):
                for k, ref in enumerate(refs if store_index == 0 else list(reversed(refs))):
                    assert ref is not None
                    emoji = (LIKE, HEART)[(n + k + round_) % 2]
                    changes.append(ReactionChange(ref, who, emoji, T0, added=(n + round_ + k) % 5 != 0))
            return changes

        async def lone_likes(store: AnyStore) -> None:
            await asyncio.gather(
                *(store.add_reaction(ref, who, LIKE, T0) for ref in refs if ref is not None for who in fans[:6])
            )

        for round_ in range(12):
            await asyncio.gather(
                one.apply_reactions(burst(0, round_)),
                two.apply_reactions(burst(1, round_)),
                lone_likes(one if round_ % 2 else two),
                one.clear_reactions(refs[round_ % 4], HEART) if round_ % 3 == 0 else asyncio.sleep(0),  # type: ignore[arg-type]
            )
        counts, _ = await stored_counts(one)
        assert counts and all(count == distinct for _, count, distinct in counts)
        assert sum(count for _, count, _ in counts) > 0
    finally:
        await one.close()
        await two.close()


@pytest.mark.parametrize("way", ["apply", "keep"])
async def test_a_burst_keeps_each_like_with_its_own_post_emoji_and_time(world: World, way: str) -> None:
    """SQLite sends a burst's likes grouped by post, emoji and time (migration 21): every like must still land
    on its own post with its own emoji and time, by the like rule, whether equal posts come as one object or as
    several (Telegram builds one per update)."""
    store = world.store
    await store.set_like_emojis(world.group.id, [LIKE, HEART])
    one = (await world.post("One?", author=ANN)).ref
    two = (await world.post("Two?", author=BOB)).ref
    assert one is not None and two is not None
    same_as_one = MessageRef(one.platform, one.chat_id, one.message_id, one.thread_id)
    unknown = MessageRef(one.platform, one.chat_id, "404", one.thread_id)
    later = T0 + timedelta(seconds=1, microseconds=7)
    newcomer, bot = Member("telegram", "800", "Newcomer"), Member("telegram", "900", "A bot", is_bot=True)
    burst = [
        ReactionChange(one, BOB, LIKE, T0),
        ReactionChange(same_as_one, CAT, LIKE, T0),
        ReactionChange(one, DAN, LIKE, later),
        ReactionChange(one, newcomer, HEART, T0),
        ReactionChange(same_as_one, newcomer, LIKE, later),  # a second like emoji: one more row, no more likes
        ReactionChange(one, ANN, LIKE, T0),  # her own post
        ReactionChange(one, bot, LIKE, T0),
        ReactionChange(two, BOB, LIKE, T0),  # his own post
        ReactionChange(two, CAT, LAUGH, T0),  # not a like emoji
        ReactionChange(two, DAN, HEART, later),
        ReactionChange(unknown, CAT, LIKE, T0),  # no such post
    ]
    await (store.apply_reactions(burst) if way == "apply" else store.keep_reactions(burst))
    kept = await rows(
        store,
        "SELECT q.message_id, m.user_id, r.emoji, r.created_at FROM reactions r"
        " JOIN questions q ON q.id = r.question_id JOIN members m ON m.id = r.member_id"
        " ORDER BY q.message_id, m.user_id, r.emoji",
    )
    at, at_later = to_micros(T0), to_micros(later)
    assert kept == sorted(
        [
            (one.message_id, "2", LIKE, at),
            (one.message_id, "3", LIKE, at),
            (one.message_id, "4", LIKE, at_later),
            (one.message_id, "800", HEART, at),
            (one.message_id, "800", LIKE, at_later),
            (two.message_id, "4", HEART, at_later),
        ]
    )
    assert (await likes(world, one), await likes(world, two)) == (4, 1)
    counts, left = await stored_counts(store)
    assert all(count == distinct for _, count, distinct in counts) and left == 0

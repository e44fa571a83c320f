"""Likes: rows under a unique key, counts kept by triggers in the same transaction."""

from __future__ import annotations

import asyncio

from handlers.vocabulary.domain import Member, MessageRef
from storage import SqliteStore
from storage.locations import Database, open_store
from tests.storage.helpers import ANN, BOB, CAT, DAN, T0, World, make_world
from tests.storage.raw import commits, rows

LIKE, HEART, LAUGH = "👍", "❤️", "😂"


async def likes(world: World, ref: MessageRef) -> int:
    question = await world.store.question_by_ref(ref)
    assert question is not None
    return question.likes


async def test_several_like_emojis_make_one_like_per_member(world: World) -> None:
    await world.store.set_like_emojis(world.group.id, [LIKE, HEART])
    ref = (await world.post()).ref
    assert ref is not None
    for emoji in (LIKE, HEART):
        await world.store.add_reaction(ref, BOB, emoji, T0)
    await world.store.add_reaction(ref, CAT, HEART, T0)
    assert await likes(world, ref) == 2


async def test_removing_one_of_two_emojis_keeps_the_like_and_the_last_removes_it(world: World) -> None:
    store = world.store
    await store.set_like_emojis(world.group.id, [LIKE, HEART])
    ref = (await world.post()).ref
    assert ref is not None
    await store.add_reaction(ref, BOB, LIKE, T0)
    await store.add_reaction(ref, BOB, HEART, T0)
    await store.remove_reaction(ref, BOB, LIKE)
    assert await likes(world, ref) == 1
    await store.remove_reaction(ref, BOB, LIKE)  # removing twice changes nothing
    assert await likes(world, ref) == 1
    await store.remove_reaction(ref, BOB, HEART)
    assert await likes(world, ref) == 0


async def test_self_reaction_bots_and_other_emojis_are_ignored(world: World) -> None:
    ref = (await world.post(author=ANN)).ref
    assert ref is not None
    await world.store.add_reaction(ref, ANN, LIKE, T0)
    await world.store.add_reaction(ref, BOB, LAUGH, T0)
    await world.store.add_reaction(ref, Member("telegram", "99", "a bot", is_bot=True), LIKE, T0)
    assert await likes(world, ref) == 0


async def test_reaction_to_an_unknown_message_is_ignored(world: World) -> None:
    await world.store.add_reaction(world.ref("nothing"), BOB, LIKE, T0)
    await world.store.remove_reaction(world.ref("nothing"), BOB, LIKE)
    await world.store.clear_reactions(world.ref("nothing"), None)


async def test_redelivered_reaction_counts_once(world: World) -> None:
    ref = (await world.post()).ref
    assert ref is not None
    for _ in range(3):
        await world.store.add_reaction(ref, BOB, LIKE, T0)
    assert await likes(world, ref) == 1


async def test_clear_all_and_clear_one_emoji(world: World) -> None:
    store = world.store
    await store.set_like_emojis(world.group.id, [LIKE, HEART])
    ref = (await world.post()).ref
    assert ref is not None
    await store.add_reaction(ref, BOB, LIKE, T0)
    await store.add_reaction(ref, BOB, HEART, T0)
    await store.add_reaction(ref, CAT, HEART, T0)
    await store.add_reaction(ref, DAN, LIKE, T0)
    await store.clear_reactions(ref, HEART)
    assert await likes(world, ref) == 2  # Bob still has 👍, Dan 👍; Cat had only ❤️
    await store.clear_reactions(ref, None)
    assert await likes(world, ref) == 0


async def test_base_likes_are_kept_apart_from_member_likes(world: World) -> None:
    question = await world.post()
    assert question.ref is not None
    await world.store.set_base_likes(question.id, 5)
    await world.store.add_reaction(question.ref, BOB, LIKE, T0)
    stored = await world.store.get_question(question.id)
    assert stored is not None and (stored.likes, stored.base_likes, stored.total_likes) == (1, 5, 6)
    await world.store.set_base_likes(question.id, 2)
    stored = await world.store.get_question(question.id)
    assert stored is not None and stored.total_likes == 3


async def test_changing_like_emojis_does_not_recount_old_reactions(world: World) -> None:
    ref = (await world.post()).ref
    assert ref is not None
    await world.store.add_reaction(ref, BOB, LIKE, T0)
    await world.store.set_like_emojis(world.group.id, [HEART])
    await world.store.add_reaction(ref, CAT, LIKE, T0)  # no longer a like emoji
    assert await likes(world, ref) == 1
    await world.store.remove_reaction(ref, BOB, LIKE)  # the kept one still comes off
    assert await likes(world, ref) == 0


async def test_counts_survive_close_and_reopen(database: Database) -> None:
    store = await open_store(database)
    world = await make_world(store)
    question = await world.post()
    assert question.ref is not None
    await store.set_base_likes(question.id, 4)
    for member in (BOB, CAT):
        await store.add_reaction(question.ref, member, LIKE, T0)
    await store.close()
    store = await open_store(database)
    try:
        world.store = store
        await store.remove_reaction(question.ref, CAT, LIKE)
        stored = await store.get_question(question.id)
        assert stored is not None and (stored.likes, stored.base_likes) == (1, 4)
    finally:
        await store.close()


async def test_a_burst_applies_additions_and_removals_in_order(world: World) -> None:
    from datetime import datetime

    import pytest

    from handlers.vocabulary.domain import ReactionChange

    store = world.store
    first, second = (await world.post("One?")).ref, (await world.post("Two?")).ref
    assert first is not None and second is not None
    burst = [
        ReactionChange(first, BOB, LIKE, T0),
        ReactionChange(first, BOB, LIKE, T0, added=False),  # taken back within the same burst
        ReactionChange(second, BOB, LIKE, T0),
        ReactionChange(second, CAT, LIKE, T0),
        ReactionChange(second, CAT, LIKE, T0, added=False),
        ReactionChange(second, CAT, LIKE, T0),  # and given again
        ReactionChange(second, ANN, LIKE, T0),  # the author's own: ignored
        ReactionChange(first, DAN, LAUGH, T0),  # not a like emoji
    ]
    await store.apply_reactions(burst)
    assert (await likes(world, first), await likes(world, second)) == (0, 2)
    NAIVE = datetime(2026, 1, 1)  # noqa: DTZ001 - the bad input under test
    with pytest.raises(ValueError, match="naive"):
        await store.apply_reactions([ReactionChange(first, DAN, LIKE, T0), ReactionChange(first, CAT, LIKE, NAIVE)])
    assert await likes(world, first) == 0  # the good change before the bad one was not applied either


async def test_a_burst_stores_new_members_and_renames_in_the_same_statement(world: World) -> None:
    from handlers.vocabulary.domain import ReactionChange

    store = world.store
    ref = (await world.post("Three?")).ref
    assert ref is not None
    newcomer, renamed = Member("telegram", "901", "Newcomer"), Member("telegram", BOB.user_id, "Bob (renamed)")
    await store.add_reaction(ref, BOB, LIKE, T0)  # Bob is known under his old name
    before = commits(store)
    await store.apply_reactions(
        [ReactionChange(ref, newcomer, LIKE, T0), ReactionChange(ref, renamed, HEART, T0)]  # ❤️ is no like here
    )
    assert commits(store) == before + 1
    assert await likes(world, ref) == 2
    names = dict(
        await rows(store, f"SELECT user_id, display_name FROM members WHERE user_id IN ('901', '{BOB.user_id}')")
    )
    assert names == {"901": "Newcomer", BOB.user_id: "Bob (renamed)"}


async def test_a_burst_by_known_members_counts_like_any_other(world: World) -> None:
    from handlers.vocabulary.domain import ReactionChange

    store = world.store
    first, second = (await world.post("Four?")).ref, (await world.post("Five?")).ref
    assert first is not None and second is not None
    await store.apply_reactions([ReactionChange(first, BOB, LIKE, T0), ReactionChange(first, CAT, LIKE, T0)])
    before = commits(store)
    known_only = [ReactionChange(ref, who, LIKE, T0) for ref in (first, second) for who in (BOB, CAT, ANN)]
    await store.apply_reactions(known_only)  # ANN wrote both: her own likes do not count
    assert commits(store) == before + 1
    assert (await likes(world, first), await likes(world, second)) == (2, 2)


async def test_bursts_with_new_members_queued_together_commit_as_one_statement(world: World) -> None:
    """The next lot is often queued while the one before it commits: both carry members seen for the first
    time, and they still cost one statement and one commit, each burst applied whole. On SQLite a burst handed
    to an idle writer goes to SQLite at once (see test_writer_at_once), so a third burst goes first here, and the
    two behind it in the same step are the ones joined."""
    import asyncio

    from handlers.vocabulary.domain import ReactionChange

    store = world.store
    first, second = (await world.post("Six?")).ref, (await world.post("Seven?")).ref
    assert first is not None and second is not None
    newcomers = [Member("telegram", str(900 + n), f"Newcomer {n}") for n in range(4)]
    opening = [ReactionChange(second, Member("telegram", str(950 + n), f"First {n}"), LIKE, T0) for n in range(2)]
    before = commits(store)
    transactions = store.writer_stats.transactions if isinstance(store, SqliteStore) else 0
    await asyncio.gather(
        store.apply_reactions(opening),
        store.apply_reactions([ReactionChange(first, who, LIKE, T0) for who in newcomers[:3]]),
        store.apply_reactions(
            [
                ReactionChange(ref, who, emoji, T0)
                for ref in (first, second)
                for who in newcomers[2:]
                for emoji in (LIKE, LAUGH)
            ]
        ),
    )
    assert commits(store) == before + (2 if isinstance(store, SqliteStore) else 1)
    if isinstance(store, SqliteStore):  # one statement each, so no BEGIN and COMMIT either
        assert store.writer_stats.transactions == transactions
        assert store.writer_stats.at_once == 1
    assert (await likes(world, first), await likes(world, second)) == (4, 4)
    stored = await rows(store, "SELECT count(*) FROM members WHERE user_id BETWEEN '900' AND '903'")
    assert stored == [(4,)]


async def test_likes_handed_over_before_close_are_committed(database: Database, world: World) -> None:
    """close() commits what was queued, on either store: a backend stopping mid-burst loses no like."""
    await world.post("why?", message_id="q1")
    members = [Member("telegram", str(500 + n), f"M{n}") for n in range(50)]
    handed = [asyncio.ensure_future(world.store.add_reaction(world.ref("q1"), m, "👍", T0)) for m in members]
    await asyncio.sleep(0)  # every call has queued its like; none has been committed yet
    await world.store.close()
    await asyncio.gather(*handed)
    reopened = await open_store(database)
    try:
        stored = await reopened.question_by_ref(world.ref("q1"))
        assert stored is not None and stored.likes == len(members)
    finally:
        await reopened.close()

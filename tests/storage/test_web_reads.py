"""The web page's reads (issue 17) at the store, on both stores: the list's filters, search of one or two
characters and of three or more (SQLite's trigram table, PostgreSQL's pg_trgm index), a cluster found through
any wording, pages, one question with its wordings and replies, the secret and the share links."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg

from handlers.vocabulary.domain import LessonDraft, MessageRef, PostKind
from storage.locations import Database, open_store
from storage.web_reads import PAGE_SIZE, WebFilter
from tests.storage.helpers import BOB, CAT, DAN, T0, World, make_world

WINDOWS = "How do I install CUDA on Windows?"
WINDOWS_AGAIN = "how to install cuda on windows??"


async def listed(world: World, **how: object) -> list[int]:
    found, _ = await world.store.web_questions(WebFilter("ai", **how))  # type: ignore[arg-type]
    return [q.id for q in found]


async def test_the_list_shows_each_cluster_once_most_liked_first_with_its_copies(world: World) -> None:
    first = await world.post(WINDOWS)
    again = await world.post(WINDOWS_AGAIN, author=BOB)
    liked = await world.post("显存不够怎么办", author=CAT, at=T0 + timedelta(hours=1))
    comment = await world.post("Thanks!", author=DAN, kind=PostKind.COMMENT)
    assert again.duplicate_of == first.id and liked.ref is not None
    await world.store.add_reaction(liked.ref, DAN, "👍", T0)
    found, more = await world.store.web_questions(WebFilter("ai"))
    assert [q.id for q in found] == [liked.id, first.id] and not more
    assert comment.id not in [q.id for q in found]
    assert found[1].copies == 2 and found[0].score == 1 and found[1].asker == "Ann"
    assert found[1].group_title == "AI study group" and found[1].lesson_title == "Introduction"


async def test_search_finds_a_cluster_through_any_wording_short_or_long_any_case(world: World) -> None:
    first = await world.post(WINDOWS)
    await world.post(WINDOWS_AGAIN, author=BOB)
    chinese = await world.post("显存不够怎么办", author=CAT)
    slides = await world.post("Where are the slides?", author=DAN)
    assert await listed(world, query="windows??") == [first.id]  # only the copy says it
    assert await listed(world, query="CUDA") == [first.id]  # trigram, either case
    assert await listed(world, query="cu") == [first.id]  # two characters: no trigram
    assert await listed(world, query="显存不够") == [chinese.id]
    assert await listed(world, query="显") == [chinese.id]
    assert await listed(world, query="  slides  ") == [slides.id]  # trimmed
    assert await listed(world, query="100%") == [] and await listed(world, query="_") == []  # LIKE's signs are text
    assert await listed(world, query='"quoted"') == []


async def test_filters_by_lesson_state_and_time_and_never_another_course(world: World) -> None:
    store = world.store
    other, _ = await store.upsert_lesson(LessonDraft("ai", "gpus", "GPUs", number=2), T0)
    early = await world.post("Which GPU should I buy?")
    late = await world.post("Which GPU for the labs?", author=BOB, lesson=other, at=T0 + timedelta(days=2))
    await store.mark_answered(early.id, "Any.", T0)
    assert await listed(world, lesson_id=other.id) == [late.id]
    assert await listed(world, state="answered") == [early.id]
    assert await listed(world, state="open") == [late.id]
    assert await listed(world, since=T0 + timedelta(days=1)) == [late.id]
    assert await listed(world, query="GPU", state="open", lesson_id=other.id) == [late.id]
    assert await store.web_lessons("ai") == [(world.lesson.id, "Introduction"), (other.id, "GPUs")]
    found, _ = await store.web_questions(WebFilter("elsewhere", query="GPU"))
    assert found == []
    assert await store.web_question("elsewhere", early.id) is None


async def test_pages_of_fifty(world: World) -> None:
    for n in range(PAGE_SIZE + 1):
        await world.post(f"question number {n}?", at=T0 + timedelta(minutes=n))
    first, more = await world.store.web_questions(WebFilter("ai", query="question", page=1))
    second, last = await world.store.web_questions(WebFilter("ai", query="question", page=2))
    assert len(first) == PAGE_SIZE and more and [q.text for q in second] == [f"question number {PAGE_SIZE}?"]
    assert not last
    assert [q.id for q in first] == sorted(q.id for q in first)  # no likes: oldest first


async def test_one_question_with_its_wordings_and_replies(world: World) -> None:
    store = world.store
    first = await world.post(WINDOWS)
    again = await world.post(WINDOWS_AGAIN, author=BOB)
    await store.add_reply(first.id, CAT, MessageRef("telegram", "-100", "r1"), "Use WSL.", T0 + timedelta(hours=1))
    await store.add_reply(first.id, DAN, MessageRef("telegram", "-100", "r2"), "gone", T0 + timedelta(hours=2))
    await store.delete_post(MessageRef("telegram", "-100", "r2"), T0 + timedelta(hours=3))
    detail = await store.web_question("ai", first.id)
    assert detail is not None and detail.question.id == first.id
    assert [q.id for q in detail.wordings] == [again.id]
    assert [(r.author, r.text, r.created_at) for r in detail.replies] == [("Cat", "Use WSL.", T0 + timedelta(hours=1))]
    copy = await store.web_question("ai", again.id)
    assert copy is not None and copy.wordings == [] and copy.question.text == WINDOWS_AGAIN


async def test_the_secret_is_made_once_and_share_links_are_per_course(database: Database) -> None:
    one = await open_store(database)
    two = await open_store(database)
    try:
        await make_world(one)
        secrets = await asyncio.gather(one.web_secret(), two.web_secret(), one.web_secret())
        secret = secrets[0]
        assert len(secret) >= 40 and set(secrets) == {secret} and await two.web_secret() == secret
        assert await one.web_share_token("ai") is None
        token = await one.web_share_create("ai", T0)
        assert await two.web_share_create("ai", T0) == token  # the course's link stays until revoked
        assert await two.web_share_course(token) == "ai" and await two.web_share_course("nope") is None
        await two.web_share_revoke("ai")
        assert await one.web_share_token("ai") is None and await one.web_share_course(token) is None
        assert await one.web_share_create("ai", T0) != token
    finally:
        await one.close()
        await two.close()


async def test_a_search_of_three_characters_or_more_can_use_the_trigram_index_on_postgresql(postgres_url: str) -> None:
    """With scans priced out (a tiny table would rather be read whole), the planner answers the search's hits
    from the pg_trgm GIN index of the baseline, and the reminders' candidates from their partial index."""
    from storage.postgres import notify, web_reads
    from storage.postgres.named import named

    conn = await asyncpg.connect(postgres_url)
    try:
        await conn.execute("SET enable_seqscan = off")
        checks = {
            web_reads._HITS: ("question_texts_trigrams", {"like": "%cuda%"}),
            notify.REMINDER_CANDIDATES: ("question_counts_to_remind", {"course": "ai", "cutoff": 0, "limit": 5}),
        }
        for sql, (index, params) in checks.items():
            text, values = named(sql, params)
            plan = "\n".join(r[0] for r in await conn.fetch("EXPLAIN " + text, *values))
            assert index in plan, plan
    finally:
        await conn.close()

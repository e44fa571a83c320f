"""Rankings, periods, stats and export."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from handlers.vocabulary.domain import LessonDraft, Member, PeriodSummary, PostKind, PostWindow, Stats
from storage.postgres import PostgresStore
from tests.storage.helpers import BOB, CAT, DAN, T0, World

HOUR = timedelta(hours=1)
TABLES = {
    "questions",
    "question_counts",
    "counted_questions",
    "q",
    "c",
    "reactions",
    "members",
    "m",
    "lessons",
    "l",
    "group_like_emojis",
    "e",
}


async def like(world: World, message_id: str, count: int) -> None:
    for i in range(count):
        await world.store.add_reaction(world.ref(message_id), Member("telegram", f"liker{i}", "L"), "👍", T0)


async def test_top_questions_order_ties_and_exclusions(world: World) -> None:
    store = world.store
    await world.post("old tie", message_id="a", at=T0)
    await world.post("new tie", message_id="b", at=T0 + HOUR)
    await world.post("best", message_id="c", at=T0 + 2 * HOUR)
    await world.post("deleted", message_id="d", at=T0)
    await world.post("a comment", message_id="e", at=T0, kind=PostKind.COMMENT)
    imported = await world.post("imported", message_id="f", at=T0 + 3 * HOUR)
    await like(world, "a", 2)
    await like(world, "b", 2)
    await like(world, "c", 3)
    await like(world, "d", 9)
    await like(world, "e", 9)
    await store.set_base_likes(imported.id, 1)
    await store.delete_post(world.ref("d"), T0)
    top = await store.top_questions("ai", 10)
    assert [r.question.text for r in top] == ["best", "old tie", "new tie", "imported"]
    assert top[0].lesson_title == world.lesson.title and top[0].lesson_number == world.lesson.number
    assert [r.question.text for r in await store.top_questions("ai", 2)] == ["best", "old tie"]
    assert await store.top_questions("other", 10) == []


async def test_top_questions_by_lesson_and_without_answered(world: World) -> None:
    store = world.store
    second, _ = await store.upsert_lesson(LessonDraft("ai", "two", "Two", number=2), T0)
    await world.post("in one", message_id="a")
    answered = await world.post("answered", message_id="b")
    await world.post("in two", message_id="c", lesson=second)
    await like(world, "b", 1)
    await store.mark_answered(answered.id, "yes", T0)
    in_one = await store.top_questions("ai", 10, lesson_id=world.lesson.id)
    assert [r.question.text for r in in_one] == ["answered", "in one"]
    open_ones = await store.top_questions("ai", 10, include_answered=False)
    assert [r.question.text for r in open_ones] == ["in one", "in two"]
    assert [r.question.text for r in await store.top_questions("ai", 10, lesson_id=second.id)] == ["in two"]


async def test_a_window_holds_the_posts_stored_after_its_start_through_its_end(world: World) -> None:
    store = world.store
    before = await world.post("before", message_id="a", at=T0)
    first = await world.post("first", message_id="b", at=T0 + HOUR)
    await world.post("late but dated early", message_id="c", at=T0 - 9 * HOUR)
    await world.post("comment", message_id="e", at=T0 + HOUR, kind=PostKind.COMMENT)
    last = await world.post("last", message_id="d", at=T0 + 2 * HOUR)
    await world.post("after", message_id="f", at=T0)
    await like(world, "c", 1)
    assert await store.newest_post_id() > last.id
    window = PostWindow(before.id, last.id)
    ranked = await store.period_questions("ai", window, 10)
    assert [r.question.text for r in ranked] == ["late but dated early", "first", "last"]
    assert [r.question.text for r in await store.period_questions("ai", window, 1)] == ["late but dated early"]
    since = PostWindow(0, last.id, since=T0)
    assert [r.question.text for r in await store.period_questions("ai", since, 10)] == ["before", "first", "last"]
    assert first.id in {r.question.id for r in ranked}


async def test_period_summary_counts_posts_of_the_period(world: World) -> None:
    store = world.store
    second, _ = await store.upsert_lesson(LessonDraft("ai", "two", "Two", number=2), T0)
    await world.post("q1", message_id="a", at=T0)
    await world.post("c1", message_id="b", at=T0, kind=PostKind.COMMENT)
    await world.post("q2", message_id="c", at=T0, lesson=second)
    await world.post("q3", message_id="d", at=T0, lesson=second)
    await world.post("q4", message_id="g", at=T0, lesson=second)
    outside = await world.post("outside", message_id="e", at=T0 + 5 * HOUR, lesson=second)
    gone = await world.post("gone", message_id="f", at=T0)
    await store.delete_post(world.ref("f"), T0)
    await like(world, "a", 2)
    await like(world, "b", 1)
    await like(world, "e", 7)
    window = PostWindow(0, outside.id - 1)
    summary = await store.period_summary("ai", window)
    assert summary == PeriodSummary(questions=4, comments=1, likes=3, most_active_lesson="Two")
    # a tie goes to the earlier lesson
    await store.delete_post(world.ref("g"), T0)
    assert (await store.period_summary("ai", window)).most_active_lesson == world.lesson.title
    assert await store.period_summary("ai", PostWindow(gone.id, gone.id)) == PeriodSummary(0, 0, 0, None)
    assert (await store.period_summary("ai", PostWindow(0, gone.id, since=T0 + HOUR))).questions == 1


async def test_stats(world: World) -> None:
    store = world.store
    question = await world.post("q", message_id="a", author=BOB)
    await world.post("c", message_id="b", author=CAT, kind=PostKind.COMMENT)
    await world.post("deleted", message_id="x", author=CAT)
    await store.delete_post(world.ref("x"), T0)
    await store.add_reply(question.id, DAN, world.ref("r"), "reply", T0)
    await store.mark_answered(question.id, "answer", T0)
    await like(world, "a", 2)
    await store.set_base_likes(question.id, 3)
    assert await store.stats("ai") == Stats(
        lessons=1, questions=1, comments=1, replies=1, likes=5, answered=1, members=3
    )


async def test_export_rows_in_course_order_with_replies(world: World) -> None:
    store = world.store
    zero, _ = await store.upsert_lesson(LessonDraft("ai", "zero", "Zero", number=0), T0)
    late = await world.post("later in lesson 1", message_id="a", at=T0 + HOUR)
    early = await world.post("early in lesson 1", message_id="b", at=T0, kind=PostKind.COMMENT)
    await world.post("lesson 0", message_id="c", at=T0 + 2 * HOUR, lesson=zero)
    await world.post("deleted", message_id="d", at=T0)
    await store.delete_post(world.ref("d"), T0)
    await store.add_reply(late.id, BOB, world.ref("r2"), "second", T0 + 3 * HOUR)
    await store.add_reply(late.id, CAT, world.ref("r1"), "first", T0 + 2 * HOUR)
    await store.add_reply(late.id, DAN, world.ref("r3"), "removed", T0 + 4 * HOUR)
    await store.delete_post(world.ref("r3"), T0)
    rows = await store.export_rows("ai")
    assert [(r.lesson_title, r.question.text) for r in rows] == [
        ("Zero", "lesson 0"),
        ("Introduction", "early in lesson 1"),
        ("Introduction", "later in lesson 1"),
    ]
    assert rows[1].question.id == early.id and rows[1].replies == ()
    assert [(reply.text, reply.author) for reply in rows[2].replies] == [("first", CAT), ("second", BOB)]


async def test_rankings_and_lookups_are_index_backed(world: World) -> None:
    """No query behind /top, digests or an incoming event scans the questions or reactions tables."""
    from storage import likes, queries

    if isinstance(world.store, PostgresStore):
        await postgres_plans_use_indexes(world.store)
        return
    conn = world.store._reader.conn
    period = {"course": "ai", "after": 0, "through": 1, "since": 0, "limit": 5}
    checks = {
        queries.TOP.format(answered=""): {"course": "ai", "limit": 5},
        queries.TOP.format(answered="AND answered = 0"): {"course": "ai", "limit": 5},
        queries.TOP_IN_LESSON.format(answered=""): {"course": "ai", "lesson": 1, "limit": 5},
        queries.PERIOD: period,
        queries.PERIOD_SUMMARY: {k: v for k, v in period.items() if k != "limit"},
        likes.ADD_REACTION: (0, "👍", "telegram", "2", "telegram", "-100", "m1"),
        likes.REMOVE_REACTION: ("telegram", "-100", "m1", "telegram", "2", "👍"),
    }
    for sql, params in checks.items():
        async with conn.execute("EXPLAIN QUERY PLAN " + sql, params) as cursor:
            plan = [row[3] for row in await cursor.fetchall()]
        scans = [step for step in plan if step.split()[:2][-1] in TABLES and step.startswith("SCAN")]
        assert not scans, (sql, plan)


async def postgres_plans_use_indexes(store: PostgresStore) -> None:
    """PostgreSQL picks its own plans (a sequential scan wins on a table this small), so the check is that with
    sequential scans priced out every query still finds an index path to the questions and reactions it reads."""
    from storage.postgres import likes, reads
    from storage.postgres.named import named

    period = {"course": "ai", "after": 0, "through": 1, "since": 0, "limit": 5}
    ref, ids = (["telegram"], ["-100"], ["m1"]), [1]
    checks: list[tuple[str, list[Any]]] = [
        named(reads.TOP.format(answered=""), {"course": "ai", "limit": 5}),
        named(reads.TOP.format(answered="AND answered = 0"), {"course": "ai", "limit": 5}),
        named(reads.TOP_IN_LESSON.format(answered=""), {"course": "ai", "lesson": 1, "limit": 5}),
        named(reads.PERIOD, period),
        named(reads.PERIOD_SUMMARY, {k: v for k, v in period.items() if k != "limit"}),
        (likes.LOCK_QUESTIONS, [*ref]),
        (likes.ADD_AND_COUNT, [ids, [0], ["👍"], ["telegram"], ["2"]]),
        (likes.REMOVE_AND_COUNT, [ids, ["telegram"], ["2"], ["👍"]]),
        (likes.RECOUNT, [ids]),
        (likes.UPSERT_MEMBERS, [["telegram"], ["2"], ["Bob"], [0]]),
    ]
    async with store._transaction() as conn:
        await conn.execute("SET LOCAL enable_seqscan = off")
        for sql, params in checks:
            plan = [row[0] for row in await conn.fetch("EXPLAIN " + sql, *params)]
            scans = [
                step for step in plan if "Seq Scan on" in step and step.split("Seq Scan on ")[1].split()[0] in TABLES
            ]
            assert not scans, (sql, plan)

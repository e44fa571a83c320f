"""Issue 16: a digest's report (still open, what changed, the chart's data) is kept with the recorded digest, so a
send resumed after a crash says what the digest said when it was recorded; and the store's reads behind it."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from handlers.vocabulary.charts import DayCount, LessonCount, build_chart, local_days, period_dates
from handlers.vocabulary.digest_report import Activity, DigestReport, LessonQuestions, OpenQuestion, StillOpen, change
from handlers.vocabulary.domain import MessageRef, NewPost, PeriodSummary, PostKind, PostWindow
from storage.locations import Database, open_store
from tests.storage.helpers import ANN, BOB, CAT, DAN, T0, World, make_world

SUMMARY = PeriodSummary(3, 1, 4, "Introduction")


def a_report() -> DigestReport:
    first, last = period_dates(T0, T0 + timedelta(days=7), "Asia/Shanghai")
    chart = build_chart(first, last, [DayCount(first, 2, 3), DayCount(last, 1, 1)], [LessonCount("第一课", 3, 4)])
    old = OpenQuestion(7, "第一课", 2, "为什么？", T0 - timedelta(days=9), MessageRef("discord", "1", "2", None, "9"))
    return DigestReport(
        StillOpen((4, 2, 1), (old,), (old,)),
        Activity(3, 4, 5),
        Activity(6, 2, 5),
        (LessonQuestions("第一课", 3),),
        chart,
    )


async def test_the_report_is_kept_with_the_digest_and_read_back_whole(world: World) -> None:
    report = a_report()
    digest, _ = await world.store.record_digest("ai", T0, T0 + timedelta(days=7), 1, [], SUMMARY, T0, report)
    assert digest.report == report and digest.summary == SUMMARY
    [unsent] = await world.store.unsent_digests()
    assert unsent.report == report  # what a resumed send renders
    assert unsent.report is not None and unsent.report.chart is not None
    assert unsent.report.still_open.oldest[0].ref is not None
    assert unsent.report.still_open.oldest[0].ref.guild_id == "9"


async def test_a_digest_without_a_report_reads_back_without_one(world: World) -> None:
    digest, _ = await world.store.record_digest("ai", T0, T0 + timedelta(days=7), 1, [], SUMMARY, T0)
    assert digest.report is None
    assert (await world.store.unsent_digests())[0].report is None


async def test_still_open_counts_earlier_unanswered_questions_by_age(world: World) -> None:
    store, lesson, group = world.store, world.lesson, world.group
    ids = []
    for n, age in enumerate((10, 5, 2, 0)):
        ref = MessageRef("telegram", "-100", f"m{n}")
        post = NewPost(lesson.id, group.id, ANN, ref, f"question {n}?", PostKind.QUESTION, T0 - timedelta(days=age))
        ids.append((await store.add_post(post)).id)
    # The window starts after the third question: the fourth is this period's, not still open.
    still = await store.still_open("ai", PostWindow(ids[2], ids[3]), T0, 2)
    assert still.over == (3, 2, 1)
    assert [q.question_id for q in still.oldest] == ids[:2]
    assert still.most_liked == ()  # none has a like


async def test_chart_counts_cut_the_window_at_local_days(world: World) -> None:
    store, lesson, group = world.store, world.lesson, world.group
    end = T0 + timedelta(days=2)
    first, last = period_dates(T0, end, "Asia/Shanghai")
    moments = [T0 + timedelta(hours=h) for h in (1, 2, 30)] + [T0 - timedelta(days=3)]  # the last one is late
    newest = 0
    for n, moment in enumerate(moments):
        ref = MessageRef("telegram", "-100", f"c{n}")
        post = NewPost(lesson.id, group.id, ANN, ref, f"q {n}?", PostKind.QUESTION, moment)
        newest = (await store.add_post(post)).id
    counts = await store.chart_counts("ai", PostWindow(0, newest), local_days(first, last, "Asia/Shanghai"))
    assert counts.outside is not None and counts.outside[0] == T0 - timedelta(days=3)
    assert sum(d.questions for d in counts.days) == 3 and sum(lesson.questions for lesson in counts.lessons) == 4


async def test_still_open_lists_the_most_liked_first_copies_and_leaves_out_answered_and_deleted(world: World) -> None:
    store = world.store
    old = await world.post("Why is the loss NaN?", at=T0 - timedelta(days=4))
    liked = await world.post("Where is the lab manual?", author=BOB, at=T0 - timedelta(days=2))
    answered = await world.post("Is there a quiz?", author=CAT, at=T0 - timedelta(days=8))
    gone = await world.post("Can I skip lesson two?", author=DAN, at=T0 - timedelta(days=8), message_id="gone")
    await store.mark_answered(answered.id, "No.", T0)
    await store.delete_post(world.ref("gone"), T0)
    assert liked.ref is not None and gone.ref is not None
    for member in (ANN, CAT, DAN):
        await store.add_reaction(liked.ref, member, "👍", T0)
    newest = await world.post("Is this period's?", author=CAT, at=T0)
    still = await store.still_open("ai", PostWindow(newest.id - 1, newest.id), T0, 5)
    assert still.over == (2, 1, 0)
    assert [q.question_id for q in still.oldest] == [old.id, liked.id]
    assert [(q.question_id, q.likes) for q in still.most_liked] == [(liked.id, 3)]
    assert still.most_liked[0].lesson_title == "Introduction" and still.most_liked[0].ref == liked.ref
    since = await store.still_open("ai", PostWindow(0, newest.id, T0 - timedelta(days=3)), T0, 1)
    assert [q.question_id for q in since.oldest] == [old.id]  # dated before `since`, so an earlier period's


async def test_activity_counts_questions_likes_given_and_active_members_in_the_period(world: World) -> None:
    store = world.store
    before = await world.post("Earlier?", at=T0 - timedelta(days=10))
    asked = await world.post("Now?", author=BOB, at=T0 + timedelta(hours=1))
    await world.post("A comment.", author=CAT, kind=PostKind.COMMENT, at=T0 + timedelta(hours=2))
    assert before.ref is not None and asked.ref is not None
    await store.add_reaction(before.ref, DAN, "👍", T0 + timedelta(hours=3))  # an old question liked now
    await store.add_reaction(asked.ref, ANN, "👍", T0 + timedelta(hours=3))
    await store.add_reaction(asked.ref, ANN, "❤️", T0 + timedelta(hours=3))  # one like per member and post
    await store.add_reaction(asked.ref, CAT, "👍", T0 - timedelta(days=1))  # given before the period
    activity = await store.activity_between("ai", T0, T0 + timedelta(days=7))
    assert activity == Activity(1, 2, 4)  # Bob asked, Cat commented, Dan and Ann liked
    assert await store.activity_between("elsewhere", T0, T0 + timedelta(days=7)) == Activity(0, 0, 0)


async def test_two_processes_record_one_period_once_and_deliver_to_each_member_once(database: Database) -> None:
    one = await open_store(database)
    two = await open_store(database)
    try:
        await make_world(one)
        end = T0 + timedelta(days=7)
        recorded = await asyncio.gather(
            *(store.record_digest("ai", T0, end, n, [], SUMMARY, end) for n, store in enumerate((one, two, one, two)))
        )
        assert sorted(new for _, new in recorded) == [False, False, False, True]
        [digest] = {d for d, _ in recorded}
        await asyncio.gather(
            *(store.mark_digest_delivered(digest.id, "telegram", user, end) for store in (one, two) for user in "12")
        )
        assert await two.digest_deliveries(digest.id) == {("telegram", "1"), ("telegram", "2")}
        await asyncio.gather(one.mark_digest_sent(digest.id, end), two.mark_digest_sent(digest.id, end))
        assert await one.unsent_digests() == [] and await one.digested_through("ai") == digest.through_post
    finally:
        await one.close()
        await two.close()


def test_change_gives_the_arrow_and_the_whole_percentage() -> None:
    assert change(15, 10) == ("↑", 50)
    assert change(5, 10) == ("↓", 50)
    assert change(3, 3) == ("→", 0)
    assert change(4, 0) == ("↑", None)

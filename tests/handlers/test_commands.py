"""Every command through the console backend: what it does, who may use it, and every bad argument.

A refused or malformed command gets a clear reply and changes nothing, which each test checks by looking at
the state afterwards.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config import Settings
from handlers.vocabulary.domain import ChatRef, LessonDraft
from tests.clock import TestClock
from tests.scenarios.harness import ConsoleHarness
from tests.scenarios.stories import COURSE, prepare_course

GROUP = ChatRef("console", "study-group")


@pytest.fixture
async def ready(console: ConsoleHarness) -> ConsoleHarness:
    """A console group following the course, with the first lesson posted."""
    await prepare_course(console)
    await console.command("anna", f"/setup {COURSE}", admin=True)
    await console.command("anna", "/lesson", admin=True)
    return console


async def group_config(h: ConsoleHarness) -> str:
    return await h.command("anna", "/setup", admin=True)


# /setup ---------------------------------------------------------------------------------------------------
async def test_setup_unknown_course_lists_known_ones_and_creates_nothing(console: ConsoleHarness) -> None:
    await prepare_course(console)
    reply = await console.command("anna", "/setup no-such-course", admin=True)
    assert "There is no course “no-such-course”. Known courses: ai-systems" in reply
    assert await console.app.store.get_group(GROUP) is None


async def test_setup_in_private_is_refused(console: ConsoleHarness) -> None:
    await prepare_course(console)
    assert "works in a study group only" in await console.command("anna", f"/setup {COURSE}", private=True)


async def test_setup_again_switches_course_and_keeps_settings(ready: ConsoleHarness) -> None:
    await ready.add_course("ml-101", "ML 101")
    await ready.command("anna", "/likes 👍 ❤️", admin=True)
    assert "now follows “ML 101”" in await ready.command("anna", "/setup ml-101", admin=True)
    config = await group_config(ready)
    assert "Course: ML 101" in config and "👍 ❤️" in config


# /unfollow ------------------------------------------------------------------------------------------------
async def test_unfollow_stops_lessons_but_keeps_questions(ready: ConsoleHarness) -> None:
    post = ready.lesson_post("Why learn AI systems")
    await ready.say("alice", "Is there a textbook?", reply_to=post)
    assert "no longer follows" in await ready.command("anna", "/unfollow", admin=True)
    lesson = await ready.add_lesson(LessonDraft(COURSE, "two", "Lesson two", "…", "", 2))
    await ready.publish(lesson)
    assert not any("Lesson two" in m for m in ready.group_messages())
    assert (await ready.app.store.stats(COURSE)).questions == 1
    assert "does not follow a course" in await ready.command("bob", "/top")


async def test_unfollow_by_learner_is_refused(ready: ConsoleHarness) -> None:
    assert "Only this chat's admins can use /unfollow" in await ready.command("bob", "/unfollow")
    assert "Course: AI Systems in Practice" in await group_config(ready)


# /instructor ----------------------------------------------------------------------------------------------
async def test_instructor_without_reply_makes_the_admin_instructor(ready: ConsoleHarness) -> None:
    reply = await ready.command("anna", "/instructor", admin=True)
    assert "anna is now an instructor of ai-systems" in reply
    assert "Open a private chat with the bot" in reply
    assert "already an instructor" in await ready.command("anna", "/instructor", admin=True)
    assert [i.user_id for i in await ready.app.store.instructors(COURSE)] == ["anna"]


async def test_instructor_by_learner_is_refused(ready: ConsoleHarness) -> None:
    assert "Only this chat's admins" in await ready.command("bob", "/instructor")
    assert await ready.app.store.instructors(COURSE) == []


async def test_a_bot_cannot_be_instructor(ready: ConsoleHarness) -> None:
    post = ready.lesson_post("Why learn AI systems")
    assert "A bot cannot be an instructor" in await ready.command("anna", "/instructor", admin=True, reply_to=post)
    assert await ready.app.store.instructors(COURSE) == []


# /schedule ------------------------------------------------------------------------------------------------
def weekly_runs(after: datetime, zone: str, weekday: int, hour: int, minute: int) -> list[datetime]:
    """The next three times after ``after`` that fall on ``weekday`` (0 = Monday) at hour:minute in ``zone``:
    the oracle for a weekly cron line, worked out day by day rather than by the cron library under test."""
    local, runs = after.astimezone(ZoneInfo(zone)), []
    day = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    while len(runs) < 3:
        if day.weekday() == weekday and day > local:
            runs.append(day)
        day = (day + timedelta(days=1)).replace(hour=hour, minute=minute)
    return runs


async def test_schedule_sets_cron_and_lists_next_three_runs(ready: ConsoleHarness) -> None:
    reply = await ready.command("anna", "/schedule 30 18 * * 5 Asia/Shanghai", admin=True)
    assert "Digest schedule set to 30 18 * * 5 (Asia/Shanghai)" in reply
    assert re.findall(r"Friday \d{4}-\d\d-\d\d 18:30", reply) == [
        f"Friday {run:%Y-%m-%d} 18:30" for run in weekly_runs(ready.clock.now(), "Asia/Shanghai", 4, 18, 30)
    ]
    course = await ready.app.store.get_course(COURSE)
    assert course is not None and (course.digest_cron, course.timezone) == ("30 18 * * 5", "Asia/Shanghai")


async def test_a_bad_schedule_is_explained_in_the_groups_language(ready: ConsoleHarness) -> None:
    await ready.command("anna", "/lang zh", admin=True)
    reply = await ready.command("anna", "/schedule 61 9 * * 1", admin=True)
    assert "“61 9 * * 1” 不是有效的 cron 表达式：“61” 不是有效的分钟（0–59）" in reply
    assert "Error" not in reply and "maximum" not in reply  # nothing of the library's English
    reply = await ready.command("anna", "/schedule 0 9 * * sat-sun", admin=True)
    assert "星期范围“sat-sun”是倒着写的" in reply
    course = await ready.app.store.get_course(COURSE)
    assert course is not None and course.digest_cron == "0 9 * * 1"


async def test_schedule_runs_are_in_the_groups_language(ready: ConsoleHarness) -> None:
    await ready.command("anna", "/lang zh", admin=True)
    reply = await ready.command("anna", "/schedule 0 9 * * 1", admin=True)
    first = weekly_runs(ready.clock.now(), "UTC", 0, 9, 0)[0]
    assert f"{first:%Y-%m-%d} 星期一 09:00" in reply


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("61 9 * * 1", "“61 9 * * 1” is not a valid cron expression: “61” is not a valid minute (0–59)"),
        ("0 25 * * *", "“25” is not a valid hour (0–23)"),
        ("0 9 32 * *", "“32” is not a valid day of the month (1–31)"),
        ("0 9 * 13 *", "“13” is not a valid month (1–12)"),
        ("*/0 9 * * *", "“*/0” is not a valid minute (0–59)"),
        ("0 9 * * 8", "“8” is not a valid weekday (0–7 or sun–sat)"),
        ("0 9 * * 5-1", "the weekday range “5-1” runs backwards"),
        ("0 9 1 * 1", "restrict either the day of the month or the weekday, not both"),
        ("0 9 31 2 *", "it never runs: no date matches it"),
        ("0 9 * *", "Usage: /schedule"),
        ("", "Usage: /schedule"),
        ("0 9 * * 1 Mars/Olympus", "“Mars/Olympus” is not a timezone"),
        ("0 9 * * 1 ../../etc/passwd", "is not a timezone"),
    ],
)
async def test_bad_schedule_changes_nothing(ready: ConsoleHarness, args: str, expected: str) -> None:
    reply = await ready.command("anna", f"/schedule {args}", admin=True)
    assert expected in reply
    course = await ready.app.store.get_course(COURSE)
    assert course is not None and (course.digest_cron, course.timezone) == ("0 9 * * 1", "UTC")


@pytest.mark.parametrize(
    ("cron", "gap"),
    # the last: 23:59 then 00:00, a minute apart across midnight
    [("*/1 * * * *", 1), ("* * * * *", 1), ("*/30 9 * * 1", 30), ("0,45 9 * * *", 45), ("0,59 0,23 * * *", 1)],
)
async def test_a_schedule_more_often_than_the_floor_is_refused(ready: ConsoleHarness, cron: str, gap: int) -> None:
    reply = await ready.command("anna", f"/schedule {cron}", admin=True)
    assert f"only {gap} min apart" in reply and "at most once every 60 min" in reply
    course = await ready.app.store.get_course(COURSE)
    assert course is not None and course.digest_cron == "0 9 * * 1"


async def test_the_floor_message_is_translated(ready: ConsoleHarness) -> None:
    await ready.command("anna", "/lang zh", admin=True)
    reply = await ready.command("anna", "/schedule */1 * * * *", admin=True)
    assert "60 分钟" in reply and "1 分钟" in reply


async def test_hourly_is_the_default_floor_and_it_can_be_lowered(settings: Settings, clock: TestClock) -> None:
    async with ConsoleHarness.open(settings, clock) as console:
        await prepare_course(console)
        await console.command("anna", f"/setup {COURSE}", admin=True)
        assert "Digest schedule set to 0 * * * *" in await console.command("anna", "/schedule 0 * * * *", admin=True)
    lowered = settings.model_copy(update={"min_digest_interval_minutes": 1})
    async with ConsoleHarness.open(lowered, clock) as console:
        reply = await console.command("anna", "/schedule */1 * * * *", admin=True)
        assert "Digest schedule set to */1 * * * *" in reply


async def test_schedule_by_learner_is_refused(ready: ConsoleHarness) -> None:
    assert "Only this chat's admins" in await ready.command("bob", "/schedule 0 9 * * 1")


# /likes ---------------------------------------------------------------------------------------------------
async def test_likes_changes_which_reactions_count(ready: ConsoleHarness) -> None:
    post = ready.lesson_post("Why learn AI systems")
    question = await ready.say("alice", "What about TPUs?", reply_to=post)
    assert "Like emojis set to: ❤️ 🔥" in await ready.command("anna", "/likes ❤️ 🔥 ❤️", admin=True)
    await ready.react("bob", question, "❤️")
    await ready.react("bob", question, "🔥")  # same member, second like emoji: still one like
    await ready.react("carol", question, "👍")  # no longer a like emoji
    assert "👍1" in await ready.command("erin", "/top")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("", "Usage: /likes"),
        ("like", "“like” is not an emoji"),
        ("👍 @everyone", "“@everyone” is not an emoji"),
        ("👍 " + " ".join(["😀", "😃", "😄", "😁", "😆", "😅", "😂", "🤣", "😊", "😇"]), "At most 10"),
    ],
)
async def test_bad_likes_change_nothing(ready: ConsoleHarness, args: str, expected: str) -> None:
    assert expected in await ready.command("anna", f"/likes {args}", admin=True)
    assert "Like emojis: 👍\n" in await group_config(ready) + "\n"


async def test_discord_custom_emoji_is_accepted(ready: ConsoleHarness) -> None:
    assert "<:pepe_yes:123456789012345678>" in await ready.command(
        "anna", "/likes <:pepe_yes:123456789012345678>", admin=True
    )


# /lang ----------------------------------------------------------------------------------------------------
async def test_lang_switches_replies(ready: ConsoleHarness) -> None:
    assert "之后我会用中文回复" in await ready.command("anna", "/lang zh", admin=True)
    assert "本群设置" in await group_config(ready)
    assert "answer in English" in await ready.command("anna", "/lang en", admin=True)


@pytest.mark.parametrize("args", ["", "fr", "中文"])
async def test_bad_lang_changes_nothing(ready: ConsoleHarness, args: str) -> None:
    assert "Usage: /lang <zh|en>" in await ready.command("anna", f"/lang {args}", admin=True)
    assert "Language: en" in await group_config(ready)


# /lesson --------------------------------------------------------------------------------------------------
async def test_lesson_by_number_and_slug(ready: ConsoleHarness) -> None:
    await ready.add_lesson(LessonDraft(COURSE, "gpus", "GPUs and you", "Tensor cores.", "", 7))
    await ready.command("anna", "/lesson 7", admin=True)
    assert any("GPUs and you" in m for m in ready.group_messages())
    assert "already posted" in await ready.command("anna", "/lesson gpus", admin=True)
    assert "already posted" in await ready.command("anna", "/lesson intro", admin=True)


async def test_unknown_lesson_is_reported(ready: ConsoleHarness) -> None:
    assert "Course ai-systems has no lesson 42" in await ready.command("anna", "/lesson 42", admin=True)


async def test_lesson_by_learner_is_refused(ready: ConsoleHarness) -> None:
    assert "Only this chat's admins can use /lesson" in await ready.command("bob", "/lesson")


# /ask /top ------------------------------------------------------------------------------------------------
async def test_ask_without_text_is_refused(ready: ConsoleHarness) -> None:
    assert "Usage: /ask" in await ready.command("bob", "/ask   ")
    assert (await ready.app.store.stats(COURSE)).questions == 0


async def test_ask_before_setup_explains_setup(console: ConsoleHarness) -> None:
    await prepare_course(console)
    assert "An admin can run /setup" in await console.command("bob", "/ask why?")


async def test_ask_is_always_a_question(ready: ConsoleHarness) -> None:
    await ready.command("bob", "/ask thanks for the lesson")
    assert "thanks for the lesson" in await ready.command("erin", "/top")


@pytest.mark.parametrize("args", ["0", "abc", "26", "-1", "2.5"])
async def test_bad_top_count(ready: ConsoleHarness, args: str) -> None:
    assert "give a whole number from 1 to 25" in await ready.command("bob", f"/top {args}")


async def test_top_when_empty(ready: ConsoleHarness) -> None:
    assert "No questions yet." in await ready.command("bob", "/top")


async def test_top_ties_rank_earlier_first(ready: ConsoleHarness) -> None:
    post = ready.lesson_post("Why learn AI systems")
    first = await ready.say("alice", "First question?", reply_to=post)
    ready.clock.advance(minutes=1)
    second = await ready.say("bob", "Second question?", reply_to=post)
    await ready.react("carol", second, "👍")
    await ready.react("carol", first, "👍")
    top = await ready.command("erin", "/top 2")
    assert top.index("First question?") < top.index("Second question?")


# edits and deletes ---------------------------------------------------------------------------------------
async def test_edited_question_updates_and_deleted_one_leaves_top(ready: ConsoleHarness) -> None:
    post = ready.lesson_post("Why learn AI systems")
    question = await ready.say("alice", "Wat is RLHF?", reply_to=post)
    await ready.edit("alice", question, "What is RLHF?")
    top = await ready.command("erin", "/top")
    assert "What is RLHF?" in top and "Wat is" not in top
    await ready.delete("alice", question)
    assert "No questions yet." in await ready.command("erin", "/top")
    stored = await ready.app.store.export_rows(COURSE)
    assert stored == []  # exports skip deleted posts
    raw = await ready.app.store.get_question(1)
    assert raw is not None and raw.deleted and raw.text == "What is RLHF?"


# /answer --------------------------------------------------------------------------------------------------
@pytest.fixture
async def with_question(ready: ConsoleHarness) -> tuple[ConsoleHarness, int]:
    await ready.command("tyler", "/instructor", admin=True)
    reply = await ready.command("alice", "/ask What is a KV cache?")
    match = re.search(r"#(\d+)", reply)
    assert match
    return ready, int(match.group(1))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("", "Usage: /answer"),
        ("{id}", "Usage: /answer"),
        ("abc Because.", "“abc” is not a question id"),
        ("999 Because.", "There is no question #999"),
    ],
)
async def test_bad_answer_changes_nothing(with_question: tuple[ConsoleHarness, int], args: str, expected: str) -> None:
    h, question_id = with_question
    assert expected in await h.command("tyler", f"/answer {args.format(id=question_id)}", private=True)
    question = await h.app.store.get_question(question_id)
    assert question is not None and not question.answered


async def test_answer_by_non_instructor_is_refused(with_question: tuple[ConsoleHarness, int]) -> None:
    h, question_id = with_question
    assert "Only instructors of ai-systems" in await h.command("anna", f"/answer {question_id} X", admin=True)
    question = await h.app.store.get_question(question_id)
    assert question is not None and not question.answered


async def test_answer_in_group_with_hash_id(with_question: tuple[ConsoleHarness, int]) -> None:
    h, question_id = with_question
    assert "marked answered" in await h.command("tyler", f"/answer #{question_id} A cache of keys and values.")
    question = await h.app.store.get_question(question_id)
    assert question is not None and question.answer_text == "A cache of keys and values."


async def test_answer_to_deleted_question_is_still_posted(with_question: tuple[ConsoleHarness, int]) -> None:
    h, question_id = with_question
    question = await h.app.store.get_question(question_id)
    assert question is not None and question.ref is not None
    await h.app.store.delete_post(question.ref, h.clock.now())
    await h.command("tyler", f"/answer {question_id} Still answered.", private=True)
    assert any("Still answered." in m for m in h.group_messages())


# /digest /stats /help, unknown commands -------------------------------------------------------------------
async def test_digest_preview_for_admin_and_refusal_for_learner(ready: ConsoleHarness) -> None:
    await ready.command("bob", "/ask Why?")
    ready.clock.advance(minutes=5)
    assert "Only instructors and this chat's admins" in await ready.command("bob", "/digest")
    preview = await ready.command("anna", "/digest", admin=True)
    assert "question digest" in preview and "Why?" in preview
    assert await ready.app.store.last_digest_end(COURSE) is None  # a preview records nothing


async def test_digest_of_a_course_this_chat_does_not_follow_says_so(ready: ConsoleHarness) -> None:
    await ready.add_course("ml-101", "ML 101")
    reply = await ready.command("anna", "/digest ml-101", admin=True)
    assert "This chat does not follow ml-101" in reply and "ml-101's instructors" in reply
    assert "Only instructors and this chat's admins" not in reply
    await ready.command("anna", "/lang zh", admin=True)
    assert "本群没有关注 ml-101" in await ready.command("anna", "/digest ml-101", admin=True)


async def test_digest_for_unknown_course(ready: ConsoleHarness) -> None:
    assert "There is no course “nope”" in await ready.command("anna", "/digest nope", admin=True)


async def test_stats_counts(ready: ConsoleHarness) -> None:
    post = ready.lesson_post("Why learn AI systems")
    question = await ready.say("alice", "Why GPUs?", reply_to=post)
    await ready.say("bob", "nice", reply_to=post)
    await ready.say("carol", "Because matrices.", reply_to=question)
    await ready.react("dave", question, "👍")
    stats = await ready.command("erin", "/stats")
    assert "1 lesson, 1 question, 1 comment, 1 reply, 1 like, 0 answered, 3 members" in stats


async def test_help_lists_every_command_and_marks_admin_ones(ready: ConsoleHarness) -> None:
    text = await ready.command("bob", "/help")
    for name in (
        "setup",
        "unfollow",
        "instructor",
        "schedule",
        "likes",
        "lang",
        "lesson",
        "ask",
        "top",
        "digest",
        "answer",
        "stats",
        "help",
    ):
        assert f"/{name}" in text
    assert "/schedule <cron> [timezone] — when the digest is sent (admins)" in text


async def test_unknown_command(ready: ConsoleHarness) -> None:
    assert "There is no /frobnicate command" in await ready.command("bob", "/frobnicate now")


async def test_commands_before_setup_say_what_to_do(console: ConsoleHarness) -> None:
    await prepare_course(console)
    for command in ("/top", "/stats", "/ask x"):
        assert "An admin can run /setup <course>" in await console.command("bob", command)

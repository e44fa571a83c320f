"""The user stories, written once against :class:`StudyGroupHarness`.

Each backend's test module runs these same functions with its own harness; nothing here knows which
platform it is talking to.
"""

from __future__ import annotations

import io
import re

from PIL import Image

from bot.charts import HEIGHT_PX, WIDTH_PX
from handlers.vocabulary.domain import LessonDraft
from tests.scenarios.harness import StudyGroupHarness
from tests.scenarios.notify_stories import NOTIFY_STORIES

COURSE = "ai-systems"


async def prepare_course(h: StudyGroupHarness) -> None:
    await h.add_course(COURSE, "AI Systems in Practice")
    await h.add_lesson(
        LessonDraft(COURSE, "intro", "Why learn AI systems", "Welcome to the course.", "https://example.com/0", 0)
    )


async def story_admin_sets_up_the_group(h: StudyGroupHarness) -> None:
    await prepare_course(h)
    refused = await h.command("mallory", f"/setup {COURSE}")
    assert "Only this chat's admins" in refused
    assert "does not follow a course" in await h.command("mallory", "/setup")

    done = await h.command("anna", f"/setup {COURSE}", admin=True)
    assert "now follows “AI Systems in Practice”" in done
    config = await h.command("mallory", "/setup")
    assert "Course: AI Systems in Practice" in config
    assert "Like emojis: 👍" in config


async def story_a_lesson_is_posted_once(h: StudyGroupHarness) -> None:
    await prepare_course(h)
    await h.command("anna", f"/setup {COURSE}", admin=True)
    lesson = await h.add_lesson(
        LessonDraft(
            COURSE, "landscape", "The AI systems landscape", "We map the territory.", "https://example.com/lesson/1", 1
        )
    )
    await h.publish(lesson)
    await h.publish(lesson)  # a second publication (restart, re-import) must not post again
    posts = [m for m in h.group_messages() if "The AI systems landscape" in m]
    assert len(posts) == 1, posts
    assert "We map the territory." in posts[0]
    assert "https://example.com/lesson/1" in posts[0]


async def story_members_ask_and_like(h: StudyGroupHarness) -> None:
    await prepare_course(h)
    await h.command("anna", f"/setup {COURSE}", admin=True)
    await h.command("anna", "/lesson", admin=True)
    post = h.lesson_post("Why learn AI systems")

    question = await h.say("alice", "How much math do I need for this course?", reply_to=post)
    await h.say("dave", "期待更新", reply_to=post)  # a comment, not a question
    for member in ("bob", "carol"):
        await h.react(member, question, "👍")
    await h.react("bob", question, "❤️")  # not a like emoji here
    await h.react("alice", question, "👍")  # her own question: does not count
    await h.say("bob", "Linear algebra mostly.", reply_to=question)  # discussion, not a question

    top = await h.command("erin", "/top")
    assert "How much math do I need" in top
    assert "👍2" in top
    assert "💬1" in top
    assert "期待更新" not in top
    assert "Linear algebra" not in top

    await h.unreact("carol", question, "👍")
    assert "👍1" in await h.command("erin", "/top")

    asked = await h.command("frank", "/ask 什么时候讲分布式训练？")
    assert re.search(r"Question #\d+ recorded", asked)
    top = await h.command("erin", "/top")
    assert "什么时候讲分布式训练" in top


async def story_instructor_gets_the_digest_and_answers(h: StudyGroupHarness) -> None:
    await prepare_course(h)
    await h.command("anna", f"/setup {COURSE}", admin=True)
    await h.command("anna", "/lesson", admin=True)
    post = h.lesson_post("Why learn AI systems")
    hello = await h.say("tyler", "Hi all, I am the instructor.")
    made = await h.command("anna", "/instructor", admin=True, reply_to=hello)
    assert "tyler is now an instructor" in made.lower() or "Tyler is now an instructor" in made

    question = await h.say("alice", "Which GPU should I buy for the labs?", reply_to=post)
    await h.say("bob", "Will there be homework?", reply_to=post)
    await h.react("carol", question, "👍")
    await h.react("bob", question, "👍")

    h.clock.advance(days=7)
    await h.digest_due(COURSE)
    digests = h.direct_messages("tyler")
    assert len(digests) == 1, digests
    digest = digests[0]
    assert "Which GPU should I buy" in digest and "👍2" in digest
    assert digest.index("Which GPU") < digest.index("Will there be homework")  # most liked first
    assert "2 questions" in digest

    await h.digest_due(COURSE)  # the same period again: never sent twice
    assert len(h.direct_messages("tyler")) == 1

    question_id = re.search(r"#(\d+) 👍2", digest)
    assert question_id
    refused = await h.command("alice", f"/answer {question_id.group(1)} I know!", private=True)
    assert "Only instructors" in refused
    answered = await h.command("tyler", f"/answer {question_id.group(1)} An RTX 4090 is plenty.", private=True)
    assert "marked answered" in answered
    assert any("An RTX 4090 is plenty." in m and "Answer from instructor" in m for m in h.group_messages())
    assert "✅" in await h.command("erin", "/top")


async def story_a_question_asked_in_two_groups_is_one(h: StudyGroupHarness) -> None:
    """Issue 12: the same question in other words in two groups is one question with its likes combined."""
    await prepare_course(h)
    await h.command("anna", f"/setup {COURSE}", admin=True)
    await h.command("anna", "/lesson", admin=True)
    post = h.lesson_post("Why learn AI systems")
    hello = await h.say("tyler", "Hi all, I am the instructor.")
    await h.command("anna", "/instructor", admin=True, reply_to=hello)
    first = await h.say("alice", "How do I install CUDA on Windows?", reply_to=post)
    await h.say("erin", "How do I install CUDA on Linux?", reply_to=post)  # same topic, other question
    assert not any("asked before" in m for m in h.group_messages())
    await h.react("carol", first, "👍")

    await h.use_group("second")
    await h.command("anna", f"/setup {COURSE}", admin=True)
    await h.command("anna", "/lesson", admin=True)
    second_post = h.lesson_post("Why learn AI systems")
    second = await h.say("bob", "how to install cuda on windows??", reply_to=second_post)
    notices = [m for m in h.group_messages() if "asked before" in m]
    assert len(notices) == 1, h.group_messages()
    first_id = re.search(r"question #(\d+)", notices[0])
    assert first_id and "👍1" in notices[0]
    await h.react("carol", second, "👍")  # carol likes both copies: she counts once
    await h.react("dave", second, "👍")

    h.clock.advance(days=7)
    await h.digest_due(COURSE)
    (digest,) = h.direct_messages("tyler")
    assert "also asked by 1" in digest
    assert digest.count("install") == 2, digest  # the Windows question once, the Linux one once
    assert "install cuda on windows" in digest and "👍2" in digest  # the most liked wording, 2 distinct likers
    assert "How do I install CUDA on Linux?" in digest
    windows = re.search(r"#(\d+) 👍2", digest)
    assert windows

    # Refused and mistyped corrections change nothing.
    refused = await h.command("mallory", f"/split {first_id.group(1)}")
    assert "Only instructors and this chat's admins" in refused
    assert "There is no question #99999" in await h.command("anna", f"/merge {first_id.group(1)} 99999", admin=True)
    assert "is not merged" in await h.command("anna", f"/split {linux_id(h, digest)}", admin=True)
    top = await h.command("erin", "/top")
    assert "also asked by 1" in top and "👍2" in top

    # One answer reaches every group where a copy was asked.
    answer = "Install the driver, then the toolkit."
    answered = await h.command("tyler", f"/answer {windows.group(1)} {answer}", private=True)
    assert "all 2 copies are marked answered" in answered
    assert any("Install the driver" in m for m in h.group_messages())
    await h.use_group("main")
    assert any("Install the driver" in m for m in h.group_messages())

    # /split restores them: two questions, each with its own likes.
    assert "stands on its own" in await h.command("anna", f"/split {windows.group(1)}", admin=True)
    top = await h.command("erin", "/top")
    assert "also asked by" not in top
    assert "👍2" in top and "👍1" in top  # bob's copy (carol, dave), alice's (carol)
    merged = await h.command("anna", f"/merge {first_id.group(1)} {windows.group(1)}", admin=True)
    assert "are now one question" in merged

    # Asked once more after the answer: the answer is shown at once.
    await h.say("frank", "How do I install CUDA on Windows??", reply_to=post)
    again = [m for m in h.group_messages() if "asked before" in m]
    assert again and "Install the driver" in again[-1], h.group_messages()


async def story_copies_asked_in_one_group_are_each_answered(h: StudyGroupHarness) -> None:
    """Issue 12: /answer on one copy of a question asked twice in one group posts the answer there once, under
    the copy answered, and tells the other copy's asker with a reply under theirs that links to it."""
    await prepare_course(h)
    await h.command("anna", f"/setup {COURSE}", admin=True)
    await h.command("anna", "/lesson", admin=True)
    post = h.lesson_post("Why learn AI systems")
    first = await h.say("alice", "How do I install CUDA on Windows?", reply_to=post)
    second = await h.say("bob", "how to install cuda on windows??", reply_to=post)
    hello = await h.say("tyler", "Hi all, I am the instructor.")
    await h.command("anna", "/instructor", admin=True, reply_to=hello)
    copy = re.search(r"also asked by 1: #(\d+)", await h.command("erin", "/top"))
    assert copy, h.group_messages()

    answer = "Install the driver, then the toolkit."
    answered = await h.command("tyler", f"/answer {copy.group(1)} {answer}", private=True)
    assert "all 2 copies are marked answered" in answered, answered
    assert [m for m in h.group_messages() if answer in m] == [m for m in h.replies_to(second) if answer in m]
    assert len([m for m in h.replies_to(second) if answer in m]) == 1  # under the copy answered, once
    (pointer,) = [m for m in h.replies_to(first) if "answered" in m]
    assert "The instructor has answered this question" in pointer and "see the answer" in pointer
    assert answer not in pointer  # the group reads the answer once
    assert "✅ answered" in await h.command("erin", "/top")


async def story_an_edited_question_is_placed_again(h: StudyGroupHarness) -> None:
    """Issue 12: a repeat edited into another question leaves the first one's cluster, and is found by its new
    words when someone asks that."""
    await prepare_course(h)
    await h.command("anna", f"/setup {COURSE}", admin=True)
    await h.command("anna", "/lesson", admin=True)
    post = h.lesson_post("Why learn AI systems")
    await h.say("alice", "How do I install CUDA on Windows?", reply_to=post)
    repeat = await h.say("bob", "how to install cuda on windows??", reply_to=post)
    assert len([m for m in h.group_messages() if "asked before" in m]) == 1
    assert "also asked by 1" in await h.command("erin", "/top")

    await h.edit("bob", repeat, "How do I install CUDA on Linux?")
    top = await h.command("erin", "/top")
    assert "also asked by" not in top and "install CUDA on Linux" in top, top

    await h.say("carol", "how to install cuda on linux??", reply_to=post)
    notices = [m for m in h.group_messages() if "asked before" in m]
    ids = [found.group(1) for m in notices if (found := re.search(r"question #(\d+)", m))]
    assert len(ids) == 2 and ids[0] != ids[1], notices  # the second points at bob's question, not alice's
    top = await h.command("erin", "/top")
    assert top.count("also asked by 1") == 1 and f"#{ids[1]} " in top, top


def linux_id(h: StudyGroupHarness, digest: str) -> str:
    found = re.search(r"#(\d+) 👍0 How do I install CUDA on Linux", digest)
    assert found, digest
    return found.group(1)


def decoded_png(data: bytes) -> tuple[int, int]:
    """The PNG's size, after decoding every pixel (a truncated or corrupt file fails here)."""
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        assert image.format == "PNG"
        return image.size


async def story_the_digest_says_what_is_still_open_and_what_changed_with_a_chart(h: StudyGroupHarness) -> None:
    """Issue 16: a second week's digest names last week's unanswered questions with their age, compares the
    week with the one before (↑/↓ and %), and carries the week's chart."""
    await prepare_course(h)
    await h.command("anna", f"/setup {COURSE}", admin=True)
    await h.command("anna", "/lesson", admin=True)
    post = h.lesson_post("Why learn AI systems")
    hello = await h.say("tyler", "Hi all, I am the instructor.")
    await h.command("anna", "/instructor", admin=True, reply_to=hello)

    gpu = await h.say("alice", "Which GPU should I buy for the labs?", reply_to=post)
    await h.say("bob", "Will there be homework every week?", reply_to=post)
    await h.react("carol", gpu, "👍")
    await h.react("bob", gpu, "👍")
    h.clock.advance(days=7)
    await h.digest_due(COURSE)
    first = "\n".join(h.direct_messages("tyler"))
    assert "What changed" in first and "Questions: 2 (first period)" in first
    assert "Lessons with the most questions: Why learn AI systems (2)" in first
    assert "Still open" not in first  # nothing from an earlier period yet
    assert len(h.direct_charts("tyler")) == 1

    exam = await h.say("erin", "How long is the final exam?", reply_to=post)
    await h.react("dave", exam, "👍")
    h.clock.advance(days=7)
    sent_before = len(h.direct_messages("tyler"))
    await h.digest_due(COURSE)
    second = "\n".join(h.direct_messages("tyler")[sent_before:])
    assert "How long is the final exam?" in second
    assert "Questions: 1 (↓50% from 2)" in second
    assert "Likes given: 1 (↓50% from 2)" in second
    assert "Active members:" in second
    assert "Still open" in second
    assert "Unanswered from earlier periods: 2 for over 1 day, 2 over 3 days, 2 over 7 days" in second
    oldest = second[second.index("Oldest:") : second.index("Most liked:")]
    # two weeks, give or take the seconds a platform stamps its messages with
    assert "Which GPU should I buy" in oldest and re.search(r"\b1[34] days open", oldest)
    liked = second[second.index("Most liked:") :]
    assert re.search(r"#\d+ 👍2 · 1[34] days open Which GPU should I buy", liked)
    assert "Will there be homework" not in liked  # no likes: named among the oldest only

    charts = h.direct_charts("tyler")
    assert len(charts) == 2
    assert decoded_png(charts[-1]) == (WIDTH_PX, HEIGHT_PX)

    await h.digest_due(COURSE)  # the same period again: nothing more, no second picture
    assert len(h.direct_charts("tyler")) == 2


async def story_an_empty_period_is_noted_without_a_chart(h: StudyGroupHarness) -> None:
    """EMPTY_DIGEST=note (the default): a week without questions is said in words, with no picture."""
    await prepare_course(h)
    await h.command("anna", f"/setup {COURSE}", admin=True)
    hello = await h.say("tyler", "Hi all, I am the instructor.")
    await h.command("anna", "/instructor", admin=True, reply_to=hello)
    h.clock.advance(days=7)
    await h.digest_due(COURSE)
    digests = h.direct_messages("tyler")
    assert len(digests) == 1 and "No new questions in this period." in digests[0], digests
    assert h.direct_charts("tyler") == []


STORIES = (
    story_admin_sets_up_the_group,
    story_a_lesson_is_posted_once,
    story_members_ask_and_like,
    story_instructor_gets_the_digest_and_answers,
    story_the_digest_says_what_is_still_open_and_what_changed_with_a_chart,
    story_an_empty_period_is_noted_without_a_chart,
    story_a_question_asked_in_two_groups_is_one,
    story_copies_asked_in_one_group_are_each_answered,
    story_an_edited_question_is_placed_again,
    *NOTIFY_STORIES,
)

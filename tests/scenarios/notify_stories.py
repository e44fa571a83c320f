"""The user stories of issue 16: askers and followers told when a question is answered, reminders of questions
left unanswered, and answers reused for a question asked again (with the asker's ❓ that reopens it).

Written once against :class:`StudyGroupHarness`, like :mod:`tests.scenarios.stories`, which lists them.
"""

from __future__ import annotations

import re

from handlers.vocabulary.domain import LessonDraft
from tests.scenarios.harness import Handle, StudyGroupHarness

COURSE = "ai-systems"
LESSON = "Why learn AI systems"


async def a_group_with_an_instructor(h: StudyGroupHarness) -> Handle:
    """The course, a group following it with lesson 0 posted, and tyler its instructor; the lesson post."""
    await h.add_course(COURSE, "AI Systems in Practice")
    await h.add_lesson(LessonDraft(COURSE, "intro", LESSON, "Welcome to the course.", "https://example.com/0", 0))
    await h.command("anna", f"/setup {COURSE}", admin=True)
    await h.command("anna", "/lesson", admin=True)
    hello = await h.say("tyler", "Hi all, I am the instructor.")
    await h.command("anna", "/instructor", admin=True, reply_to=hello)
    return h.lesson_post(LESSON)


async def question_id(h: StudyGroupHarness, text: str) -> str:
    """The id /top shows for the question whose text starts with ``text``."""
    top = await h.command("erin", "/top 25")
    found = re.search(r"#(\d+)\D[^\n]*?" + re.escape(text), top)
    assert found, top
    return found.group(1)


def new_since(messages: list[str], count: int) -> list[str]:
    return messages[count:]


async def story_the_asker_and_followers_are_told_when_answered(h: StudyGroupHarness) -> None:
    post = await a_group_with_an_instructor(h)
    question = await h.say("alice", "Which GPU should I buy for the labs?", reply_to=post)

    # Bad input answers with usage and changes nothing: bob still gets no private notices.
    assert "Usage: /follow on|off" in await h.command("bob", "/follow x")
    assert "no private messages about answers" in await h.command("bob", "/follow")
    assert "I tell you in a private message" in await h.command("bob", "/follow on")
    assert "You get a private message" in await h.command("bob", "/follow")
    await h.react("bob", question, "👍")
    await h.react("carol", question, "👍")  # likes it but does not follow
    before = {name: len(h.direct_messages(name)) for name in ("alice", "bob", "carol")}

    number = await question_id(h, "Which GPU")
    await h.command("tyler", f"/answer {number} An RTX 4090 is plenty.", private=True)
    assert any("An RTX 4090 is plenty." in m for m in h.group_messages())  # under the question, as before
    (notice,) = new_since(h.direct_messages("bob"), before["bob"])
    assert "A question you liked is answered" in notice and f"#{number}" in notice
    assert "An RTX 4090 is plenty." in notice and "Which GPU" in notice
    assert new_since(h.direct_messages("carol"), before["carol"]) == []  # never asked for it
    assert new_since(h.direct_messages("alice"), before["alice"]) == []  # the reply under her question told her

    assert "no more private messages" in await h.command("bob", "/follow off")
    second = await h.say("alice", "Do we get cloud credits for the labs?", reply_to=post)
    await h.react("bob", second, "👍")
    await h.command("tyler", f"/answer {await question_id(h, 'Do we get cloud')} Yes, $50.", private=True)
    assert len(h.direct_messages("bob")) == before["bob"] + 1


async def story_instructors_are_reminded_of_an_unanswered_question_once(h: StudyGroupHarness) -> None:
    post = await a_group_with_an_instructor(h)
    for bad in ("/remind abc", "/remind 0", "/remind -3", "/remind 9999"):
        assert "Usage: /remind <days>|off" in await h.command("anna", bad, admin=True), bad
    assert "Reminders are off" in await h.command("anna", "/remind", admin=True)  # nothing was stored
    assert "Only this chat's admins" in await h.command("mallory", "/remind 3")
    assert "after 3 days" in await h.command("anna", "/remind 3", admin=True)
    assert "unanswered for 3 days" in await h.command("anna", "/remind", admin=True)

    liked = await h.say("alice", "How do I profile a training loop?", reply_to=post)
    await h.say("dave", "Where are the slides for week one?", reply_to=post)  # no like: never reminded
    await h.react("bob", liked, "👍")
    before = len(h.direct_messages("tyler"))

    h.clock.advance(days=2)
    await h.reminders_due()
    assert len(h.direct_messages("tyler")) == before  # not old enough yet
    h.clock.advance(days=2)
    await h.reminders_due()
    (reminder,) = new_since(h.direct_messages("tyler"), before)
    assert "Unanswered for over 3 days" in reminder and "profile a training loop" in reminder
    assert "👍1" in reminder and "/answer" in reminder
    assert "slides" not in reminder

    await h.reminders_due()  # the next wake-up: never twice
    h.clock.advance(days=5)
    await h.reminders_due()
    assert len(h.direct_messages("tyler")) == before + 1

    await h.digest_due(COURSE)
    digest = h.direct_messages("tyler")[-1]
    assert "profile a training loop" in digest and "⏰ reminded" in digest
    assert digest.count("⏰ reminded") == 1, digest  # the slides question was not reminded

    h.clock.advance(days=7)
    await h.digest_due(COURSE)  # the next period: both questions are an earlier period's, still open
    later = h.direct_messages("tyler")[-1]
    still_open = later.split("Still open", 1)[1]
    assert "profile a training loop" in still_open and "slides" in still_open, later
    marked = [line for line in still_open.splitlines() if "⏰ reminded" in line]
    assert marked and all("profile a training loop" in line for line in marked), later


async def story_an_answered_question_asked_again_is_answered_at_once(h: StudyGroupHarness) -> None:
    post = await a_group_with_an_instructor(h)
    await h.say("alice", "How do I install CUDA on Windows?", reply_to=post)
    number = await question_id(h, "How do I install CUDA")
    await h.command("tyler", f"/answer {number} Install the driver, then the toolkit.", private=True)

    again = await h.say("frank", "how to install cuda on windows??", reply_to=post)
    notices = [m for m in h.group_messages() if "asked before" in m]
    assert len(notices) == 1, h.group_messages()
    assert "Install the driver" in notices[0] and "see the answer" in notices[0] and "react ❓" in notices[0]
    top = await h.command("erin", "/top")
    assert "also asked by 1" in top and "✅" in top  # one question, answered

    await h.react("carol", again, "❓")  # not the asker: changes nothing
    assert not any("is open again" in m for m in h.group_messages())
    await h.react("frank", again, "❓")
    reopened = [m for m in h.group_messages() if "is open again" in m]
    assert len(reopened) == 1, h.group_messages()
    top = await h.command("erin", "/top")
    assert "also asked by" not in top and top.count("✅") == 1, top  # frank's question stands open on its own

    await h.unreact("frank", again, "❓")
    await h.react("frank", again, "❓")  # once reopened, a second ❓ says nothing more
    assert len([m for m in h.group_messages() if "is open again" in m]) == 1


NOTIFY_STORIES = (
    story_the_asker_and_followers_are_told_when_answered,
    story_instructors_are_reminded_of_an_unanswered_question_once,
    story_an_answered_question_asked_again_is_answered_at_once,
)

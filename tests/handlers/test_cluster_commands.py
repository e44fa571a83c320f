"""/dupes, /merge and /split through the console backend: who may use them, every bad argument (a clear reply,
nothing changed), and what the asker of a repeated question is told in each /dupes mode."""

from __future__ import annotations

import pytest

from tests.scenarios.harness import ConsoleHarness, Handle
from tests.scenarios.stories import COURSE, prepare_course

WINDOWS = "How do I install CUDA on Windows?"
AGAIN = "how to install cuda on windows??"


@pytest.fixture
async def ready(console: ConsoleHarness) -> ConsoleHarness:
    await prepare_course(console)
    await console.command("anna", f"/setup {COURSE}", admin=True)
    await console.command("anna", "/lesson", admin=True)
    return console


def post(h: ConsoleHarness) -> Handle:
    return h.lesson_post("Why learn AI systems")


async def clusters(h: ConsoleHarness) -> list[int | None]:
    return [row.question.duplicate_of for row in await h.app.store.export_rows(COURSE)]


async def test_the_asker_of_a_repeat_is_told_unless_the_group_chose_quiet_or_off(ready: ConsoleHarness) -> None:
    h = ready
    await h.say("alice", WINDOWS, reply_to=post(h))
    await h.say("bob", AGAIN, reply_to=post(h))
    assert sum("asked before" in m for m in h.group_messages()) == 1

    assert "Only this chat's admins" in await h.command("bob", "/dupes quiet")
    assert "on" in await h.command("anna", "/dupes", admin=True)
    assert "Usage: /dupes" in await h.command("anna", "/dupes loud", admin=True)
    assert "without a notice" in await h.command("anna", "/dupes quiet", admin=True)
    await h.say("carol", "How do I install CUDA on Windows??", reply_to=post(h))
    assert sum("asked before" in m for m in h.group_messages()) == 1
    assert "no longer merged" in await h.command("anna", "/dupes off", admin=True)
    await h.say("dave", "how do i install cuda on windows", reply_to=post(h))
    first = (await h.app.store.export_rows(COURSE))[0].question.id
    assert await clusters(h) == [None, first, first, None]


async def test_bad_merges_and_splits_change_nothing(ready: ConsoleHarness) -> None:
    h = ready
    await h.say("alice", WINDOWS, reply_to=post(h))
    await h.say("bob", AGAIN, reply_to=post(h))
    await h.say("carol", "期待更新", reply_to=post(h))  # a comment
    rows = await h.app.store.export_rows(COURSE)
    first, again, comment = (r.question.id for r in rows)
    before = await clusters(h)

    assert "Only instructors and this chat's admins" in await h.command("mallory", f"/merge {first} {comment}")
    assert "Only instructors and this chat's admins" in await h.command("mallory", f"/split {again}")
    assert "Usage: /merge" in await h.command("anna", f"/merge {first}", admin=True)
    assert "Usage: /split" in await h.command("anna", "/split", admin=True)
    assert "“abc” is not a question id" in await h.command("anna", f"/merge abc {first}", admin=True)
    assert "There is no question #999" in await h.command("anna", f"/merge {first} 999", admin=True)
    assert f"There is no question #{comment}" in await h.command("anna", f"/merge {first} {comment}", admin=True)
    assert "already merged" in await h.command("anna", f"/merge #{first} #{again}", admin=True)
    assert f"There is no question #{comment}" in await h.command("anna", f"/split {comment}", admin=True)
    await h.say("dave", "How much math do I need?", reply_to=post(h))
    lone = (await h.app.store.export_rows(COURSE))[-1].question.id
    before = await clusters(h)
    assert f"#{lone} is not merged with any other" in await h.command("anna", f"/split {lone}", admin=True)
    assert await clusters(h) == before

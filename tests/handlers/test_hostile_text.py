"""Invisible, spoofing and control characters in members' text (issue 18, item 7), through the console backend."""

from __future__ import annotations

from bot.export import render_export
from handlers.text import is_blank, kept_text, shown_text
from handlers.vocabulary.domain import LessonDraft
from tests.scenarios.harness import ConsoleHarness
from tests.scenarios.stories import COURSE, prepare_course

RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: "txt.exe" shows as "exe.txt"


async def following(h: ConsoleHarness) -> None:
    await prepare_course(h)
    await h.command("anna", f"/setup {COURSE}", admin=True)
    await h.command("anna", "/lesson", admin=True)


async def stats(h: ConsoleHarness) -> tuple[int, int, int]:
    s = await h.app.store.stats(COURSE)
    return s.questions, s.comments, s.replies


async def test_an_invisible_ask_is_refused_with_usage_and_stores_nothing(console: ConsoleHarness) -> None:
    await following(console)
    for invisible in ("\u200b", "\u200b \u2060\u3164", "\ufeff\u200d\t"):
        reply = await console.command("alice", f"/ask {invisible}")
        assert "Usage: /ask" in reply
    assert await stats(console) == (0, 0, 0)


async def test_replies_of_only_white_space_and_zero_width_characters_are_not_kept(console: ConsoleHarness) -> None:
    await following(console)
    post = console.lesson_post("Why learn AI systems")
    question = await console.say("alice", "What is a GPU?", reply_to=post)
    await console.say("bob", "\u200b\u200c \u2800", reply_to=post)
    await console.say("carol", "\u200b \u200b", reply_to=question)
    assert await stats(console) == (1, 0, 0)


async def test_bidi_overrides_are_kept_but_never_shown_or_exported(console: ConsoleHarness) -> None:
    await following(console)
    post = console.lesson_post("Why learn AI systems")
    await console.say("alice", f"Why does {RLO}txt.exe open?", reply_to=post)
    top = await console.command("bob", "/top")
    assert "Why does txt.exe open?" in top and RLO not in top
    [row] = await console.app.store.export_rows(COURSE)
    assert row.question.text == f"Why does {RLO}txt.exe open?"  # stored as sent
    for fmt in ("csv", "json", "md"):
        assert RLO not in render_export([row], fmt, "AI")


async def test_nul_bytes_are_not_stored_and_controls_not_shown(console: ConsoleHarness) -> None:
    await following(console)
    await console.command("alice", "/ask What does \x00 mean\x07?")
    [row] = await console.app.store.export_rows(COURSE)
    assert row.question.text == "What does  mean\x07?"
    assert "What does mean?" in await console.command("bob", "/top")
    assert "\x07" not in render_export([row], "csv", "AI")


async def test_ask_files_under_the_latest_lesson_this_group_has_seen(console: ConsoleHarness) -> None:
    await following(console)  # the group has seen lesson 0 only
    await console.add_lesson(
        LessonDraft(COURSE, "next", "Lesson one, not posted here", "Soon.", "https://example.com/1", 1)
    )
    reply = await console.command("alice", "/ask Where do I start?")
    assert "Why learn AI systems" in reply and "not posted here" not in reply


async def test_ask_before_any_lesson_was_posted_here_says_what_to_do(console: ConsoleHarness) -> None:
    await console.add_course(COURSE, "AI Systems in Practice")
    await console.command("anna", f"/setup {COURSE}", admin=True)  # nothing to post yet
    await console.add_lesson(LessonDraft(COURSE, "intro", "Not posted yet", "Soon.", "https://example.com/0", 0))
    reply = await console.command("alice", "/ask Where do I start?")
    assert "No lesson has been posted in this chat yet" in reply and "/lesson" in reply
    assert await stats(console) == (0, 0, 0)


def test_the_rules_themselves() -> None:
    assert is_blank("") and is_blank(" \u200b\u00a0\u3164\n") and not is_blank("\u200b?")
    assert not is_blank("👍") and not is_blank("吗")
    assert kept_text("a\x00b") == "ab"
    assert shown_text(f"a{RLO}b\u2066c\x1bd\ne") == "abcd\ne"
    assert shown_text("👩\u200d💻") == "👩\u200d💻"  # emoji sequences keep their joiner

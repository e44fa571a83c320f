"""Bots are left out at Telegram's border: a bot's message and a bot's reaction never reach the core."""

from __future__ import annotations

import re

from tests.scenarios.stories import COURSE, prepare_course
from tests.telegram.harness import TelegramHarness


async def test_a_bots_message_and_reaction_never_become_a_question_or_a_like(telegram: TelegramHarness) -> None:
    h = telegram
    await prepare_course(h)
    assert "now follows" in await h.command("anna", f"/setup {COURSE}", admin=True)
    await h.command("anna", "/lesson", admin=True)
    post = h.lesson_post("Why learn AI systems")
    helper = h.tg.add_user("Helper", username="helper_bot", is_bot=True)
    h.tg.add_member(h.chat, helper, status="member")
    h.tg.user_sends(h.chat, helper, "Is this a question from a bot?", reply_to=int(post.key))
    question = await h.say("alice", "How do I start?", reply_to=post)
    h.tg.user_reacts(h.chat, int(question.key), helper, new=["👍"])
    await h.react("bob", question, "👍")
    top = await h.command("erin", "/top")
    assert "from a bot" not in top
    assert re.search(r"👍1 .*How do I start", top), top

"""Bots are left out at Discord's border: a bot's message and a bot's reaction never reach the core, live or
read back after downtime."""

from __future__ import annotations

import re

from bot.config import Settings
from tests.clock import TestClock
from tests.discord.harness import DiscordHarness
from tests.discord.test_discord_scenarios import ready


async def test_a_bots_message_and_reaction_never_become_a_question_or_a_like(
    settings: Settings, clock: TestClock
) -> None:
    async with DiscordHarness.server(clock) as h:
        helper = h.dc.add_user("helper-bot", bot=True)
        h.dc.add_member(h.guild, helper)
        async with h.running(settings):
            await ready(h)
            post = h.lesson_post("Why learn AI systems")
            said = await h.dc.user_sends(int(post.key), helper, "Is this a question from a bot?")
            await h.until_handled("message", said.id, 0)
            question = await h.say("alice", "How do I start?", reply_to=post)
            message = int(question.key)
            await h.dc.user_reacts(h.channel_of(question), message, helper, "👍")
            await h.until_handled("react", (message, helper.id, "👍"), 0)
            await h.react("bob", question, "👍")
            top = await h.command("erin", "/top")
            assert "from a bot" not in top
            assert re.search(r"👍1 .*How do I start", top), top
            await h.dc.user_unreacts(h.channel_of(question), message, helper, "👍")
            await h.until_handled("unreact", (message, helper.id, "👍"), 0)
            await h.dc.user_reacts(h.channel_of(question), message, helper, "👍")
            await h.until_handled("react", (message, helper.id, "👍"), 1)
        h.dc.react_while_offline(int(post.key), message, h.user("carol"), "👍")
        async with h.running(settings) as backend:  # reconciliation reads the bot's 👍 back, and leaves it out
            report = await backend.reconciled()
            assert report is not None and (report.added, report.removed) == (1, 0)
            assert re.search(r"👍2 .*How do I start", await h.command("erin", "/top"))

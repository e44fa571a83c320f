"""Issue 16 on Discord: the answer pings its asker and nobody else; a follower whose DMs are closed is skipped."""

from __future__ import annotations

from tests.discord.harness import DiscordHarness, message_text
from tests.scenarios.notify_stories import a_group_with_an_instructor, question_id


async def test_the_answer_pings_only_the_asker_and_a_closed_dm_is_skipped(discord_bot: DiscordHarness) -> None:
    h = discord_bot
    post = await a_group_with_an_instructor(h)
    question = await h.say("alice", "Which GPU should I buy for the labs?", reply_to=post)
    for name in ("bob", "carol"):
        await h.command(name, "/follow on")
        await h.react(name, question, "👍")
    h.dc.close_dms(h.user("bob"))

    number = await question_id(h, "Which GPU")
    done = await h.command("tyler", f"/answer {number} An RTX 4090 is plenty. @everyone <@&1>", private=True)
    assert "marked answered" in done
    (answer,) = [m for m in h.bot_messages(h.general) if "An RTX 4090" in message_text(m)]
    assert answer.message_reference is not None
    assert int(answer.message_reference["message_id"]) == int(question.key)
    assert answer.allowed_mentions == {"parse": [], "replied_user": True}
    assert answer.mentions == [h.user("alice").id]  # the asker, through the reply, and only her
    assert answer.mention_roles == [] and not answer.mention_everyone

    (notice,) = h.direct_messages("carol")
    assert "A question you liked is answered" in notice and "An RTX 4090" in notice
    assert h.direct_messages("bob") == []  # DMs closed: skipped, nobody else told of it


async def test_a_reused_answer_pings_only_the_new_asker(discord_bot: DiscordHarness) -> None:
    h = discord_bot
    post = await a_group_with_an_instructor(h)
    await h.say("alice", "How do I install CUDA on Windows?", reply_to=post)
    number = await question_id(h, "How do I install CUDA")
    await h.command("tyler", f"/answer {number} Install the driver, then the toolkit.", private=True)
    again = await h.say("frank", "how to install cuda on windows??", reply_to=post)
    (notice,) = [m for m in h.bot_messages(h.general) if "asked before" in message_text(m)]
    assert notice.message_reference is not None and int(notice.message_reference["message_id"]) == int(again.key)
    assert notice.mentions == [h.user("frank").id] and not notice.mention_everyone
    assert "discord.com/channels/" in notice.content  # the link to the answer


async def test_a_reminder_goes_to_the_instructors_channel_once_pinging_nobody(discord_bot: DiscordHarness) -> None:
    h = discord_bot
    staff = h.dc.add_channel(h.guild, "staff")
    post = await a_group_with_an_instructor(h)
    assert "instructors' channel" in await h.command(
        "anna", "/setup ai-systems instructors", admin=True, channel=staff.id
    )
    await h.command("anna", "/remind 2", admin=True)
    question = await h.say("alice", "How do I profile a training loop? @everyone", reply_to=post)
    await h.react("bob", question, "👍")
    h.clock.advance(days=3)
    await h.reminders_due()
    await h.reminders_due()
    reminders = [m for m in h.dc.sent_by_bot(staff) if "Unanswered for over 2 days" in message_text(m)]
    assert len(reminders) == 1 and "profile a training loop" in message_text(reminders[0])
    assert reminders[0].mentions == [] and not reminders[0].mention_everyone
    assert f"https://discord.com/channels/{h.guild.id}/" in reminders[0].content  # a jump link to the question
    assert not [m for m in h.direct_messages("tyler") if "Unanswered" in m]  # the channel, not a DM

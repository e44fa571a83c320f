"""Discord-specific scenarios, end to end through discord.py and the local Discord server."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.config import Settings
from bot.discord_backend.backend import DiscordBackend, DiscordOptions, DiscordStartError
from handlers.i18n import Translator
from handlers.vocabulary.domain import ChatRef, LessonDraft
from tests.clock import TestClock
from tests.discord.harness import DiscordHarness, message_text
from tests.fakes.discord_api import FakeDiscord, FakeMessage

COURSE = "ai-systems"
MANAGE_GUILD = "32"


async def ready(h: DiscordHarness, *, lesson: bool = True) -> None:
    await h.add_course(COURSE, "AI Systems in Practice")
    await h.add_lesson(LessonDraft(COURSE, "intro", "Why learn AI systems", "Welcome.", "https://example.com/0", 0))
    assert "now follows" in await h.command("anna", f"/setup {COURSE}", admin=True)
    if lesson:
        await h.command("anna", "/lesson", admin=True)


def posts(h: DiscordHarness, channel: object) -> list[FakeMessage]:
    """The bot's own posts in a channel (not its answers to slash commands)."""
    return [m for m in h.dc.sent_by_bot(channel) if m.interaction_id is None]  # type: ignore[arg-type]


def assert_pings_nobody(message: FakeMessage) -> None:
    assert message.allowed_mentions is not None and message.allowed_mentions.get("parse") == []
    assert message.mentions == [] and message.mention_roles == [] and not message.mention_everyone


# commands ------------------------------------------------------------------------------------------------------
async def test_commands_are_synced_once_with_admin_defaults_and_autocomplete(
    settings: Settings, clock: TestClock
) -> None:
    async with DiscordHarness.server(clock) as h:
        async with h.running(settings) as backend:
            assert backend.synced_commands is True
            commands = {c["name"]: c for c in h.dc.commands()}
            assert set(commands) >= {"ask", "top", "answer", "setup", "lesson", "instructor", "likes", "lang"}
            assert commands["setup"]["default_member_permissions"] == MANAGE_GUILD
            assert commands["ask"]["default_member_permissions"] is None
            assert commands["ask"]["dm_permission"] is False and commands["answer"].get("dm_permission", True)
            await ready(h, lesson=False)
            completion = await h.dc.autocomplete(
                h.guild, h.general, h.user("anna"), "setup", {"course": "ai"}, "course"
            )
            await h.dc.wait_for(lambda: completion.autocomplete_choices is not None)
            assert completion.autocomplete_choices == [{"name": COURSE, "value": COURSE}]
            lessons = await h.dc.autocomplete(h.guild, h.general, h.user("anna"), "lesson", {"lesson": ""}, "lesson")
            await h.dc.wait_for(lambda: lessons.autocomplete_choices is not None)
            assert lessons.autocomplete_choices == [{"name": "0", "value": "0"}]
        async with h.running(settings) as backend:  # a restart with the same commands: no overwrite
            assert backend.synced_commands is False
        assert h.dc.command_changes() == 1


async def test_a_member_is_refused_privately_and_an_admin_sets_up(discord_bot: DiscordHarness) -> None:
    h = discord_bot
    await h.add_course(COURSE, "AI Systems in Practice")
    refused = await h.invoke("mallory", "setup", {"course": COURSE})
    [reply] = {
        r.message.id: r.message for r in h.dc.interaction_responses(refused) if r.message and r.message.content
    }.values()
    assert reply.ephemeral and "Only this chat's admins" in message_text(reply)
    assert h.bot_messages(h.general) == []  # nothing public, not even the "thinking…" placeholder
    done = await h.command("anna", f"/setup {COURSE}", admin=True)
    assert "now follows" in done
    group = await h.app.store.get_group(ChatRef("discord", str(h.general.id)))
    assert group is not None and group.title == "#general" and group.course_slug == COURSE


# lessons -------------------------------------------------------------------------------------------------------
async def test_a_lesson_goes_to_every_channel_with_a_thread_and_to_forums_as_a_post(
    discord_bot: DiscordHarness,
) -> None:
    h = discord_bot
    second = h.dc.add_channel(h.guild, "study-2")
    forum = h.dc.add_channel(h.guild, "lessons", "forum")
    await ready(h, lesson=False)
    await h.command("anna", f"/setup {COURSE}", admin=True, channel=second.id)
    await h.command("anna", f"/setup {COURSE}", admin=True, channel=forum.id)
    lesson = await h.add_lesson(
        LessonDraft(COURSE, "landscape", "The AI systems landscape", "We map @everyone.", "https://e.x/1", 1)
    )
    await h.publish(lesson)
    for channel in (h.general, second):
        [post] = [m for m in posts(h, channel) if "landscape" in m.embeds[0]["title"]]
        [embed] = post.embeds
        assert embed["title"] == "Lesson 1 · The AI systems landscape" and embed["url"] == "https://e.x/1"
        assert "We map @everyone." in embed["description"]
        assert_pings_nobody(post)
        [thread] = [t for t in h.dc.threads(channel) if t.id == post.id]
        assert thread.id == post.id and thread.name == "The AI systems landscape"
    [post] = [t for t in h.dc.threads(forum) if "landscape" in (t.name or "")]
    assert post.name == "The AI systems landscape"
    assert h.dc.messages(post)[0].embeds[0]["url"] == "https://e.x/1"
    await h.publish(lesson)  # published again (a restart): nothing twice
    assert len(posts(h, second)) == 1 and len(h.dc.threads(forum)) == 1  # (lesson 0 went out before they followed)


async def test_a_question_in_a_forum_post_before_its_intro_is_complete_is_about_the_lesson(
    discord_bot: DiscordHarness,
) -> None:
    """A forum post opens with the intro's first part; a long intro's later parts follow in it and may wait out a
    429. A learner who writes in the post meanwhile asks about the lesson (before, the post was recorded only
    once complete, and the message was taken for nothing)."""
    h = discord_bot
    forum = h.dc.add_channel(h.guild, "lessons", "forum")
    await h.add_course(COURSE, "AI Systems in Practice")
    assert "now follows" in await h.command("anna", f"/setup {COURSE}", admin=True, channel=forum.id)
    intro = "\n\n".join(f"Part {n}. " + "Tensor cores multiply small matrices. " * 110 for n in range(4))
    lesson = await h.add_lesson(LessonDraft(COURSE, "gpus", "GPUs", intro, "https://e.x/g", 3))

    h.dc.rate_limit("/messages", times=1, retry_after=2.0)  # the intro's second part waits about 2 s
    publishing = asyncio.create_task(h.publish(lesson))
    await h.dc.wait_for(lambda: any(t.name == "GPUs" for t in h.dc.threads(forum)), what="the lesson's forum post")
    [post] = [t for t in h.dc.threads(forum) if t.name == "GPUs"]
    await h.say("alice", "Which GPU do you recommend?", channel=post.id)
    assert not publishing.done() and len(posts(h, post)) == 1  # only the first part is in yet

    await asyncio.wait_for(publishing, 10)
    assert len(posts(h, post)) > 1
    ranked = await h.app.store.top_questions(COURSE, 10)
    assert [(r.question.text, r.lesson_title) for r in ranked] == [("Which GPU do you recommend?", "GPUs")]


async def test_questions_in_threads_forum_posts_and_by_ask_count_with_their_likes(discord_bot: DiscordHarness) -> None:
    h = discord_bot
    forum = h.dc.add_channel(h.guild, "lessons", "forum")
    await ready(h)
    await h.command("anna", f"/setup {COURSE}", admin=True, channel=forum.id)
    await h.command("anna", "/lesson", admin=True, channel=forum.id)
    post = h.lesson_post("Why learn AI systems")
    in_thread = await h.say("alice", "What GPU do I need?", reply_to=post)
    [forum_post] = h.dc.threads(forum)
    in_forum = await h.say("carol", "Is there a reading list?", channel=forum_post.id)
    asked = await h.invoke("frank", "ask", {"text": "什么时候讲分布式训练？"})
    [answer] = {r.message.id: r.message for r in h.dc.interaction_responses(asked) if r.message is not None}.values()
    assert "什么时候讲分布式训练" in message_text(answer) and "Question #" in message_text(answer)
    asked_handle = h.handle(answer)
    for who in ("bob", "erin"):
        await h.react(who, asked_handle, "👍")
    await h.react("bob", in_thread, "👍")
    await h.react("bob", in_forum, "👍")
    top = await h.command("erin", "/top")
    assert re.search(r"#\d+ 👍2 .*什么时候讲分布式训练", top), top
    assert "What GPU do I need?" in top and "Is there a reading list?" in top


async def test_reactions_added_removed_and_cleared_on_cached_and_uncached_messages(
    settings: Settings, clock: TestClock
) -> None:
    async with DiscordHarness.server(clock) as h:
        pepe = h.dc.add_emoji(h.guild, "pepe")
        async with h.running(settings):
            await ready(h)
            await h.command("anna", f"/likes 👍 <:pepe:{pepe['id']}>", admin=True)
            post = h.lesson_post("Why learn AI systems")
            question = await h.say("alice", "How do I start?", reply_to=post)
            await h.react("bob", question, "👍")
            await h.react("carol", question, f"<:pepe:{pepe['id']}>")
            assert "👍2" in await h.command("erin", "/top")
        async with h.running(settings):  # a new process: nothing of the old one is in discord.py's cache
            await h.react("dave", question, "👍")
            assert "👍3" in await h.command("erin", "/top")
            await h.unreact("bob", question, "👍")
            assert "👍2" in await h.command("erin", "/top")
            before = h.seen[("clear", (int(question.key), f"<:pepe:{pepe['id']}>"))]
            await h.dc.clear_emoji(h.channel_of(question), int(question.key), f"pepe:{pepe['id']}")
            await h.until_handled("clear", (int(question.key), f"<:pepe:{pepe['id']}>"), before)
            assert "👍1" in await h.command("erin", "/top")
            await h.dc.clear_reactions(h.channel_of(question), int(question.key))
            await h.until_handled("clear", (int(question.key), None), 0)
            assert "👍0" in await h.command("erin", "/top")


async def test_a_clear_between_reactions_in_one_burst_keeps_the_gateway_order(
    settings: Settings, clock: TestClock
) -> None:
    """Reactions before a clear are stored before it, and those after it survive it, however the events arrive
    together: all four are queued in the same turn, so they reach the bot in one socket read."""
    async with DiscordHarness.server(clock) as h, h.running(settings):
        await ready(h)
        question = await h.say("alice", "How do I start?", reply_to=h.lesson_post("Why learn AI systems"))
        channel, message = h.channel_of(question), int(question.key)
        bob, carol, dave = (h.user(name) for name in ("bob", "carol", "dave"))
        before = h.seen[("react", (message, dave.id, "👍"))]
        await asyncio.gather(
            h.dc.user_reacts(channel, message, bob, "👍"),
            h.dc.user_reacts(channel, message, carol, "👍"),
            h.dc.clear_reactions(channel, message),
            h.dc.user_reacts(channel, message, dave, "👍"),
        )
        await h.until_handled("react", (message, dave.id, "👍"), before)
        assert "👍1" in await h.command("erin", "/top")


async def test_a_like_in_the_same_socket_read_as_its_question_counts(settings: Settings, clock: TestClock) -> None:
    """A resumed session replays a question and the likes on it at once: the likes wait for it to be stored."""
    async with DiscordHarness.server(clock) as h, h.running(settings):
        await ready(h)
        [thread] = h.dc.threads(h.general)
        alice, bob = h.user("alice"), h.user("bob")
        sending = asyncio.create_task(h.dc.user_sends(thread, alice, "Does a like this fast count?"))
        await asyncio.sleep(0)  # its MESSAGE_CREATE is queued, not yet written to the socket
        [question] = [m for m in h.dc.messages(thread) if m.author_id == alice.id]
        before = h.seen[("react", (question.id, bob.id, "👍"))]
        await h.dc.user_reacts(thread, question, bob, "👍")
        await sending
        await h.until_handled("message", question.id, 0)
        await h.until_handled("react", (question.id, bob.id, "👍"), before)
        assert re.search(r"👍1 .*Does a like this fast count", await h.command("erin", "/top"))


async def test_reactions_in_a_thread_outside_the_cache_wait_for_its_lookup_in_order(
    settings: Settings, clock: TestClock
) -> None:
    """A thread discord.py has not cached is looked up over REST; the reactions that come meanwhile, even in
    channels already known, queue behind it, so an add and a remove by one member end as a remove."""
    async with DiscordHarness.server(clock) as h:
        async with h.running(settings):
            await ready(h)
            question = await h.say("alice", "How do I start?", reply_to=h.lesson_post("Why learn AI systems"))
            asked = await h.invoke("frank", "ask", {"text": "Is there a reading list?"})
            [answer] = {r.message.id: r.message for r in h.dc.interaction_responses(asked) if r.message}.values()
            other = h.handle(answer)  # a question in #general, a channel discord.py has
        [thread] = h.dc.threads(h.general)
        thread.archived = True  # not among the guild's active threads when the bot connects again
        async with h.running(settings):
            thread.archived = False  # reopened without an event: discord.py does not have it
            channel, message = h.channel_of(question), int(question.key)
            bob, carol = h.user("bob"), h.user("carol")
            before = h.seen[("react", (int(other.key), carol.id, "👍"))]
            await asyncio.gather(
                h.dc.user_reacts(channel, message, bob, "👍"),
                h.dc.user_unreacts(channel, message, bob, "👍"),
                h.dc.user_reacts(channel, message, carol, "👍"),
                h.dc.user_reacts(h.channel_of(other), int(other.key), carol, "👍"),
            )
            await h.until_handled("react", (int(other.key), carol.id, "👍"), before)
            top = await h.command("erin", "/top")
            assert re.search(r"👍1 .*How do I start", top) and re.search(r"👍1 .*reading list", top), top
            assert any(
                request.method == "GET" and request.path.endswith(f"/channels/{thread.id}") for request in h.dc.requests
            )


# digests and answers ---------------------------------------------------------------------------------------------
async def test_the_digest_is_a_dm_with_jump_links_or_goes_to_the_instructors_channel(
    discord_bot: DiscordHarness,
) -> None:
    h = discord_bot
    staff = h.dc.add_channel(h.guild, "staff")
    await ready(h)
    post = h.lesson_post("Why learn AI systems")
    for name in ("tyler", "uma"):
        await h.invoke("anna", "instructor", {"member": h.user(name).id}, admin=True)
    question = await h.say("alice", "Which GPU should I buy?", reply_to=post)
    await h.react("bob", question, "👍")
    h.dc.close_dms(h.user("uma"))
    assert "instructors' channel" in await h.command(
        "anna", f"/setup {COURSE} instructors", admin=True, channel=staff.id
    )
    h.clock.advance(days=7)
    await h.digest_due(COURSE)

    [dm] = [m for m in h.dc.dm_messages(h.user("tyler")) if m.author_id == h.dc.bot.id]
    [embed] = dm.embeds
    assert (
        embed["title"] == "AI Systems in Practice · question digest"
        and "Which GPU should I buy?" in embed["description"]
    )
    jump = f"https://discord.com/channels/{h.guild.id}/{post.key}/{question.key}"
    assert jump in embed["description"]
    digest, note = posts(h, staff)
    assert "Which GPU should I buy?" in message_text(digest)
    assert "uma" in note.content and "do not accept direct messages" in note.content
    for message in (dm, digest, note):
        assert_pings_nobody(message)


async def test_an_answer_to_a_deleted_question_is_still_posted_in_its_thread(discord_bot: DiscordHarness) -> None:
    h = discord_bot
    await ready(h)
    post = h.lesson_post("Why learn AI systems")
    await h.invoke("anna", "instructor", {"member": h.user("tyler").id}, admin=True)
    kept = await h.say("alice", "Is there homework?", reply_to=post)
    gone = await h.say("bob", "Is the exam hard?", reply_to=post)
    # deleted while the bot was away: the core does not know, Discord refuses a reply to it
    h.dc.message(int(gone.key)).deleted = True
    for question, text in ((kept, "Yes, weekly."), (gone, "No.")):
        number = (await h.app.store.question_by_ref(_ref(h, question))).id  # type: ignore[union-attr]
        assert "marked answered" in await h.command("tyler", f"/answer {number} {text}", private=True)
    thread = int(post.key)
    by_text = {m.content.split("\n")[-1]: m for m in h.dc.sent_by_bot(thread)}
    assert by_text["Yes, weekly."].reference_id == int(kept.key)
    assert by_text["No."].reference_id is None or h.dc.message(by_text["No."].id).message_reference is not None


def _ref(h: DiscordHarness, handle: object) -> object:
    from handlers.vocabulary.domain import MessageRef

    key = handle.key  # type: ignore[attr-defined]
    channel = h.dc.channel(h.channel_of(handle))  # type: ignore[arg-type]
    if channel.is_thread:
        return MessageRef("discord", str(channel.parent_id), key, str(channel.id))
    return MessageRef("discord", str(channel.id), key)


# safety ----------------------------------------------------------------------------------------------------------
async def test_hostile_text_pings_nobody_keeps_its_markdown_and_long_text_is_split(discord_bot: DiscordHarness) -> None:
    h = discord_bot
    await ready(h)
    post = h.lesson_post("Why learn AI systems")
    role = h.dc.add_role(h.guild, "everyone-else", 0)
    hostile = f"[x](https://evil.example) @everyone @here <@{h.user('bob').id}> <@&{role.id}> **bold** # big?"
    await h.say("mallory", hostile, reply_to=post)
    await h.invoke("anna", "instructor", {"member": h.user("tyler").id}, admin=True)
    top = await h.invoke("erin", "top", {})
    cjk = "这是一个很长的回答。" * 500  # 5,000 characters
    asked = await h.invoke("mallory", "ask", {"text": cjk[:1900] + "？"})
    number = int(re.findall(r"#(\d+)", "\n".join(h.replies(asked)))[0])
    await h.command("tyler", f"/answer {number} {cjk}", private=True)
    h.clock.advance(days=7)
    await h.digest_due(COURSE)

    sent = h.bot_messages(h.general) + [m for m in h.dc.dm_messages(h.user("tyler")) if m.author_id == h.dc.bot.id]
    sent += [r.message for i in (top, asked) for r in h.dc.interaction_responses(i) if r.message is not None]
    pinging_asker = []
    for message in sent:
        if message.deleted:
            continue
        assert len(message.content) <= 2000
        if message.allowed_mentions and message.allowed_mentions.get("users"):
            # The answer pings its asker and nobody else (issue 16). A question asked with the /ask slash
            # command is kept as the bot's own reply to it, so the answer mentions the asker by id, alone.
            pinging_asker.append(message)
            asker = str(h.user("mallory").id)
            assert message.allowed_mentions == {"parse": [], "users": [int(asker)]}
            assert message.mentions == [int(asker)] and message.content.startswith(f"<@{asker}>")
            assert message.mention_roles == [] and not message.mention_everyone
        else:
            assert_pings_nobody(message)
    assert len(pinging_asker) == 1 and "这是一个很长的回答" in pinging_asker[0].content
    [listing] = {message_text(r.message) for r in h.dc.interaction_responses(top) if r.message is not None}
    assert f"[x](https://evil.example) @everyone @here <@{h.user('bob').id}>" in listing  # shown as written
    raw = next(r.message.content for r in h.dc.interaction_responses(top) if r.message is not None)
    assert "\\[x\\](https://evil.example)" in raw and "\\<@" in raw
    answer_parts = [m for m in posts(h, h.general) if "这是一个很长的回答" in m.content]
    assert len(answer_parts) >= 3 and "".join(m.content for m in answer_parts).count("这是一个很长的回答。") == 500


# failures ----------------------------------------------------------------------------------------------------------
async def test_a_403_in_one_channel_marks_it_and_the_broadcast_goes_on(discord_bot: DiscordHarness) -> None:
    h = discord_bot
    locked = h.dc.add_channel(h.guild, "locked")
    third = h.dc.add_channel(h.guild, "third")
    staff = h.dc.add_channel(h.guild, "staff")
    await ready(h, lesson=False)
    for channel in (locked, third):
        await h.command("anna", f"/setup {COURSE}", admin=True, channel=channel.id)
    await h.command("anna", f"/setup {COURSE} instructors", admin=True, channel=staff.id)
    h.dc.deny_send(locked)
    lesson = await h.add_lesson(LessonDraft(COURSE, "two", "Lesson two", "More.", "https://e.x/2", 2))
    await h.publish(lesson)
    assert [len(posts(h, c)) for c in (h.general, third)] == [2, 1]  # general got lesson 0 at its /setup
    assert posts(h, locked) == []  # neither lesson 0 (posted before the deny) nor lesson 2
    [notice] = posts(h, staff)
    assert "#locked" in notice.content and "missing a permission" in notice.content
    group = await h.app.store.get_group(ChatRef("discord", str(locked.id)))
    assert group is not None and group.active and group.attention == "missing_permissions"
    assert "Needs attention" in await h.command("mallory", "/setup", channel=locked.id)

    h.dc.allow_send(locked)
    await h.command("anna", f"/setup {COURSE}", admin=True, channel=locked.id)  # fixed: /setup clears it
    group = await h.app.store.get_group(ChatRef("discord", str(locked.id)))
    assert group is not None and group.attention is None
    await h.command("anna", "/lesson 2", admin=True, channel=locked.id)
    assert len(posts(h, locked)) == 1


async def test_a_429_is_waited_out(discord_bot: DiscordHarness) -> None:
    h = discord_bot
    await ready(h, lesson=False)
    h.dc.rate_limit(f"POST /channels/{h.general.id}/messages", times=1, retry_after=0.1)
    lesson = await h.add_lesson(LessonDraft(COURSE, "two", "Lesson two", "More.", "https://e.x/2", 2))
    await h.publish(lesson)
    assert [m.embeds[0]["title"] for m in posts(h, h.general)][-1] == "Lesson 2 · Lesson two"
    statuses = [r.status for r in h.dc.requests if r.path == f"/channels/{h.general.id}/messages"]
    assert statuses[-2:] == [429, 200]


async def test_a_missing_message_content_intent_stops_start_up_saying_what_to_switch_on(
    settings: Settings, clock: TestClock
) -> None:
    async with FakeDiscord(message_content=False, clock=TestClock()) as dc, dc.patch_discord():
        options = DiscordOptions(dc.token, dc.base_url, guild_ready_timeout=0.05, identify_delay=False)
        backend = DiscordBackend(options, Translator.load("en"), clock)
        with pytest.raises(DiscordStartError) as refused:
            await backend.start(_nothing)
        await backend.stop()
    assert "MESSAGE CONTENT INTENT" in str(refused.value) and "Privileged Gateway Intents" in str(refused.value)


async def _nothing(event: object) -> None:
    return None


# catch-up ----------------------------------------------------------------------------------------------------------
async def test_likes_missed_while_the_bot_was_down_are_reconciled_at_start(
    settings: Settings, clock: TestClock
) -> None:
    async with DiscordHarness.server(clock) as h:
        async with h.running(settings):
            await ready(h)
            post = h.lesson_post("Why learn AI systems")
            first = await h.say("alice", "How do I start?", reply_to=post)
            second = await h.say("carol", "What comes next?", reply_to=post)
            gone = await h.say("dave", "Can I skip lesson one?", reply_to=post)
            await h.react("bob", first, "👍")
            await h.react("erin", first, "👍")
        thread = int(post.key)
        h.dc.unreact_while_offline(thread, int(first.key), h.user("erin"), "👍")
        for name in ("frank", "gina", "hank"):
            h.dc.react_while_offline(thread, int(second.key), h.user(name), "👍")
        h.dc.react_while_offline(thread, int(second.key), h.user("carol"), "👍")  # her own: never counts
        h.dc.message(int(gone.key)).deleted = True
        async with h.running(settings) as backend:
            report = await backend.reconciled()
            assert report is not None
            assert (report.added, report.removed, report.deleted) == (3, 1, 1)
            top = await h.command("erin", "/top")
            assert re.search(r"👍3 💬0 What comes next", top) and re.search(r"👍1 💬0 How do I start", top), top
            assert "Can I skip" not in top
        async with h.running(settings) as backend:  # nothing left to correct
            again = await backend.reconciled()
            assert again is not None and (again.added, again.removed) == (0, 0)


async def test_a_like_given_while_its_post_is_reconciled_is_not_taken_away(
    settings: Settings, clock: TestClock
) -> None:
    """Reconciliation reads the 👍 users, then waits out a 429 on the second emoji; a 👍 given live meanwhile is
    newer than what was read, and must still count once the post is corrected."""
    async with DiscordHarness.server(clock) as h:
        pepe = h.dc.add_emoji(h.guild, "pepe")
        async with h.running(settings):
            await ready(h)
            await h.command("anna", f"/likes 👍 <:pepe:{pepe['id']}>", admin=True)
            question = await h.say("alice", "How do I start?", reply_to=h.lesson_post("Why learn AI systems"))
            await h.react("bob", question, "👍")
            await h.react("carol", question, f"<:pepe:{pepe['id']}>")
        h.dc.rate_limit("/reactions/pepe", retry_after=0.5)
        async with h.running(settings) as backend:
            await h.dc.wait_for(lambda: any(r.status == 429 for r in h.dc.requests), timeout=10)
            await h.react("dave", question, "👍")
            report = await backend.reconciled()
            assert report is not None and report.checked == 1
            assert "👍3" in await h.command("erin", "/top")


async def test_cli_run_reports_the_missing_intent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.commands import cmd_run

    async with FakeDiscord(message_content=False, clock=TestClock()) as dc:
        settings = Settings(  # type: ignore[call-arg]
            database_path=tmp_path / "bot.db",
            discord_bot_token=dc.token,
            discord_api_base_url=dc.base_url,
            _env_file=None,
        )
        import io

        assert await cmd_run(settings, io.StringIO(), io.StringIO()) == 2
    assert "switch on MESSAGE CONTENT INTENT" in capsys.readouterr().err


# operations --------------------------------------------------------------------------------------------------------
async def test_doctor_reports_token_intents_channels_and_instructors(
    settings: Settings, clock: TestClock, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.commands import cmd_doctor

    async with DiscordHarness.server(clock) as h:
        locked = h.dc.add_channel(h.guild, "locked")
        async with h.running(settings):
            await ready(h, lesson=False)
            await h.command("anna", f"/setup {COURSE}", admin=True, channel=locked.id)
            await h.invoke("anna", "instructor", {"member": h.user("tyler").id}, admin=True)
        h.dc.deny_send(locked)
        doctor_settings = settings.model_copy(
            update={"discord_bot_token": SecretStr(h.dc.token), "discord_api_base_url": h.dc.base_url}
        )
        import io

        out = io.StringIO()
        assert await cmd_doctor(doctor_settings, out) == 1
    report = out.getvalue()
    assert "✓ discord: token valid" in report and "✓ discord: gateway connected" in report
    assert "✓ #general (ai-systems): can send" in report
    assert "✗ #locked (ai-systems): missing send messages, embed links, create threads, send in threads" in report
    assert "✓ tyler (ai-systems): shares a server with the bot" in report


async def test_two_processes_share_a_deployment_by_shards(settings: Settings, clock: TestClock) -> None:
    """Shard 0 and shard 1 run in two backends over the same database; each serves its own guilds."""
    async with DiscordHarness.server(clock) as h:
        other_guild = h.dc.add_guild("second server", shard=(1, 2))
        other_channel = h.dc.add_channel(other_guild, "general")
        async with h.running(settings, shard_count=2, shard_ids=(0, 1)):
            await ready(h, lesson=False)  # the harness guild, whichever shard it is on
        async with h.running(settings, shard_count=2, shard_ids=(0,)) as zero:
            second = DiscordBackend(h.backend_options(shard_count=2, shard_ids=(1,)), Translator.load("en"), clock)
            second.use_ports(catalog=h.app.store, catch_up=h.app.store)
            await second.start(h.app.dispatcher.dispatch)
            try:
                assert sorted(h.dc.connected_shards) == [(0, 2), (1, 2)]
                assert zero.client is not None and second.client is not None
                assert sorted(zero.client.shards) == [0] and sorted(second.client.shards) == [1]
                assert second.client.get_channel(other_channel.id) is not None
                assert zero.client.get_channel(other_channel.id) is None
            finally:
                await second.stop()

"""The fake Discord REST API against the *real* discord.py: messages, threads, reactions, permissions and errors,
DMs, 429s, and application commands with their interactions.

Nothing sleeps to wait; the only timing measurements are the 429 tests, which measure discord.py's own back-off
(the limits themselves are tested in test_discord_limits.py).  Fixtures are in conftest.py.
"""

from __future__ import annotations

import asyncio
import io
import time

import aiohttp
import discord
import pytest
from discord import app_commands

from tests.clock import TestClock
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.discord_client import TIMEOUT, make_client, next_item, record, running

# ------------------------------------------------------------------------------ messages & reactions


async def test_on_message_respects_the_message_content_intent(discord_fake: FakeDiscord) -> None:
    dc = discord_fake
    guild = dc.add_guild("Course")
    general = dc.add_channel(guild, "general")
    alice = dc.add_user("alice")
    dc.add_member(guild, alice)
    client = make_client()
    messages = record(client, "message")
    edits = record(client, "raw_message_edit")
    deletes = record(client, "raw_message_delete")
    async with running(client, dc.token):
        first = await dc.user_sends(general, alice, "hidden without the intent")
        got = await next_item(messages)
        assert (got.id, got.content, got.author.id) == (first.id, "", alice.id)
        await dc.user_sends(general, alice, f"<@{dc.bot.id}> mentions are visible", reference=first)
        got = await next_item(messages)
        assert got.content.endswith("mentions are visible") and got.reference.message_id == first.id
        await dc.user_edits(general, first, "edited")
        assert (await next_item(edits)).message_id == first.id
        await dc.user_deletes(general, first)
        assert (await next_item(deletes)).message_id == first.id

    dc.enable_intents(message_content=True)
    intents = discord.Intents.default()
    intents.message_content = True
    client = make_client(intents)
    messages = record(client, "message")
    async with running(client, dc.token):
        await dc.user_sends(general, alice, "now readable")
        assert (await next_item(messages)).content == "now readable"


async def test_raw_reaction_events(discord_fake: FakeDiscord) -> None:
    dc = discord_fake
    guild = dc.add_guild("Course")
    general = dc.add_channel(guild, "general")
    alice, bob = dc.add_user("alice"), dc.add_user("bob")
    dc.add_member(guild, alice)
    dc.add_member(guild, bob)
    client = make_client()
    added = record(client, "raw_reaction_add")
    removed = record(client, "raw_reaction_remove")
    cleared = record(client, "raw_reaction_clear")
    cleared_emoji = record(client, "raw_reaction_clear_emoji")
    async with running(client, dc.token):
        msg = await dc.user_sends(general, alice, "react to me")
        await dc.user_reacts(general, msg, bob, "👍")
        event = await next_item(added)
        assert (event.message_id, event.user_id, str(event.emoji), event.guild_id) == (msg.id, bob.id, "👍", guild.id)
        assert event.member is not None and event.member.id == bob.id
        await dc.user_reacts(general, msg, alice, "pepe:123")
        event = await next_item(added)
        assert (event.emoji.id, event.emoji.name) == (123, "pepe")
        await dc.user_unreacts(general, msg, bob, "👍")
        assert (await next_item(removed)).user_id == bob.id
        await dc.clear_emoji(general, msg, "pepe:123")
        assert (await next_item(cleared_emoji)).emoji.name == "pepe"
        await dc.user_reacts(general, msg, bob, "🎉")
        await next_item(added)
        await dc.clear_reactions(general, msg)
        assert (await next_item(cleared)).message_id == msg.id
        assert dc.reactions(msg) == {}


async def test_reaction_users_are_paginated_for_reconciliation(discord_fake: FakeDiscord) -> None:
    dc = discord_fake
    guild = dc.add_guild("Course")
    general = dc.add_channel(guild, "general")
    users = [dc.add_user(f"u{i}") for i in range(130)]
    for user in users:
        dc.add_member(guild, user)
    async with running(make_client(), dc.token) as client:
        msg = await dc.user_sends(general, users[0], "popular")
        for user in users:
            dc.react_while_offline(general, msg, user, "👍")  # no events: the bot was down
        fetched = await client.get_partial_messageable(general.id).fetch_message(msg.id)
        [reaction] = fetched.reactions
        assert reaction.count == 130 and not reaction.me
        reactors = [u.id async for u in reaction.users(limit=None)]
        assert sorted(reactors) == sorted(u.id for u in users)  # (discord.py reverses each page)
        # discord.py pages by 100 with ?after=<last user id>
        assert dc.request_count("GET /channels/{channel_id}/messages/{message_id}/reactions/{emoji}") == 2


async def test_bot_messages_store_allowed_mentions_and_echo(discord_fake: FakeDiscord) -> None:
    dc = discord_fake
    guild = dc.add_guild("Course")
    general = dc.add_channel(guild, "general")
    alice = dc.add_user("alice")
    dc.add_member(guild, alice)
    client = make_client()
    messages = record(client, "message")
    async with running(client, dc.token):
        channel = client.get_channel(general.id)
        assert isinstance(channel, discord.TextChannel)
        sent = await channel.send(
            f"well done <@{alice.id}>",
            embed=discord.Embed(title="Week 1"),
            allowed_mentions=discord.AllowedMentions.none(),
        )
        [stored] = dc.sent_by_bot(general)
        assert stored.id == sent.id and stored.allowed_mentions == {"parse": []}
        assert stored.mentions == []  # nobody was pinged
        assert stored.embeds[0]["title"] == "Week 1"
        echoed = await next_item(messages)  # Discord echoes the bot's own message
        assert echoed.id == sent.id and echoed.author.id == dc.bot.id and echoed.content.startswith("well done")
        await sent.edit(content="edited")
        assert dc.message(sent.id).content == "edited"
        await sent.add_reaction("✅")
        assert dc.reactions(sent.id) == {"✅": [dc.bot.id]}
        await sent.delete()
        assert dc.sent_by_bot(general) == []


async def test_rest_odds_and_ends_through_discord_py(discord_fake: FakeDiscord) -> None:
    """History, fetches, reaction removal/clears, uploads, custom emoji: the paths an adapter touches."""
    dc = discord_fake
    guild = dc.add_guild("Course")
    general = dc.add_channel(guild, "general")
    alice = dc.add_user("alice")
    dc.add_member(guild, alice)
    pepe = dc.add_emoji(guild, "pepe")
    async with running(make_client(), dc.token) as client:
        channel = client.get_channel(general.id)
        assert isinstance(channel, discord.TextChannel)
        for i in range(3):
            await dc.user_sends(general, alice, f"m{i}")
        newest_first = [m.id async for m in channel.history(limit=2)]
        assert newest_first == [m.id for m in reversed(dc.messages(general))][:2]
        oldest_first = [m.id async for m in channel.history(limit=None, oldest_first=True)]
        assert oldest_first == [m.id for m in dc.messages(general)]

        fetched_guild = await client.fetch_guild(guild.id)
        assert fetched_guild.name == "Course"
        assert (await fetched_guild.fetch_member(alice.id)).id == alice.id
        assert {c.id for c in await fetched_guild.fetch_channels()} == {general.id}

        report = await channel.send("report", file=discord.File(io.BytesIO(b"user,likes\n"), filename="likes.csv"))
        [attachment] = dc.message(report.id).attachments
        assert attachment["filename"] == "likes.csv" and attachment["size"] == 11
        assert report.attachments[0].filename == "likes.csv"

        await report.add_reaction("👍")
        await report.add_reaction(f"pepe:{pepe['id']}")
        with pytest.raises(discord.HTTPException) as unknown_emoji:
            await report.add_reaction("nope:1")
        assert unknown_emoji.value.code == 10014
        await dc.user_reacts(general, report.id, alice, "👍")
        await report.remove_reaction("👍", discord.Object(alice.id))
        assert dc.reactions(report.id)["👍"] == [dc.bot.id]
        await report.clear_reaction("👍")
        assert list(dc.reactions(report.id)) == [f"pepe:{pepe['id']}"]
        await report.clear_reactions()
        assert dc.reactions(report.id) == {}

        thread = await channel.create_thread(name="no starter", type=discord.ChannelType.public_thread)
        assert [t.id for t in dc.threads(general)] == [thread.id]
        assert dc.request_count("/channels/{channel_id}/threads") == 1


async def test_threads_from_messages_and_forum_posts(discord_fake: FakeDiscord) -> None:
    dc = discord_fake
    guild = dc.add_guild("Course")
    general = dc.add_channel(guild, "general")
    forum = dc.add_channel(guild, "questions", "forum")
    alice = dc.add_user("alice")
    dc.add_member(guild, alice)
    client = make_client()
    created = record(client, "thread_create")
    async with running(client, dc.token):
        text_channel = client.get_channel(general.id)
        forum_channel = client.get_channel(forum.id)
        assert isinstance(text_channel, discord.TextChannel) and isinstance(forum_channel, discord.ForumChannel)
        msg = await dc.user_sends(general, alice, "discuss")
        partial = text_channel.get_partial_message(msg.id)
        thread = await partial.create_thread(name="Discussion")
        assert thread.id == msg.id  # a message's thread shares its id
        assert (await next_item(created)).id == thread.id
        assert [t.id for t in dc.threads(general)] == [msg.id]
        await thread.send("inside the thread")
        assert [m.content for m in dc.messages(thread.id)] == ["inside the thread"]

        post = await forum_channel.create_thread(name="Lesson 3?", content="Where is lesson 3?")
        assert post.thread.parent_id == forum.id and post.message.id == post.thread.id
        assert [t.name for t in dc.threads(forum)] == ["Lesson 3?"]
        assert dc.messages(post.thread.id)[0].content == "Where is lesson 3?"


async def test_error_answers_become_discord_exceptions(discord_fake: FakeDiscord) -> None:
    dc = discord_fake
    guild = dc.add_guild("Course")
    general = dc.add_channel(guild, "general")
    locked = dc.add_channel(guild, "announcements")
    alice = dc.add_user("alice")
    dc.add_member(guild, alice)
    dc.close_dms(alice)
    dc.deny_send(locked)
    async with running(make_client(), dc.token) as client:
        with pytest.raises(discord.Forbidden) as forbidden:
            await client.get_partial_messageable(locked.id).send("hello")
        assert forbidden.value.code == 50013 and forbidden.value.status == 403

        user = await client.fetch_user(alice.id)
        with pytest.raises(discord.Forbidden) as closed:
            await user.send("psst")
        assert closed.value.code == 50007

        channel = client.get_partial_messageable(general.id)
        with pytest.raises(discord.HTTPException) as too_long:
            await channel.send("x" * 2001)
        assert too_long.value.code == 50035 and too_long.value.status == 400
        assert "In content: Must be 2000 or fewer in length." in too_long.value.text

        with pytest.raises(discord.HTTPException) as bad_embed:
            await channel.send(embed=discord.Embed(title="t" * 257))
        assert bad_embed.value.code == 50035 and "In embeds.0.title" in bad_embed.value.text
        with pytest.raises(discord.HTTPException) as too_big:
            await channel.send(embeds=[discord.Embed(description="d" * 4000) for _ in range(2)])
        assert "Embed size exceeds maximum size of 6000" in too_big.value.text

        with pytest.raises(discord.NotFound) as unknown_message:
            await channel.fetch_message(12345)
        assert unknown_message.value.code == 10008
        with pytest.raises(discord.NotFound) as unknown_channel:
            await client.fetch_channel(12345)
        assert unknown_channel.value.code == 10003
        assert dc.sent_by_bot(general) == [] and dc.sent_by_bot(locked) == []


async def test_429_is_waited_out_and_retried(discord_fake: FakeDiscord) -> None:
    dc = discord_fake
    guild = dc.add_guild("Course")
    general = dc.add_channel(guild, "general")
    async with running(make_client(), dc.token) as client:
        dc.rate_limit(f"POST /channels/{general.id}/messages", times=1, retry_after=0.2)
        started = time.perf_counter()
        await client.get_partial_messageable(general.id).send("eventually")
        elapsed = time.perf_counter() - started
        assert 0.2 <= elapsed < 1.5
        assert dc.request_count(f"POST /channels/{general.id}/messages") == 2
        assert [m.content for m in dc.sent_by_bot(general)] == ["eventually"]
        assert [r.status for r in dc.requests if r.route == "/channels/{channel_id}/messages"] == [429, 200]


async def test_rest_headers_and_plain_http_errors(discord_fake: FakeDiscord) -> None:
    dc = discord_fake
    guild = dc.add_guild("Course")
    auth = {"Authorization": f"Bot {dc.token}"}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{dc.api_base}/guilds/{guild.id}", headers=auth) as resp:
            assert resp.status == 200 and resp.headers["Content-Type"] == "application/json"
            for header in (
                "X-RateLimit-Limit",
                "X-RateLimit-Remaining",
                "X-RateLimit-Reset",
                "X-RateLimit-Reset-After",
                "X-RateLimit-Bucket",
            ):
                assert header in resp.headers
            assert (await resp.json())["name"] == "Course"
        async with http.get(f"{dc.api_base}/users/@me") as resp:
            assert resp.status == 401 and (await resp.json())["message"] == "401: Unauthorized"
        async with http.get(f"{dc.api_base}/no/such/route", headers=auth) as resp:
            assert resp.status == 404 and (await resp.json())["code"] == 0
        async with http.get(f"{dc.api_base}/gateway/bot", headers=auth) as resp:
            data = await resp.json()
            assert data["url"] == dc.gateway_url and data["session_start_limit"]["max_concurrency"] == 1


async def test_burst_reactions_reach_the_client(discord_fake: FakeDiscord) -> None:
    dc = discord_fake
    guild = dc.add_guild("Course")
    general = dc.add_channel(guild, "general")
    users = [dc.add_user(f"u{i}") for i in range(50)]
    for user in users:
        dc.add_member(guild, user)
    client = make_client()
    seen = 0
    all_seen = asyncio.Event()
    n = 2000

    async def on_raw_reaction_add(payload: discord.RawReactionActionEvent) -> None:
        nonlocal seen
        seen += 1
        if seen == n:
            all_seen.set()

    client.event(on_raw_reaction_add)
    async with running(client, dc.token):
        msgs = [await dc.user_sends(general, users[0], f"m{i}") for i in range(40)]
        queued = await dc.burst_reactions(general, msgs, users, "👍", n)
        assert queued == n
        await asyncio.wait_for(all_seen.wait(), TIMEOUT)
        assert sum(len(v) for m in msgs for v in dc.reactions(m).values()) == n
    with pytest.raises(ValueError):
        await dc.burst_reactions(general, msgs[:1], users[:1], "👍", 2)


async def test_direct_messages_both_ways(discord_fake: FakeDiscord) -> None:
    dc = discord_fake
    dc.add_guild("Course")
    bob = dc.add_user("bob")
    client = make_client()
    messages = record(client, "message")
    async with running(client, dc.token):
        user = await client.fetch_user(bob.id)
        await user.send("your weekly summary")
        assert [m.content for m in dc.dm_messages(bob)] == ["your weekly summary"]
        echoed = await next_item(messages)
        assert isinstance(echoed.channel, discord.DMChannel)
        incoming = await dc.user_sends_dm(bob, "thanks!")
        got = await next_item(messages)
        # DMs carry content even without the MESSAGE_CONTENT intent
        assert (got.id, got.content, got.guild) == (incoming.id, "thanks!", None)


async def test_rate_limit_headers_are_honoured_without_429s() -> None:
    """A small bucket: discord.py must pace itself from the headers and never be told off."""
    async with FakeDiscord(bucket_limit=2, bucket_window=0.3, clock=TestClock()) as dc, dc.patch_discord():
        guild = dc.add_guild("Course")
        general = dc.add_channel(guild, "general")
        async with running(make_client(), dc.token) as client:
            channel = client.get_partial_messageable(general.id)
            started = time.perf_counter()
            for i in range(5):
                await channel.send(f"m{i}")
            assert time.perf_counter() - started >= 0.25  # it waited for the bucket to reset
            assert [m.content for m in dc.sent_by_bot(general)] == [f"m{i}" for i in range(5)]
            assert all(r.status != 429 for r in dc.requests)


# ------------------------------------------------------------------------------ application commands


async def test_slash_command_sync_invoke_and_ephemeral_reply(discord_fake: FakeDiscord) -> None:
    dc = discord_fake
    guild = dc.add_guild("Course")
    general = dc.add_channel(guild, "general")
    alice = dc.add_user("alice")
    dc.add_member(guild, alice)
    client = make_client()
    tree = app_commands.CommandTree(client)
    calls: list[tuple[int, str, int]] = []

    @tree.command(name="likes", description="Show likes", guild=discord.Object(guild.id))
    @app_commands.describe(emoji="The emoji to count")
    async def likes(interaction: discord.Interaction, emoji: str, days: int = 7) -> None:
        calls.append((interaction.user.id, emoji, days))
        await interaction.response.send_message(f"{emoji} for {days} days", ephemeral=True)
        await interaction.followup.send("and a public follow-up")

    @likes.autocomplete("emoji")
    async def emoji_choices(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=e, value=e) for e in ("👍", "🎉") if e.startswith(current)]

    async with running(client, dc.token):
        synced = await tree.sync(guild=discord.Object(guild.id))
        assert [c.name for c in synced] == ["likes"]
        [stored] = dc.commands(guild)
        assert [(o["name"], o["type"], o.get("required", False)) for o in stored["options"]] == [
            ("emoji", 3, True),
            ("days", 4, False),
        ]
        await tree.sync(guild=discord.Object(guild.id))  # unchanged: a PUT, but no change
        assert (dc.command_puts(guild), dc.command_changes(guild)) == (2, 1)
        assert dc.commands() == []

        interaction = await dc.invoke_command(guild, general, alice, "likes", {"emoji": "👍", "days": 3})
        await dc.wait_for(lambda: len(dc.interaction_responses(interaction)) == 2, what="reply + follow-up")
        reply, followup = dc.interaction_responses(interaction)
        assert calls == [(alice.id, "👍", 3)]
        assert (reply.kind, reply.type, reply.ephemeral, reply.content) == ("callback", 4, True, "👍 for 3 days")
        assert (followup.kind, followup.ephemeral) == ("followup", False)
        assert [m.content for m in dc.messages(general)] == ["and a public follow-up"]  # ephemeral: not in channel

        completion = await dc.autocomplete(guild, general, alice, "likes", {"emoji": "🎉"}, focused="emoji")
        await dc.wait_for(lambda: completion.autocomplete_choices is not None, what="autocomplete answer")
        assert completion.autocomplete_choices == [{"name": "🎉", "value": "🎉"}]

        with pytest.raises(LookupError):
            await dc.invoke_command(guild, general, alice, "unsynced", {})
        with pytest.raises(ValueError):
            await dc.invoke_command(guild, general, alice, "likes", {"days": 2})  # required option missing


async def test_deferred_reply_is_filled_by_the_first_followup(discord_fake: FakeDiscord) -> None:
    dc = discord_fake
    guild = dc.add_guild("Course")
    general = dc.add_channel(guild, "general")
    alice = dc.add_user("alice")
    dc.add_member(guild, alice)
    client = make_client()
    tree = app_commands.CommandTree(client)
    done = asyncio.Event()

    @tree.command(name="export", description="Export likes")
    async def export(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send("export ready")
        done.set()

    @tree.command(name="status", description="Show status")
    async def status(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("working...")
        await interaction.edit_original_response(content="done")

    async with running(client, dc.token):
        await tree.sync()
        assert sorted(c["name"] for c in dc.commands()) == ["export", "status"]
        edited = await dc.invoke_command(guild, general, alice, "status", {})
        await dc.wait_for(lambda: [r.kind for r in dc.interaction_responses(edited)] == ["callback", "edit"])
        assert dc.message(edited.original_message_id or 0).content == "done"

        interaction = await dc.invoke_command(guild, general, alice, "export", {})
        await asyncio.wait_for(done.wait(), TIMEOUT)
        records = dc.interaction_responses(interaction)
        assert [(r.kind, r.type) for r in records] == [("callback", 5), ("followup", None)]
        message = dc.message(interaction.original_message_id or 0)
        assert message.content == "export ready" and message in dc.messages(general)
        assert not message.flags & (1 << 7)  # no longer LOADING

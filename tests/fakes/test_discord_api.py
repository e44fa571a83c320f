"""The fake Discord gateway must be good enough for the *real* discord.py to run against it.

Each test starts a real ``discord.Client`` (or ``AutoShardedClient``) against the fake and checks one protocol
behaviour end to end: compression, heartbeats, intents, sharding, resume and reconnects.  Nothing sleeps to
wait: client-side events are awaited through queues filled by event handlers, fake-side state through
``dc.wait_for``.  Fixtures are in conftest.py.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from typing import Any

import aiohttp
import discord
import pytest

from tests.fakes.discord_api import FakeDiscord
from tests.fakes.discord_client import (
    TIMEOUT,
    QuickReidentify,
    QuickShardedClient,
    make_client,
    next_item,
    record,
    running,
)

# ------------------------------------------------------------------------------ gateway


async def test_client_connects_through_zlib_stream_and_sees_the_guild(discord_fake: FakeDiscord) -> None:
    dc = discord_fake
    dc.enable_intents(members=True)
    guild = dc.add_guild("Course")
    general = dc.add_channel(guild, "general")
    forum = dc.add_channel(guild, "questions", "forum")
    alice = dc.add_user("alice")
    dc.add_member(guild, alice, admin=True)
    thread = dc.add_thread(general, "week 1", alice)
    intents = discord.Intents.default()
    intents.members = True

    async with running(make_client(intents), dc.token) as client:
        g = client.get_guild(guild.id)
        assert g is not None and g.name == "Course" and not g.unavailable
        assert isinstance(g.get_channel(general.id), discord.TextChannel)
        assert isinstance(g.get_channel(forum.id), discord.ForumChannel)
        assert isinstance(g.get_thread(thread.id), discord.Thread)
        assert g.me.id == dc.bot.id and g.me.guild_permissions.manage_messages
        member = g.get_member(alice.id)
        assert member is not None and member.guild_permissions.administrator
        assert g.chunked and g.member_count == 3  # owner, bot, alice
        assert client.user is not None and client.user.id == dc.bot.id and client.application_id == dc.app_id
        # discord.py heartbeats at once, then every 100 ms; each beat must be ACKed
        await dc.wait_for(lambda: dc.heartbeats >= 3, what="three heartbeats")
        assert client.latency < 1.0
        [session] = dc.sessions
        # zlib-stream, or zstd-stream when the ``zstandard`` package is importable
        wanted = discord.utils._ActiveDecompressionContext.COMPRESSION_TYPE
        assert session.conn is not None and session.conn.compress_kind == wanted
        # op 8 REQUEST_GUILD_MEMBERS is answered with a GUILD_MEMBERS_CHUNK carrying the nonce
        assert [m.id for m in await g.query_members("ali")] == [alice.id]


async def test_raw_gateway_framing_and_close_codes(discord_fake: FakeDiscord) -> None:
    """Frame-level checks a client library would hide: Z_SYNC_FLUSH framing, plain JSON, close codes."""
    dc = discord_fake
    dc.add_guild("One")
    async with aiohttp.ClientSession() as http:
        # zlib-stream: binary frames, each ending in 00 00 ff ff, inflated by ONE context
        async with http.ws_connect(dc.gateway_url + "?v=10&encoding=json&compress=zlib-stream") as ws:
            inflater = zlib.decompressobj()
            frame = await ws.receive_bytes(timeout=TIMEOUT)
            assert frame.endswith(b"\x00\x00\xff\xff")
            hello = json.loads(inflater.decompress(frame))
            assert hello["op"] == 10 and hello["d"]["heartbeat_interval"] == 100
            await ws.send_json({"op": 1, "d": None})
            assert json.loads(inflater.decompress(await ws.receive_bytes(timeout=TIMEOUT)))["op"] == 11
            await ws.send_json({"op": 2, "d": {"token": dc.token, "intents": 513, "properties": {}}})
            ready = json.loads(inflater.decompress(await ws.receive_bytes(timeout=TIMEOUT)))
            assert (ready["t"], ready["s"]) == ("READY", 1)
            assert ready["d"]["resume_gateway_url"] == dc.gateway_url
            guild_create = json.loads(inflater.decompress(await ws.receive_bytes(timeout=TIMEOUT)))
            assert (guild_create["t"], guild_create["s"]) == ("GUILD_CREATE", 2)

        async def close_code(query: str, *payloads: dict[str, Any], hello: bool = True) -> int | None:
            async with http.ws_connect(dc.gateway_url + query) as ws:
                if hello:
                    assert (await ws.receive_json(timeout=TIMEOUT))["op"] == 10  # plain JSON text frame
                for payload in payloads:
                    await ws.send_json(payload)
                msg = await ws.receive(timeout=TIMEOUT)
                assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
                return ws.close_code

        identify = {"token": dc.token, "intents": 513, "properties": {}}
        q = "?v=10&encoding=json"
        assert await close_code(q, {"op": 2, "d": {**identify, "token": "wrong"}}) == 4004
        assert await close_code(q, {"op": 2, "d": {**identify, "shard": [2, 2]}}) == 4010
        assert await close_code(q, {"op": 2, "d": {**identify, "intents": 1 << 30}}) == 4013
        assert await close_code(q, {"op": 2, "d": {**identify, "intents": 1 << 15}}) == 4014
        assert await close_code(q, {"op": 8, "d": {"guild_id": "1"}}) == 4003
        assert await close_code("?v=8&encoding=json", hello=False) == 4012
        dc.max_guilds_per_shard = 0
        assert await close_code(q, {"op": 2, "d": identify}) == 4011


async def test_missing_privileged_intent_raises_from_start(discord_fake: FakeDiscord) -> None:
    intents = discord.Intents.default()
    intents.message_content = True
    client = make_client(intents)
    try:
        with pytest.raises(discord.PrivilegedIntentsRequired):
            await asyncio.wait_for(client.start(discord_fake.token), TIMEOUT)
    finally:
        await client.close()
    assert 4014 in discord_fake.gateway_closes


async def test_bad_token_is_a_login_failure(discord_fake: FakeDiscord) -> None:
    client = make_client()
    try:
        with pytest.raises(discord.LoginFailure):
            await client.login("not-the-token")
    finally:
        await client.close()


async def test_auto_sharded_client_connects_both_shards(discord_fake: FakeDiscord) -> None:
    dc = discord_fake
    on_shard0 = dc.add_guild("Zero", shard=(0, 2))
    on_shard1 = dc.add_guild("One", shard=(1, 2))
    client = make_client(cls=QuickShardedClient, shard_count=2)
    async with running(client, dc.token):
        assert dc.connected_shards == [(0, 2), (1, 2)]
        guild0, guild1 = client.get_guild(on_shard0.id), client.get_guild(on_shard1.id)
        assert guild0 is not None and guild0.shard_id == 0
        assert guild1 is not None and guild1.shard_id == 1
        assert sorted(client.shards) == [0, 1]


async def test_resume_replays_what_was_missed(discord_fake: FakeDiscord) -> None:
    dc = discord_fake
    guild = dc.add_guild("Course")
    general = dc.add_channel(guild, "general")
    alice = dc.add_user("alice")
    dc.add_member(guild, alice)
    client = make_client()
    messages = record(client, "message")
    resumed = record(client, "resumed")
    async with running(client, dc.token):
        await dc.disconnect(hold=True)  # the bot's reconnect now waits at the door
        sent = await dc.user_sends(general, alice, "while you were away")
        dc.release_gateway()
        await next_item(resumed)
        got = await next_item(messages)
        assert got.id == sent.id
        assert dc.resumes == 1 and dc.identifies == 1


async def test_op7_reconnect_is_resumed(discord_fake: FakeDiscord) -> None:
    dc = discord_fake
    dc.add_guild("Course")
    client = make_client()
    resumed = record(client, "resumed")
    async with running(client, dc.token):
        await dc.request_reconnect()
        await next_item(resumed)
        assert (dc.identifies, dc.resumes) == (1, 1)


async def test_kill_session_forces_a_new_identify(discord_fake: FakeDiscord) -> None:
    dc = discord_fake
    dc.add_guild("Course")
    async with running(make_client(cls=QuickReidentify), dc.token) as client:
        await dc.kill_session()
        await dc.wait_for(lambda: dc.identifies == 2, what="re-IDENTIFY")
        await client.wait_until_ready()
        assert len([s for s in dc.sessions if not s.invalid]) == 1

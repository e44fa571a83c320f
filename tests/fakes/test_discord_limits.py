"""Discord's limits and latency in the local server (issue 14): what a client meets when it sends too fast.

The wire shapes are checked with plain aiohttp on a manual monotonic clock (no sleeping); the behaviour that
matters, that the real discord.py reads these answers as Discord's and paces itself, through discord.py's own
HTTP client.  Durations are measured where the point is a duration: latency, and discord.py waiting a 429 out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import discord
import pytest
from discord.http import Route

from tests.clock import TestClock
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.discord_api.ratelimits import GLOBAL_REQUESTS_PER_SECOND
from tests.fakes.discord_client import make_client, running


class ManualMonotonic:
    """A monotonic clock the test moves, so a window can pass without waiting for it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def client_http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def get_me(http: aiohttp.ClientSession, dc: FakeDiscord) -> tuple[int, dict[str, str], dict[str, object]]:
    async with http.get(f"{dc.api_base}/users/@me", headers={"Authorization": f"Bot {dc.token}"}) as resp:
        return resp.status, dict(resp.headers), await resp.json()


async def test_bucket_headers_say_what_discord_says(client_http: aiohttp.ClientSession) -> None:
    clock, ticks = TestClock(datetime(2031, 2, 28, 23, 59, 50, tzinfo=UTC)), ManualMonotonic()
    async with FakeDiscord(clock=clock, monotonic=ticks, bucket_limit=2, bucket_window=5.0) as dc:
        _, first, _ = await get_me(client_http, dc)
        assert (first["X-RateLimit-Limit"], first["X-RateLimit-Remaining"]) == ("2", "1")
        assert first["X-RateLimit-Reset-After"] == "5.000"
        # Reset is a date, so it comes from the test's clock, never the machine's.
        assert float(first["X-RateLimit-Reset"]) == pytest.approx(clock.now().timestamp() + 5.0, abs=0.01)
        ticks.now += 2.0
        _, second, _ = await get_me(client_http, dc)
        assert (second["X-RateLimit-Remaining"], second["X-RateLimit-Reset-After"]) == ("0", "3.000")
        assert second["X-RateLimit-Bucket"] == first["X-RateLimit-Bucket"]
        status, third, body = await get_me(client_http, dc)
        assert status == 429 and body == {"message": "You are being rate limited.", "retry_after": 3.0, "global": False}
        assert (third["X-RateLimit-Scope"], third["Retry-After"], third["Via"]) == ("user", "3", "1.1 google")
        assert "X-RateLimit-Global" not in third
        ticks.now += 3.0
        assert (await get_me(client_http, dc))[0] == 200
        assert [(hit.source, hit.is_global) for hit in dc.rate_limited] == [("bucket", False)]


async def test_one_route_gets_its_own_bucket(client_http: aiohttp.ClientSession) -> None:
    async with FakeDiscord(clock=TestClock(), monotonic=ManualMonotonic()) as dc:
        guild = dc.add_guild("Course")
        general, other = dc.add_channel(guild, "general"), dc.add_channel(guild, "other")
        dc.set_route_limit("POST /channels/{channel_id}/messages", 1, 5.0)
        auth = {"Authorization": f"Bot {dc.token}"}

        async def post(channel_id: int) -> tuple[int, str]:
            url = f"{dc.api_base}/channels/{channel_id}/messages"
            async with client_http.post(url, json={"content": "hi"}, headers=auth) as resp:
                return resp.status, resp.headers["X-RateLimit-Limit"]

        assert await post(general.id) == (200, "1")
        assert (await post(general.id))[0] == 429
        assert await post(other.id) == (200, "1")  # a bucket per channel, as Discord keys them
        assert (await get_me(client_http, dc))[1]["X-RateLimit-Limit"] == str(dc.bucket_limit)


async def test_global_limit_answers_a_global_429(client_http: aiohttp.ClientSession) -> None:
    ticks = ManualMonotonic()
    async with FakeDiscord(clock=TestClock(), monotonic=ticks) as dc:
        assert dc.global_limit is None  # off unless a test asks for it
        dc.enable_global_limit()
        assert dc.global_limit == GLOBAL_REQUESTS_PER_SECOND == 50
        for _ in range(50):
            assert (await get_me(client_http, dc))[0] == 200
            ticks.now += 0.01
        ticks.now = 1000.25
        status, headers, body = await get_me(client_http, dc)
        assert status == 429
        assert body == {"message": "You are being rate limited.", "retry_after": 0.75, "global": True}
        assert headers["X-RateLimit-Global"] == "true" and headers["X-RateLimit-Scope"] == "global"
        assert headers["Retry-After"] == "1" and headers["Via"] == "1.1 google"
        # Interaction callbacks are "not bound to the bot's Global Rate Limit": refused for another reason only.
        async with client_http.post(f"{dc.api_base}/interactions/1/nothing/callback", json={"type": 1}) as resp:
            assert resp.status != 429
        ticks.now = 1000.0 + 1.0  # the first request leaves the window: one more fits
        assert (await get_me(client_http, dc))[0] == 200
        assert (await get_me(client_http, dc))[0] == 429
        assert [hit.source for hit in dc.rate_limited] == ["global", "global"]
        dc.disable_global_limit()
        assert (await get_me(client_http, dc))[0] == 200


async def test_discord_py_waits_out_global_429s_and_gets_every_answer() -> None:
    async with FakeDiscord(clock=TestClock(), global_limit=10) as dc, dc.patch_discord():
        client = discord.Client(intents=discord.Intents.none())
        try:
            await client.login(dc.token)
            before = len(dc.requests)
            started = time.monotonic()
            users = await asyncio.gather(*(client.http.request(Route("GET", "/users/@me")) for _ in range(15)))
            elapsed = time.monotonic() - started
        finally:
            await client.close()
    assert [user["id"] for user in users] == [str(dc.bot.id)] * 15
    assert any(hit.is_global for hit in dc.rate_limited)
    # 15 requests at 10 a second cannot all be answered within the first second.
    assert elapsed >= 1.0
    calls = dc.requests[before:]
    assert sum(r.status == 200 for r in calls) == 15 and sum(r.status == 429 for r in calls) == len(dc.rate_limited)


async def test_discord_py_paces_itself_by_a_route_bucket() -> None:
    async with FakeDiscord(clock=TestClock()) as dc, dc.patch_discord():
        guild = dc.add_guild("Course")
        general = dc.add_channel(guild, "general")
        dc.set_route_limit("POST /channels/{channel_id}/messages", 2, 0.3)
        client = discord.Client(intents=discord.Intents.none())
        try:
            await client.login(dc.token)
            channel = client.get_partial_messageable(general.id)
            started = time.monotonic()
            for i in range(5):
                await channel.send(f"m{i}")
            elapsed = time.monotonic() - started
        finally:
            await client.close()
    assert [m.content for m in dc.sent_by_bot(general)] == [f"m{i}" for i in range(5)]
    assert dc.rate_limited == []  # it read Remaining and Reset-After and waited before going over
    assert elapsed >= 0.55  # two full windows of 0.3 s for five sends at two a window


async def test_latency_is_a_round_trip_per_call_and_calls_overlap(client_http: aiohttp.ClientSession) -> None:
    async with FakeDiscord(clock=TestClock(), latency=0.2) as dc:
        started = time.monotonic()
        assert (await get_me(client_http, dc))[0] == 200
        one = time.monotonic() - started
        started = time.monotonic()
        results = await asyncio.gather(*(get_me(client_http, dc) for _ in range(10)))
        ten = time.monotonic() - started
        dc.latency = 0.5  # settable while the server runs
        started = time.monotonic()
        await get_me(client_http, dc)
        slower = time.monotonic() - started
    assert one >= 0.2
    assert [status for status, _, _ in results] == [200] * 10
    assert ten < 1.5  # ten concurrent calls take about one round trip, not ten (2 s)
    assert slower >= 0.5


async def test_a_heartbeat_ack_comes_back_after_the_round_trip() -> None:
    """discord.py's latency is the time from a beat to its ACK: with the server's round trip, that round trip
    (an ACK at once reads as about nothing, or, when it overtakes the heartbeat thread, as the whole interval)."""
    fake = FakeDiscord(clock=TestClock(), heartbeat_interval=300, latency=0.2)
    async with fake as dc, dc.patch_discord(), running(make_client(), dc.token) as client:
        await dc.wait_for(lambda: dc.heartbeats >= 3, what="three heartbeats")
        await asyncio.sleep(0.25)  # the last ACK's way back
        assert 0.2 <= client.latency < 0.3

"""Fixtures of the local servers' self-tests: each test gets its own server on its own test clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Bot

from tests.clock import TestClock
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.telegram_api import FakeTelegram


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(clock=TestClock()) as fake:
        yield fake
        assert fake.server_errors == []


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(tg.token, base_url=tg.base_url) as real_bot:  # initialize() calls getMe
        yield real_bot


@pytest.fixture
async def discord_fake() -> AsyncIterator[FakeDiscord]:
    """A running fake with discord.py pointed at it; short heartbeats so ACKs are observable."""
    async with FakeDiscord(heartbeat_interval=100, clock=TestClock()) as dc, dc.patch_discord():
        yield dc

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.config import Settings
from tests.clock import TestClock
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.harness import TOKEN, TelegramHarness


@pytest.fixture
async def tg(clock: TestClock) -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(TOKEN, clock=clock) as fake:
        yield fake


@pytest.fixture
async def telegram(settings: Settings, clock: TestClock, tg: FakeTelegram) -> AsyncIterator[TelegramHarness]:
    async with TelegramHarness.open(settings, clock, tg) as harness:
        yield harness

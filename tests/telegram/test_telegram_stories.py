"""The user stories, unchanged, on Telegram."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from bot.config import Settings
from tests.scenarios.stories import STORIES
from tests.telegram.harness import TelegramHarness


@pytest.fixture
def settings(settings_on_each_store: Settings) -> Settings:
    """Every story on both stores: an SQLite file and a PostgreSQL database (issue 13)."""
    return settings_on_each_store


@pytest.mark.parametrize("story", STORIES, ids=lambda story: story.__name__)
async def test_story_on_telegram(
    telegram: TelegramHarness, story: Callable[[TelegramHarness], Awaitable[None]]
) -> None:
    await story(telegram)

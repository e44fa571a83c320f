"""The user stories, unchanged, on Telegram."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from tests.scenarios.stories import STORIES
from tests.telegram.harness import TelegramHarness


@pytest.mark.parametrize("story", STORIES, ids=lambda story: story.__name__)
async def test_story_on_telegram(
    telegram: TelegramHarness, story: Callable[[TelegramHarness], Awaitable[None]]
) -> None:
    await story(telegram)

"""Webhook updates by update_id (migration 0014): two workers on one file, as two processes would be."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from handlers.ports.backends import UpdateDelivery
from storage import SqliteStore
from tests.storage.helpers import T0

STALE = timedelta(minutes=5)
BOT = "7000000001"


@pytest.fixture
async def second(db_path: Path, store: SqliteStore) -> AsyncIterator[SqliteStore]:
    opened = await SqliteStore.open(db_path)  # after ``store`` made the schema
    yield opened
    await opened.close()


async def test_an_update_is_begun_once_and_a_handled_one_is_not_handled_again(
    store: SqliteStore, second: SqliteStore
) -> None:
    assert await store.begin_update(BOT, 10, T0, STALE) is UpdateDelivery.FIRST
    assert await second.begin_update(BOT, 10, T0, STALE) is UpdateDelivery.IN_PROGRESS
    assert await second.begin_update("another bot", 10, T0, STALE) is UpdateDelivery.FIRST  # ids are per bot
    await store.finish_update(BOT, 10, T0)
    assert await second.begin_update(BOT, 10, T0 + timedelta(hours=1), STALE) is UpdateDelivery.HANDLED


async def test_an_update_whose_worker_died_is_taken_over_once_stale(store: SqliteStore, second: SqliteStore) -> None:
    assert await store.begin_update(BOT, 11, T0, STALE) is UpdateDelivery.FIRST
    assert await second.begin_update(BOT, 11, T0 + STALE - timedelta(seconds=1), STALE) is UpdateDelivery.IN_PROGRESS
    assert await second.begin_update(BOT, 11, T0 + STALE, STALE) is UpdateDelivery.FIRST
    assert await store.begin_update(BOT, 11, T0 + STALE, STALE) is UpdateDelivery.IN_PROGRESS  # now the other's


async def test_old_update_ids_are_forgotten(store: SqliteStore) -> None:
    await store.begin_update(BOT, 12, T0, STALE)
    await store.finish_update(BOT, 12, T0)
    await store.begin_update(BOT, 13, T0 + timedelta(hours=2), STALE)
    await store.forget_updates(T0 + timedelta(hours=1))
    assert await store.begin_update(BOT, 12, T0 + timedelta(hours=2), STALE) is UpdateDelivery.FIRST  # forgotten
    assert await store.begin_update(BOT, 13, T0 + timedelta(hours=2), STALE) is UpdateDelivery.IN_PROGRESS  # kept

"""The local servers date everything by the test's clock, never by the wall clock.

A server that stamps messages with today's date while the bot runs on a TestClock makes a suite that passes
until the calendar moves past the test clock's start (issue 11: two tests failed from 2026-11-30 on).
"""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path

import discord
import pytest
from telegram import Bot

from bot.clock import SystemClock
from tests.clock import TestClock
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.telegram_api import FakeTelegram

HERE = Path(__file__).parent
# Every module of both server packages, found by listing them, so a module added later is scanned too.
SERVER_MODULES = [
    *sorted((HERE / "telegram_api").glob("*.py")),
    *sorted((HERE / "discord_api").glob("*.py")),
    HERE.parent / "sources" / "feed_server.py",
]
# Calls that read today's date or time. Durations (time.monotonic, loop.time) are fine: they carry no date.
WALL_CLOCK_CALLS = {
    ("time", "time"),
    ("time", "time_ns"),
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "localtime"),
    ("time", "gmtime"),
}


def wall_clock_reads(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else ""
            if (name, node.func.attr) in WALL_CLOCK_CALLS:
                found.append(f"{path.name}:{node.lineno} {name}.{node.func.attr}()")
    return found


@pytest.mark.parametrize("module", SERVER_MODULES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_local_server_reads_the_wall_clock(module: Path) -> None:
    assert wall_clock_reads(module) == []


def test_the_guard_sees_a_wall_clock_read(tmp_path: Path) -> None:
    sample = tmp_path / "server.py"
    sample.write_text("import time\nfrom datetime import datetime\nx = time.time()\ny = datetime.now()\n")
    assert wall_clock_reads(sample) == ["server.py:3 time.time()", "server.py:4 datetime.now()"]


def test_the_guard_scans_every_server_package() -> None:
    packages = {path.parent.name for path in SERVER_MODULES}
    assert {"telegram_api", "discord_api"} <= packages
    assert sum(path.parent.name == "telegram_api" for path in SERVER_MODULES) > 5
    assert sum(path.parent.name == "discord_api" for path in SERVER_MODULES) > 5


def test_a_server_built_with_the_wall_clock_is_refused() -> None:
    with pytest.raises(TypeError, match="TestClock"):
        FakeTelegram(clock=SystemClock())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="TestClock"):
        FakeDiscord(clock=SystemClock())  # type: ignore[arg-type]


async def test_telegram_dates_follow_the_test_clock() -> None:
    clock = TestClock(datetime(2031, 2, 28, 23, 59, 50, tzinfo=UTC))
    async with FakeTelegram(clock=clock) as tg, Bot(tg.token, base_url=tg.base_url) as bot:
        group, alice = tg.add_chat("supergroup", "Dates"), tg.add_user("Alice")
        tg.add_member(group, alice)
        sent = await bot.send_message(group["id"], "first")
        clock.advance(days=3)
        later = await bot.send_message(group["id"], "later")
    assert sent.date == datetime(2031, 2, 28, 23, 59, 50, tzinfo=UTC)
    assert later.date - sent.date == timedelta(days=3)


async def test_discord_dates_follow_the_test_clock() -> None:
    clock = TestClock(datetime(2031, 2, 28, 23, 59, 50, tzinfo=UTC))
    async with FakeDiscord(clock=clock) as dc:
        guild, alice = dc.add_guild("Dates"), dc.add_user("alice")
        dc.add_member(guild, alice)
        channel = dc.add_channel(guild, "general")
        first = await dc.user_sends(channel, alice, "first", dispatch=False)
        clock.advance(days=3)
        later = await dc.user_sends(channel, alice, "later", dispatch=False)
    first_at, later_at = discord.utils.snowflake_time(first.id), discord.utils.snowflake_time(later.id)
    assert abs(first_at - clock.now() + timedelta(days=3)) < timedelta(seconds=1)
    assert abs(later_at - clock.now()) < timedelta(seconds=1)

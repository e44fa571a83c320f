"""`studybot run` on Discord as a real process, stopped by a signal: connected, and in the middle of a reconnect.

The local Discord runs in this test's event loop; the bot finds its gateway through ``GET /gateway/bot`` like
it finds Discord's, so nothing needs patching in the child.
"""

from __future__ import annotations

import signal
from pathlib import Path

from tests.clock import TestClock
from tests.fakes.discord_api import FakeDiscord
from tests.process import studybot

START_UP = 15.0  # interpreter, imports, login, READY (discord.py waits 2 s after the last GUILD_CREATE)
STOPPED_WITHIN = 4.0


def env_for(dc: FakeDiscord) -> dict[str, str]:
    return {
        "DISCORD_BOT_TOKEN": dc.token,
        "DISCORD_API_BASE_URL": dc.base_url,
        "DISCORD_CONNECT_TIMEOUT": "20",
        "DISCORD_RECONCILE_DAYS": "0",
        "LOG_LEVEL": "INFO",
    }


async def test_sigterm_while_connected_closes_the_gateway_and_exits_0(tmp_path: Path) -> None:
    async with FakeDiscord(message_content=True, clock=TestClock()) as dc:
        guild = dc.add_guild("Study group")
        dc.add_channel(guild, "general")
        async with studybot(tmp_path, "run", env=env_for(dc)) as bot:
            await bot.wait_for_output("studybot is running on discord", within=START_UP)
            bot.send_signal(signal.SIGTERM)
            finished = await bot.finish(within=STOPPED_WITHIN)
        await dc.wait_for(lambda: not dc.connected_shards, timeout=2)
        assert 1000 in dc.gateway_closes  # a clean close: Discord ends the session instead of waiting for it
    assert finished.returncode == 0, finished.stderr
    assert "stopping (SIGTERM)" in finished.stderr
    finished.assert_quiet()


async def test_sigterm_in_the_middle_of_a_reconnect_exits_within_seconds(tmp_path: Path) -> None:
    """The gateway dropped the bot and holds every new connection: discord.py is reconnecting, unanswered."""
    async with FakeDiscord(message_content=True, clock=TestClock()) as dc:
        dc.add_guild("Study group")
        async with studybot(tmp_path, "run", env=env_for(dc)) as bot:
            await bot.wait_for_output("studybot is running on discord", within=START_UP)
            attempts = dc.gateway_attempts
            await dc.disconnect(hold=True)
            await dc.wait_for(lambda: dc.gateway_attempts > attempts, timeout=5, what="the bot to reconnect")
            bot.send_signal(signal.SIGTERM)
            finished = await bot.finish(within=STOPPED_WITHIN)
            dc.release_gateway()
    assert finished.returncode == 0, finished.stderr
    finished.assert_quiet()

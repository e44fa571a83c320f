"""`studybot run` on Telegram as a real process, stopped by a signal while it waits: in its long poll, and at
start against a Bot API server that never answers."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.clock import TestClock
from tests.fakes.silent_server import SilentServer
from tests.fakes.telegram_api import FakeTelegram
from tests.process import studybot
from tests.telegram.harness import TOKEN

START_UP = 10.0
STOPPED_WITHIN = 3.0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_signal_during_the_long_poll_stops_at_once(tmp_path: Path, signum: signal.Signals) -> None:
    async with FakeTelegram(TOKEN, clock=TestClock()) as tg:
        env = {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": tg.base_url.removesuffix("/bot"),
            "TELEGRAM_POLL_TIMEOUT": "50",  # the poll outlasts the test: only the signal can end it in time
        }
        async with studybot(tmp_path, "run", env=env) as bot:
            await tg.wait_for(lambda t: t.long_polling, timeout=START_UP, what="the bot's long poll")
            bot.send_signal(signum)
            finished = await bot.finish(within=STOPPED_WITHIN)
    assert finished.returncode == 0, finished.stderr
    assert f"stopping ({signum.name})" in finished.stderr
    finished.assert_quiet()


async def test_sigterm_at_start_against_a_silent_bot_api(tmp_path: Path) -> None:
    async with SilentServer() as silent:
        env = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": silent.url}
        async with studybot(tmp_path, "run", env=env) as bot:
            await silent.wait_accepted(timeout=START_UP)  # getMe sent, no answer coming
            bot.send_signal(signal.SIGTERM)
            finished = await bot.finish(within=STOPPED_WITHIN)
    assert finished.returncode == 0, finished.stderr  # a requested stop, not "cannot reach Telegram"
    assert "cannot reach" not in finished.stderr
    finished.assert_quiet()

"""No secret reaches a log line or the terminal, whatever the log level and whoever logs.

The Bot API puts the token in every URL, and python-telegram-bot, httpx and discord.py log URLs and payloads at
DEBUG; a proxy or a self-hosted Bot API server may echo the URL in an error's description. The bot and
``studybot doctor`` run here as real processes at DEBUG against the local Bot API server.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal
import sys
from pathlib import Path

import pytest

from bot.commands import configure_logging
from bot.config import Settings
from tests.clock import TestClock
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.harness import TOKEN

SECRET = TOKEN.split(":", 1)[1]


async def studybot(tg: FakeTelegram, workdir: Path, *args: str) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_TOKEN")}
    env.update(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": tg.base_url.removesuffix("/bot"),
            "TELEGRAM_POLL_TIMEOUT": "1",
            "DATABASE_PATH": str(workdir / "secrets.db"),
            "DEFAULT_LANGUAGE": "en",
            "LOG_LEVEL": "DEBUG",
        }
    )
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        *args,
        cwd=workdir,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


def assert_no_secret(text: str) -> None:
    leaks = [line for line in text.splitlines() if SECRET in line]
    assert not leaks, "\n".join(leaks[:5])


async def test_run_at_debug_logs_no_token(tmp_path: Path) -> None:
    async with FakeTelegram(TOKEN, clock=TestClock()) as tg:
        chat = tg.add_chat("supergroup", "Log group")
        anna = tg.add_user("Anna")
        tg.add_member(chat, anna, status="administrator")
        bot = await studybot(tg, tmp_path, "run")
        # Its output is read while it runs: at DEBUG it writes more than a pipe holds, and a full pipe would stop
        # the bot at its next log line.
        output = asyncio.ensure_future(bot.communicate())
        try:
            tg.user_sends(chat, anna, "/help")
            await tg.wait_for(lambda t: bool(t.sent(chat["id"])), timeout=30)
        finally:
            bot.send_signal(signal.SIGTERM)
            out, err = await output
    log = err.decode()
    assert "DEBUG telegram.ext" in log and "DEBUG aiosqlite" in log  # third parties' DEBUG lines were on
    assert "polling as @" in log  # the backend ran (a SIGTERM may come before the "running" line)
    assert_no_secret(log + out.decode())


async def test_doctor_at_debug_echoes_no_token(tmp_path: Path) -> None:
    async with FakeTelegram(TOKEN, clock=TestClock()) as tg:
        # A proxy in front of the Bot API that names the URL it could not reach.
        tg.fail_next("getMe", 502, description=f"Bad Gateway: upstream failed for /bot{TOKEN}/getMe")
        doctor = await studybot(tg, tmp_path, "doctor")
        out, err = await doctor.communicate()
    report = out.decode()
    assert doctor.returncode == 1
    assert "✗ telegram: cannot reach the Telegram Bot API (Bad Gateway: upstream failed for /bot" in report
    assert_no_secret(report + err.decode())


@pytest.mark.parametrize(
    "logger_name",
    ["telegram.ext.ExtBot", "telegram.Bot", "discord.http", "discord.gateway", "aiohttp.client", "bot.app"],
)
def test_every_secret_is_redacted_from_every_logger(logger_name: str) -> None:
    settings = Settings(
        telegram_bot_token="123:TELEGRAM-SECRET",
        discord_bot_token="DISCORD.SECRET.TOKEN",
        telegram_webhook_url="https://bot.example.com/hook",
        telegram_webhook_secret="WEBHOOK-SECRET",
        log_level="DEBUG",
        _env_file=None,  # type: ignore[call-arg]
    )
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        root.handlers = []
        configure_logging(settings, stream)
        log = logging.getLogger(logger_name)
        log.debug("Set Bot API URL: https://api.telegram.org/bot%s", "123:TELEGRAM-SECRET")
        log.debug("headers %r", {"Authorization": "Bot DISCORD.SECRET.TOKEN", "X-Secret": "WEBHOOK-SECRET"})
        try:
            raise RuntimeError("failed https://api.telegram.org/bot123:TELEGRAM-SECRET/getMe")
        except RuntimeError:
            log.exception("request failed")
    finally:
        root.handlers, _ = saved
        root.setLevel(saved[1])
    text = stream.getvalue()
    assert "Set Bot API URL: https://api.telegram.org/bot***" in text and "RuntimeError: failed" in text
    for secret in ("TELEGRAM-SECRET", "DISCORD.SECRET.TOKEN", "WEBHOOK-SECRET"):
        assert secret not in text

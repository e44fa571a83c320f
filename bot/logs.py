"""Logging for the command line: one stream (stderr), the level from LOG_LEVEL, and what is kept out of it."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import TextIO

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def network_errors() -> tuple[type[BaseException], ...]:
    """A failure of the network or of the platform, not of the code: its traceback says nothing an operator can
    use. Imported when a discord record is filtered: discord.py is loaded by then, and a command that never
    talks to Discord does not pay for importing it."""
    import aiohttp
    import discord

    return (OSError, asyncio.TimeoutError, aiohttp.ClientError, discord.ConnectionClosed, discord.GatewayNotFound)


class NetworkTracebacksAtDebug(logging.Filter):
    """A library's network failure logged with its traceback keeps one line: the message and the error.

    discord.py logs every failed gateway attempt ("Failed to connect for shard_id: 0. Retrying...", every 5 s
    while the gateway is unreachable) and every reconnect with forty lines of aiohttp internals. The line and
    the error say what happened; the traceback is shown at LOG_LEVEL=DEBUG, where this filter is not installed.
    Any other exception (a bug, in a listener or anywhere) keeps its traceback at every level.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and record.name.startswith("discord") and isinstance(error, network_errors()):
            record.msg = f"{record.getMessage()} ({type(error).__name__}: {error})"
            record.args = None
            record.exc_info = record.exc_text = None
        return True


class NoVoiceWarnings(logging.Filter):
    """discord.py warns, as each process builds its first client, that the libraries for voice are missing
    ("PyNaCl is not installed, voice will NOT be supported"). studybot never joins a voice channel, so the
    warning would only send an operator looking for a fault that is not there."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name.startswith("discord") and str(record.msg).endswith("voice will NOT be supported"))


def configure_logging(level: str, stream: TextIO = sys.stderr) -> None:
    """The root logger on ``stream`` at ``level``, and the libraries that say too much at INFO turned down."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(NoVoiceWarnings())
    if level != "DEBUG":
        handler.addFilter(NetworkTracebacksAtDebug())
    logging.basicConfig(level=level, handlers=[handler])
    quiet = max(logging.WARNING, logging.getLevelName(level))
    # httpx logs every request URL at INFO, and the Bot API puts the token in the URL: keep it out of logs.
    # APScheduler logs every (re)planned wake-up at INFO: bookkeeping, not news.
    for noisy in ("apscheduler", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(quiet)

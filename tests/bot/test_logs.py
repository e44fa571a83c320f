"""A library's network failure is one log line below DEBUG; every other traceback is kept."""

from __future__ import annotations

import logging
import sys

from bot.logs import NetworkTracebacksAtDebug


def record(name: str, error: BaseException) -> logging.LogRecord:
    try:
        raise error
    except type(error):
        exc_info = sys.exc_info()
    return logging.LogRecord(name, logging.ERROR, __file__, 1, "Failed to connect for shard_id: %s.", (0,), exc_info)


def test_a_network_failure_in_discord_py_keeps_one_line() -> None:
    line = record("discord.shard", ConnectionRefusedError(111, "Connect call failed"))
    assert NetworkTracebacksAtDebug().filter(line)
    assert line.exc_info is None
    said = "Failed to connect for shard_id: 0. (ConnectionRefusedError: [Errno 111] Connect call failed)"
    assert line.getMessage() == said


def test_a_bug_keeps_its_traceback() -> None:
    in_a_listener = record("discord.client", KeyError("question"))
    ours = record("bot.discord_backend.backend", ConnectionRefusedError(111, "refused"))
    for line in (in_a_listener, ours):
        assert NetworkTracebacksAtDebug().filter(line)
        assert line.exc_info is not None

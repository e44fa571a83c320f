"""A library's network failure is one log line below DEBUG; every other traceback is kept; discord.py's warning
about voice, which studybot never uses, is left out."""

from __future__ import annotations

import io
import logging
import sys

import discord
import pytest

from bot.logs import NetworkTracebacksAtDebug, NoVoiceWarnings


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


def test_discord_py_warnings_about_voice_are_left_out_and_its_other_warnings_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shown, unfiltered = io.StringIO(), io.StringIO()
    ours, plain = logging.StreamHandler(shown), logging.StreamHandler(unfiltered)
    ours.addFilter(NoVoiceWarnings())
    library = logging.getLogger("discord.client")
    library.addHandler(ours)
    library.addHandler(plain)
    # discord.py warns once a process, as its first client is built: as in a fresh studybot process
    monkeypatch.setattr(discord.VoiceClient, "warn_nacl", True)
    try:
        discord.Client(intents=discord.Intents.none())
        library.warning("Shard ID %s has stopped responding to the gateway.", 0)
    finally:
        library.removeHandler(ours)
        library.removeHandler(plain)
    assert "voice will NOT be supported" in unfiltered.getvalue()  # the library did warn
    assert "voice" not in shown.getvalue()
    assert "Shard ID 0 has stopped responding" in shown.getvalue()

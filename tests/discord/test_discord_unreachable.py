"""Discord that cannot be reached, or that never answers: `studybot run` and `studybot doctor` give up within
DISCORD_CONNECT_TIMEOUT saying why and what to check, and a signal stops them at once.

Real processes against servers on 127.0.0.1: a port nobody listens on (refused), a host under ``.invalid``
(never resolves, no network needed), a server that accepts and never answers, and the local Discord whose
gateway never answers the websocket handshake.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.clock import TestClock
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.silent_server import SilentServer, unused_port
from tests.process import Finished, studybot

EXIT_UNREACHABLE = 5  # bot.cli: a platform unreachable (3 and 4 are database problems)
BOUND = 2  # DISCORD_CONNECT_TIMEOUT in these tests, in seconds
START_UP = 8.0  # seconds a loaded machine may take to start the interpreter and import everything


def discord_env(api: str, connect_timeout: float = BOUND, token: str = "MTIz.fake.token") -> dict[str, str]:
    return {
        "DISCORD_BOT_TOKEN": token,
        "DISCORD_API_BASE_URL": api,
        "DISCORD_CONNECT_TIMEOUT": str(connect_timeout),
        "LOG_LEVEL": "INFO",
    }


def said(finished: Finished) -> list[str]:
    """What studybot itself told the operator (not the log)."""
    return [line for line in finished.stderr.splitlines() if line.startswith("studybot:")]


def assert_gave_up_clearly(finished: Finished, *fragments: str) -> None:
    assert finished.returncode == EXIT_UNREACHABLE, finished.stderr
    lines = said(finished)
    assert 1 <= len(lines) <= 2, finished.stderr
    for fragment in fragments:
        assert fragment in "\n".join(lines), finished.stderr
    finished.assert_quiet()


async def test_a_silent_api_is_given_up_on_within_the_connect_timeout(tmp_path: Path) -> None:
    async with SilentServer() as silent, studybot(tmp_path, "run", env=discord_env(silent.url)) as bot:
        finished = await bot.finish(within=BOUND + START_UP)
    assert finished.seconds >= BOUND
    assert_gave_up_clearly(
        finished, f"Discord's API at {silent.url} did not answer within {BOUND} s", "DISCORD_CONNECT_TIMEOUT"
    )


async def test_a_gateway_that_never_answers_is_given_up_on_within_the_connect_timeout(tmp_path: Path) -> None:
    """The REST API answers (the token is accepted) but the gateway never completes its handshake (no HELLO)."""
    async with FakeDiscord(message_content=True, clock=TestClock()) as dc:
        await dc.disconnect(hold=True)  # every gateway connection waits, unanswered
        async with studybot(tmp_path, "run", env=discord_env(dc.base_url, token=dc.token)) as bot:
            finished = await bot.finish(within=BOUND + START_UP)
        assert dc.gateway_attempts >= 1
    assert_gave_up_clearly(finished, f"no READY within {BOUND} s", "DISCORD_CONNECT_TIMEOUT")


class _GatewayNobodyListensOn(FakeDiscord):
    """The REST API answers, and names a gateway where connections are refused."""

    refused_at = f"ws://127.0.0.1:{unused_port()}/gateway"

    @property
    def gateway_url(self) -> str:
        return self.refused_at


async def test_a_refused_gateway_is_retried_in_one_line_each_then_given_up_on(tmp_path: Path) -> None:
    async with (
        _GatewayNobodyListensOn(message_content=True, clock=TestClock()) as dc,
        studybot(tmp_path, "run", env=discord_env(dc.base_url, token=dc.token)) as bot,
    ):
        finished = await bot.finish(within=BOUND + START_UP)
    assert_gave_up_clearly(finished, f"no READY within {BOUND} s", "websocket")
    assert "Failed to connect for shard_id: 0. Retrying... (ClientConnectorError" in finished.stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_signal_stops_start_up_against_a_silent_api(tmp_path: Path, signum: signal.Signals) -> None:
    env = discord_env("", connect_timeout=120)  # the bound is far: only the signal can end this in time
    async with SilentServer() as silent:
        env["DISCORD_API_BASE_URL"] = silent.url
        async with studybot(tmp_path, "run", env=env) as bot:
            await silent.wait_accepted(timeout=START_UP)  # logging in: waiting for an answer that never comes
            bot.send_signal(signum)
            finished = await bot.finish(within=3)
    assert finished.returncode == 0, finished.stderr
    assert f"stopping ({signum.name})" in finished.stderr
    finished.assert_quiet()


async def test_a_signal_stops_start_up_while_the_gateway_never_answers(tmp_path: Path) -> None:
    async with FakeDiscord(message_content=True, clock=TestClock()) as dc:
        await dc.disconnect(hold=True)
        async with studybot(tmp_path, "run", env=discord_env(dc.base_url, connect_timeout=120, token=dc.token)) as bot:
            await dc.wait_for(lambda: dc.gateway_attempts >= 1, timeout=START_UP)
            bot.send_signal(signal.SIGTERM)
            finished = await bot.finish(within=3)
    assert finished.returncode == 0, finished.stderr
    finished.assert_quiet()


async def test_a_refused_connection_says_so_at_once(tmp_path: Path) -> None:
    api = f"http://127.0.0.1:{unused_port()}"
    async with studybot(tmp_path, "run", env=discord_env(api, connect_timeout=60)) as bot:
        finished = await bot.finish(within=START_UP)
    assert_gave_up_clearly(finished, f"cannot reach Discord's API at {api}", "refused", "DISCORD_API_BASE_URL")


async def test_a_host_that_does_not_resolve_says_so_at_once(tmp_path: Path) -> None:
    api = "http://discord.invalid"
    async with studybot(tmp_path, "run", env=discord_env(api, connect_timeout=60)) as bot:
        finished = await bot.finish(within=START_UP)
    assert_gave_up_clearly(finished, f"cannot reach Discord's API at {api}", "discord.invalid", "DISCORD_API_BASE_URL")


async def test_debug_logging_shows_the_traceback(tmp_path: Path) -> None:
    """The operator's message stays the same; the traceback is there for whoever asks for it."""
    env = discord_env(f"http://127.0.0.1:{unused_port()}") | {"LOG_LEVEL": "DEBUG"}
    async with studybot(tmp_path, "run", env=env) as bot:
        finished = await bot.finish(within=START_UP)
    assert finished.returncode == EXIT_UNREACHABLE
    assert "Traceback" in finished.stderr and "cannot reach Discord's API" in finished.stderr
    assert "Unclosed" not in finished.stderr


async def test_doctor_against_a_silent_api(tmp_path: Path) -> None:
    async with SilentServer() as silent, studybot(tmp_path, "doctor", env=discord_env(silent.url)) as bot:
        finished = await bot.finish(within=BOUND + START_UP)
    assert finished.returncode == 1, finished.stderr
    assert f"✗ discord: Discord's API at {silent.url} did not answer within {BOUND} s" in finished.stdout
    assert "DISCORD_CONNECT_TIMEOUT" in finished.stdout
    finished.assert_quiet()


@pytest.mark.parametrize("where", ["refused", "dns"])
async def test_doctor_against_an_unreachable_api(tmp_path: Path, where: str) -> None:
    api = f"http://127.0.0.1:{unused_port()}" if where == "refused" else "http://discord.invalid"
    async with studybot(tmp_path, "doctor", env=discord_env(api, connect_timeout=60)) as bot:
        finished = await bot.finish(within=START_UP)
    assert finished.returncode == 1, finished.stderr
    assert f"✗ discord: cannot reach Discord's API at {api}" in finished.stdout
    assert "DISCORD_API_BASE_URL" in finished.stdout
    finished.assert_quiet()


async def test_doctor_against_a_gateway_that_never_answers(tmp_path: Path) -> None:
    async with FakeDiscord(message_content=True, clock=TestClock()) as dc:
        await dc.disconnect(hold=True)
        async with studybot(tmp_path, "doctor", env=discord_env(dc.base_url, token=dc.token)) as bot:
            finished = await bot.finish(within=BOUND + START_UP)
        assert dc.gateway_attempts >= 1  # the local gateway, as GET /gateway/bot said: never Discord's own
    assert finished.returncode == 1, finished.stderr
    assert "✓ discord: token valid" in finished.stdout
    assert f"✗ discord: Discord's gateway sent no READY within {BOUND} s" in finished.stdout
    finished.assert_quiet()

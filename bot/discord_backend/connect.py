"""Logging in to Discord and connecting to its gateway within a bound, with failures said in an operator's words.

Why this exists: discord.py waits as long as the network lets it. Its HTTP session has aiohttp's default
five-minute timeout, so a login against an API that accepts the connection and never answers hangs for five
minutes; its sharded client retries a gateway that never answers every few seconds, forever. And what it raises
when Discord cannot be reached is a raw aiohttp error. Here the whole start (REST login, then the gateway up to
READY) runs under one deadline (``DISCORD_CONNECT_TIMEOUT``), and every way it can fail becomes a
:class:`DiscordStartError` naming the cause and the next step; :class:`DiscordUnreachable` when it is the
network or Discord, not the settings, so the command line can exit with its own code.

Used by the bot (:mod:`.backend`) and by ``studybot doctor`` (:mod:`.doctor`), so both say the same things.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

import aiohttp
import discord

logger = logging.getLogger(__name__)

PORTAL = "https://discord.com/developers/applications"
STATUS_PAGE = "https://discordstatus.com"


class DiscordStartError(Exception):
    """Start-up failed in a way an operator must fix; the message says exactly what to do."""


class TokenRefused(DiscordStartError):
    """Discord refused DISCORD_BOT_TOKEN."""


class IntentRefused(DiscordStartError):
    """Discord refused the privileged Message Content intent (it is switched off in the developer portal)."""


class DiscordUnreachable(DiscordStartError):
    """Discord could not be reached, or did not answer in time: the network, a proxy, or Discord itself.

    ``cause`` says what happened, ``advice`` what to check; ``str()`` is both, on one line.
    """

    def __init__(self, cause: str, advice: str) -> None:
        super().__init__(f"{cause}. {advice}")
        self.cause = cause
        self.advice = advice


API_ADVICE = "Check the network, and DISCORD_API_BASE_URL if you set it (a proxy must be up and reachable)"
GATEWAY_ADVICE = "The token was accepted; check that the network lets websocket connections through to the gateway"
SLOW_GATEWAY_ADVICE = f"{GATEWAY_ADVICE}, or raise DISCORD_CONNECT_TIMEOUT for a process running many shards"


async def log_in_and_connect(
    client: discord.Client, token: str, *, api: str, within: float, reconnect: bool = True
) -> asyncio.Task[None]:
    """Log ``client`` in and connect it; the running gateway connection once READY, at most ``within`` seconds.

    ``api`` is the API base URL as the operator set it (for the messages). On any failure, and on cancellation,
    the gateway connection is cancelled before this returns; the client itself (its HTTP session) is the
    caller's to close, as it is after a successful start.
    """
    # One deadline for the whole start: what the login took is not given again to the gateway.
    deadline = asyncio.get_running_loop().time() + within
    try:
        async with asyncio.timeout_at(deadline):
            await _log_in(client, token, api)
    except TimeoutError:
        raise DiscordUnreachable(
            f"Discord's API at {api} did not answer within {within:g} s (DISCORD_CONNECT_TIMEOUT)", API_ADVICE
        ) from None
    connection = asyncio.create_task(client.connect(reconnect=reconnect), name="discord-gateway")
    try:
        async with asyncio.timeout_at(deadline):
            await _ready(client, connection)
    except BaseException as error:
        connection.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await connection
        if isinstance(error, TimeoutError):
            raise DiscordUnreachable(
                f"Discord's gateway sent no READY within {within:g} s (DISCORD_CONNECT_TIMEOUT)", SLOW_GATEWAY_ADVICE
            ) from None
        raise
    return connection


async def _log_in(client: discord.Client, token: str, api: str) -> None:
    try:
        await client.login(token)
    except discord.LoginFailure:
        raise TokenRefused(
            "Discord refused DISCORD_BOT_TOKEN; copy it again from the developer portal "
            f"({PORTAL} → your application → Bot → Reset Token)."
        ) from None
    except discord.DiscordServerError as error:
        raise DiscordUnreachable(
            f"Discord's API at {api} answered {error.status} {error.response.reason}",
            f"Discord may be having an outage ({STATUS_PAGE}); try again later. {API_ADVICE}",
        ) from error
    except discord.HTTPException as error:
        raise DiscordStartError(
            f"{api} answered {error.status} {error.response.reason} to the login: is DISCORD_API_BASE_URL "
            "Discord's API (or a proxy in front of it)?"
        ) from error
    except discord.GatewayNotFound as error:  # (GET /gateway/bot, asked by the doctor's client at login)
        raise DiscordUnreachable(f"Discord's API at {api} did not say where its gateway is", API_ADVICE) from error
    except (aiohttp.ClientError, OSError) as error:
        cause = f"cannot reach Discord's API at {api} ({network_reason(error)})"
        raise DiscordUnreachable(cause, API_ADVICE) from error


async def _ready(client: discord.Client, connection: asyncio.Task[None]) -> None:
    """Until READY, or until the connection ends first (a refused intent, a close code, a network error)."""
    ready = asyncio.create_task(client.wait_until_ready())
    try:
        done, _ = await asyncio.wait({connection, ready}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        ready.cancel()
    if ready in done:
        return
    raise gateway_error(connection.exception() if not connection.cancelled() else None)


def gateway_error(error: BaseException | None) -> DiscordStartError:
    """What a gateway connection that ended before READY means for the operator."""
    if isinstance(error, discord.PrivilegedIntentsRequired):
        return IntentRefused(
            "Discord refused the privileged Message Content intent, which studybot needs to read questions. "
            f"In the developer portal ({PORTAL}) open your application → Bot → Privileged Gateway Intents, "
            "switch on MESSAGE CONTENT INTENT, save, and start studybot again."
        )
    if isinstance(error, discord.LoginFailure):
        return TokenRefused("Discord refused DISCORD_BOT_TOKEN; copy it again from the developer portal.")
    if isinstance(error, discord.ConnectionClosed) and error.code == 4011:
        return DiscordStartError(
            "Discord requires sharding: set DISCORD_SHARD_COUNT (or leave it empty to let Discord say)."
        )
    if isinstance(error, aiohttp.ClientError | OSError | discord.GatewayNotFound):
        return DiscordUnreachable(f"cannot reach Discord's gateway ({network_reason(error)})", GATEWAY_ADVICE)
    return DiscordStartError(f"the Discord gateway connection failed: {error!r}")


def network_reason(error: BaseException) -> str:
    """A network failure in a few words (aiohttp's own messages quote the whole connection key)."""
    if isinstance(error, aiohttp.ClientConnectorError):
        where = f"{error.host}:{error.port}"
        if isinstance(error.os_error, socket.gaierror):
            return f"the name {error.host} does not resolve"
        if isinstance(error.os_error, ConnectionRefusedError):
            return f"connection refused by {where}"
        return f"{where}: {error.os_error.strerror or error.os_error}"
    if isinstance(error, discord.GatewayNotFound):
        return "GET /gateway/bot failed"
    return str(error) or type(error).__name__


async def close_client(client: discord.Client, within: float) -> None:
    """Close ``client`` in at most ``within`` seconds, its HTTP session always.

    discord.py's close waits for the gateway to acknowledge the websocket close, up to 30 s: a gateway that
    went silent would hold a stop that long. Past ``within`` the close is abandoned and the HTTP session,
    which would otherwise be left open ("Unclosed client session"), is closed directly; that also drops any
    websocket still open on it.
    """
    try:
        await asyncio.wait_for(client.close(), within)
    except TimeoutError:
        logger.warning("discord: the gateway did not acknowledge the close within %g s; closed without it", within)
    except Exception:
        logger.debug("discord: the client's close failed; closing its HTTP session", exc_info=True)
    await client.http.close()

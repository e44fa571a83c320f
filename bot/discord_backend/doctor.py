"""``studybot doctor``, Discord section: is everything in place for the bot to work in each study group?

It connects like the bot does (same token, intents, API base URL and DISCORD_CONNECT_TIMEOUT) but changes
nothing: no command sync, no reconciliation, no message sent. Each line starts with ✓ or ✗.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import discord
import discord.gateway
import discord.http
import yarl

from bot.config import Settings
from bot.discord_backend.client import OFFICIAL_API, api_base, intents
from bot.discord_backend.connect import (
    PORTAL,
    DiscordStartError,
    IntentRefused,
    TokenRefused,
    close_client,
    log_in_and_connect,
)
from handlers.ports import Store

logger = logging.getLogger(__name__)

PLATFORM = "discord"
CLOSE_TIMEOUT = 3.0  # seconds the gateway has to acknowledge the close (see close_client)


class _DoctorClient(discord.Client):
    """One plain connection (no shards, no cache of messages) that finds the gateway where the API says it is.

    A plain Client connects to Discord's own gateway without asking. Behind another API (a proxy, or the local
    server in tests) it must first ask that API (``GET /gateway/bot``), or the doctor would check a connection
    the bot never makes.
    """

    def __init__(self, *, gateway_from_api: bool) -> None:
        super().__init__(intents=intents(), guild_ready_timeout=0.5, max_messages=None)
        self._gateway_from_api = gateway_from_api

    async def setup_hook(self) -> None:  # called by login(), within DISCORD_CONNECT_TIMEOUT
        if self._gateway_from_api:
            _, url, _ = await self.http.get_bot_gateway()
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)


async def check_discord(settings: Settings, store: Store) -> list[str]:
    if settings.discord_bot_token is None:
        return ["- discord: DISCORD_BOT_TOKEN is not set (skipped)"]
    saved = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    proxied = settings.discord_api_base_url.rstrip("/") != OFFICIAL_API
    if proxied:
        discord.http.Route.BASE = api_base(settings.discord_api_base_url)
    client = _DoctorClient(gateway_from_api=proxied)
    connection: asyncio.Task[None] | None = None
    try:
        try:
            connection = await log_in_and_connect(
                client,
                settings.discord_bot_token.get_secret_value(),
                api=settings.discord_api_base_url,
                within=settings.discord_connect_timeout,
                reconnect=False,
            )
        except DiscordStartError as error:
            return _failed_start(client, error)
        lines = [
            f"✓ discord: token valid (application {client.application_id})",
            "✓ discord: gateway connected with the Message Content, guild messages, reactions and DM intents",
        ]
        lines += await _channels(client, store)
        lines += await _instructors(client, store)
        return lines
    finally:
        await close_client(client, within=CLOSE_TIMEOUT)
        if connection is not None:
            connection.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await connection
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


def _failed_start(client: discord.Client, error: DiscordStartError) -> list[str]:
    """The report of a start that failed: the token line when login got that far, then what went wrong."""
    lines = [f"✓ discord: token valid (application {client.application_id})"] if client.user is not None else []
    if isinstance(error, IntentRefused):
        text = (
            f"the Message Content intent is off: {PORTAL} → your application → Bot → "
            "Privileged Gateway Intents → switch on MESSAGE CONTENT INTENT"
        )
    elif isinstance(error, TokenRefused):
        text = f"the token is refused; copy it again from {PORTAL} → Bot → Reset Token"
    else:
        text = str(error)
    return [*lines, f"✗ discord: {text}"]


async def _channels(client: discord.Client, store: Store) -> list[str]:
    lines: list[str] = []
    for group in await store.groups_on(PLATFORM):
        channel = client.get_channel(int(group.chat.chat_id))
        label = f"{group.title or group.chat.chat_id} ({group.course_slug})"
        if not isinstance(channel, discord.TextChannel | discord.ForumChannel):
            lines.append(f"✗ {label}: not visible to the bot (deleted, bot removed, or served by another shard)")
            continue
        perms = channel.permissions_for(channel.guild.me)
        needed = {
            "send messages": perms.send_messages,
            "embed links": perms.embed_links,
            "create threads": perms.create_public_threads or isinstance(channel, discord.ForumChannel),
            "send in threads": perms.send_messages_in_threads,
            "read reactions (read message history)": perms.read_message_history and perms.view_channel,
        }
        missing = [name for name, ok in needed.items() if not ok]
        note = " — marked as needing attention; run /setup there once fixed" if group.attention else ""
        if missing:
            lines.append(f"✗ {label}: missing {', '.join(missing)}{note}")
        else:
            lines.append(f"✓ {label}: can send, create threads and read reactions{note}")
    return lines


async def _instructors(client: discord.Client, store: Store) -> list[str]:
    lines: list[str] = []
    for course in await store.list_courses():
        channel = await store.instructors_channel(course.slug, PLATFORM)
        for instructor in await store.instructors(course.slug):
            if instructor.platform != PLATFORM:
                continue
            shared = False
            for guild in client.guilds:
                with contextlib.suppress(discord.HTTPException):
                    await guild.fetch_member(int(instructor.user_id))
                    shared = True
                    break
            fallback = (
                "the instructors' channel is set"
                if channel
                else "no instructors' channel (/setup <course> instructors)"
            )
            if shared:
                lines.append(
                    f"✓ {instructor.display_name} ({course.slug}): shares a server with the bot, so DMs can reach "
                    f"them unless they closed DMs (Discord tells only when one is sent); {fallback}"
                )
            else:
                lines.append(f"✗ {instructor.display_name} ({course.slug}): shares no server with the bot; {fallback}")
    return lines

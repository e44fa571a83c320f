"""``studybot doctor``, Discord section: is everything in place for the bot to work in each study group?

It connects like the bot does (same token, intents and API base URL) but changes nothing: no command sync, no
reconciliation, no message sent. Each line starts with ✓ or ✗.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import discord
import discord.http

from bot.config import Settings
from bot.discord_backend.backend import OFFICIAL_API, PORTAL, api_base, intents
from handlers.ports import Store

logger = logging.getLogger(__name__)

PLATFORM = "discord"


async def check_discord(settings: Settings, store: Store, *, ready_timeout: float = 60.0) -> list[str]:
    if settings.discord_bot_token is None:
        return ["- discord: DISCORD_BOT_TOKEN is not set (skipped)"]
    saved = discord.http.Route.BASE
    if settings.discord_api_base_url.rstrip("/") != OFFICIAL_API:
        discord.http.Route.BASE = api_base(settings.discord_api_base_url)
    client = discord.Client(intents=intents(), guild_ready_timeout=0.5, max_messages=None)
    lines: list[str] = []
    connection: asyncio.Task[None] | None = None
    try:
        try:
            await client.login(settings.discord_bot_token.get_secret_value())
        except discord.LoginFailure:
            return [f"✗ discord: the token is refused; copy it again from {PORTAL} → Bot → Reset Token"]
        lines.append(f"✓ discord: token valid (application {client.application_id})")
        connection = asyncio.create_task(client.connect(reconnect=False))
        ready = asyncio.create_task(client.wait_until_ready())
        done, _ = await asyncio.wait({connection, ready}, timeout=ready_timeout, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        if connection in done:
            error = connection.exception()
            if isinstance(error, discord.PrivilegedIntentsRequired):
                lines.append(
                    f"✗ discord: the Message Content intent is off: {PORTAL} → your application → Bot → "
                    "Privileged Gateway Intents → switch on MESSAGE CONTENT INTENT"
                )
            else:
                lines.append(f"✗ discord: the gateway refused the connection ({error!r})")
            return lines
        if ready not in done:
            return [*lines, "✗ discord: no READY from the gateway"]
        lines.append("✓ discord: gateway connected with the Message Content, guild messages, reactions and DM intents")
        lines += await _channels(client, store)
        lines += await _instructors(client, store)
    finally:
        await client.close()
        if connection is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await connection
        discord.http.Route.BASE = saved
    return lines


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

"""The gateway side of the Discord backend: discord.py's AutoShardedBot with our listeners, and its lifecycle.

The client only hands what Discord sends to the intake (:mod:`.intake`); it decides nothing. :class:`Gateway`
opens it (REST login, then the gateway up to READY, within ``DISCORD_CONNECT_TIMEOUT``, see :mod:`.connect`)
and closes it, whatever state a start stopped in, so that no session or socket is left open.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import discord
import discord.http
import yarl
from discord import app_commands
from discord.ext import commands

from bot.discord_backend import translate
from bot.discord_backend.connect import close_client, log_in_and_connect
from bot.discord_backend.pacing import GlobalPacer

logger = logging.getLogger(__name__)

OFFICIAL_API = "https://discord.com/api/v10"
NO_MENTIONS = discord.AllowedMentions.none()


def api_base(url: str) -> str:
    """``DISCORD_API_BASE_URL`` may name the server (``http://proxy:8080``) or the versioned API root."""
    url = url.rstrip("/")
    if url.endswith("/api/v10"):
        return url
    if url.endswith("/api"):
        return url + "/v10"
    return url + "/api/v10"


def intents() -> discord.Intents:
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.message_content = True  # privileged: switched on in the developer portal
    wanted.guild_reactions = True
    wanted.dm_messages = True
    return wanted


@dataclass(frozen=True, slots=True)
class DiscordOptions:
    token: str
    api_base_url: str = OFFICIAL_API
    shard_count: int | None = None
    shard_ids: tuple[int, ...] | None = None
    reconcile_days: int = 14
    # discord.py waits 2 s after the last GUILD_CREATE before READY and 5 s before every IDENTIFY but the
    # first (Discord's identify rate limit); tests against the local server shorten both.
    guild_ready_timeout: float = 2.0
    identify_delay: bool = True
    # DISCORD_CONNECT_TIMEOUT: login and READY within this many seconds, or start-up gives up (see .connect).
    connect_timeout: float = 30.0
    # A stop waits this long for the gateway to acknowledge the close, then closes without it (see close_client).
    close_timeout: float = 3.0


class Listener(Protocol):
    """What the client hands Discord's events to (the intake, :class:`.intake.Intake`)."""

    def message_arrived(self, message: discord.Message) -> None: ...
    async def on_message(self, message: discord.Message) -> None: ...
    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None: ...
    async def on_raw_message_delete(self, channel_id: int, guild_id: int | None, message_ids: list[int]) -> None: ...
    def take_reaction(self, payload: discord.RawReactionActionEvent, *, added: bool) -> None: ...
    def take_clear(
        self, payload: discord.RawReactionClearEvent | discord.RawReactionClearEmojiEvent, *, emoji: str | None
    ) -> None: ...


class Client(commands.AutoShardedBot):
    """The discord.py bot with our listeners; it processes no prefix commands (everything is a slash command)."""

    def __init__(self, listener: Listener, options: DiscordOptions) -> None:
        sharding: dict[str, Any] = {"shard_count": options.shard_count}
        if options.shard_ids:
            sharding["shard_ids"] = list(options.shard_ids)
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=intents(),
            **sharding,
            guild_ready_timeout=options.guild_ready_timeout,
            allowed_mentions=NO_MENTIONS,
            chunk_guilds_at_startup=False,
            max_messages=None,  # raw events only: a message cache would be scanned on every reaction for nothing
            # Discord's global 50 requests a second, kept ahead rather than learnt from 429s (see .pacing).
            http_trace=GlobalPacer().trace_config(),
        )
        self._listener = listener
        self._identify_delay = options.identify_delay
        self._takers: dict[str, Callable[[Any], None]] = {
            # partial, not a lambda: one Python call less for every reaction of a burst
            "raw_reaction_add": functools.partial(listener.take_reaction, added=True),
            "raw_reaction_remove": functools.partial(listener.take_reaction, added=False),
            "raw_reaction_clear": lambda payload: listener.take_clear(payload, emoji=None),
            "raw_reaction_clear_emoji": lambda payload: listener.take_clear(
                payload, emoji=translate.emoji_key(payload.emoji)
            ),
        }

    async def launch_shards(self) -> None:
        """With DISCORD_SHARD_COUNT set, discord.py skips ``GET /gateway/bot`` and dials gateway.discord.gg even
        when DISCORD_API_BASE_URL points elsewhere; then it asks that API for the gateway, as unsharded it does."""
        if self.shard_count is None or discord.http.Route.BASE == OFFICIAL_API or self.is_closed():
            await super().launch_shards()
            return
        _, gateway_url, _ = await self.http.get_bot_gateway()
        self._connection.shard_count = self.shard_count
        shard_ids = self.shard_ids or range(self.shard_count)
        self._connection.shard_ids = shard_ids
        for shard_id in shard_ids:
            await self.launch_shard(yarl.URL(gateway_url), shard_id, initial=shard_id == shard_ids[0])

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        if self._identify_delay:
            await super().before_identify_hook(shard_id, initial=initial)

    async def on_message(self, message: discord.Message) -> None:  # no process_commands: slash commands only
        await self._listener.on_message(message)

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        await self._listener.on_raw_message_edit(payload)

    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        await self._listener.on_raw_message_delete(payload.channel_id, payload.guild_id, [payload.message_id])

    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        await self._listener.on_raw_message_delete(payload.channel_id, payload.guild_id, sorted(payload.message_ids))

    def dispatch(self, event_name: str, /, *args: Any, **kwargs: Any) -> None:
        """Raw reaction events are taken here, as discord.py parses them, not in a task each (see :mod:`.intake`).

        They are not dispatched further: nothing else in studybot listens for them (so ``wait_for`` on them
        would never return).
        """
        take = self._takers.get(event_name)
        if take is None:
            if event_name == "message":
                self._listener.message_arrived(args[0])
            super().dispatch(event_name, *args, **kwargs)
            return
        try:
            take(args[0])
        except Exception:  # never into discord.py's parser: it would drop the gateway connection
            logger.exception("discord: the %s event could not be taken", event_name)


class Gateway:
    """One connection to Discord: the client, its gateway task, and discord.py's REST base while it runs."""

    def __init__(self, options: DiscordOptions) -> None:
        self.options = options
        self.client: Client | None = None
        self._connection: asyncio.Task[None] | None = None
        self._saved_base: str | None = None

    async def open(self, listener: Listener, slash_commands: Iterable[app_commands.Command[Any, ..., Any]]) -> Client:
        """Log in and connect; the client once READY. On any failure nothing stays open (then it raises)."""
        options = self.options
        if options.api_base_url.rstrip("/") != OFFICIAL_API:
            # discord.py has no per-client base URL: Route.BASE is where every REST call goes (a rate-limit
            # sharing proxy in a large deployment, the local server in tests).
            self._saved_base = discord.http.Route.BASE
            discord.http.Route.BASE = api_base(options.api_base_url)
        client = self.client = Client(listener, options)
        for command in slash_commands:
            client.tree.add_command(command)
        try:
            self._connection = await log_in_and_connect(
                client, options.token, api=options.api_base_url, within=options.connect_timeout
            )
        except BaseException:  # refused, unreachable, too slow, or stopped meanwhile: nothing may stay open
            await self.close()
            raise
        self._connection.add_done_callback(_log_gateway_end)
        return client

    async def close(self) -> None:
        """Close the gateway connection and the HTTP session, within ``close_timeout``; safe to call again."""
        if self.client is not None:
            await close_client(self.client, within=self.options.close_timeout)
        if self._connection is not None:
            # Closed, discord.py's connect() returns on its own, unless it was reconnecting (waiting for a
            # gateway that does not answer, or between attempts): nothing is left for it to do either way.
            self._connection.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._connection
        if self._saved_base is not None:
            discord.http.Route.BASE = self._saved_base
            self._saved_base = None

    def is_me(self, user_id: int) -> bool:
        client = self.client
        return client is not None and client.user is not None and client.user.id == user_id


def _log_gateway_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("discord: the gateway connection ended: %r", task.exception())


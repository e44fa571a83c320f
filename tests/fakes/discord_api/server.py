"""The server object a test holds: its construction, lifecycle, change notification, lookups and the
read-only views a test asserts on; the rest is mixed in from the modules named in the class's docstring.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.clock import TestClock, require_test_clock
from tests.fakes.discord_api.acts import _Acts
from tests.fakes.discord_api.connection import _Connection, _DiscordPatch, _Session
from tests.fakes.discord_api.constants import API_PREFIX, CH_DM, Json
from tests.fakes.discord_api.gateway import _Gateway
from tests.fakes.discord_api.interactions import _Interactions
from tests.fakes.discord_api.messages import _Messages
from tests.fakes.discord_api.model import (
    FakeChannel,
    FakeGuild,
    FakeInteraction,
    FakeMessage,
    FakeUser,
    InteractionResponseRecord,
    RateLimitHit,
    RecordedRequest,
    _Bucket,
    _id_of,
    _RateLimitRule,
    _snowflake_ms,
    _Snowflakes,
)
from tests.fakes.discord_api.payloads import _Payloads
from tests.fakes.discord_api.ratelimits import _RateLimits
from tests.fakes.discord_api.rest import _Rest
from tests.fakes.discord_api.routing import _Routing
from tests.fakes.discord_api.world import _World


class FakeDiscord(_World, _Acts, _Gateway, _Routing, _RateLimits, _Rest, _Interactions, _Messages, _Payloads):
    """Discord REST v10 + gateway on 127.0.0.1, with a test-control API.

    Use as ``async with FakeDiscord(...) as dc:``; the server starts and stops in the
    running loop.  Setup methods (``add_*``) are synchronous; "acts" (``user_*``,
    ``invoke_command``...) are coroutines that return once the resulting dispatches were
    handed to the client's socket.  Every state change notifies ``wait_for`` waiters.

    Each concern lives in a module of its own and is mixed in here, so a test still holds one object: the
    world it builds (:mod:`.world`), people's acts (:mod:`.acts`), the gateway (:mod:`.gateway`), REST routing
    (:mod:`.routing`) with its rate limits and latency (:mod:`.ratelimits`), the REST endpoints by family
    (:mod:`.rest`, :mod:`.interactions`), messages and reactions (:mod:`.messages`) and the JSON shapes of
    objects (:mod:`.payloads`).
    """

    def __init__(
        self,
        *,
        token: str = "fake-bot-token",
        bot_name: str = "studybot",
        heartbeat_interval: int = 41250,
        recommended_shards: int = 1,
        max_guilds_per_shard: int = 2500,
        bucket_limit: int = 10_000,
        bucket_window: float = 1.0,
        message_content: bool = False,
        members: bool = False,
        presences: bool = False,
        host: str = "127.0.0.1",
        clock: TestClock,
        global_limit: int | None = None,
        latency: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``clock``: the test's clock. Snowflakes, and so every message, channel and interaction time, and every
        other date the server writes, come from it, so a bot on that clock sees messages written "now".

        ``global_limit``: requests a second over all routes before a global 429 (Discord's is 50, see
        :meth:`enable_global_limit`); None, the default, leaves it off.  ``latency`` (seconds, settable later): the
        network round trip of each REST call, half before the server handles it and half before the answer, and
        of each heartbeat, before its ACK.
        ``monotonic`` measures the durations the limits need (never a date), so a test can pass a manual one."""
        self.token = token
        self.uploads: dict[str, bytes] = {}  # attachment id -> the bytes uploaded (files[n])
        self.heartbeat_interval = heartbeat_interval
        self.recommended_shards = recommended_shards
        self.max_guilds_per_shard = max_guilds_per_shard
        self.bucket_limit = bucket_limit
        self.bucket_window = bucket_window
        self.host = host
        self.port = 0
        self._ids = _Snowflakes(require_test_clock(clock, "FakeDiscord"))
        self.bot = FakeUser(self._ids.next(), bot_name, bot=True)
        self.app_id = self.bot.id  # newer applications share the bot user's id
        self.owner = FakeUser(self._ids.next(), f"{bot_name}-developer")
        self._privileged = {"message_content": message_content, "members": members, "presences": presences}

        self._users: dict[int, FakeUser] = {self.bot.id: self.bot, self.owner.id: self.owner}
        self._guilds: dict[int, FakeGuild] = {}
        self._channels: dict[int, FakeChannel] = {}
        self._dm_by_user: dict[int, int] = {}
        self._messages: dict[int, FakeMessage] = {}
        self._channel_messages: dict[int, list[int]] = {}
        # message id -> emoji key -> (emoji object, ordered user ids)
        self._reactions: dict[int, dict[str, tuple[Json, dict[int, None]]]] = {}
        self._commands: dict[int | None, list[Json]] = {}
        self._command_puts: Counter[int | None] = Counter()
        self._command_changes: Counter[int | None] = Counter()
        self._interactions: dict[int, FakeInteraction] = {}
        self._interactions_by_token: dict[str, FakeInteraction] = {}

        self._sessions: dict[str, _Session] = {}
        self._connections: set[_Connection] = set()
        self._gateway_gate = asyncio.Event()
        self._gateway_gate.set()
        self.gateway_attempts = 0  # websocket connections asked for, answered or held (see disconnect(hold=True))
        self.heartbeats = 0
        self.identifies = 0
        self.resumes = 0
        self.gateway_closes: list[int] = []

        self.requests: list[RecordedRequest] = []
        self._request_counts: Counter[str] = Counter()
        self._rate_rules: list[_RateLimitRule] = []
        self._buckets: dict[str, _Bucket] = {}
        self.route_limits: dict[str, tuple[int, float]] = {}  # "METHOD /template" -> (limit, window), see ratelimits
        self.global_limit = global_limit
        self._global_window: deque[float] = deque()
        self.rate_limited: list[RateLimitHit] = []  # every 429 answered, whatever its cause
        self.latency = latency
        self._monotonic = monotonic

        self._cond = asyncio.Condition()
        self._notify_pending = False
        self._background: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway_handler)
        self._add_routes(app)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        self._gateway_gate.set()
        for conn in list(self._connections):
            await conn.close(1001, "fake shutting down")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for task in list(self._background):
            task.cancel()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        """Value for ``discord.http.Route.BASE``."""
        return f"{self.base_url}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        """What ``GET /gateway/bot`` returns and READY's ``resume_gateway_url``."""
        return f"ws://{self.host}:{self.port}/gateway"

    def patch_discord(self) -> _DiscordPatch:
        """Point discord.py at this fake (see the module docstring), restoring on exit.

        Usable as ``with dc.patch_discord():`` or inside ``async with FakeDiscord() as dc,
        dc.patch_discord():``.
        """
        return _DiscordPatch(self.api_base, self.gateway_url)

    def _touch(self) -> None:
        """Wake ``wait_for`` waiters (coalesced: one notify task per burst of changes)."""
        if self._notify_pending:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._notify_pending = True
        task = loop.create_task(self._notify())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _notify(self) -> None:
        self._notify_pending = False
        async with self._cond:
            self._cond.notify_all()

    # the brief's API takes ``timeout=``; asyncio.timeout is what enforces it inside
    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0, what: str = "") -> None:  # noqa: ASYNC109
        """Wait until ``predicate()`` is truthy, re-checked on every change of the fake.

        Raises AssertionError on timeout so a test failure names the unmet condition.
        """
        try:
            async with asyncio.timeout(timeout), self._cond:
                await self._cond.wait_for(predicate)
        except TimeoutError:
            label = what or getattr(predicate, "__name__", repr(predicate))
            raise AssertionError(f"fake Discord: condition {label!r} not met within {timeout}s") from None

    def user(self, user_id: int) -> FakeUser:
        return self._users[user_id]

    def guild(self, guild_id: int) -> FakeGuild:
        return self._guilds[guild_id]

    def channel(self, channel_id: int) -> FakeChannel:
        return self._channels[channel_id]

    def message(self, message_id: FakeMessage | int) -> FakeMessage:
        return self._messages[_id_of(message_id)]

    def messages(self, channel_id: FakeChannel | int, *, include_deleted: bool = False) -> list[FakeMessage]:
        """Messages of a channel/thread in creation order (ephemeral ones are not in channels)."""
        ids = self._channel_messages.get(_id_of(channel_id), [])
        return [self._messages[i] for i in ids if include_deleted or not self._messages[i].deleted]

    def sent_by_bot(self, channel_id: FakeChannel | int) -> list[FakeMessage]:
        return [m for m in self.messages(channel_id) if m.author_id == self.bot.id]

    def dm_messages(self, user_id: FakeUser | int) -> list[FakeMessage]:
        cid = self._dm_by_user.get(_id_of(user_id))
        return self.messages(cid) if cid is not None else []

    def threads(self, channel_id: FakeChannel | int) -> list[FakeChannel]:
        parent = _id_of(channel_id)
        return [c for c in self._channels.values() if c.is_thread and c.parent_id == parent]

    def reactions(self, message_id: FakeMessage | int) -> dict[str, list[int]]:
        """``{emoji key: [user ids]}``; keys are the unicode emoji or ``name:id``."""
        return {k: list(users) for k, (_, users) in self._reactions.get(_id_of(message_id), {}).items() if users}

    def interaction(self, interaction_id: int) -> FakeInteraction:
        return self._interactions[interaction_id]

    def interaction_responses(self, interaction_id: FakeInteraction | int) -> list[InteractionResponseRecord]:
        return list(self._interactions[_id_of(interaction_id)].responses)

    def commands(self, guild: FakeGuild | int | None = None) -> list[Json]:
        """Stored application commands: global (``guild=None``) or one guild's."""
        return [dict(c) for c in self._commands.get(None if guild is None else _id_of(guild), [])]

    def command_puts(self, guild: FakeGuild | int | None = None) -> int:
        """How many bulk-overwrite PUTs hit this scope (changed or not)."""
        return self._command_puts[None if guild is None else _id_of(guild)]

    def command_changes(self, guild: FakeGuild | int | None = None) -> int:
        """How many bulk-overwrite PUTs actually changed the stored definitions."""
        return self._command_changes[None if guild is None else _id_of(guild)]

    def request_count(self, route: str) -> int:
        """Requests seen for ``route``: ``"METHOD /path"`` or just ``"/path"`` (any method);
        the path is concrete (``/channels/123/messages``) or a template
        (``/channels/{channel_id}/messages``); query strings are ignored.
        """
        if route.startswith("/"):
            return sum(self._request_counts[f"{m} {route}"] for m in ("GET", "POST", "PUT", "PATCH", "DELETE"))
        return self._request_counts[route]

    def _guild(self, guild: FakeGuild | int) -> FakeGuild:
        return self._guilds[_id_of(guild)]

    def _user(self, user: FakeUser | int) -> FakeUser:
        return self._users[_id_of(user)]

    def _channel(self, channel: FakeChannel | int) -> FakeChannel:
        return self._channels[_id_of(channel)]

    def _message(self, channel: FakeChannel | int, message: FakeMessage | int) -> FakeMessage:
        msg = self._messages[_id_of(message)]
        if msg.channel_id != _id_of(channel):
            raise ValueError(f"message {msg.id} is not in channel {_id_of(channel)}")
        return msg

    def _dm_channel(self, user: FakeUser) -> FakeChannel:
        cid = self._dm_by_user.get(user.id)
        if cid is None:
            cid = self._ids.next()
            self._channels[cid] = FakeChannel(cid, CH_DM, None, recipient_id=user.id, created_ms=_snowflake_ms(cid))
            self._channel_messages[cid] = []
            self._dm_by_user[user.id] = cid
        return self._channels[cid]

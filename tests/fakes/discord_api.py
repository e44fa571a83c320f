"""A local stand-in for Discord's REST API (v10) and gateway, for driving the *real* discord.py.

Why this exists: studybot's Discord backend must be tested end to end (gateway events in,
REST calls out, rate limits, permission errors, reconnects) without contacting Discord.
Mocking discord.py objects would only test our assumptions about discord.py; speaking the
wire protocol from the public API documentation tests the adapter against the library as
it really behaves.  Everything listens on 127.0.0.1 only.

Pointing discord.py at the fake
-------------------------------
discord.py has no public "base URL" setting and its ``proxy=``/``connector=`` hooks cannot
help (the URLs are ``https://``/``wss://``, so a proxy would need TLS).  Two class attributes
decide where it goes, and :meth:`FakeDiscord.patch_discord` swaps both and restores them:

* ``discord.http.Route.BASE`` -- prefix of every REST URL (interaction callbacks and
  webhook follow-ups included, they use the same ``Route``);
* ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` -- a plain ``Client`` (and an
  ``AutoShardedClient`` given ``shard_count``) connects there *without* asking
  ``GET /gateway/bot``; it is also where discord.py goes after an INVALID_SESSION.

Usage::

    async with FakeDiscord(heartbeat_interval=500, clock=TestClock()) as dc, dc.patch_discord():
        guild = dc.add_guild("Course")
        general = dc.add_channel(guild, "general")
        alice = dc.add_user("alice")
        dc.add_member(guild, alice)
        client = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.05)
        await client.login(dc.token)
        task = asyncio.create_task(client.connect())
        await asyncio.wait_for(client.wait_until_ready(), 10)
        await dc.user_sends(general, alice, "hello")          # -> on_message
        sent = await client.get_channel(general.id).send("hi")
        assert dc.sent_by_bot(general)[0].id == sent.id
        await client.close()
        await task

What discord.py (2.7) needs that is easy to miss
-----------------------------------------------
* ``on_ready`` fires ``guild_ready_timeout`` (default 2 s) after the last GUILD_CREATE:
  pass ``guild_ready_timeout=0.05`` to ``Client`` in tests.
* Every non-initial IDENTIFY (second shard of an ``AutoShardedClient``, re-identify after
  op 9) first awaits ``before_identify_hook``, which sleeps 5 s: override it in tests.
* ``client.start()`` followed at once by ``wait_until_ready()`` can race the client's setup;
  ``await client.login(token)`` then ``create_task(client.connect())`` does not.
* JSON bodies are parsed only when ``Content-Type`` is exactly ``application/json``
  (aiohttp's ``json_response`` appends ``; charset=utf-8`` -- discord.py would see text).
* A 429 is waited out only if the response has a ``Via`` header; without it discord.py
  assumes a Cloudflare ban and raises.
* discord.py asks for ``compress=zstd-stream`` when ``zstandard`` is importable, else
  ``zlib-stream``; both are served.  Its IDENTIFY also says ``compress: true`` (payload
  compression), which Discord ignores under transport compression, and so does the fake.
* Interaction callbacks and follow-ups carry no ``Authorization`` header (the token is in
  the URL) and callbacks are posted with ``?with_response=1``.
* ``Reaction.users()`` pages by 100 with ``after=`` and yields each page reversed.

Documentation sections referred to in comments: "Gateway", "Gateway Events",
"Opcodes and Status Codes", "Rate Limits", "Permissions", "Message Resource",
"Channel Resource", "Guild Resource", "Receiving and Responding" (interactions),
"Application Commands", "Reference" (snowflakes, error messages).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import math
import re
import uuid
import zlib
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

from tests.clock import TestClock, require_test_clock

Json = dict[str, Any]

__all__ = [
    "FakeChannel",
    "FakeDiscord",
    "FakeGuild",
    "FakeInteraction",
    "FakeMember",
    "FakeMessage",
    "FakeRole",
    "FakeUser",
    "InteractionResponseRecord",
    "RecordedRequest",
]

API_VERSION = 10
API_PREFIX = f"/api/v{API_VERSION}"
DISCORD_EPOCH_MS = 1420070400000  # "Reference > Snowflakes": ms since the first second of 2015

# --- "Opcodes and Status Codes" > Gateway Opcodes -------------------------------------------
OP_DISPATCH = 0
OP_HEARTBEAT = 1
OP_IDENTIFY = 2
OP_PRESENCE_UPDATE = 3
OP_VOICE_STATE_UPDATE = 4
OP_RESUME = 6
OP_RECONNECT = 7
OP_REQUEST_GUILD_MEMBERS = 8
OP_INVALID_SESSION = 9
OP_HELLO = 10
OP_HEARTBEAT_ACK = 11

# --- "Opcodes and Status Codes" > Gateway Close Event Codes -----------------------------------
CLOSE_UNKNOWN_ERROR = 4000
CLOSE_UNKNOWN_OPCODE = 4001
CLOSE_DECODE_ERROR = 4002
CLOSE_NOT_AUTHENTICATED = 4003
CLOSE_AUTHENTICATION_FAILED = 4004
CLOSE_ALREADY_AUTHENTICATED = 4005
CLOSE_INVALID_SEQ = 4007
CLOSE_INVALID_SHARD = 4010
CLOSE_SHARDING_REQUIRED = 4011
CLOSE_INVALID_API_VERSION = 4012
CLOSE_INVALID_INTENTS = 4013
CLOSE_DISALLOWED_INTENTS = 4014

# --- "Gateway" > Gateway Intents ------------------------------------------------------------
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1  # privileged
INTENT_GUILD_PRESENCES = 1 << 8  # privileged
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_GUILD_MESSAGE_REACTIONS = 1 << 10
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_DIRECT_MESSAGE_REACTIONS = 1 << 13
INTENT_MESSAGE_CONTENT = 1 << 15  # privileged
# Every documented intent bit (0-16, 20, 21, 24, 25); anything else closes with 4013.
VALID_INTENTS = sum(1 << b for b in (*range(17), 20, 21, 24, 25))

# --- "Application Resource" > Application Flags (the *_LIMITED flavour an unverified bot gets) --
APP_FLAG_GATEWAY_PRESENCE_LIMITED = 1 << 13
APP_FLAG_GATEWAY_GUILD_MEMBERS_LIMITED = 1 << 15
APP_FLAG_GATEWAY_MESSAGE_CONTENT_LIMITED = 1 << 19
APP_FLAG_APPLICATION_COMMAND_BADGE = 1 << 23

# --- "Permissions" > Bitwise Permission Flags -------------------------------------------------
P_CREATE_INSTANT_INVITE = 1 << 0
P_ADMINISTRATOR = 1 << 3
P_ADD_REACTIONS = 1 << 6
P_VIEW_CHANNEL = 1 << 10
P_SEND_MESSAGES = 1 << 11
P_MANAGE_MESSAGES = 1 << 13
P_EMBED_LINKS = 1 << 14
P_ATTACH_FILES = 1 << 15
P_READ_MESSAGE_HISTORY = 1 << 16
P_MENTION_EVERYONE = 1 << 17
P_USE_EXTERNAL_EMOJIS = 1 << 18
P_CONNECT = 1 << 20
P_SPEAK = 1 << 21
P_CHANGE_NICKNAME = 1 << 26
P_USE_APPLICATION_COMMANDS = 1 << 31
P_MANAGE_THREADS = 1 << 34
P_CREATE_PUBLIC_THREADS = 1 << 35
P_CREATE_PRIVATE_THREADS = 1 << 36
P_SEND_MESSAGES_IN_THREADS = 1 << 38
ALL_PERMISSIONS = (1 << 51) - 1

DEFAULT_EVERYONE_PERMISSIONS = (
    P_CREATE_INSTANT_INVITE
    | P_ADD_REACTIONS
    | P_VIEW_CHANNEL
    | P_SEND_MESSAGES
    | P_EMBED_LINKS
    | P_ATTACH_FILES
    | P_READ_MESSAGE_HISTORY
    | P_USE_EXTERNAL_EMOJIS
    | P_CONNECT
    | P_SPEAK
    | P_CHANGE_NICKNAME
    | P_USE_APPLICATION_COMMANDS
    | P_CREATE_PUBLIC_THREADS
    | P_SEND_MESSAGES_IN_THREADS
)
DEFAULT_BOT_PERMISSIONS = DEFAULT_EVERYONE_PERMISSIONS | P_MANAGE_MESSAGES | P_MANAGE_THREADS
SEND_DENY_MASK = P_SEND_MESSAGES | P_SEND_MESSAGES_IN_THREADS | P_CREATE_PUBLIC_THREADS | P_CREATE_PRIVATE_THREADS

# --- "Channel Resource" > Channel Types ------------------------------------------------------
CH_GUILD_TEXT = 0
CH_DM = 1
CH_GUILD_CATEGORY = 4
CH_GUILD_ANNOUNCEMENT = 5
CH_PUBLIC_THREAD = 11
CH_PRIVATE_THREAD = 12
CH_GUILD_FORUM = 15
THREAD_TYPES = (10, CH_PUBLIC_THREAD, CH_PRIVATE_THREAD)
CHANNEL_KINDS = {
    "text": CH_GUILD_TEXT,
    "category": CH_GUILD_CATEGORY,
    "announcement": CH_GUILD_ANNOUNCEMENT,
    "forum": CH_GUILD_FORUM,
}

# --- "Message Resource" > Message Types / Flags -----------------------------------------------
MSG_DEFAULT = 0
MSG_REPLY = 19
MSG_CHAT_INPUT_COMMAND = 20
FLAG_HAS_THREAD = 1 << 5
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7

# --- "Receiving and Responding" > Interaction (Callback) Types --------------------------------
IT_APPLICATION_COMMAND = 2
IT_AUTOCOMPLETE = 4
CB_CHANNEL_MESSAGE_WITH_SOURCE = 4
CB_DEFERRED_CHANNEL_MESSAGE = 5
CB_DEFERRED_UPDATE_MESSAGE = 6
CB_UPDATE_MESSAGE = 7
CB_AUTOCOMPLETE_RESULT = 8
CB_MODAL = 9

# --- "Application Commands" > Application Command Option Type --------------------------------
OPT_SUB_COMMAND = 1
OPT_SUB_COMMAND_GROUP = 2
OPT_STRING = 3
OPT_INTEGER = 4
OPT_BOOLEAN = 5
OPT_USER = 6
OPT_CHANNEL = 7
OPT_ROLE = 8
OPT_MENTIONABLE = 9
OPT_NUMBER = 10

# --- "Message Resource" > Embed Limits --------------------------------------------------------
MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_TITLE = 256
MAX_EMBED_DESCRIPTION = 4096
MAX_EMBED_FIELDS = 25
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_FOOTER_TEXT = 2048
MAX_AUTHOR_NAME = 256
MAX_EMBED_TOTAL = 6000

# Parsed request bodies travel from the middleware to the handlers in the request's storage.
_BODY = web.RequestKey("fake_discord_body", object)
_FILES = web.RequestKey("fake_discord_files", list)

_MENTION_RE = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION_RE = re.compile(r"<@&(\d+)>")
_CUSTOM_EMOJI_RE = re.compile(r"^(?:a?:)?([\w~]{1,32}):(\d+)$")
_COMMAND_NAME_RE = re.compile(r"^[-_'\w]{1,32}$")


# =============================================================================================
# Small helpers
# =============================================================================================


def _dumps(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def _iso(ms: int) -> str:
    """ISO-8601 timestamp as Discord writes them (microseconds, explicit +00:00)."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="microseconds")


def _snowflake_ms(snowflake: int) -> int:
    return (snowflake >> 22) + DISCORD_EPOCH_MS


class _Snowflakes:
    """Monotonic snowflake ids ("Reference > Snowflakes") that follow the test's clock.

    An id's time is the clock's now (so a message written after ``clock.advance(days=7)`` is a week newer), or
    one millisecond after the previous id when the clock has not moved: every id gets its own millisecond so
    that ``(id >> 22) % shard_count`` -- the sharding formula -- spreads guilds over shards like real ids do.
    """

    def __init__(self, clock: TestClock) -> None:
        self._clock = clock
        self._ms = 0
        self._increment = itertools.count()

    def now_ms(self) -> int:
        return int(self._clock.now().timestamp() * 1000)

    def next(self) -> int:
        self._ms = max(self._ms + 1, self.now_ms())
        return ((self._ms - DISCORD_EPOCH_MS) << 22) | (1 << 17) | (next(self._increment) & 0xFFF)

    def next_for_shard(self, shard_id: int, shard_count: int) -> int:
        """An id that the sharding formula puts on ``shard_id`` ("Gateway" > Sharding)."""
        while True:
            candidate = self.next()
            if (candidate >> 22) % shard_count == shard_id:
                return candidate


def _id_of(obj: Any) -> int:
    """Accept a fake entity, a discord.py object (``.id``), an int or a numeric string."""
    if isinstance(obj, int):
        return obj
    if isinstance(obj, str):
        return int(obj)
    return int(obj.id)


def _field_error(path: Sequence[str | int], code: str, message: str) -> Json:
    """Build the nested ``errors`` object of a 50035 response ("Reference" > Error Messages)."""
    node: Json = {"_errors": [{"code": code, "message": message}]}
    for key in reversed(path):
        node = {str(key): node}
    return node


def _merge(into: Json, other: Json) -> None:
    for key, value in other.items():
        if key in into and isinstance(into[key], dict) and isinstance(value, dict):
            _merge(into[key], value)
        else:
            into[key] = value


class ApiError(Exception):
    """An error answer with Discord's JSON body ``{"message": ..., "code": N[, "errors": ...]}``."""

    def __init__(self, status: int, code: int, message: str, errors: Json | None = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> Json:
        body: Json = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body


def _invalid_form(errors: Json) -> ApiError:
    return ApiError(400, 50035, "Invalid Form Body", errors)


def _unknown_channel() -> ApiError:
    return ApiError(404, 10003, "Unknown Channel")


def _unknown_message() -> ApiError:
    return ApiError(404, 10008, "Unknown Message")


def _missing_permissions() -> ApiError:
    return ApiError(403, 50013, "Missing Permissions")


def _missing_access() -> ApiError:
    return ApiError(403, 50001, "Missing Access")


# =============================================================================================
# The fake's state
# =============================================================================================


@dataclass(eq=False)
class FakeUser:
    """A Discord user.  ``dms_closed`` makes DMs to it fail with 50007, as privacy settings do."""

    id: int
    name: str
    bot: bool = False
    global_name: str | None = None
    dms_closed: bool = False

    def payload(self) -> Json:
        """The User object ("User Resource" > User Object), public fields only."""
        return {
            "id": str(self.id),
            "username": self.name,
            "discriminator": "0",  # pomelo usernames: discriminator is "0"
            "global_name": self.global_name,
            "avatar": None,
            "bot": self.bot,
            "system": False,
            "public_flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
        }


@dataclass(eq=False)
class FakeRole:
    id: int
    guild_id: int
    name: str
    permissions: int
    position: int = 0
    managed: bool = False
    bot_id: int | None = None

    def payload(self) -> Json:
        """Role object ("Permissions" > Role Object); permissions are a string of the bitset."""
        data: Json = {
            "id": str(self.id),
            "name": self.name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.managed,
            "mentionable": False,
            "flags": 0,
        }
        if self.bot_id is not None:
            data["tags"] = {"bot_id": str(self.bot_id)}
        return data


@dataclass(eq=False)
class FakeMember:
    guild_id: int
    user: FakeUser
    role_ids: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_ms: int = 0

    @property
    def id(self) -> int:
        return self.user.id


@dataclass(eq=False)
class FakeChannel:
    """A guild channel, a thread (``parent_id`` set) or a DM channel (``recipient_id`` set)."""

    id: int
    type: int
    name: str | None
    guild_id: int | None = None
    position: int = 0
    parent_id: int | None = None
    topic: str | None = None
    # [{"id", "type" (0 role, 1 member), "allow", "deny"}] with int bitsets
    overwrites: list[Json] = field(default_factory=list)
    owner_id: int | None = None  # threads
    message_count: int = 0  # threads
    archived: bool = False  # threads
    auto_archive_duration: int = 1440
    applied_tags: list[str] = field(default_factory=list)
    recipient_id: int | None = None  # DMs
    last_message_id: int | None = None
    created_ms: int = 0
    # Reading its history answers 403 Missing Access, as for a private thread the bot is not in (its cache
    # cannot tell): set by tests of a start-up catch-up that must skip what it cannot read.
    history_refused: bool = False

    @property
    def is_thread(self) -> bool:
        return self.type in THREAD_TYPES

    @property
    def is_dm(self) -> bool:
        return self.type == CH_DM


@dataclass(eq=False)
class FakeGuild:
    id: int
    name: str
    owner_id: int
    roles: dict[int, FakeRole] = field(default_factory=dict)
    members: dict[int, FakeMember] = field(default_factory=dict)
    channel_ids: list[int] = field(default_factory=list)
    emojis: list[Json] = field(default_factory=list)
    joined_ms: int = 0

    @property
    def everyone(self) -> FakeRole:
        return self.roles[self.id]  # "Permissions": the @everyone role's id is the guild id


@dataclass(eq=False)
class FakeMessage:
    """A stored message.  ``request`` is the JSON body the bot sent (None for user messages)."""

    id: int
    channel_id: int
    guild_id: int | None
    author_id: int
    content: str = ""
    embeds: list[Json] = field(default_factory=list)
    attachments: list[Json] = field(default_factory=list)
    components: list[Json] = field(default_factory=list)
    flags: int = 0
    type: int = MSG_DEFAULT
    tts: bool = False
    nonce: str | int | None = None
    allowed_mentions: Json | None = None
    message_reference: Json | None = None
    mentions: list[int] = field(default_factory=list)
    mention_roles: list[int] = field(default_factory=list)
    mention_everyone: bool = False
    edited_ms: int | None = None
    webhook_id: int | None = None
    interaction_id: int | None = None
    thread_id: int | None = None
    deleted: bool = False
    request: Json | None = None

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & FLAG_EPHEMERAL)

    @property
    def reference_id(self) -> int | None:
        if self.message_reference and self.message_reference.get("message_id"):
            return int(self.message_reference["message_id"])
        return None


@dataclass
class InteractionResponseRecord:
    """One thing the bot did with an interaction token.

    ``kind`` is ``"callback"`` (``POST /interactions/.../callback``; ``type`` is the callback
    type and ``data`` its ``data`` object), ``"followup"``, ``"edit"`` (PATCH of
    ``@original`` or a follow-up) or ``"delete"``; for those ``data`` is the message body.
    """

    kind: str
    type: int | None
    data: Json
    message: FakeMessage | None = None

    @property
    def ephemeral(self) -> bool:
        if self.message is not None:
            return self.message.ephemeral
        return bool(int(self.data.get("flags") or 0) & FLAG_EPHEMERAL)

    @property
    def content(self) -> str | None:
        return self.message.content if self.message is not None else self.data.get("content")


@dataclass(eq=False)
class FakeInteraction:
    id: int
    token: str
    type: int
    guild_id: int | None
    channel_id: int
    user_id: int
    name: str
    payload: Json
    responses: list[InteractionResponseRecord] = field(default_factory=list)
    original_message_id: int | None = None
    deferred: bool = False
    deferred_flags: int = 0
    message_ids: list[int] = field(default_factory=list)

    @property
    def acknowledged(self) -> bool:
        return any(r.kind == "callback" for r in self.responses)

    @property
    def autocomplete_choices(self) -> list[Json] | None:
        for record in self.responses:
            if record.kind == "callback" and record.type == CB_AUTOCOMPLETE_RESULT:
                return list(record.data.get("choices", []))
        return None


@dataclass
class RecordedRequest:
    method: str
    path: str  # below /api/v10, e.g. "/channels/123/messages"
    route: str  # template, e.g. "/channels/{channel_id}/messages"
    query: dict[str, str]
    json: Any
    status: int = 0


@dataclass
class _RateLimitRule:
    pattern: str
    times: int
    retry_after: float
    is_global: bool


@dataclass
class _Bucket:
    """A per-route bucket ("Rate Limits" > Header Format), honest about what it reports."""

    name: str
    limit: int
    window: float
    remaining: int = 0
    reset_at: float = 0.0


# =============================================================================================
# Gateway plumbing
# =============================================================================================


def _make_compressor(kind: str | None) -> Callable[[bytes], bytes] | None:
    """Transport compression ("Gateway" > Transport Compression).

    ``zlib-stream``: ONE zlib context for the whole connection; each payload is compressed
    and flushed with Z_SYNC_FLUSH, so every frame ends with ``00 00 ff ff`` -- the marker
    clients wait for before inflating.  ``zstd-stream`` (which discord.py prefers when the
    ``zstandard`` package is importable) uses one zstd stream, flushed per payload.
    """
    if kind is None:
        return None
    if kind == "zlib-stream":
        compressor = zlib.compressobj()

        def compress_zlib(data: bytes) -> bytes:
            return compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)

        return compress_zlib
    if kind == "zstd-stream":
        import zstandard  # type: ignore[import-not-found]  # optional: only if the client asks

        zobj = zstandard.ZstdCompressor().compressobj()

        def compress_zstd(data: bytes) -> bytes:
            return bytes(zobj.compress(data) + zobj.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK))

        return compress_zstd
    raise ValueError(f"unsupported compress={kind!r}")


class _Connection:
    """One gateway websocket.  A single writer task drains an ordered outbox.

    Why a queue: the compression stream and the sequence numbers must reach the wire in the
    order they were produced, while dispatches come from test code, REST handlers and the
    reader loop concurrently.  Producers only append (synchronously); the writer sends.
    """

    def __init__(self, ws: web.WebSocketResponse, compress: str | None) -> None:
        self.ws = ws
        self.compress_kind = compress
        self._compress = _make_compressor(compress)
        self.outbox: deque[str] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.session: _Session | None = None
        self.identified = False
        self.closed = False
        self.server_closed = False
        self.close_code: int | None = None  # the code the fake closed with, if it did
        self.frames_sent = 0
        self._writer = asyncio.create_task(self._run_writer())

    def enqueue(self, text: str) -> None:
        if self.closed:
            return
        self.outbox.append(text)
        self._idle.clear()
        self._wake.set()

    def enqueue_many(self, texts: Iterable[str]) -> None:
        if self.closed:
            return
        self.outbox.extend(texts)
        self._idle.clear()
        self._wake.set()

    def send_op(self, op: int, data: Any) -> None:
        self.enqueue(_dumps({"op": op, "d": data, "s": None, "t": None}))

    async def flush(self) -> None:
        """Return once everything queued so far has been handed to the socket."""
        if not self.closed:
            await self._idle.wait()

    async def _run_writer(self) -> None:
        ws, compress = self.ws, self._compress
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self.outbox:
                    text = self.outbox.popleft()
                    if compress is not None:
                        await ws.send_bytes(compress(text.encode()))
                    else:
                        await ws.send_str(text)
                    self.frames_sent += 1
                self._idle.set()
        except (ConnectionError, RuntimeError):
            # the peer went away mid-write; the session's history still has everything
            self.closed = True
        finally:
            self._idle.set()

    async def close(self, code: int, message: str = "") -> None:
        if self.closed:
            return
        self.closed = True
        self.server_closed = True
        self.close_code = code
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer
        self._idle.set()
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.close(code=code, message=message.encode())

    async def close_after_flush(self, code: int, message: str) -> None:
        """Send what is queued (e.g. a final op), then close -- used for error closes."""
        await self.flush()
        await self.close(code, message)

    def stop(self) -> None:
        self.closed = True
        self._writer.cancel()
        self._idle.set()


class _DiscordPatch:
    """Swap ``Route.BASE`` and ``DiscordWebSocket.DEFAULT_GATEWAY``; a sync *and* async context manager."""

    def __init__(self, api_base: str, gateway_url: str) -> None:
        self._api_base = api_base
        self._gateway_url = gateway_url
        self._saved: tuple[str, Any] | None = None

    def __enter__(self) -> None:
        import discord.gateway
        import discord.http
        import yarl

        self._saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
        discord.http.Route.BASE = self._api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self._gateway_url)

    def __exit__(self, *exc: object) -> None:
        import discord.gateway
        import discord.http

        if self._saved is not None:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = self._saved
            self._saved = None

    async def __aenter__(self) -> None:
        self.__enter__()

    async def __aexit__(self, *exc: object) -> None:
        self.__exit__()


@dataclass(eq=False)
class _Session:
    """A gateway session: survives its connection so RESUME can replay ("Gateway" > Resuming)."""

    session_id: str
    shard_id: int
    shard_count: int
    intents: int
    seq: int = 0
    # what RESUME can replay; bounded like Discord's own resume window
    history: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=100_000))
    conn: _Connection | None = None
    invalid: bool = False
    presence: Json | None = None

    def owns_guild(self, guild_id: int | None) -> bool:
        # "Gateway" > Sharding: shard_id = (guild_id >> 22) % num_shards; DMs only on shard 0
        if guild_id is None:
            return self.shard_id == 0
        return (guild_id >> 22) % self.shard_count == self.shard_id

    def push(self, event: str, data: Json) -> int:
        return self.push_raw(event, _dumps(data))

    def push_raw(self, event: str, data_json: str) -> int:
        """Dispatch an already-serialised ``d`` (lets bursts reuse JSON fragments)."""
        self.seq += 1
        text = f'{{"op":0,"t":"{event}","s":{self.seq},"d":{data_json}}}'
        self.history.append((self.seq, text))
        if self.conn is not None:
            self.conn.enqueue(text)
        return self.seq


# =============================================================================================
# The server
# =============================================================================================


class FakeDiscord:
    """Discord REST v10 + gateway on 127.0.0.1, with a test-control API.

    Use as ``async with FakeDiscord(...) as dc:``; the server starts and stops in the
    running loop.  Setup methods (``add_*``) are synchronous; "acts" (``user_*``,
    ``invoke_command``...) are coroutines that return once the resulting dispatches were
    handed to the client's socket.  Every state change notifies ``wait_for`` waiters.
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
    ) -> None:
        """``clock``: the test's clock. Snowflakes, and so every message, channel and interaction time, and every
        other date the server writes, come from it, so a bot on that clock sees messages written "now"."""
        self.token = token
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

        self._cond = asyncio.Condition()
        self._notify_pending = False
        self._background: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------------ lifecycle

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

    # ------------------------------------------------------------------ change notification

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

    # ------------------------------------------------------------------ setup API (sync)

    def enable_intents(self, message_content: bool = True, members: bool = False, presences: bool = False) -> None:
        """Toggle the application's privileged intents (Developer Portal switches).

        Sessions identified before keep their intents, as on Discord.
        """
        self._privileged = {"message_content": message_content, "members": members, "presences": presences}
        self._touch()

    @property
    def application_flags(self) -> int:
        flags = APP_FLAG_APPLICATION_COMMAND_BADGE
        if self._privileged["message_content"]:
            flags |= APP_FLAG_GATEWAY_MESSAGE_CONTENT_LIMITED
        if self._privileged["members"]:
            flags |= APP_FLAG_GATEWAY_GUILD_MEMBERS_LIMITED
        if self._privileged["presences"]:
            flags |= APP_FLAG_GATEWAY_PRESENCE_LIMITED
        return flags

    def add_user(self, name: str, bot: bool = False) -> FakeUser:
        user = FakeUser(self._ids.next(), name, bot=bot)
        self._users[user.id] = user
        return user

    def add_guild(
        self,
        name: str,
        *,
        owner: FakeUser | None = None,
        bot_permissions: int = DEFAULT_BOT_PERMISSIONS,
        everyone_permissions: int = DEFAULT_EVERYONE_PERMISSIONS,
        shard: tuple[int, int] | None = None,
    ) -> FakeGuild:
        """A guild the bot is in, with @everyone, the bot's managed role, the bot and an owner.

        ``shard=(shard_id, shard_count)`` picks an id the sharding formula maps there.
        If a session already runs on that shard it receives GUILD_CREATE (as on a bot join).
        """
        gid = self._ids.next_for_shard(*shard) if shard else self._ids.next()
        owner = owner or self.add_user(f"{name}-owner")
        guild = FakeGuild(gid, name, owner.id, joined_ms=_snowflake_ms(gid))
        guild.roles[gid] = FakeRole(gid, gid, "@everyone", everyone_permissions)
        bot_role = FakeRole(
            self._ids.next(), gid, self.bot.name, bot_permissions, position=1, managed=True, bot_id=self.bot.id
        )
        guild.roles[bot_role.id] = bot_role
        self._guilds[gid] = guild
        self._add_member(guild, owner, [])
        self._add_member(guild, self.bot, [bot_role.id])
        for session in self._live_sessions():
            if session.owns_guild(gid) and session.intents & INTENT_GUILDS:
                session.push("GUILD_CREATE", self._guild_create_payload(guild, session))
        self._touch()
        return guild

    def add_role(self, guild: FakeGuild | int, name: str, permissions: int = 0) -> FakeRole:
        g = self._guild(guild)
        role = FakeRole(self._ids.next(), g.id, name, permissions, position=len(g.roles))
        g.roles[role.id] = role
        self._dispatch("GUILD_ROLE_CREATE", {"guild_id": str(g.id), "role": role.payload()}, g.id, INTENT_GUILDS)
        return role

    def add_member(
        self,
        guild: FakeGuild | int,
        user: FakeUser | int,
        admin: bool = False,
        permissions: int | None = None,
        *,
        roles: Sequence[FakeRole | int] = (),
        nick: str | None = None,
    ) -> FakeMember:
        """Join ``user`` to ``guild``; ``admin``/``permissions`` give it a dedicated role."""
        g = self._guild(guild)
        u = self._user(user)
        role_ids = [_id_of(r) for r in roles]
        if admin or permissions is not None:
            perms = P_ADMINISTRATOR if admin else int(permissions or 0)
            role = FakeRole(self._ids.next(), g.id, f"{u.name}-role", perms, position=len(g.roles))
            g.roles[role.id] = role
            self._dispatch("GUILD_ROLE_CREATE", {"guild_id": str(g.id), "role": role.payload()}, g.id, INTENT_GUILDS)
            role_ids.append(role.id)
        member = self._add_member(g, u, role_ids, nick=nick)
        data = {"guild_id": str(g.id), **self._member_payload(g, member)}
        self._dispatch("GUILD_MEMBER_ADD", data, g.id, INTENT_GUILD_MEMBERS)
        return member

    def _add_member(self, guild: FakeGuild, user: FakeUser, role_ids: list[int], nick: str | None = None) -> FakeMember:
        member = FakeMember(guild.id, user, role_ids, nick, joined_ms=self._ids.now_ms())
        guild.members[user.id] = member
        return member

    def add_channel(
        self,
        guild: FakeGuild | int,
        name: str,
        type: str = "text",
        *,
        parent: FakeChannel | int | None = None,
        topic: str | None = None,
    ) -> FakeChannel:
        """A guild channel: ``type`` is "text" (0), "forum" (15), "category" (4) or "announcement" (5)."""
        g = self._guild(guild)
        if type not in CHANNEL_KINDS:
            raise ValueError(f"unknown channel type {type!r}; use one of {sorted(CHANNEL_KINDS)}")
        cid = self._ids.next()
        channel = FakeChannel(
            cid,
            CHANNEL_KINDS[type],
            name,
            g.id,
            position=len(g.channel_ids),
            parent_id=_id_of(parent) if parent is not None else None,
            topic=topic,
            created_ms=_snowflake_ms(cid),
        )
        self._channels[cid] = channel
        g.channel_ids.append(cid)
        self._channel_messages[cid] = []
        self._dispatch("CHANNEL_CREATE", self._channel_payload(channel), g.id, INTENT_GUILDS)
        return channel

    def add_thread(self, channel: FakeChannel | int, name: str, owner: FakeUser | int) -> FakeChannel:
        """A public thread a user opened in ``channel`` (THREAD_CREATE to connected sessions)."""
        parent = self._channel(channel)
        thread = self._new_thread(parent, name, _id_of(owner), self._ids.next())
        return thread

    def add_emoji(self, guild: FakeGuild | int, name: str, animated: bool = False) -> Json:
        """A custom guild emoji the bot may react with (unknown custom emoji answer 10014)."""
        g = self._guild(guild)
        emoji = {
            "id": str(self._ids.next()),
            "name": name,
            "animated": animated,
            "roles": [],
            "require_colons": True,
            "managed": False,
            "available": True,
        }
        g.emojis.append(emoji)
        return {"id": emoji["id"], "name": name, "animated": animated}

    def deny_send(self, channel: FakeChannel | int) -> None:
        """Deny the bot SEND_MESSAGES (+ thread sends/creation) in ``channel`` via a member overwrite.

        REST sends then fail with 403 / 50013 Missing Permissions, and the bot's cache learns
        the overwrite through CHANNEL_UPDATE, as after a moderator's change.
        """
        ch = self._channel(channel)
        target = self._channels[ch.parent_id] if ch.is_thread and ch.parent_id else ch
        target.overwrites = [o for o in target.overwrites if not (o["type"] == 1 and o["id"] == self.bot.id)]
        target.overwrites.append({"id": self.bot.id, "type": 1, "allow": 0, "deny": SEND_DENY_MASK})
        self._dispatch("CHANNEL_UPDATE", self._channel_payload(target), target.guild_id, INTENT_GUILDS)

    def allow_send(self, channel: FakeChannel | int) -> None:
        """Undo :meth:`deny_send`."""
        ch = self._channel(channel)
        ch.overwrites = [o for o in ch.overwrites if not (o["type"] == 1 and o["id"] == self.bot.id)]
        self._dispatch("CHANNEL_UPDATE", self._channel_payload(ch), ch.guild_id, INTENT_GUILDS)

    def close_dms(self, user: FakeUser | int) -> None:
        """The user's privacy settings refuse DMs: sending to them answers 403 / 50007."""
        self._user(user).dms_closed = True

    def rate_limit(
        self, route_substring: str, times: int = 1, retry_after: float = 1.0, *, is_global: bool = False
    ) -> None:
        """Answer the next ``times`` requests whose ``"METHOD /path"`` contains ``route_substring``
        with 429 ("Rate Limits" > Exceeding A Rate Limit).  Path is below /api/v10, e.g.
        ``"POST /channels/123/messages"``; ``"/messages"`` matches any method.
        """
        self._rate_rules.append(_RateLimitRule(route_substring, times, retry_after, is_global))

    # ------------------------------------------------------------------ acts (async)

    async def user_sends(
        self,
        channel: FakeChannel | int,
        user: FakeUser | int,
        content: str,
        *,
        reference: FakeMessage | int | None = None,
        embeds: Sequence[Json] = (),
        dispatch: bool = True,
    ) -> FakeMessage:
        """A user posts in a guild channel/thread: MESSAGE_CREATE (content per MESSAGE_CONTENT)."""
        ch = self._channel(channel)
        u = self._user(user)
        if ch.guild_id is not None and u.id not in self._guilds[ch.guild_id].members:
            raise ValueError(f"{u.name} is not a member of guild {ch.guild_id}")
        msg = self._store_message(ch, u.id, content=content, embeds=list(embeds))
        if reference is not None:
            ref_id = _id_of(reference)
            msg.type = MSG_REPLY
            msg.message_reference = {"type": 0, "message_id": str(ref_id), "channel_id": str(ch.id)}
            if ch.guild_id is not None:
                msg.message_reference["guild_id"] = str(ch.guild_id)
        msg.mentions, msg.mention_roles, msg.mention_everyone = self._parse_mentions(content, None, ch)
        if dispatch:
            self._dispatch_message("MESSAGE_CREATE", msg)
            await self.flush()
        return msg

    async def user_sends_dm(self, user: FakeUser | int, content: str, *, dispatch: bool = True) -> FakeMessage:
        """A user DMs the bot (MESSAGE_CREATE on shard 0, DIRECT_MESSAGES intent)."""
        u = self._user(user)
        dm = self._dm_channel(u)
        msg = self._store_message(dm, u.id, content=content)
        if dispatch:
            self._dispatch_message("MESSAGE_CREATE", msg)
            await self.flush()
        return msg

    async def user_edits(self, channel: FakeChannel | int, message_id: FakeMessage | int, content: str) -> FakeMessage:
        msg = self._message(channel, message_id)
        msg.content = content
        msg.edited_ms = self._ids.now_ms()
        msg.mentions, msg.mention_roles, msg.mention_everyone = self._parse_mentions(
            content, None, self._channels[msg.channel_id]
        )
        self._dispatch_message("MESSAGE_UPDATE", msg)
        await self.flush()
        return msg

    async def user_deletes(self, channel: FakeChannel | int, message_id: FakeMessage | int) -> None:
        msg = self._message(channel, message_id)
        self._delete_message(msg)
        await self.flush()

    async def user_reacts(
        self, channel: FakeChannel | int, message_id: FakeMessage | int, user: FakeUser | int, emoji: str | Json
    ) -> None:
        """MESSAGE_REACTION_ADD (with ``member`` in guilds); a repeated reaction is a no-op, as on Discord."""
        msg = self._message(channel, message_id)
        if self._add_reaction(msg, _id_of(user), emoji, dispatch=True):
            await self.flush()

    async def user_unreacts(
        self, channel: FakeChannel | int, message_id: FakeMessage | int, user: FakeUser | int, emoji: str | Json
    ) -> None:
        msg = self._message(channel, message_id)
        if self._remove_reaction(msg, _id_of(user), emoji, dispatch=True):
            await self.flush()

    def react_while_offline(
        self, channel: FakeChannel | int, message_id: FakeMessage | int, user: FakeUser | int, emoji: str | Json
    ) -> None:
        """Record a reaction in REST state only -- the bot was down and never got the event."""
        self._add_reaction(self._message(channel, message_id), _id_of(user), emoji, dispatch=False)

    def unreact_while_offline(
        self, channel: FakeChannel | int, message_id: FakeMessage | int, user: FakeUser | int, emoji: str | Json
    ) -> None:
        self._remove_reaction(self._message(channel, message_id), _id_of(user), emoji, dispatch=False)

    async def clear_reactions(self, channel: FakeChannel | int, message_id: FakeMessage | int) -> None:
        """A moderator removes all reactions: MESSAGE_REACTION_REMOVE_ALL."""
        msg = self._message(channel, message_id)
        self._reactions.pop(msg.id, None)
        self._dispatch(
            "MESSAGE_REACTION_REMOVE_ALL", self._reaction_base(msg), msg.guild_id, self._reaction_intent(msg)
        )
        await self.flush()

    async def clear_emoji(self, channel: FakeChannel | int, message_id: FakeMessage | int, emoji: str | Json) -> None:
        """A moderator removes one emoji's reactions: MESSAGE_REACTION_REMOVE_EMOJI."""
        msg = self._message(channel, message_id)
        key, emoji_obj = _parse_emoji(emoji)
        self._reactions.get(msg.id, {}).pop(key, None)
        self._dispatch(
            "MESSAGE_REACTION_REMOVE_EMOJI",
            {**self._reaction_base(msg), "emoji": emoji_obj},
            msg.guild_id,
            self._reaction_intent(msg),
        )
        await self.flush()

    async def burst_reactions(
        self,
        channel: FakeChannel | int,
        message_ids: Sequence[FakeMessage | int],
        users: Sequence[FakeUser | int],
        emoji: str | Json,
        n: int,
        *,
        allow_duplicates: bool = False,
    ) -> int:
        """Push ``n`` MESSAGE_REACTION_ADD dispatches as fast as possible (benchmarks).

        Reaction i is by ``users[(i // len(message_ids)) % len(users)]`` on
        ``message_ids[i % len(message_ids)]``.  All payloads are built and queued in one go
        (no per-event awaits) and the call returns once the writer has handed every frame to
        the socket.  REST state is updated too.  Real Discord never sends a duplicate
        (same user, message, emoji) -- that raises unless ``allow_duplicates``.
        Returns the number of dispatches queued (summed over sessions).
        """
        if not message_ids or not users:
            raise ValueError("need at least one message and one user")
        if n > len(message_ids) * len(users) and not allow_duplicates:
            raise ValueError(f"{n} reactions need more than {len(message_ids)} messages x {len(users)} users")
        ch = self._channel(channel)
        msgs = [self._message(ch, m) for m in message_ids]
        key, emoji_obj = _parse_emoji(emoji)
        sessions = [
            s for s in self._live_sessions() if s.owns_guild(ch.guild_id) and s.intents & self._reaction_intent(msgs[0])
        ]
        guild = self._guilds.get(ch.guild_id) if ch.guild_id is not None else None
        user_ids = [_id_of(u) for u in users]
        # Serialise the constant parts once: the payload is "<message part>,<user part>}".
        message_parts = []
        for m in msgs:
            base: Json = {
                "type": 0,
                "channel_id": str(ch.id),
                "message_id": str(m.id),
                "message_author_id": str(m.author_id),
                "emoji": emoji_obj,
                "burst": False,
                "burst_colors": [],
            }
            if guild is not None:
                base["guild_id"] = str(guild.id)
            message_parts.append(_dumps(base)[:-1])
        user_parts: dict[int, str] = {}
        for uid in user_ids:
            part = f'"user_id":"{uid}"'
            member = guild.members.get(uid) if guild is not None else None
            if guild is not None and member is not None:
                part += ',"member":' + _dumps(self._member_payload(guild, member))
            user_parts[uid] = part + "}"
        queued = 0
        for i in range(n):
            mi = i % len(msgs)
            uid = user_ids[(i // len(msgs)) % len(user_ids)]
            self._reactions.setdefault(msgs[mi].id, {}).setdefault(key, (emoji_obj, {}))[1][uid] = None
            data_json = message_parts[mi] + "," + user_parts[uid]
            for session in sessions:
                session.push_raw("MESSAGE_REACTION_ADD", data_json)
                queued += 1
        self._touch()
        await self.flush()
        return queued

    async def invoke_command(
        self,
        guild: FakeGuild | int | None,
        channel: FakeChannel | int | None,
        user: FakeUser | int,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        subcommand: str | None = None,
        group: str | None = None,
        locale: str = "en-US",
    ) -> FakeInteraction:
        """A user runs a slash command: INTERACTION_CREATE type 2 built from the *stored* definition.

        Options are typed from the synced command (so an unsynced command or an unknown or
        missing required option raises -- the Discord client would not let the user send it).
        ``guild=None`` runs it in the user's DM with the bot (global commands only).
        """
        return await self._interaction(
            IT_APPLICATION_COMMAND,
            guild,
            channel,
            user,
            name,
            options or {},
            subcommand=subcommand,
            group=group,
            focused=None,
            locale=locale,
        )

    async def autocomplete(
        self,
        guild: FakeGuild | int | None,
        channel: FakeChannel | int | None,
        user: FakeUser | int,
        name: str,
        options: dict[str, Any],
        focused: str,
        *,
        subcommand: str | None = None,
        group: str | None = None,
    ) -> FakeInteraction:
        """Type 4 APPLICATION_COMMAND_AUTOCOMPLETE: ``focused`` names the option being typed;
        its value is sent as the partial string, per "Receiving and Responding" > Autocomplete.
        """
        return await self._interaction(
            IT_AUTOCOMPLETE,
            guild,
            channel,
            user,
            name,
            options,
            subcommand=subcommand,
            group=group,
            focused=focused,
            locale="en-US",
        )

    async def disconnect(self, code: int = CLOSE_UNKNOWN_ERROR, *, hold: bool = False) -> None:
        """Drop every gateway connection (sessions stay resumable).

        With ``hold=True`` new gateway connections wait until :meth:`release_gateway`, so a
        test can make things happen while the bot is away and then watch RESUME replay them.
        """
        if hold:
            self._gateway_gate.clear()
        for conn in list(self._connections):
            await conn.close(code, "fake disconnect")
        self._touch()

    def release_gateway(self) -> None:
        self._gateway_gate.set()

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT ("Gateway" > Reconnect): the client should resume elsewhere."""
        for conn in list(self._connections):
            conn.send_op(OP_RECONNECT, None)
        await self.flush()

    async def kill_session(self) -> None:
        """Invalidate every session and tell connected clients with op 9 (d=false): they must
        IDENTIFY again -- discord.py then waits in ``before_identify_hook`` (5 s by default)."""
        for session in list(self._sessions.values()):
            session.invalid = True
            if session.conn is not None:
                session.conn.send_op(OP_INVALID_SESSION, False)
        await self.flush()
        self._touch()

    async def flush(self) -> None:
        """Wait until every connection has written everything queued so far."""
        for conn in list(self._connections):
            await conn.flush()

    # ------------------------------------------------------------------ inspection

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

    @property
    def sessions(self) -> list[_Session]:
        return list(self._sessions.values())

    @property
    def connected_shards(self) -> list[tuple[int, int]]:
        return sorted(
            (s.shard_id, s.shard_count) for s in self._live_sessions() if s.conn is not None and not s.conn.closed
        )

    # ------------------------------------------------------------------ lookups

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

    def _live_sessions(self) -> list[_Session]:
        return [s for s in self._sessions.values() if not s.invalid]

    def _dm_channel(self, user: FakeUser) -> FakeChannel:
        cid = self._dm_by_user.get(user.id)
        if cid is None:
            cid = self._ids.next()
            self._channels[cid] = FakeChannel(cid, CH_DM, None, recipient_id=user.id, created_ms=_snowflake_ms(cid))
            self._channel_messages[cid] = []
            self._dm_by_user[user.id] = cid
        return self._channels[cid]

    # ------------------------------------------------------------------ permissions

    def permissions(
        self, guild: FakeGuild | int, user: FakeUser | int, channel: FakeChannel | int | None = None
    ) -> int:
        """Effective permissions per "Permissions" > Permission Overwrites (threads use the parent)."""
        g = self._guild(guild)
        uid = _id_of(user)
        if uid == g.owner_id:
            return ALL_PERMISSIONS
        member = g.members.get(uid)
        if member is None:
            return 0
        perms = g.everyone.permissions
        for rid in member.role_ids:
            if rid in g.roles:
                perms |= g.roles[rid].permissions
        if perms & P_ADMINISTRATOR:
            return ALL_PERMISSIONS
        if channel is None:
            return perms
        ch = self._channel(channel)
        if ch.is_thread and ch.parent_id is not None:
            ch = self._channels[ch.parent_id]
        overwrites = {(o["type"], o["id"]): o for o in ch.overwrites}
        everyone = overwrites.get((0, g.id))
        if everyone:
            perms = (perms & ~everyone["deny"]) | everyone["allow"]
        allow = deny = 0
        for rid in member.role_ids:
            o = overwrites.get((0, rid))
            if o:
                allow |= o["allow"]
                deny |= o["deny"]
        perms = (perms & ~deny) | allow
        own = overwrites.get((1, uid))
        if own:
            perms = (perms & ~own["deny"]) | own["allow"]
        if not perms & P_VIEW_CHANNEL:
            return 0  # "Permissions" > Implicit Permissions: no VIEW_CHANNEL denies everything else
        return perms

    def _check_send(self, ch: FakeChannel) -> None:
        if ch.is_dm:
            recipient = self._users[ch.recipient_id or 0]
            if recipient.dms_closed or recipient.bot:
                raise ApiError(403, 50007, "Cannot send messages to this user")
            return
        if ch.type == CH_GUILD_FORUM or ch.type == CH_GUILD_CATEGORY:
            raise ApiError(400, 50008, "Cannot send messages in a non-text channel")
        assert ch.guild_id is not None
        perms = self.permissions(ch.guild_id, self.bot.id, ch)
        if not perms & P_VIEW_CHANNEL:
            raise _missing_access()
        needed = P_SEND_MESSAGES_IN_THREADS if ch.is_thread else P_SEND_MESSAGES
        if not perms & needed:
            raise _missing_permissions()
        if ch.is_thread and ch.archived:
            raise ApiError(400, 50083, "Thread is archived")

    # ------------------------------------------------------------------ payload builders

    def _member_payload(
        self, guild: FakeGuild, member: FakeMember, *, with_user: bool = True, channel: FakeChannel | None = None
    ) -> Json:
        """Guild Member object ("Guild Resource"); ``permissions`` only inside interactions."""
        data: Json = {
            "roles": [str(r) for r in member.role_ids],
            "nick": member.nick,
            "avatar": None,
            "banner": None,
            "joined_at": _iso(member.joined_ms),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = member.user.payload()
        if channel is not None:
            data["permissions"] = str(self.permissions(guild, member.id, channel))
        return data

    def _channel_payload(self, ch: FakeChannel) -> Json:
        """Channel object ("Channel Resource") for text/forum/category/thread/DM channels."""
        if ch.is_dm:
            recipient = self._users[ch.recipient_id or 0]
            return {
                "id": str(ch.id),
                "type": CH_DM,
                "flags": 0,
                "recipients": [recipient.payload()],
                "last_message_id": str(ch.last_message_id) if ch.last_message_id else None,
            }
        data: Json = {
            "id": str(ch.id),
            "type": ch.type,
            "guild_id": str(ch.guild_id),
            "name": ch.name,
            "parent_id": str(ch.parent_id) if ch.parent_id else None,
            "last_message_id": str(ch.last_message_id) if ch.last_message_id else None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }
        if ch.is_thread:
            data.update(
                owner_id=str(ch.owner_id),
                message_count=ch.message_count,
                member_count=1,
                total_message_sent=ch.message_count,
                applied_tags=list(ch.applied_tags),
                thread_metadata={
                    "archived": ch.archived,
                    "auto_archive_duration": ch.auto_archive_duration,
                    "archive_timestamp": _iso(ch.created_ms),
                    "locked": False,
                    "create_timestamp": _iso(ch.created_ms),
                },
            )
            return data
        data.update(
            position=ch.position,
            permission_overwrites=[
                {"id": str(o["id"]), "type": o["type"], "allow": str(o["allow"]), "deny": str(o["deny"])}
                for o in ch.overwrites
            ],
            nsfw=False,
            topic=ch.topic,
            default_auto_archive_duration=1440,
            default_thread_rate_limit_per_user=0,
        )
        if ch.type == CH_GUILD_FORUM:
            data.update(available_tags=[], default_reaction_emoji=None, default_sort_order=None, default_forum_layout=0)
        return data

    def _guild_payload(self, guild: FakeGuild) -> Json:
        """Guild object ("Guild Resource" > Guild Object) -- the REST shape."""
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": str(guild.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "widget_enabled": False,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "roles": [r.payload() for r in guild.roles.values()],
            "emojis": list(guild.emojis),
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "max_members": 500000,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "safety_alerts_channel_id": None,
        }

    def _guild_create_payload(self, guild: FakeGuild, session: _Session) -> Json:
        """GUILD_CREATE ("Gateway Events" > Guild Create): the guild plus the extra gateway fields.

        Without GUILD_MEMBERS only the bot's own member is included, like Discord does; with
        it, all members (so discord.py counts the guild as chunked).
        """
        if session.intents & INTENT_GUILD_MEMBERS:
            members = list(guild.members.values())
        else:
            members = [guild.members[self.bot.id]]
        channels = [self._channels[c] for c in guild.channel_ids]
        threads = [c for c in self._channels.values() if c.is_thread and c.guild_id == guild.id and not c.archived]
        return {
            **self._guild_payload(guild),
            "joined_at": _iso(guild.joined_ms),
            "large": len(guild.members) >= 250,
            "unavailable": False,
            "member_count": len(guild.members),
            "voice_states": [],
            "members": [self._member_payload(guild, m) for m in members],
            "channels": [self._channel_payload(c) for c in channels],
            "threads": [self._channel_payload(t) for t in threads],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def _message_payload(self, msg: FakeMessage, *, gateway: bool = False) -> Json:
        """Message object ("Message Resource"); the gateway adds ``guild_id`` and ``member``."""
        author = self._users[msg.author_id]
        ch = self._channels.get(msg.channel_id)
        guild = self._guilds.get(msg.guild_id) if msg.guild_id is not None else None
        mentions = []
        for uid in msg.mentions:
            mentioned = self._users.get(uid)
            if mentioned is None:
                continue
            entry = mentioned.payload()
            if gateway and guild is not None and uid in guild.members:
                entry["member"] = self._member_payload(guild, guild.members[uid], with_user=False)
            mentions.append(entry)
        data: Json = {
            "id": str(msg.id),
            "channel_id": str(msg.channel_id),
            "author": author.payload(),
            "content": msg.content,
            "timestamp": _iso(_snowflake_ms(msg.id)),
            "edited_timestamp": _iso(msg.edited_ms) if msg.edited_ms else None,
            "tts": msg.tts,
            "mention_everyone": msg.mention_everyone,
            "mentions": mentions,
            "mention_roles": [str(r) for r in msg.mention_roles],
            "attachments": list(msg.attachments),
            "embeds": list(msg.embeds),
            "pinned": False,
            "type": msg.type,
            "flags": msg.flags,
            "components": list(msg.components),
        }
        if msg.nonce is not None:
            data["nonce"] = msg.nonce
        if msg.webhook_id is not None:
            data["webhook_id"] = str(msg.webhook_id)
            data["application_id"] = str(self.app_id)
        if msg.interaction_id is not None:
            inter = self._interactions[msg.interaction_id]
            data["interaction_metadata"] = {
                "id": str(inter.id),
                "type": inter.type,
                "user": self._users[inter.user_id].payload(),
                "authorizing_integration_owners": {"0": str(inter.guild_id)}
                if inter.guild_id
                else {"1": str(inter.user_id)},
                "name": inter.name,
                "command_type": 1,
            }
        if msg.message_reference is not None:
            data["message_reference"] = dict(msg.message_reference)
            ref = self._messages.get(msg.reference_id or 0)
            if msg.type == MSG_REPLY:
                data["referenced_message"] = self._message_payload(ref) if ref is not None and not ref.deleted else None
        if msg.thread_id is not None and msg.thread_id in self._channels:
            data["thread"] = self._channel_payload(self._channels[msg.thread_id])
        thread_messages = self._channel_messages.get(msg.channel_id, []) if ch is not None and ch.is_thread else []
        if msg.id in thread_messages:
            data["position"] = thread_messages.index(msg.id)
        if not gateway:
            reactions = self._reaction_summary(msg.id)
            if reactions:
                data["reactions"] = reactions
        if gateway and guild is not None:
            data["guild_id"] = str(guild.id)
            if msg.webhook_id is None and msg.author_id in guild.members:
                data["member"] = self._member_payload(guild, guild.members[msg.author_id], with_user=False)
        return data

    def _reaction_summary(self, message_id: int) -> list[Json]:
        summary = []
        for emoji_obj, users in self._reactions.get(message_id, {}).values():
            if users:
                summary.append(
                    {
                        "count": len(users),
                        "count_details": {"burst": 0, "normal": len(users)},
                        "me": self.bot.id in users,
                        "me_burst": False,
                        "emoji": emoji_obj,
                        "burst_colors": [],
                    }
                )
        return summary

    # ------------------------------------------------------------------ dispatching

    def _dispatch(
        self,
        event: str,
        data: Json,
        guild_id: int | None,
        intent: int | None,
        transform: Callable[[_Session, Json], Json] | None = None,
    ) -> None:
        """Send a DISPATCH to each live session whose shard owns ``guild_id`` and that asked
        for ``intent`` ("Gateway" > Gateway Intents lists which intent gates which event)."""
        for session in self._live_sessions():
            if not session.owns_guild(guild_id):
                continue
            if intent is not None and not session.intents & intent:
                continue
            session.push(event, transform(session, data) if transform else data)
        self._touch()

    def _dispatch_message(self, event: str, msg: FakeMessage) -> None:
        """MESSAGE_CREATE/UPDATE, with content hidden from sessions without MESSAGE_CONTENT.

        "Gateway" > Message Content Intent: without it content, embeds, attachments and
        components arrive empty -- except in DMs, for the bot's own messages and for
        messages that mention the bot.
        """
        payload = self._message_payload(msg, gateway=True)
        visible_anyway = msg.guild_id is None or msg.author_id == self.bot.id or self.bot.id in msg.mentions

        def redact(session: _Session, data: Json) -> Json:
            if visible_anyway or session.intents & INTENT_MESSAGE_CONTENT:
                return data
            return {**data, "content": "", "embeds": [], "attachments": [], "components": []}

        intent = INTENT_DIRECT_MESSAGES if msg.guild_id is None else INTENT_GUILD_MESSAGES
        self._dispatch(event, payload, msg.guild_id, intent, redact)

    @staticmethod
    def _reaction_intent(msg: FakeMessage) -> int:
        return INTENT_DIRECT_MESSAGE_REACTIONS if msg.guild_id is None else INTENT_GUILD_MESSAGE_REACTIONS

    @staticmethod
    def _reaction_base(msg: FakeMessage) -> Json:
        data: Json = {"channel_id": str(msg.channel_id), "message_id": str(msg.id)}
        if msg.guild_id is not None:
            data["guild_id"] = str(msg.guild_id)
        return data

    def _add_reaction(self, msg: FakeMessage, user_id: int, emoji: str | Json, *, dispatch: bool) -> bool:
        key, emoji_obj = _parse_emoji(emoji)
        users = self._reactions.setdefault(msg.id, {}).setdefault(key, (emoji_obj, {}))[1]
        if user_id in users:
            return False
        users[user_id] = None
        if dispatch:
            # "Gateway Events" > Message Reaction Add
            data: Json = {
                **self._reaction_base(msg),
                "user_id": str(user_id),
                "emoji": emoji_obj,
                "type": 0,
                "message_author_id": str(msg.author_id),
                "burst": False,
                "burst_colors": [],
            }
            guild = self._guilds.get(msg.guild_id) if msg.guild_id is not None else None
            if guild is not None and user_id in guild.members:
                data["member"] = self._member_payload(guild, guild.members[user_id])
            self._dispatch("MESSAGE_REACTION_ADD", data, msg.guild_id, self._reaction_intent(msg))
        else:
            self._touch()
        return True

    def _remove_reaction(self, msg: FakeMessage, user_id: int, emoji: str | Json, *, dispatch: bool) -> bool:
        key, emoji_obj = _parse_emoji(emoji)
        entry = self._reactions.get(msg.id, {}).get(key)
        if entry is None or user_id not in entry[1]:
            return False
        del entry[1][user_id]
        if dispatch:
            data = {**self._reaction_base(msg), "user_id": str(user_id), "emoji": emoji_obj, "type": 0, "burst": False}
            self._dispatch("MESSAGE_REACTION_REMOVE", data, msg.guild_id, self._reaction_intent(msg))
        else:
            self._touch()
        return True

    # ------------------------------------------------------------------ messages

    def _store_message(
        self,
        ch: FakeChannel,
        author_id: int,
        *,
        content: str = "",
        embeds: list[Json] | None = None,
        visible: bool = True,
        **fields: Any,
    ) -> FakeMessage:
        mid = fields.pop("id", None) or self._ids.next()
        msg = FakeMessage(mid, ch.id, ch.guild_id, author_id, content=content, embeds=embeds or [], **fields)
        self._messages[mid] = msg
        if visible:
            self._channel_messages.setdefault(ch.id, []).append(mid)
            ch.last_message_id = mid
            if ch.is_thread:
                ch.message_count += 1
        self._touch()
        return msg

    def _delete_message(self, msg: FakeMessage) -> None:
        msg.deleted = True
        self._reactions.pop(msg.id, None)
        if not msg.ephemeral:
            data = {"id": str(msg.id), "channel_id": str(msg.channel_id)}
            if msg.guild_id is not None:
                data["guild_id"] = str(msg.guild_id)
            intent = INTENT_DIRECT_MESSAGES if msg.guild_id is None else INTENT_GUILD_MESSAGES
            self._dispatch("MESSAGE_DELETE", data, msg.guild_id, intent)
        self._touch()

    def _parse_mentions(self, content: str, allowed: Json | None, ch: FakeChannel) -> tuple[list[int], list[int], bool]:
        """Who a message actually pings, honouring ``allowed_mentions``
        ("Message Resource" > Allowed Mentions Object; absent = parse everything)."""
        parse = {"users", "roles", "everyone"} if allowed is None else set(allowed.get("parse") or [])
        allowed_users = {int(u) for u in (allowed or {}).get("users") or []}
        allowed_roles = {int(r) for r in (allowed or {}).get("roles") or []}
        users = []
        for raw in _MENTION_RE.findall(content):
            uid = int(raw)
            if uid in self._users and ("users" in parse or uid in allowed_users) and uid not in users:
                users.append(uid)
        roles = []
        guild = self._guilds.get(ch.guild_id) if ch.guild_id is not None else None
        for raw in _ROLE_MENTION_RE.findall(content):
            rid = int(raw)
            if guild is not None and rid in guild.roles and ("roles" in parse or rid in allowed_roles):
                roles.append(rid)
        everyone = "everyone" in parse and ("@everyone" in content or "@here" in content)
        return users, roles, everyone

    def _message_from_body(self, ch: FakeChannel, body: Json, files: list[Json], *, partial: bool = False) -> Json:
        """Validate a message create/edit body; returns the normalised fields."""
        errors: Json = {}
        content = body.get("content")
        if content is not None and not isinstance(content, str):
            content = str(content)
        embeds = body.get("embeds")
        if body.get("embed") is not None and embeds is None:
            embeds = [body["embed"]]
        if content is not None and len(content) > MAX_CONTENT:
            _merge(
                errors, _field_error(["content"], "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_CONTENT} or fewer in length.")
            )
        if embeds is not None:
            _merge(errors, _validate_embeds(embeds))
        ref = body.get("message_reference")
        if ref and ref.get("message_id"):
            target = self._messages.get(int(ref["message_id"]))
            if (target is None or target.deleted) and ref.get("fail_if_not_exists", True):
                _merge(
                    errors, _field_error(["message_reference"], "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")
                )
        if errors:
            raise _invalid_form(errors)
        if not partial and not (
            content or embeds or files or body.get("sticker_ids") or body.get("components") or body.get("poll")
        ):
            raise ApiError(400, 50006, "Cannot send an empty message")
        return {"content": content, "embeds": embeds, "ref": ref}

    def _create_bot_message(
        self,
        ch: FakeChannel,
        body: Json,
        files: list[Json],
        *,
        visible: bool = True,
        webhook: bool = False,
        interaction: FakeInteraction | None = None,
        msg_type: int = MSG_DEFAULT,
        message_id: int | None = None,
    ) -> FakeMessage:
        fields = self._message_from_body(ch, body, files)
        flags = int(body.get("flags") or 0)
        ref = fields["ref"]
        embeds = [_normalise_embed(e) for e in fields["embeds"] or []]
        msg = self._store_message(
            ch,
            self.bot.id,
            content=fields["content"] or "",
            embeds=embeds,
            visible=visible,
            id=message_id,
            attachments=files,
            components=list(body.get("components") or []),
            flags=flags,
            tts=bool(body.get("tts")),
            nonce=body.get("nonce"),
            allowed_mentions=body.get("allowed_mentions"),
            webhook_id=self.app_id if webhook else None,
            interaction_id=interaction.id if interaction is not None else None,
            request=body,
            type=msg_type,
        )
        if ref and ref.get("message_id") and int(ref["message_id"]) in self._messages:
            msg.type = MSG_REPLY if msg_type == MSG_DEFAULT else msg_type
            msg.message_reference = {
                "type": int(ref.get("type", 0)),
                "message_id": str(ref["message_id"]),
                "channel_id": str(ref.get("channel_id") or ch.id),
            }
            if ch.guild_id is not None:
                msg.message_reference["guild_id"] = str(ch.guild_id)
        msg.mentions, msg.mention_roles, msg.mention_everyone = self._parse_mentions(
            msg.content, body.get("allowed_mentions"), ch
        )
        # "Allowed Mentions Object": replied_user defaults to false; without any allowed_mentions a reply
        # pings its author, as every mention is parsed then
        if msg.type == MSG_REPLY and msg.reference_id in self._messages:
            allowed = body.get("allowed_mentions")
            replied_user = True if allowed is None else bool(allowed.get("replied_user", False))
            target_author = self._messages[msg.reference_id or 0].author_id
            if replied_user and target_author not in msg.mentions:
                msg.mentions.append(target_author)
        return msg

    def _edit_bot_message(self, msg: FakeMessage, body: Json, files: list[Json]) -> None:
        ch = self._channels[msg.channel_id]
        fields = self._message_from_body(ch, body, files, partial=True)
        if fields["content"] is not None or "content" in body:
            msg.content = fields["content"] or ""
        if fields["embeds"] is not None:
            msg.embeds = [_normalise_embed(e) for e in fields["embeds"]]
        if "components" in body:
            msg.components = list(body.get("components") or [])
        if "flags" in body and body["flags"] is not None:
            # only SUPPRESS_EMBEDS may change; LOADING clears once the deferred reply is filled
            msg.flags = (msg.flags & ~(1 << 2)) | (int(body["flags"]) & (1 << 2))
        if "allowed_mentions" in body:
            msg.allowed_mentions = body["allowed_mentions"]
        if files or "attachments" in body:
            keep = {str(a.get("id")) for a in body.get("attachments") or []}
            msg.attachments = [a for a in msg.attachments if a["id"] in keep] + files
        msg.flags &= ~FLAG_LOADING
        msg.edited_ms = self._ids.now_ms()
        msg.request = body
        msg.mentions, msg.mention_roles, msg.mention_everyone = self._parse_mentions(
            msg.content, msg.allowed_mentions, ch
        )
        self._touch()

    # ------------------------------------------------------------------ threads

    def _new_thread(
        self,
        parent: FakeChannel,
        name: str,
        owner_id: int,
        thread_id: int,
        *,
        thread_type: int = CH_PUBLIC_THREAD,
        auto_archive: int = 1440,
        applied_tags: Sequence[str] = (),
    ) -> FakeChannel:
        thread = FakeChannel(
            thread_id,
            thread_type,
            name,
            parent.guild_id,
            parent_id=parent.id,
            owner_id=owner_id,
            auto_archive_duration=auto_archive,
            applied_tags=list(applied_tags),
            created_ms=self._ids.now_ms(),
        )
        self._channels[thread_id] = thread
        self._channel_messages[thread_id] = []
        # "Gateway Events" > Thread Create: newly_created is set for brand-new threads
        self._dispatch(
            "THREAD_CREATE", {**self._channel_payload(thread), "newly_created": True}, parent.guild_id, INTENT_GUILDS
        )
        return thread

    # ------------------------------------------------------------------ interactions

    async def _interaction(
        self,
        itype: int,
        guild: FakeGuild | int | None,
        channel: FakeChannel | int | None,
        user: FakeUser | int,
        name: str,
        options: dict[str, Any],
        *,
        subcommand: str | None,
        group: str | None,
        focused: str | None,
        locale: str,
    ) -> FakeInteraction:
        u = self._user(user)
        g = self._guild(guild) if guild is not None else None
        if g is not None:
            if channel is None:
                raise ValueError("a guild interaction needs a channel")
            ch = self._channel(channel)
            if u.id not in g.members:
                raise ValueError(f"{u.name} is not a member of {g.name}")
        else:
            ch = self._dm_channel(u)
        command = None
        if g is not None:
            command = next((c for c in self._commands.get(g.id, []) if c["name"] == name and c["type"] == 1), None)
        if command is None:
            command = next((c for c in self._commands.get(None, []) if c["name"] == name and c["type"] == 1), None)
        if command is None:
            raise LookupError(f"slash command {name!r} is not registered (did the bot sync its tree?)")
        resolved: Json = {}
        option_defs = command.get("options", [])
        if group is not None:
            gdef = _find_option(option_defs, group, OPT_SUB_COMMAND_GROUP)
            if subcommand is None:
                raise ValueError("a subcommand group needs a subcommand")
            sdef = _find_option(gdef.get("options", []), subcommand, OPT_SUB_COMMAND)
            inner = self._build_options(sdef.get("options", []), options, resolved, g, ch, focused)
            built = [
                {
                    "type": OPT_SUB_COMMAND_GROUP,
                    "name": group,
                    "options": [{"type": OPT_SUB_COMMAND, "name": subcommand, "options": inner}],
                }
            ]
        elif subcommand is not None:
            sdef = _find_option(option_defs, subcommand, OPT_SUB_COMMAND)
            inner = self._build_options(sdef.get("options", []), options, resolved, g, ch, focused)
            built = [{"type": OPT_SUB_COMMAND, "name": subcommand, "options": inner}]
        else:
            built = self._build_options(option_defs, options, resolved, g, ch, focused)
        data: Json = {"id": command["id"], "name": name, "type": 1}
        if built:
            data["options"] = built
        if resolved:
            data["resolved"] = resolved
        if command.get("guild_id"):
            data["guild_id"] = command["guild_id"]  # only for guild-registered commands
        iid = self._ids.next()
        token = f"fake-interaction-{uuid.uuid4().hex}"
        payload: Json = {
            "id": str(iid),
            "application_id": str(self.app_id),
            "type": itype,
            "data": data,
            "channel_id": str(ch.id),
            "channel": self._interaction_channel(ch, g, u),
            "token": token,
            "version": 1,
            "locale": locale,
            "entitlements": [],
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if g is not None:
            payload.update(
                guild_id=str(g.id),
                guild={"id": str(g.id), "locale": "en-US", "features": []},
                guild_locale="en-US",
                member=self._member_payload(g, g.members[u.id], channel=ch),
                app_permissions=str(self.permissions(g, self.bot.id, ch)),
                authorizing_integration_owners={"0": str(g.id)},
                context=0,
            )
        else:
            payload.update(
                user=u.payload(),
                app_permissions=str(DEFAULT_BOT_PERMISSIONS),
                authorizing_integration_owners={"0": "0"},
                context=1,
            )
        interaction = FakeInteraction(iid, token, itype, g.id if g else None, ch.id, u.id, name, payload)
        self._interactions[iid] = interaction
        self._interactions_by_token[token] = interaction
        # INTERACTION_CREATE needs no intent ("Gateway" > Gateway Intents)
        self._dispatch("INTERACTION_CREATE", payload, g.id if g else None, None)
        await self.flush()
        return interaction

    def _interaction_channel(self, ch: FakeChannel, g: FakeGuild | None, u: FakeUser) -> Json:
        data = self._channel_payload(ch)
        if g is not None:
            data["permissions"] = str(self.permissions(g, u.id, ch))
        return data

    def _build_options(
        self,
        defs: list[Json],
        values: dict[str, Any],
        resolved: Json,
        g: FakeGuild | None,
        ch: FakeChannel,
        focused: str | None,
    ) -> list[Json]:
        """Typed options ("Application Commands" > Application Command Interaction Data Option)."""
        leaf_defs = [d for d in defs if d["type"] not in (OPT_SUB_COMMAND, OPT_SUB_COMMAND_GROUP)]
        if not leaf_defs:
            return []
        built = []
        for name, value in values.items():
            d = next((x for x in leaf_defs if x["name"] == name), None)
            if d is None:
                raise ValueError(f"option {name!r} is not defined; defined: {[x['name'] for x in leaf_defs]}")
            otype = d["type"]
            entry: Json = {"name": name, "type": otype}
            if name == focused:
                entry["value"] = str(value)
                entry["focused"] = True
            else:
                entry["value"] = self._option_value(otype, value, resolved, g, ch)
                choices = d.get("choices")
                if choices and entry["value"] not in [c["value"] for c in choices]:
                    raise ValueError(f"{value!r} is not one of the choices of {name!r}")
            built.append(entry)
        missing = [d["name"] for d in leaf_defs if d.get("required") and d["name"] not in values]
        if missing and focused is None:
            raise ValueError(f"required options missing: {missing}")
        return built

    def _option_value(self, otype: int, value: Any, resolved: Json, g: FakeGuild | None, ch: FakeChannel) -> Any:
        if otype == OPT_STRING:
            return str(value)
        if otype == OPT_INTEGER:
            if isinstance(value, bool):
                raise ValueError("an INTEGER option needs an int")
            return int(value)
        if otype == OPT_NUMBER:
            return float(value)
        if otype == OPT_BOOLEAN:
            return bool(value)
        snowflake = _id_of(value)
        if otype in (OPT_USER, OPT_MENTIONABLE) and snowflake in self._users:
            user = self._users[snowflake]
            resolved.setdefault("users", {})[str(snowflake)] = user.payload()
            if g is not None and snowflake in g.members:
                resolved.setdefault("members", {})[str(snowflake)] = self._member_payload(
                    g, g.members[snowflake], with_user=False, channel=ch
                )
            return str(snowflake)
        if otype in (OPT_ROLE, OPT_MENTIONABLE) and g is not None and snowflake in g.roles:
            resolved.setdefault("roles", {})[str(snowflake)] = g.roles[snowflake].payload()
            return str(snowflake)
        if otype == OPT_CHANNEL and snowflake in self._channels:
            target = self._channels[snowflake]
            entry = self._channel_payload(target)
            if g is not None:
                entry["permissions"] = str(self.permissions(g, self.bot.id, target))
            resolved.setdefault("channels", {})[str(snowflake)] = entry
            return str(snowflake)
        raise ValueError(f"option value {value!r} does not resolve for option type {otype}")

    # ------------------------------------------------------------------ REST plumbing

    def _add_routes(self, app: web.Application) -> None:
        routes: list[tuple[str, str, Callable[[web.Request], Any]]] = [
            ("GET", "/gateway", self._h_gateway),
            ("GET", "/gateway/bot", self._h_gateway_bot),
            ("GET", "/users/@me", self._h_me),
            ("POST", "/users/@me/channels", self._h_create_dm),
            ("GET", "/users/{user_id}", self._h_user),
            ("GET", "/oauth2/applications/@me", self._h_application),
            ("GET", "/applications/@me", self._h_application),
            ("GET", "/applications/{application_id}/commands", self._h_get_commands),
            ("PUT", "/applications/{application_id}/commands", self._h_put_commands),
            ("GET", "/applications/{application_id}/guilds/{guild_id}/commands", self._h_get_commands),
            ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", self._h_put_commands),
            ("POST", "/interactions/{interaction_id}/{interaction_token}/callback", self._h_interaction_callback),
            ("POST", "/webhooks/{webhook_id}/{webhook_token}", self._h_followup),
            ("GET", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}", self._h_webhook_message),
            ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}", self._h_webhook_message),
            ("DELETE", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}", self._h_webhook_message),
            ("GET", "/channels/{channel_id}", self._h_get_channel),
            ("GET", "/channels/{channel_id}/messages", self._h_history),
            ("POST", "/channels/{channel_id}/messages", self._h_create_message),
            ("POST", "/channels/{channel_id}/typing", self._h_no_content),
            ("PUT", "/channels/{channel_id}/thread-members/@me", self._h_no_content),
            ("DELETE", "/channels/{channel_id}/thread-members/@me", self._h_no_content),
            ("POST", "/channels/{channel_id}/threads", self._h_start_thread),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self._h_get_message),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self._h_edit_message),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self._h_delete_message),
            ("POST", "/channels/{channel_id}/messages/{message_id}/threads", self._h_thread_from_message),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions", self._h_clear_reactions),
            ("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", self._h_add_reaction),
            (
                "DELETE",
                "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
                self._h_remove_own_reaction,
            ),
            (
                "DELETE",
                "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/{user_id}",
                self._h_remove_user_reaction,
            ),
            ("GET", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}", self._h_reaction_users),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}", self._h_clear_emoji),
            ("GET", "/guilds/{guild_id}", self._h_get_guild),
            ("GET", "/guilds/{guild_id}/channels", self._h_guild_channels),
            ("GET", "/guilds/{guild_id}/members", self._h_list_members),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self._h_get_member),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, API_PREFIX + path, handler)

    @staticmethod
    def _json(body: Any, status: int = 200) -> web.Response:
        # discord.py only parses JSON when Content-Type is exactly "application/json" (no charset)
        return web.Response(body=_dumps(body).encode(), status=status, headers={"Content-Type": "application/json"})

    @staticmethod
    def _no_content() -> web.Response:
        return web.Response(status=204)

    def _bucket(self, method: str, route: str, request: web.Request) -> _Bucket:
        # "Rate Limits": buckets are per route, split by top-level resource (channel, guild, webhook)
        major = "+".join(
            request.match_info.get(k, "") for k in ("channel_id", "guild_id", "webhook_id", "interaction_id")
        )
        name = hashlib.sha1(f"{method} {route}".encode()).hexdigest()[:16]
        key = f"{name}:{major}"
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(name, self.bucket_limit, self.bucket_window)
        return bucket

    def _ratelimit_headers(self, bucket: _Bucket, now: float) -> dict[str, str]:
        reset_after = max(0.0, bucket.reset_at - now)
        return {
            "X-RateLimit-Limit": str(bucket.limit),
            "X-RateLimit-Remaining": str(max(0, bucket.remaining)),
            "X-RateLimit-Reset": f"{self._ids.now_ms() / 1000 + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": bucket.name,
        }

    def _too_many(self, retry_after: float, bucket: _Bucket, *, is_global: bool, scope: str) -> web.Response:
        """429 per "Rate Limits" > Exceeding A Rate Limit.

        The ``Via`` header matters: discord.py treats a 429 *without* it as a Cloudflare ban
        and raises instead of waiting (discord/http.py, ``HTTPClient.request``).
        """
        response = self._json(
            {"message": "You are being rate limited.", "retry_after": retry_after, "global": is_global}, status=429
        )
        headers = self._ratelimit_headers(bucket, asyncio.get_running_loop().time())
        headers.update(
            {
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                "X-RateLimit-Reset": f"{self._ids.now_ms() / 1000 + retry_after:.3f}",
                "Retry-After": str(max(1, math.ceil(retry_after))),
                "X-RateLimit-Scope": scope,
                "Via": "1.1 google",
            }
        )
        if is_global:
            headers["X-RateLimit-Global"] = "true"
            del headers["X-RateLimit-Bucket"]
        response.headers.update(headers)
        return response

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX + "/"):
            result: web.StreamResponse = await handler(request)
            return result
        path = request.path[len(API_PREFIX) :]
        resource = request.match_info.route.resource
        route = resource.canonical[len(API_PREFIX) :] if resource is not None else path
        method = request.method
        body: Any = None
        files: list[Json] = []
        if request.content_type == "application/json" and request.can_read_body:
            try:
                body = json.loads(await request.read() or b"null")
            except ValueError:
                return self._json({"message": "400: Bad Request", "code": 50109}, 400)  # "invalid JSON"
        elif request.content_type.startswith("multipart/") and request.can_read_body:
            body, files = await self._read_multipart(request)
        request[_BODY] = body
        request[_FILES] = files
        record = RecordedRequest(method, path, route, dict(request.query), body)
        self.requests.append(record)
        self._request_counts[f"{method} {path}"] += 1
        if route != path:
            self._request_counts[f"{method} {route}"] += 1
        self._touch()

        loop_now = asyncio.get_running_loop().time()
        bucket = self._bucket(method, route, request)
        if loop_now >= bucket.reset_at:
            bucket.remaining = bucket.limit
            bucket.reset_at = loop_now + bucket.window

        # Interaction callbacks and webhook-token routes authenticate with the token in the URL.
        token_routes = route.startswith(("/interactions/", "/webhooks/{webhook_id}/{webhook_token}"))
        if not token_routes and request.headers.get("Authorization") != f"Bot {self.token}":
            response: web.StreamResponse = self._json({"message": "401: Unauthorized", "code": 0}, 401)
        elif (rule := self._take_rate_rule(f"{method} {path}")) is not None:
            response = self._too_many(
                rule.retry_after, bucket, is_global=rule.is_global, scope="global" if rule.is_global else "user"
            )
        elif bucket.remaining <= 0:
            response = self._too_many(round(bucket.reset_at - loop_now, 3), bucket, is_global=False, scope="user")
        else:
            bucket.remaining -= 1
            try:
                response = await handler(request)
            except ApiError as exc:
                response = self._json(exc.body(), exc.status)
            except web.HTTPNotFound:
                response = self._json({"message": "404: Not Found", "code": 0}, 404)
            except web.HTTPMethodNotAllowed:
                response = self._json({"message": "405: Method Not Allowed", "code": 0}, 405)
            response.headers.update(self._ratelimit_headers(bucket, loop_now))
        record.status = response.status
        return response

    def _take_rate_rule(self, key: str) -> _RateLimitRule | None:
        for rule in self._rate_rules:
            if rule.times > 0 and rule.pattern in key:
                rule.times -= 1
                if rule.times == 0:
                    self._rate_rules.remove(rule)
                return rule
        return None

    async def _read_multipart(self, request: web.Request) -> tuple[Any, list[Json]]:
        """``payload_json`` + ``files[n]`` ("Reference" > Uploading Files) -> body, attachments."""
        form = await request.post()
        body: Any = json.loads(str(form.get("payload_json") or "{}"))
        described = {str(a.get("id")): a for a in (body.get("attachments") or [])} if isinstance(body, dict) else {}
        files: list[Json] = []
        for key, value in form.items():
            if isinstance(value, web.FileField):
                index = key[key.find("[") + 1 : key.find("]")] if "[" in key else str(len(files))
                content = value.file.read()
                aid = self._ids.next()
                desc = described.get(index, {})
                files.append(
                    {
                        "id": str(aid),
                        "filename": desc.get("filename") or value.filename,
                        "size": len(content),
                        "content_type": value.content_type,
                        "url": f"{self.base_url}/attachments/{aid}/{value.filename}",
                        "proxy_url": f"{self.base_url}/attachments/{aid}/{value.filename}",
                        "description": desc.get("description"),
                    }
                )
        return body, files

    @staticmethod
    def _body(request: web.Request) -> Json:
        body = request.get(_BODY)
        return body if isinstance(body, dict) else {}

    def _rest_channel(self, request: web.Request) -> FakeChannel:
        ch = self._channels.get(int(request.match_info["channel_id"]))
        if ch is None:
            raise _unknown_channel()
        if ch.guild_id is not None and not self.permissions(ch.guild_id, self.bot.id, ch) & P_VIEW_CHANNEL:
            raise _missing_access()
        return ch

    def _rest_message(self, request: web.Request, ch: FakeChannel) -> FakeMessage:
        msg = self._messages.get(int(request.match_info["message_id"]))
        if msg is None or msg.deleted or msg.channel_id != ch.id or msg.ephemeral:
            raise _unknown_message()
        return msg

    def _rest_guild(self, request: web.Request) -> FakeGuild:
        guild = self._guilds.get(int(request.match_info["guild_id"]))
        if guild is None:
            raise ApiError(404, 10004, "Unknown Guild")
        return guild

    # ------------------------------------------------------------------ REST: gateway, users, app

    async def _h_gateway(self, request: web.Request) -> web.Response:
        return self._json({"url": self.gateway_url})

    async def _h_gateway_bot(self, request: web.Request) -> web.Response:
        # "Gateway" > Get Gateway Bot
        return self._json(
            {
                "url": self.gateway_url,
                "shards": self.recommended_shards,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 14_400_000,
                    "max_concurrency": 1,
                },
            }
        )

    async def _h_me(self, request: web.Request) -> web.Response:
        return self._json(
            {
                **self.bot.payload(),
                "verified": True,
                "mfa_enabled": False,
                "flags": 0,
                "email": None,
                "locale": "en-US",
                "premium_type": 0,
            }
        )

    async def _h_user(self, request: web.Request) -> web.Response:
        user = self._users.get(int(request.match_info["user_id"]))
        if user is None:
            raise ApiError(404, 10013, "Unknown User")
        return self._json(user.payload())

    async def _h_application(self, request: web.Request) -> web.Response:
        # "Application Resource" > Application Object
        return self._json(
            {
                "id": str(self.app_id),
                "name": self.bot.name,
                "icon": None,
                "description": "",
                "summary": "",
                "type": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "owner": self.owner.payload(),
                "team": None,
                "flags": self.application_flags,
                "bot": self.bot.payload(),
                "redirect_uris": [],
                "interactions_endpoint_url": None,
                "install_params": None,
                "integration_types_config": {"0": {}},
                "approximate_guild_count": len(self._guilds),
            }
        )

    async def _h_create_dm(self, request: web.Request) -> web.Response:
        body = self._body(request)
        try:
            user = self._users[int(body["recipient_id"])]
        except (KeyError, ValueError):
            error = _field_error(["recipient_id"], "BASE_TYPE_REQUIRED", "This field is required")
            raise _invalid_form(error) from None
        return self._json(self._channel_payload(self._dm_channel(user)))

    # ------------------------------------------------------------------ REST: commands

    def _command_scope(self, request: web.Request) -> int | None:
        if int(request.match_info["application_id"]) != self.app_id:
            raise ApiError(404, 10002, "Unknown Application")
        if "guild_id" in request.match_info:
            return self._rest_guild(request).id
        return None

    async def _h_get_commands(self, request: web.Request) -> web.Response:
        return self._json(self._commands.get(self._command_scope(request), []))

    async def _h_put_commands(self, request: web.Request) -> web.Response:
        """Bulk overwrite ("Application Commands" > Bulk Overwrite ...): ids survive for
        unchanged names, ``version`` changes when a definition changes."""
        scope = self._command_scope(request)
        body = request.get(_BODY)
        if not isinstance(body, list):
            raise _invalid_form(
                {"_errors": [{"code": "LIST_TYPE_CONVERT", "message": "Only iterables may be used in a ListType"}]}
            )
        _validate_commands(body)
        existing = {(c["name"], c["type"]): c for c in self._commands.get(scope, [])}
        stored = []
        changed = len(existing) != len(body)
        for raw in body:
            norm = _normalise_command(raw)
            old = existing.get((norm["name"], norm["type"]))
            same = old is not None and {k: old.get(k) for k in norm} == norm
            changed = changed or not same
            command = {
                **norm,
                "id": old["id"] if old else str(self._ids.next()),
                "application_id": str(self.app_id),
                "version": old["version"] if old and same else str(self._ids.next()),
            }
            if scope is not None:
                command["guild_id"] = str(scope)
            stored.append(command)
        self._commands[scope] = stored
        self._command_puts[scope] += 1
        if changed:
            self._command_changes[scope] += 1
        self._touch()
        return self._json(stored)

    # ------------------------------------------------------------------ REST: interactions

    def _interaction_for(self, request: web.Request) -> FakeInteraction:
        interaction = self._interactions_by_token.get(
            request.match_info.get("interaction_token") or request.match_info.get("webhook_token", "")
        )
        if interaction is None:
            if "webhook_id" in request.match_info:
                raise ApiError(404, 10015, "Unknown Webhook")
            raise ApiError(404, 10062, "Unknown interaction")
        if "interaction_id" in request.match_info and int(request.match_info["interaction_id"]) != interaction.id:
            raise ApiError(404, 10062, "Unknown interaction")
        if "webhook_id" in request.match_info and int(request.match_info["webhook_id"]) != self.app_id:
            raise ApiError(404, 10015, "Unknown Webhook")
        return interaction

    async def _h_interaction_callback(self, request: web.Request) -> web.Response:
        """ "Receiving and Responding" > Create Interaction Response (one per interaction)."""
        interaction = self._interaction_for(request)
        if interaction.acknowledged:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        body = self._body(request)
        cb_type = int(body.get("type", 0))
        data = body.get("data") or {}
        ch = self._channels[interaction.channel_id]
        message: FakeMessage | None = None
        if cb_type == CB_CHANNEL_MESSAGE_WITH_SOURCE:
            ephemeral = bool(int(data.get("flags") or 0) & FLAG_EPHEMERAL)
            message = self._create_bot_message(
                ch,
                data,
                request[_FILES],
                visible=not ephemeral,
                webhook=True,
                interaction=interaction,
                msg_type=MSG_CHAT_INPUT_COMMAND,
            )
            interaction.original_message_id = message.id
            if not ephemeral:
                self._dispatch_message("MESSAGE_CREATE", message)
        elif cb_type == CB_DEFERRED_CHANNEL_MESSAGE:
            flags = int(data.get("flags") or 0) & FLAG_EPHEMERAL
            interaction.deferred = True
            interaction.deferred_flags = flags
            # the "thinking..." placeholder is a real message with the LOADING flag
            message = self._store_message(
                ch,
                self.bot.id,
                visible=not flags,
                flags=flags | FLAG_LOADING,
                webhook_id=self.app_id,
                interaction_id=interaction.id,
                type=MSG_CHAT_INPUT_COMMAND,
                request=body,
            )
            interaction.original_message_id = message.id
            if not flags:
                self._dispatch_message("MESSAGE_CREATE", message)
        elif cb_type == CB_AUTOCOMPLETE_RESULT:
            if interaction.type != IT_AUTOCOMPLETE:
                raise ApiError(
                    400,
                    50035,
                    "Invalid Form Body",
                    _field_error(["type"], "INTERACTION_RESPONSE_TYPE_INVALID", "Invalid response type"),
                )
            choices = data.get("choices") or []
            if len(choices) > 25:
                raise _invalid_form(
                    _field_error(["data", "choices"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
                )
        elif cb_type not in (CB_DEFERRED_UPDATE_MESSAGE, CB_UPDATE_MESSAGE, CB_MODAL, 1):
            raise _invalid_form(
                _field_error(["type"], "BASE_TYPE_CHOICES", "Value must be one of {1, 4, 5, 6, 7, 8, 9}.")
            )
        interaction.responses.append(InteractionResponseRecord("callback", cb_type, data, message))
        self._touch()
        if request.query.get("with_response", "").lower() not in ("1", "true"):
            return self._no_content()
        result: Json = {
            "interaction": {
                "id": str(interaction.id),
                "type": interaction.type,
                "response_message_id": str(message.id) if message else None,
                "response_message_loading": cb_type == CB_DEFERRED_CHANNEL_MESSAGE,
                "response_message_ephemeral": bool(message and message.ephemeral),
            }
        }
        if message is not None:
            result["resource"] = {"type": cb_type, "message": self._message_payload(message)}
        else:
            result["resource"] = {"type": cb_type}
        return self._json(result)

    async def _h_followup(self, request: web.Request) -> web.Response:
        """Create Followup Message; after a deferred reply the first follow-up fills the placeholder."""
        interaction = self._interaction_for(request)
        if not interaction.acknowledged:  # the follow-up webhook exists only after the first response
            raise ApiError(404, 10015, "Unknown Webhook")
        body = self._body(request)
        ch = self._channels[interaction.channel_id]
        original = self._messages.get(interaction.original_message_id or 0)
        # a deleted placeholder is not filled: the follow-up is a message of its own (e.g. an ephemeral one)
        if interaction.deferred and original is not None and not original.deleted and original.flags & FLAG_LOADING:
            self._edit_bot_message(original, body, request[_FILES])
            msg = original
            if not msg.ephemeral:
                self._dispatch_message("MESSAGE_UPDATE", msg)
        else:
            ephemeral = bool(int(body.get("flags") or 0) & FLAG_EPHEMERAL)
            msg = self._create_bot_message(
                ch, body, request[_FILES], visible=not ephemeral, webhook=True, interaction=interaction
            )
            interaction.message_ids.append(msg.id)
            if not ephemeral:
                self._dispatch_message("MESSAGE_CREATE", msg)
        interaction.responses.append(InteractionResponseRecord("followup", None, body, msg))
        self._touch()
        if request.query.get("wait", "").lower() in ("1", "true"):
            return self._json(self._message_payload(msg))
        return self._no_content()

    async def _h_webhook_message(self, request: web.Request) -> web.Response:
        """GET/PATCH/DELETE ``/webhooks/{app}/{token}/messages/{id | @original}``."""
        interaction = self._interaction_for(request)
        raw_id = request.match_info["message_id"]
        if raw_id == "@original":
            mid = interaction.original_message_id
        else:
            mid = int(raw_id) if raw_id.isdigit() else None
            if mid not in interaction.message_ids and mid != interaction.original_message_id:
                mid = None
        msg = self._messages.get(mid or 0)
        if msg is None or msg.deleted:
            raise _unknown_message()
        if request.method == "GET":
            return self._json(self._message_payload(msg))
        if request.method == "DELETE":
            self._delete_message(msg)
            interaction.responses.append(InteractionResponseRecord("delete", None, {}, msg))
            return self._no_content()
        body = self._body(request)
        self._edit_bot_message(msg, body, request[_FILES])
        interaction.responses.append(InteractionResponseRecord("edit", None, body, msg))
        if not msg.ephemeral:
            self._dispatch_message("MESSAGE_UPDATE", msg)
        return self._json(self._message_payload(msg))

    # ------------------------------------------------------------------ REST: channels & messages

    async def _h_no_content(self, request: web.Request) -> web.Response:
        self._rest_channel(request)
        return self._no_content()

    async def _h_get_channel(self, request: web.Request) -> web.Response:
        return self._json(self._channel_payload(self._rest_channel(request)))

    async def _h_history(self, request: web.Request) -> web.Response:
        """Get Channel Messages: newest first, ``before``/``after``/``around``, limit 1-100."""
        ch = self._rest_channel(request)
        if ch.history_refused:
            raise _missing_access()
        limit = _query_int(request, "limit", 50, 1, 100)
        ids = [m.id for m in self.messages(ch)]
        if "before" in request.query:
            before = int(request.query["before"])
            chosen = [i for i in ids if i < before][-limit:]
        elif "after" in request.query:
            after = int(request.query["after"])
            chosen = [i for i in ids if i > after][:limit]
        elif "around" in request.query:
            around = int(request.query["around"])
            older = [i for i in ids if i <= around][-(limit // 2 + limit % 2) :]
            chosen = older + [i for i in ids if i > around][: limit // 2]
        else:
            chosen = ids[-limit:]
        return self._json([self._message_payload(self._messages[i]) for i in sorted(chosen, reverse=True)])

    async def _h_create_message(self, request: web.Request) -> web.Response:
        ch = self._rest_channel(request)
        self._check_send(ch)
        msg = self._create_bot_message(ch, self._body(request), request[_FILES])
        self._dispatch_message("MESSAGE_CREATE", msg)  # Discord echoes the bot's own message
        return self._json(self._message_payload(msg))

    async def _h_get_message(self, request: web.Request) -> web.Response:
        ch = self._rest_channel(request)
        return self._json(self._message_payload(self._rest_message(request, ch)))

    async def _h_edit_message(self, request: web.Request) -> web.Response:
        ch = self._rest_channel(request)
        msg = self._rest_message(request, ch)
        if msg.author_id != self.bot.id:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        self._edit_bot_message(msg, self._body(request), request[_FILES])
        self._dispatch_message("MESSAGE_UPDATE", msg)
        return self._json(self._message_payload(msg))

    async def _h_delete_message(self, request: web.Request) -> web.Response:
        ch = self._rest_channel(request)
        msg = self._rest_message(request, ch)
        if (
            msg.author_id != self.bot.id
            and ch.guild_id is not None
            and not (self.permissions(ch.guild_id, self.bot.id, ch) & P_MANAGE_MESSAGES)
        ):
            raise _missing_permissions()
        self._delete_message(msg)
        return self._no_content()

    async def _h_thread_from_message(self, request: web.Request) -> web.Response:
        """Start Thread from Message: the thread's id IS the message's id ("Channel Resource")."""
        ch = self._rest_channel(request)
        msg = self._rest_message(request, ch)
        body = self._body(request)
        name = _check_thread_name(body)
        if ch.type not in (CH_GUILD_TEXT, CH_GUILD_ANNOUNCEMENT):
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        if msg.thread_id is not None:
            raise ApiError(400, 160004, "A thread has already been created for this message")
        assert ch.guild_id is not None
        if not self.permissions(ch.guild_id, self.bot.id, ch) & P_CREATE_PUBLIC_THREADS:
            raise _missing_permissions()
        thread = self._new_thread(
            ch,
            name,
            self.bot.id,
            msg.id,
            thread_type=10 if ch.type == CH_GUILD_ANNOUNCEMENT else CH_PUBLIC_THREAD,
            auto_archive=int(body.get("auto_archive_duration") or 1440),
        )
        msg.thread_id = thread.id
        msg.flags |= FLAG_HAS_THREAD
        self._dispatch_message("MESSAGE_UPDATE", msg)
        return self._json(self._channel_payload(thread))

    async def _h_start_thread(self, request: web.Request) -> web.Response:
        """Start Thread without Message, or in a forum: a forum post needs ``message`` and its
        starter message shares the thread's id ("Channel Resource" > Start Thread in Forum)."""
        ch = self._rest_channel(request)
        body = self._body(request)
        name = _check_thread_name(body)
        assert ch.guild_id is not None
        perms = self.permissions(ch.guild_id, self.bot.id, ch)
        if ch.type == CH_GUILD_FORUM:
            message_body = body.get("message")
            if not isinstance(message_body, dict):
                raise _invalid_form(_field_error(["message"], "BASE_TYPE_REQUIRED", "This field is required"))
            if not perms & P_SEND_MESSAGES:  # forum posts need SEND_MESSAGES ("Permissions")
                raise _missing_permissions()
            self._message_from_body(ch, message_body, request[_FILES])  # validate before creating anything
            thread_id = self._ids.next()
            thread = self._new_thread(
                ch,
                name,
                self.bot.id,
                thread_id,
                auto_archive=int(body.get("auto_archive_duration") or 1440),
                applied_tags=[str(t) for t in body.get("applied_tags") or []],
            )
            starter = self._create_bot_message(thread, message_body, request[_FILES], message_id=thread_id)
            self._dispatch_message("MESSAGE_CREATE", starter)
            return self._json({**self._channel_payload(thread), "message": self._message_payload(starter)})
        if ch.type not in (CH_GUILD_TEXT, CH_GUILD_ANNOUNCEMENT):
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        thread_type = int(body.get("type") or CH_PRIVATE_THREAD)
        needed = P_CREATE_PRIVATE_THREADS if thread_type == CH_PRIVATE_THREAD else P_CREATE_PUBLIC_THREADS
        if not perms & needed:
            raise _missing_permissions()
        thread = self._new_thread(
            ch,
            name,
            self.bot.id,
            self._ids.next(),
            thread_type=thread_type,
            auto_archive=int(body.get("auto_archive_duration") or 1440),
        )
        return self._json(self._channel_payload(thread))

    # ------------------------------------------------------------------ REST: reactions

    async def _h_add_reaction(self, request: web.Request) -> web.Response:
        ch = self._rest_channel(request)
        msg = self._rest_message(request, ch)
        key, emoji_obj = _parse_emoji(request.match_info["emoji"])
        if emoji_obj["id"] is not None and not any(
            e["id"] == emoji_obj["id"] for g in self._guilds.values() for e in g.emojis
        ):
            raise ApiError(400, 10014, "Unknown Emoji")
        existing = self._reactions.get(msg.id, {}).get(key)
        first_of_its_kind = not (existing and existing[1])  # adding to an existing reaction needs no permission
        if (
            ch.guild_id is not None
            and first_of_its_kind
            and not (self.permissions(ch.guild_id, self.bot.id, ch) & P_ADD_REACTIONS)
        ):
            raise _missing_permissions()
        self._add_reaction(msg, self.bot.id, emoji_obj, dispatch=True)
        return self._no_content()

    async def _h_remove_own_reaction(self, request: web.Request) -> web.Response:
        ch = self._rest_channel(request)
        msg = self._rest_message(request, ch)
        self._remove_reaction(msg, self.bot.id, request.match_info["emoji"], dispatch=True)
        return self._no_content()

    async def _h_remove_user_reaction(self, request: web.Request) -> web.Response:
        ch = self._rest_channel(request)
        msg = self._rest_message(request, ch)
        if ch.guild_id is not None and not self.permissions(ch.guild_id, self.bot.id, ch) & P_MANAGE_MESSAGES:
            raise _missing_permissions()
        self._remove_reaction(msg, int(request.match_info["user_id"]), request.match_info["emoji"], dispatch=True)
        return self._no_content()

    async def _h_reaction_users(self, request: web.Request) -> web.Response:
        """Get Reactions: users ordered by id, ``after`` a user id, ``limit`` 1-100 (default 25)."""
        ch = self._rest_channel(request)
        msg = self._rest_message(request, ch)
        key, _ = _parse_emoji(request.match_info["emoji"])
        limit = _query_int(request, "limit", 25, 1, 100)
        after = int(request.query.get("after", "0") or 0)
        if request.query.get("type", "0") == "1":  # burst (super) reactions: the fake has none
            return self._json([])
        entry = self._reactions.get(msg.id, {}).get(key)
        ids = sorted(u for u in (entry[1] if entry else {}) if u > after)[:limit]
        return self._json([self._users[u].payload() for u in ids])

    async def _h_clear_reactions(self, request: web.Request) -> web.Response:
        ch = self._rest_channel(request)
        msg = self._rest_message(request, ch)
        if ch.guild_id is not None and not self.permissions(ch.guild_id, self.bot.id, ch) & P_MANAGE_MESSAGES:
            raise _missing_permissions()
        await self.clear_reactions(ch, msg)
        return self._no_content()

    async def _h_clear_emoji(self, request: web.Request) -> web.Response:
        ch = self._rest_channel(request)
        msg = self._rest_message(request, ch)
        if ch.guild_id is not None and not self.permissions(ch.guild_id, self.bot.id, ch) & P_MANAGE_MESSAGES:
            raise _missing_permissions()
        await self.clear_emoji(ch, msg, request.match_info["emoji"])
        return self._no_content()

    # ------------------------------------------------------------------ REST: guilds

    async def _h_get_guild(self, request: web.Request) -> web.Response:
        guild = self._rest_guild(request)
        data = self._guild_payload(guild)
        if request.query.get("with_counts", "").lower() in ("1", "true"):
            data.update(approximate_member_count=len(guild.members), approximate_presence_count=0)
        return self._json(data)

    async def _h_guild_channels(self, request: web.Request) -> web.Response:
        guild = self._rest_guild(request)
        return self._json([self._channel_payload(self._channels[c]) for c in guild.channel_ids])

    async def _h_list_members(self, request: web.Request) -> web.Response:
        """List Guild Members needs the GUILD_MEMBERS privileged intent enabled for the app."""
        guild = self._rest_guild(request)
        if not self._privileged["members"]:
            raise _missing_access()
        limit = _query_int(request, "limit", 1, 1, 1000)
        after = int(request.query.get("after", "0") or 0)
        ids = sorted(u for u in guild.members if u > after)[:limit]
        return self._json([self._member_payload(guild, guild.members[u]) for u in ids])

    async def _h_get_member(self, request: web.Request) -> web.Response:
        guild = self._rest_guild(request)
        member = guild.members.get(int(request.match_info["user_id"]))
        if member is None:
            raise ApiError(404, 10007, "Unknown Member")
        return self._json(self._member_payload(guild, member))

    # ------------------------------------------------------------------ gateway

    async def _gateway_handler(self, request: web.Request) -> web.StreamResponse:
        self.gateway_attempts += 1
        self._touch()
        await self._gateway_gate.wait()
        ws = web.WebSocketResponse(max_msg_size=0, autoclose=True, autoping=True)
        try:
            await ws.prepare(request)
        except ConnectionResetError:  # the client gave up while the connection was held: nobody to answer
            return ws
        query = request.query
        compress = query.get("compress")
        try:
            conn = _Connection(ws, compress)
        except (ValueError, ImportError):
            await ws.close(code=CLOSE_DECODE_ERROR, message=b"Unsupported compression.")
            return ws
        self._connections.add(conn)
        try:
            if query.get("encoding", "json") != "json":
                await conn.close_after_flush(CLOSE_DECODE_ERROR, "Only encoding=json is supported by the fake.")
                return ws
            if query.get("v") not in ("9", "10"):
                await conn.close_after_flush(CLOSE_INVALID_API_VERSION, "Invalid API version.")
                return ws
            conn.send_op(OP_HELLO, {"heartbeat_interval": self.heartbeat_interval, "_trace": ["fake-gateway"]})
            async for msg in ws:
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    await self._on_gateway_message(conn, msg.data)
                    if conn.closed:
                        break
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            self._connections.discard(conn)
            conn.stop()
            code = conn.close_code if conn.server_closed else ws.close_code
            if code is not None:
                self.gateway_closes.append(code)
            session = conn.session
            if session is not None and session.conn is conn:
                session.conn = None
                # "Gateway" > Disconnecting: a client close with 1000/1001 ends the session
                if not conn.server_closed and code in (1000, 1001):
                    session.invalid = True
            self._touch()
        return ws

    async def _on_gateway_message(self, conn: _Connection, raw: str | bytes) -> None:
        try:
            packet = json.loads(raw)
            op = packet["op"]
            data = packet.get("d")
        except (ValueError, KeyError, TypeError):
            await conn.close_after_flush(CLOSE_DECODE_ERROR, "Error while decoding payload.")
            return
        if op == OP_HEARTBEAT:
            self.heartbeats += 1
            conn.send_op(OP_HEARTBEAT_ACK, None)
            self._touch()
        elif op == OP_IDENTIFY:
            await self._identify(conn, data or {})
        elif op == OP_RESUME:
            await self._resume(conn, data or {})
        elif not conn.identified:
            await conn.close_after_flush(CLOSE_NOT_AUTHENTICATED, "Not authenticated.")
        elif op == OP_REQUEST_GUILD_MEMBERS:
            self._request_guild_members(conn, data or {})
        elif op == OP_PRESENCE_UPDATE:
            if conn.session is not None:
                conn.session.presence = data
            self._touch()
        elif op == OP_VOICE_STATE_UPDATE:
            pass
        else:
            await conn.close_after_flush(CLOSE_UNKNOWN_OPCODE, "Unknown opcode.")

    async def _identify(self, conn: _Connection, data: Json) -> None:
        """IDENTIFY ("Gateway Events" > Identify) with the checks whose close codes the docs list."""
        if conn.identified:
            await conn.close_after_flush(CLOSE_ALREADY_AUTHENTICATED, "Already authenticated.")
            return
        if data.get("token") != self.token:
            await conn.close_after_flush(CLOSE_AUTHENTICATION_FAILED, "Authentication failed.")
            return
        intents = data.get("intents")
        if not isinstance(intents, int) or intents & ~VALID_INTENTS:
            await conn.close_after_flush(CLOSE_INVALID_INTENTS, "Invalid intent(s).")
            return
        disallowed = (
            (intents & INTENT_MESSAGE_CONTENT and not self._privileged["message_content"])
            or (intents & INTENT_GUILD_MEMBERS and not self._privileged["members"])
            or (intents & INTENT_GUILD_PRESENCES and not self._privileged["presences"])
        )
        if disallowed:
            await conn.close_after_flush(CLOSE_DISALLOWED_INTENTS, "Disallowed intent(s).")
            return
        shard = data.get("shard") or [0, 1]
        try:
            shard_id, shard_count = int(shard[0]), int(shard[1])
        except (TypeError, ValueError, IndexError):
            shard_id, shard_count = -1, 0
        if shard_count < 1 or not 0 <= shard_id < shard_count:
            await conn.close_after_flush(CLOSE_INVALID_SHARD, "Invalid shard.")
            return
        session = _Session(uuid.uuid4().hex, shard_id, shard_count, intents)
        guilds = [g for g in self._guilds.values() if session.owns_guild(g.id)]
        if len(guilds) > self.max_guilds_per_shard:
            await conn.close_after_flush(CLOSE_SHARDING_REQUIRED, "Sharding required.")
            return
        conn.identified = True
        conn.session = session
        session.conn = conn
        session.presence = data.get("presence")
        self._sessions[session.session_id] = session
        self.identifies += 1
        ready: Json = {
            "v": API_VERSION,
            "user": {**self.bot.payload(), "verified": True, "mfa_enabled": False, "flags": 0, "email": None},
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.app_id), "flags": self.application_flags},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "_trace": ["fake-gateway"],
        }
        if data.get("shard") is not None:
            ready["shard"] = [shard_id, shard_count]
        session.push("READY", ready)
        # "Gateway" > Connections: the unavailable guilds of READY are filled in by GUILD_CREATE
        if intents & INTENT_GUILDS:
            for guild in guilds:
                session.push("GUILD_CREATE", self._guild_create_payload(guild, session))
        self._touch()

    async def _resume(self, conn: _Connection, data: Json) -> None:
        """RESUME: replay what the session missed after ``seq``, then RESUMED ("Gateway" > Resuming)."""
        if conn.identified:
            await conn.close_after_flush(CLOSE_ALREADY_AUTHENTICATED, "Already authenticated.")
            return
        if data.get("token") != self.token:
            await conn.close_after_flush(CLOSE_AUTHENTICATION_FAILED, "Authentication failed.")
            return
        session = self._sessions.get(str(data.get("session_id")))
        seq = int(data.get("seq") or 0)
        too_old = bool(session and session.history and seq < session.history[0][0] - 1)
        if session is None or session.invalid or too_old:
            conn.send_op(OP_INVALID_SESSION, False)  # not resumable: the client must IDENTIFY
            return
        if seq > session.seq:
            await conn.close_after_flush(CLOSE_INVALID_SEQ, "Invalid seq.")
            return
        old = session.conn
        if old is not None and old is not conn:
            await old.close(CLOSE_UNKNOWN_ERROR, "Session resumed elsewhere.")
        conn.identified = True
        conn.session = session
        session.conn = conn
        self.resumes += 1
        conn.enqueue_many(text for s, text in session.history if s > seq)
        session.push("RESUMED", {"_trace": ["fake-gateway"]})
        self._touch()

    def _request_guild_members(self, conn: _Connection, data: Json) -> None:
        """op 8 answered with a single GUILD_MEMBERS_CHUNK ("Gateway Events" > Request Guild Members)."""
        session = conn.session
        assert session is not None
        raw_ids = data.get("guild_id")
        guild_ids = raw_ids if isinstance(raw_ids, list) else [raw_ids]
        for raw in guild_ids:
            guild = self._guilds.get(int(raw))
            if guild is None:
                continue
            limit = int(data.get("limit") or 0) or len(guild.members)
            wanted = data.get("user_ids")
            if wanted is not None:
                wanted_ids = [int(u) for u in (wanted if isinstance(wanted, list) else [wanted])]
                members = [guild.members[u] for u in wanted_ids if u in guild.members]
                not_found = [str(u) for u in wanted_ids if u not in guild.members]
            else:
                prefix = str(data.get("query") or "").lower()
                members = [m for m in guild.members.values() if m.user.name.lower().startswith(prefix)]
                not_found = []
            chunk: Json = {
                "guild_id": str(guild.id),
                "members": [self._member_payload(guild, m) for m in members[:limit]],
                "chunk_index": 0,
                "chunk_count": 1,
            }
            if not_found:
                chunk["not_found"] = not_found
            if data.get("presences"):
                chunk["presences"] = []
            if data.get("nonce") is not None:
                chunk["nonce"] = data["nonce"]
            session.push("GUILD_MEMBERS_CHUNK", chunk)
        self._touch()


# =============================================================================================
# Validation helpers ("Message Resource" limits, "Application Commands" naming)
# =============================================================================================


def _parse_emoji(emoji: str | Json) -> tuple[str, Json]:
    """Key + emoji object: unicode ``{"id": None, "name": "👍"}`` or custom ``name:id``."""
    if isinstance(emoji, dict):
        if emoji.get("id"):
            return (
                f"{emoji['name']}:{emoji['id']}",
                {"id": str(emoji["id"]), "name": emoji["name"], "animated": bool(emoji.get("animated"))},
            )
        return str(emoji["name"]), {"id": None, "name": emoji["name"]}
    text = emoji.strip("<>")
    match = _CUSTOM_EMOJI_RE.match(text)
    if match:
        return f"{match[1]}:{match[2]}", {"id": match[2], "name": match[1], "animated": text.startswith("a:")}
    return text, {"id": None, "name": text}


def _normalise_embed(embed: Json) -> Json:
    out = dict(embed)
    out.setdefault("type", "rich")
    return out


def _embed_text_length(embed: Json) -> int:
    fields = embed.get("fields") or []
    return (
        len(embed.get("title") or "")
        + len(embed.get("description") or "")
        + sum(len(f.get("name") or "") + len(f.get("value") or "") for f in fields)
        + len((embed.get("footer") or {}).get("text") or "")
        + len((embed.get("author") or {}).get("name") or "")
    )


def _validate_embeds(embeds: Any) -> Json:
    """Embed limits from "Message Resource" > Embed Limits, reported as nested 50035 errors."""
    errors: Json = {}
    if not isinstance(embeds, list):
        return _field_error(["embeds"], "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
    if len(embeds) > MAX_EMBEDS:
        _merge(errors, _field_error(["embeds"], "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_EMBEDS} or fewer in length."))
    limits = (("title", MAX_EMBED_TITLE), ("description", MAX_EMBED_DESCRIPTION))
    for i, embed in enumerate(embeds):
        for key, limit in limits:
            if len(embed.get(key) or "") > limit:
                _merge(
                    errors,
                    _field_error(["embeds", i, key], "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length."),
                )
        footer = (embed.get("footer") or {}).get("text") or ""
        if len(footer) > MAX_FOOTER_TEXT:
            _merge(
                errors,
                _field_error(
                    ["embeds", i, "footer", "text"],
                    "BASE_TYPE_MAX_LENGTH",
                    f"Must be {MAX_FOOTER_TEXT} or fewer in length.",
                ),
            )
        author = (embed.get("author") or {}).get("name") or ""
        if len(author) > MAX_AUTHOR_NAME:
            _merge(
                errors,
                _field_error(
                    ["embeds", i, "author", "name"],
                    "BASE_TYPE_MAX_LENGTH",
                    f"Must be {MAX_AUTHOR_NAME} or fewer in length.",
                ),
            )
        fields = embed.get("fields") or []
        if len(fields) > MAX_EMBED_FIELDS:
            _merge(
                errors,
                _field_error(
                    ["embeds", i, "fields"], "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_EMBED_FIELDS} or fewer in length."
                ),
            )
        for j, fld in enumerate(fields):
            for key, limit in (("name", MAX_FIELD_NAME), ("value", MAX_FIELD_VALUE)):
                text = fld.get(key)
                if not text:
                    _merge(
                        errors,
                        _field_error(["embeds", i, "fields", j, key], "BASE_TYPE_REQUIRED", "This field is required"),
                    )
                elif len(text) > limit:
                    _merge(
                        errors,
                        _field_error(
                            ["embeds", i, "fields", j, key],
                            "BASE_TYPE_MAX_LENGTH",
                            f"Must be {limit} or fewer in length.",
                        ),
                    )
    if not errors and sum(_embed_text_length(e) for e in embeds) > MAX_EMBED_TOTAL:
        _merge(
            errors,
            _field_error(
                ["embeds"], "MAX_EMBED_SIZE_EXCEEDED", f"Embed size exceeds maximum size of {MAX_EMBED_TOTAL}"
            ),
        )
    return errors


def _check_thread_name(body: Json) -> str:
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise _invalid_form(_field_error(["name"], "BASE_TYPE_REQUIRED", "This field is required"))
    if len(name) > 100:
        raise _invalid_form(_field_error(["name"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."))
    return name


def _query_int(request: web.Request, key: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(key)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _invalid_form(_field_error([key], "NUMBER_TYPE_COERCE", f'Value "{raw}" is not int.')) from None
    if value > high:
        raise _invalid_form(
            _field_error([key], "NUMBER_TYPE_MAX", f"int value should be less than or equal to {high}.")
        )
    if value < low:
        raise _invalid_form(
            _field_error([key], "NUMBER_TYPE_MIN", f"int value should be greater than or equal to {low}.")
        )
    return value


def _find_option(defs: list[Json], name: str, otype: int) -> Json:
    for d in defs:
        if d["name"] == name and d["type"] == otype:
            return d
    raise ValueError(f"no option {name!r} of type {otype}; defined: {[d['name'] for d in defs]}")


_COMMAND_DEFAULTS: Json = {
    "type": 1,
    "description": "",
    "options": [],
    "default_member_permissions": None,
    "nsfw": False,
    "name_localizations": None,
    "description_localizations": None,
}


def _normalise_command(raw: Json) -> Json:
    """The comparable part of a command definition (server-managed fields dropped)."""
    norm = {k: raw[k] if raw.get(k) is not None else v for k, v in _COMMAND_DEFAULTS.items()}
    norm["name"] = raw["name"]
    norm["options"] = list(raw.get("options") or [])
    for key in ("contexts", "integration_types", "dm_permission"):
        if raw.get(key) is not None:
            norm[key] = raw[key]
    if norm["default_member_permissions"] is not None:
        norm["default_member_permissions"] = str(norm["default_member_permissions"])
    return norm


def _validate_commands(commands: list[Any]) -> None:
    errors: Json = {}
    seen: set[tuple[str, int]] = set()
    for i, cmd in enumerate(commands):
        if not isinstance(cmd, dict):
            _merge(errors, _field_error([i], "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"))
            continue
        name = cmd.get("name")
        ctype = int(cmd.get("type") or 1)
        if not isinstance(name, str) or not _COMMAND_NAME_RE.match(name) or (ctype == 1 and name != name.lower()):
            _merge(errors, _field_error([i, "name"], "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"))
        elif (name, ctype) in seen:
            _merge(
                errors,
                _field_error(
                    [i, "name"], "APPLICATION_COMMANDS_DUPLICATE_NAME", "Application command names must be unique"
                ),
            )
        else:
            seen.add((name, ctype))
        description = cmd.get("description") or ""
        if ctype == 1 and not 1 <= len(description) <= 100:
            _merge(
                errors, _field_error([i, "description"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
            )
        if len(cmd.get("options") or []) > 25:
            _merge(errors, _field_error([i, "options"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."))
    if len(commands) > 100:
        _merge(errors, _field_error([], "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length."))
    if errors:
        raise _invalid_form(errors)

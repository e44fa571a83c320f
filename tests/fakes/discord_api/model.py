"""The state the server keeps (users, roles, members, channels, guilds, messages, interactions), the
snowflakes it mints from the test's clock, what it records about requests, and Discord's error bodies.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.clock import TestClock
from tests.fakes.discord_api.constants import (
    CB_AUTOCOMPLETE_RESULT,
    CH_DM,
    DISCORD_EPOCH_MS,
    FLAG_EPHEMERAL,
    MSG_DEFAULT,
    THREAD_TYPES,
    Json,
)


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


@dataclass(frozen=True)
class RateLimitHit:
    """One 429 the server answered: from a bucket, the global limit, or :meth:`FakeDiscord.rate_limit`."""

    method: str
    path: str  # below /api/v10
    retry_after: float
    is_global: bool
    source: str  # "bucket" | "global" | "injected"


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
    reset_at: float = 0.0  # on the server's monotonic clock
    route: str = ""  # "METHOD /template", for set_route_limit

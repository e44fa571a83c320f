"""The Bot API's vocabulary as the server needs it: update types, rights, limits, errors, and the state
it keeps per chat (members, topics, messages) and per call (what it recorded or was told to inject).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]
ChatRef = Mapping[str, Any] | int
UserRef = Mapping[str, Any] | int

# --- "Getting updates" > Update: every optional field is an update type -------------------------
ALL_UPDATE_TYPES: tuple[str, ...] = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "message_reaction",
    "message_reaction_count",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
)
# getUpdates.allowed_updates: "Specify an empty list to receive all update types except chat_member,
# message_reaction, and message_reaction_count (default)."  These three must be asked for by name.
_EXPLICIT_ONLY = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

# --- "Available types" > ChatMemberAdministrator -------------------------------------------------
_REQUIRED_ADMIN_RIGHTS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
)
_GROUP_ADMIN_RIGHTS = ("can_pin_messages",)  # "groups and supergroups only"
_SUPERGROUP_ADMIN_RIGHTS = ("can_manage_topics",)  # "supergroups only"
_CHANNEL_ADMIN_RIGHTS = ("can_post_messages", "can_edit_messages")  # "channels only"
DEFAULT_ADMIN_RIGHTS: Mapping[str, bool] = {
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
    "can_pin_messages": True,
    "can_manage_topics": True,
    "can_post_messages": True,
    "can_edit_messages": True,
}

# Fake senders that Telegram puts in ``from`` for messages sent on behalf of a chat ("Message.from").
GROUP_ANONYMOUS_BOT: Json = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}
CHANNEL_BOT: Json = {"id": 136817688, "is_bot": True, "first_name": "Channel", "username": "Channel_Bot"}

# "Forum topics" > createForumTopic.icon_color: one of these RGB values.
FORUM_ICON_COLORS = (7322096, 16766590, 13338331, 9367192, 16749490, 16478047)

MAX_MESSAGE_LENGTH = 4096  # sendMessage.text: "1-4096 characters after entities parsing"
_TOKEN_RE = re.compile(r"\d+:[A-Za-z0-9_-]{30,}")
_SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_SCOPE_TYPES = {
    "default",
    "all_private_chats",
    "all_group_chats",
    "all_chat_administrators",
    "chat",
    "chat_administrators",
    "chat_member",
}
_SERVICE_KEYS = frozenset(
    {
        "new_chat_members",
        "left_chat_member",
        "new_chat_title",
        "group_chat_created",
        "supergroup_chat_created",
        "migrate_to_chat_id",
        "migrate_from_chat_id",
        "forum_topic_created",
        "forum_topic_edited",
        "forum_topic_closed",
        "forum_topic_reopened",
        "pinned_message",
    }
)


# ================================================================================ errors


class ApiError(Exception):
    """An error answer: ``{"ok": false, "error_code": status, "description": ..., "parameters": ...}``."""

    def __init__(self, status: int, description: str, parameters: Json | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> Json:
        body: Json = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


# ================================================================================ state


@dataclass
class _Member:
    user_id: int
    status: str  # creator | administrator | member | left | kicked
    rights: dict[str, bool] = field(default_factory=dict)
    is_anonymous: bool = False
    custom_title: str | None = None


@dataclass
class _Topic:
    thread_id: int
    name: str
    icon_color: int
    icon_custom_emoji_id: str | None
    created_by: int
    closed: bool = False


@dataclass
class _Chat:
    id: int
    type: str  # private | group | supergroup | channel
    title: str | None = None
    username: str | None = None
    is_forum: bool = False
    user_id: int | None = None  # private chats: the other side
    members: dict[int, _Member] = field(default_factory=dict)
    messages: dict[int, Json] = field(default_factory=dict)
    next_message_id: int = 1
    deleted: set[int] = field(default_factory=set)
    topics: dict[int, _Topic] = field(default_factory=dict)
    migrated_to: int | None = None
    reactions: dict[tuple[int, int], list[Json]] = field(default_factory=dict)  # (message_id, user_id)


@dataclass(frozen=True)
class FloodRecord:
    """One 429 the fake answered: from :meth:`FakeTelegram.flood` or from :class:`RateLimits`."""

    method: str
    chat_id: int | None
    retry_after: int
    source: str  # "injected" | "limits"


@dataclass(frozen=True)
class RecordedRequest:
    """One Bot API call as the fake received it (parameters already decoded from the wire)."""

    method: str
    params: Json
    content_type: str
    status: int


@dataclass(frozen=True)
class WebhookDelivery:
    """One attempt to POST an update to the webhook."""

    update_id: int
    status: int | None  # None: the connection failed
    secret_token: str | None
    error: str | None


@dataclass
class RateLimits:
    """Telegram's published broadcast limits (FAQ "My bot is hitting limits, how do I avoid this?").

    "In a single chat, avoid sending more than one message per second" (a soft limit, off by
    default here), "In a group, bots are not able to send more than 20 messages per minute",
    and "no more than about 30 messages per second" overall for bulk notifications.
    """

    group_per_minute: int | None = 20
    overall_per_second: int | None = 30
    chat_per_second: int | None = None


@dataclass
class _Injected:
    method: str
    status: int
    description: str
    parameters: Json | None
    remaining: int
    chat_id: int | None
    disconnect: bool

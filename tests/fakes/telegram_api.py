"""A local stand-in for the Telegram Bot API, for driving the *real* python-telegram-bot.

Why this exists: studybot's Telegram backend must be tested end to end (updates in, method
calls out, parse errors, flood control, kicked bots, migrated groups, forum topics) without
contacting Telegram.  Mocking ``telegram.Bot`` would only test our assumptions about
python-telegram-bot (PTB); speaking the HTTP protocol of the public Bot API documentation
(https://core.telegram.org/bots/api) tests the adapter against the library as it really
behaves.  Everything listens on 127.0.0.1 only and webhooks are only delivered to loopback.

Pointing PTB at the fake
------------------------
PTB builds every URL as ``f"{base_url}{token}/{method}"``, so one setting is enough::

    async with FakeTelegram(clock=TestClock()) as tg:
        alice = tg.add_user("Alice", username="alice")
        group = tg.add_chat("supergroup", "Course", is_forum=True)
        tg.add_member(group, alice)
        tg.set_bot_admin(group, True)                    # -> my_chat_member update
        app = ApplicationBuilder().token(tg.token).base_url(tg.base_url).build()
        ...                                              # handlers, initialize, start
        await app.updater.start_polling(timeout=1)
        tg.user_sends(group, alice, "/lesson@" + tg.bot_username)
        await tg.wait_for(lambda t: t.last_sent(group) is not None)
        assert "Lesson" in tg.last_sent(group)["text"]

Test-control methods that create inbound activity (``user_sends``, ``user_reacts``, ...) are
plain synchronous methods: each creates the Update at once, with the next ``update_id``, and
hands it to the pending long poll (or to the webhook sender).  Only :meth:`wait_for` is async:
it waits on an ``asyncio.Condition`` that is notified after every state change.

What PTB 22 needs that is easy to miss
--------------------------------------
* PTB posts ``application/x-www-form-urlencoded`` (``multipart/form-data`` only with files);
  every non-string value arrives as a JSON *string* (``chat_id="123"``,
  ``reply_parameters='{"message_id": 3}'``, ``allowed_updates='["message"]'``).  The Bot API
  itself accepts that ("Making requests"), so each method coerces its parameters by type.
* PTB maps HTTP statuses to exceptions, not ``error_code``: 400 BadRequest, 401/404
  InvalidToken, 403 Forbidden, 409 Conflict, anything else NetworkError -- and it raises
  ChatMigrated/RetryAfter whenever ``parameters.migrate_to_chat_id``/``retry_after`` is
  present, before looking at the status.  It strips the ``"Bad Request: "`` prefix and then
  ``str.capitalize()``s the rest, so ``"Bad Request: can't parse entities: Unsupported start
  tag ..."`` reaches Python as ``"Can't parse entities: unsupported start tag ..."`` -- match
  error texts case-insensitively ("Forbidden: ..." texts are left as they are).
* ``getChat`` must return a full ``ChatFullInfo``: PTB 22 requires ``accent_color_id``,
  ``max_reaction_count`` and ``accepted_gift_types``.  ``ChatMemberAdministrator`` requires
  every ``can_*`` right that the Bot API marks as non-optional, stories rights included.
* ``Updater.start_polling`` first calls ``deleteWebhook``; on ``stop()`` it *cancels* the
  running long poll (the HTTP request is dropped, the server side keeps waiting) and then
  calls ``getUpdates(offset=last+1, timeout=0)`` once to confirm what it fetched.  The fake
  answers a superseded long poll with 409, as Telegram does.
* ``Message`` needs ``message_id``, ``date`` (Unix time) and ``chat``; ``User`` needs
  ``id``, ``is_bot`` and ``first_name``; ``Chat`` needs ``id`` and ``type``.

Telegram behaviours an adapter must cope with (the fake reproduces them)
------------------------------------------------------------------------
* Message text is trimmed of leading/trailing white space, must be 1-4096 *code points*
  after parsing (entity offsets are UTF-16 units, the length limit is not), and gets
  automatically detected entities (bot_command, mention, hashtag, url, ...).
* In a forum topic, a message that replies to nothing has ``reply_to_message`` = the topic's
  ``forum_topic_created`` service message; in an ordinary supergroup, replies carry
  ``message_thread_id`` (the thread's first message) -- only ``is_topic_message`` means "topic".
* Service messages and ``my_chat_member`` always reach the bot; ``chat_member``,
  ``message_reaction`` and ``message_reaction_count`` only to an administrator that asked for
  them by name in ``allowed_updates``, which applies when an update is *created*.

Deliberate deviations (each documented where it is implemented)
---------------------------------------------------------------
* ``strict_html=True`` (the default) rejects a bare ``&`` or ``>`` and unsupported named
  entities, because "Formatting options" says all ``<``, ``>`` and ``&`` that are not part
  of a tag or an entity *must* be replaced.  Real Telegram (tdlib's ``parse_html``) keeps
  them as literal text; ``strict_html=False`` reproduces that exactly.  Errors for ``<`` are
  the same in both modes because they are what Telegram answers.
* ``setWebhook`` accepts plain ``http://`` on loopback addresses (Telegram requires HTTPS
  on ports 443/80/88/8443) and refuses any non-loopback URL so nothing leaves the machine.
* Updates are delivered to a webhook one at a time, in order (``max_connections`` is stored
  but not used for concurrency).
* Auto-detected entities (url, email, mention, hashtag, cashtag, bot_command) follow
  tdlib's rules closely but not exactly (URL detection needs a scheme, ``www.`` or
  ``t.me/``; no phone numbers or bank cards).
* Methods the fake does not implement answer 404 "Not Found" (PTB: InvalidToken), exactly
  what Telegram answers for unknown methods; each is recorded in ``unknown_methods``.  An
  exception inside the fake answers 500 "FakeTelegram bug: ..." and is kept in
  ``server_errors`` (assert it is empty at the end of a test).
* "Privacy mode": a general ``/command`` (without ``@bot``) always reaches the bot; Telegram
  delivers it only if this bot was the last bot to write in the group (the fake has no other
  bots).  ``text_mention`` entities are only produced for users the fake knows.
* :class:`RateLimits` counts ``sendMessage`` calls only.
* There is no "message deleted" update in the Bot API, so deleting a message as a user
  only changes state (:meth:`user_deletes`); nothing is delivered.

Documentation sections referred to in comments: "Making requests", "Getting updates"
(getUpdates, setWebhook, Update), "Available types" (Message, MessageEntity, ChatMember...),
"Formatting options", "Updating messages", "Bot commands" (BotCommandScope), "Forum topics",
"Reactions" (ReactionTypeEmoji, setMessageReaction), "ResponseParameters", and the FAQ
"My bot is hitting limits" and features page "Privacy mode".
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import ipaddress
import json
import logging
import math
import re
import secrets
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import aiohttp
from aiohttp import web

from tests.clock import TestClock, require_test_clock

Json = dict[str, Any]
ChatRef = Mapping[str, Any] | int
UserRef = Mapping[str, Any] | int

__all__ = [
    "ALL_UPDATE_TYPES",
    "DEFAULT_ADMIN_RIGHTS",
    "REACTION_EMOJI",
    "ApiError",
    "FakeTelegram",
    "FloodRecord",
    "ParseError",
    "RateLimits",
    "RecordedRequest",
    "WebhookDelivery",
    "parse_html",
    "parse_markdown",
    "parse_markdown_v2",
    "utf16_len",
]

_log = logging.getLogger(__name__)

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

# --- "Available types" > ReactionTypeEmoji: the only emoji a bot may react with ------------------
# One string, split, reads like the docs' list.
REACTION_EMOJI: frozenset[str] = frozenset(
    "👍 👎 ❤ 🔥 🥰 👏 😁 🤔 🤯 😱 🤬 😢 🎉 🤩 🤮 💩 🙏 👌 🕊 🤡 🥱 🥴 😍 🐳 ❤\u200d🔥 🌚 🌭 💯 🤣 ⚡ 🍌 🏆 💔 🤨 😐 🍓 "  # noqa: SIM905
    "🍾 💋 🖕 😈 😴 😭 🤓 👻 👨\u200d💻 👀 🎃 🙈 😇 😨 🤝 ✍ 🤗 🫡 🎅 🎄 ☃ 💅 🤪 🗿 🆒 💘 🙉 🦄 😘 💊 🙊 😎 👾 "
    "🤷\u200d♂ 🤷 🤷\u200d♀ 😡".split()
)

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


class ParseError(Exception):
    """A formatting error; the Bot API answers ``Bad Request: can't parse entities: <message>``."""


# ================================================================================ text: UTF-16


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units -- the unit of every MessageEntity offset and length."""
    return len(text.encode("utf-16-le")) // 2


def _utf16_index(text: str) -> list[int]:
    """``result[i]`` is the UTF-16 offset of code point ``i`` (one extra entry for the end)."""
    out = [0]
    for ch in text:
        out.append(out[-1] + (2 if ord(ch) > 0xFFFF else 1))
    return out


def _utf16_slice(text: str, offset: int, length: int) -> str:
    raw = text.encode("utf-16-le")
    return raw[2 * offset : 2 * (offset + length)].decode("utf-16-le", errors="replace")


# ================================================================================ text: entities

# tdlib's MessageEntity::get_type_priority: entities at the same offset and length are ordered by it.
_PRIORITY = {
    "mention": 50,
    "hashtag": 50,
    "bot_command": 50,
    "url": 50,
    "email": 50,
    "bold": 90,
    "italic": 91,
    "code": 20,
    "pre": 11,
    "pre_code": 10,
    "text_link": 49,
    "text_mention": 49,
    "cashtag": 50,
    "phone_number": 50,
    "underline": 92,
    "strikethrough": 93,
    "blockquote": 0,
    "bank_card_number": 50,
    "spoiler": 94,
    "custom_emoji": 99,
    "expandable_blockquote": 0,
}
_CONTINUOUS_USER_TYPES = frozenset({"code", "pre", "text_link", "text_mention", "custom_emoji"})
_QUOTES = frozenset({"blockquote", "expandable_blockquote"})
_AUTO_TYPES = frozenset({"mention", "hashtag", "cashtag", "bot_command", "url", "email", "phone_number"})


def _sort_key(entity: Json) -> tuple[int, int, int]:
    kind = "pre_code" if entity["type"] == "pre" and entity.get("language") else entity["type"]
    return entity["offset"], -entity["length"], _PRIORITY.get(kind, 50)


def _sort_entities(entities: list[Json]) -> list[Json]:
    return sorted(entities, key=_sort_key)


def _entity(kind: str, offset: int, length: int, **extra: Any) -> Json:
    entity: Json = {"offset": offset, "length": length, "type": kind}
    entity.update({k: v for k, v in extra.items() if v is not None})
    return entity


# --- links -----------------------------------------------------------------------------------


def _link_user_id(url: str) -> int | None:
    """tdlib's get_link_user_id: ``tg://user?id=123`` (also ``tg:user?id=``) names a user."""
    match = re.fullmatch(r"(?i)tg:(?://)?user/?\?(.*)", url.strip())
    if not match:
        return None
    ids = parse_qs(match.group(1)).get("id")
    if ids and ids[0].isdigit() and int(ids[0]) > 0:
        return int(ids[0])
    return None


def _valid_host(host: str) -> bool:
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(host)
        return True
    labels = host.split(".")
    if len(labels) < 2 or any(not label for label in labels):
        return False
    tld = labels[-1]
    return len(tld) >= 2 and all(ch.isalpha() for ch in tld)


def _checked_link(url: str) -> str | None:
    """A simplified tdlib ``LinkManager::get_checked_link``: a normalised URL, or None if invalid.

    ``telegram.org`` becomes ``http://telegram.org/`` (tdlib test vectors in
    ``test/message_entities.cpp``); a single word such as ``localhost`` is not a link.
    """
    if not url or any(ch.isspace() for ch in url):
        return None
    if re.match(r"(?i)tg:", url):
        return url
    if "://" not in url:
        url = "http://" + url
    scheme, rest = url.split("://", 1)
    scheme = scheme.lower()
    if scheme not in {"http", "https", "ton", "ftp"}:
        return None
    cut = len(rest)
    for sep in "/?#":
        pos = rest.find(sep)
        if pos != -1:
            cut = min(cut, pos)
    netloc, tail = rest[:cut], rest[cut:]
    host = netloc.rsplit("@", 1)[-1].split(":", 1)[0].lower()
    if not _valid_host(host):
        return None
    if not tail.startswith("/"):
        tail = "/" + tail
    return f"{scheme}://{netloc.lower()}{tail}"


def _custom_emoji_id(url: str) -> int:
    """tdlib's get_link_custom_emoji_id, for MarkdownV2 ``![👍](tg://emoji?id=...)``."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "tg":
        raise ParseError("Custom emoji URL must have scheme tg")
    if parts.netloc.lower() != "emoji" and not parts.path.lower().lstrip("/").startswith("emoji"):
        raise ParseError('Custom emoji URL must have host "emoji"')
    ids = parse_qs(parts.query).get("id")
    if not ids:
        raise ParseError("Custom emoji URL must have an emoji identifier")
    value = ids[0]
    if not value.isdigit() or value.startswith("0") or int(value) <= 0:
        raise ParseError("Invalid custom emoji identifier specified")
    return int(value)


# --- HTML ("Formatting options" > HTML style; port of tdlib's parse_html) --------------------

_HTML_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)
_HTML_NAMED = {b"lt": 0x3C, b"gt": 0x3E, b"amp": 0x26, b"quot": 0x22}


def _is_space(c: int) -> bool:
    # td::is_space counts the terminating NUL as a space; the parsers rely on it at the end of text.
    return c in (0x20, 0x09, 0x0D, 0x0A, 0x00, 0x0B)


def _is_alpha(c: int) -> bool:
    return 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A


def _is_digit(c: int) -> bool:
    return 0x30 <= c <= 0x39


def _is_hex(c: int) -> bool:
    return _is_digit(c) or 0x41 <= c <= 0x46 or 0x61 <= c <= 0x66


def _decode_html_entity(src: bytes, pos: int) -> tuple[int, int]:
    """tdlib's decode_html_entity: ``(code point, position after it)``, or ``(0, pos)``.

    The ``;`` is optional; only ``lt gt amp quot`` and numeric references are known.
    """
    n = len(src)

    def at(i: int) -> int:
        return src[i] if i < n else 0

    end = pos + 1
    res = 0
    if at(pos + 1) == 0x23:  # '#'
        end += 1
        if at(pos + 2) == 0x78:  # 'x'
            end += 1
            while _is_hex(at(end)):
                res = res * 16 + int(chr(at(end)), 16)
                end += 1
        else:
            while _is_digit(at(end)):
                res = res * 10 + at(end) - 0x30
                end += 1
        if res == 0 or res >= 0x10FFFF or end - pos >= 10:
            return 0, pos
    else:
        while _is_alpha(at(end)):
            end += 1
        res = _HTML_NAMED.get(src[pos + 1 : end], 0)
        if not res:
            return 0, pos
    if at(end) == 0x3B:
        end += 1
    return res, end


def _append_code_point(out: bytearray, code: int) -> None:
    out += chr(code).encode("utf-8", "surrogatepass")


def parse_html(
    text: str,
    *,
    strict: bool = False,
    known_users: Mapping[int, Json] | None = None,
) -> tuple[str, list[Json]]:
    """Plain text and entities (UTF-16 offsets) of an HTML-formatted text, as Telegram parses it.

    A line-by-line port of tdlib's ``parse_html`` (the Bot API server is tdlib), so error
    messages and byte offsets (of the UTF-8 input) are Telegram's.  ``strict`` additionally
    enforces the documented rule that bare ``&``/``>`` must be escaped (see the module doc).
    """
    src = text.encode("utf-8", "surrogatepass")
    n = len(src)

    def at(i: int) -> int:
        return src[i] if i < n else 0

    out = bytearray()
    utf16 = 0
    entities: list[Json] = []
    nested: list[tuple[str, str, int, int]] = []  # tag, argument, utf16 offset, byte position in out
    bad_surrogate = False
    i = 0
    while i < n:
        c = src[i]
        if c == 0x26:  # '&'
            code, after = _decode_html_entity(src, i)
            if code:
                utf16 += 2 if code > 0xFFFF else 1
                bad_surrogate |= 0xD800 <= code <= 0xDFFF
                _append_code_point(out, code)
                i = after
                continue
            if strict:
                name = re.match(rb"&#?[A-Za-z0-9]+;", src[i:])
                if name:
                    raise ParseError(f'Unsupported HTML entity "{name.group(0).decode()}" at byte offset {i}')
                raise ParseError(f'Character "&" must be escaped as "&amp;" at byte offset {i}')
        if c != 0x3C:  # not '<'
            if strict and c == 0x3E:
                raise ParseError(f'Character ">" must be escaped as "&gt;" at byte offset {i}')
            if c & 0xC0 != 0x80:
                utf16 += 2 if c >= 0xF0 else 1  # a 4-byte UTF-8 sequence is a surrogate pair
            out.append(c)
            i += 1
            continue

        begin = i
        i += 1
        if at(i) != 0x2F:  # start tag
            while not _is_space(at(i)) and at(i) != 0x3E:
                i += 1
            if at(i) == 0:
                raise ParseError(f"Unclosed start tag at byte offset {begin}")
            tag = src[begin + 1 : i].decode("utf-8", "replace").lower()
            if tag not in _HTML_TAGS:
                raise ParseError(f'Unsupported start tag "{tag}" at byte offset {begin}')
            argument = ""
            while at(i) != 0x3E:
                while at(i) != 0 and _is_space(at(i)):
                    i += 1
                if at(i) == 0x3E:
                    break
                if at(i) == 0:
                    raise ParseError(f"Unclosed start tag at byte offset {begin}")
                attr_begin = i
                while not _is_space(at(i)) and at(i) not in (0x3D, 0x3E):
                    i += 1
                attr = src[attr_begin:i]
                if not attr:
                    raise ParseError(f'Empty attribute name in the tag "{tag}" at byte offset {begin}')
                while at(i) != 0 and _is_space(at(i)):
                    i += 1
                if at(i) != 0x3D:
                    # An attribute without a value (current tdlib), as in <blockquote expandable>.
                    if tag == "blockquote" and attr == b"expandable":
                        argument = "1"
                    continue
                i += 1
                while at(i) != 0 and _is_space(at(i)):
                    i += 1
                if at(i) == 0:
                    raise ParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
                if at(i) not in (0x22, 0x27):
                    # "A name token (a sequence of letters, digits, periods, or hyphens)", case-insensitive.
                    token_begin = i
                    while _is_alpha(at(i)) or _is_digit(at(i)) or at(i) in (0x2E, 0x2D):
                        i += 1
                    value = src[token_begin:i].decode().lower()
                    if not _is_space(at(i)) and at(i) != 0x3E:
                        raise ParseError(f"Unexpected end of name token at byte offset {token_begin}")
                else:
                    quote = at(i)
                    i += 1
                    raw = bytearray()
                    while at(i) != quote and at(i) != 0:
                        if at(i) == 0x26:
                            code, after = _decode_html_entity(src, i)
                            if code:
                                _append_code_point(raw, code)
                                i = after
                                continue
                        raw.append(at(i))
                        i += 1
                    if at(i) == quote:
                        i += 1
                    value = raw.decode("utf-8", "replace")
                if at(i) == 0:
                    raise ParseError(f"Unclosed start tag at byte offset {begin}")
                if tag == "a" and attr == b"href":
                    argument = value
                elif tag == "code" and attr == b"class" and value.startswith("language-"):
                    argument = value[len("language-") :]
                elif tag == "span" and attr == b"class" and value.startswith("tg-"):
                    argument = value[len("tg-") :]
                elif tag == "tg-emoji" and attr == b"emoji-id":
                    argument = value
                elif tag == "blockquote" and attr == b"expandable":
                    argument = "1"
            if tag == "span" and argument != "spoiler":
                raise ParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {begin}')
            nested.append((tag, argument, utf16, len(out)))
            i += 1  # '>'
            continue

        # end tag
        if not nested:
            raise ParseError(f"Unexpected end tag at byte offset {begin}")
        while not _is_space(at(i)) and at(i) != 0x3E:
            i += 1
        end_tag = src[begin + 2 : i].decode("utf-8", "replace").lower()
        while _is_space(at(i)) and at(i) != 0:
            i += 1
        if at(i) != 0x3E:
            raise ParseError(f"Unclosed end tag at byte offset {begin}")
        tag, argument, offset, out_pos = nested[-1]
        if end_tag and end_tag != tag:
            raise ParseError(f'Unmatched end tag at byte offset {begin}, expected "</{tag}>", found "</{end_tag}>"')
        length = utf16 - offset
        if length > 0:
            if tag in ("i", "em"):
                entities.append(_entity("italic", offset, length))
            elif tag in ("b", "strong"):
                entities.append(_entity("bold", offset, length))
            elif tag in ("s", "strike", "del"):
                entities.append(_entity("strikethrough", offset, length))
            elif tag in ("u", "ins"):
                entities.append(_entity("underline", offset, length))
            elif tag in ("tg-spoiler", "span"):
                entities.append(_entity("spoiler", offset, length))
            elif tag == "tg-emoji":
                if not argument.isdigit() or int(argument) == 0:
                    raise ParseError("Invalid custom emoji identifier specified")
                entities.append(_entity("custom_emoji", offset, length, custom_emoji_id=str(int(argument))))
            elif tag == "a":
                url = argument or out[out_pos:].decode("utf-8", "replace")
                entities.extend(_link_entity(url, offset, length, known_users))
            elif tag == "pre":
                last = entities[-1] if entities else None
                if (
                    last
                    and last["type"] == "code"
                    and last["offset"] == offset
                    and last["length"] == length
                    and last.get("language")
                ):
                    last["type"] = "pre"
                else:
                    entities.append(_entity("pre", offset, length))
            elif tag == "code":
                last = entities[-1] if entities else None
                if (
                    last
                    and last["type"] == "pre"
                    and last["offset"] == offset
                    and last["length"] == length
                    and argument
                ):
                    last["language"] = argument
                else:
                    entities.append(_entity("code", offset, length, language=argument or None))
            elif tag == "blockquote":
                entities.append(_entity("expandable_blockquote" if argument else "blockquote", offset, length))
        nested.pop()
        i += 1  # '>'
    if nested:
        raise ParseError(f'Can\'t find end tag corresponding to start tag "{nested[-1][0]}"')
    for entity in entities:
        if entity["type"] == "code":
            entity.pop("language", None)  # "Programming language can't be specified for standalone code tags."
    if bad_surrogate:
        raise ParseError(
            "Text contains invalid Unicode characters after decoding HTML entities, "
            "check for unmatched surrogate code units"
        )
    return out.decode("utf-8"), _sort_entities(entities)


def _link_entity(url: str, offset: int, length: int, known_users: Mapping[int, Json] | None) -> list[Json]:
    user_id = _link_user_id(url)
    if user_id is not None:
        # A text_mention carries the User object; the fake can only fill it for users it knows.
        user = (known_users or {}).get(user_id)
        return [_entity("text_mention", offset, length, user=copy.deepcopy(user))] if user else []
    checked = _checked_link(url)
    return [_entity("text_link", offset, length, url=checked)] if checked else []


# --- MarkdownV2 ("Formatting options" > MarkdownV2 style; port of tdlib's parse_markdown_v2) ---

_MD_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "pre_code": "PreCode",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
    "blockquote": "BlockQuote",
}


@dataclass
class _MdOpen:
    kind: str  # a key of _MD_NAMES
    argument: str
    utf16: int
    byte_offset: int
    out_pos: int


def _at_line_start(out: bytearray) -> bool:
    """Nothing but ``\r`` was output on the current line (markers such as ``*`` output nothing)."""
    j = len(out) - 1
    while j >= 0 and out[j] == 0x0D:
        j -= 1
    return j < 0 or out[j] == 0x0A


def parse_markdown_v2(text: str, *, known_users: Mapping[int, Json] | None = None) -> tuple[str, list[Json]]:
    """Plain text and entities of a MarkdownV2 text; a port of tdlib's ``parse_markdown_v2``.

    Block quotations follow current tdlib: ``>`` at a line start, ``**>`` to start a new one
    right after another, and ``||`` at the end of a quotation's last line makes it expandable.
    """
    src = text.encode("utf-8", "surrogatepass")
    n = len(src)

    def at(k: int) -> int:
        return src[k] if k < n else 0

    def reserved(ch: int) -> ParseError:
        return ParseError(f"Character '{chr(ch)}' is reserved and must be escaped with the preceding '\\'")

    out = bytearray()
    utf16 = 0
    entities: list[Json] = []
    nested: list[_MdOpen] = []
    have_blockquote = False
    i = 0
    while i < n:
        c = src[i]
        if c == 0x5C and 0 < at(i + 1) <= 126:  # '\' escapes any ASCII character
            out.append(src[i + 1])
            utf16 += 1
            i += 2
            continue
        chars = b"_*[]()~`>#+-=|{}.!\n"
        if nested and nested[-1].kind in ("code", "pre", "pre_code"):
            chars = b"`"  # "Inside pre and code entities, all '`' and '\' characters must be escaped"
        if c not in chars:
            if c & 0xC0 != 0x80:
                utf16 += 2 if c >= 0xF0 else 1
            out.append(c)
            i += 1
            continue

        if (
            have_blockquote
            and c == 0x7C
            and at(i + 1) == 0x7C
            and (not nested or nested[-1].kind != "spoiler")
            and (i + 2 >= n or at(i + 2) == 0x0A or (at(i + 2) == 0x0D and at(i + 3) == 0x0A))
        ):
            for opened in reversed(nested):
                if opened.kind == "blockquote":
                    opened.argument = "expandable"
                    break
            i += 2
            continue

        is_end = False
        if nested:
            top = nested[-1].kind
            if have_blockquote and c == 0x0A and (i + 1 == n or at(i + 1) != 0x3E):
                is_end = True
            elif top == "bold":
                is_end = c == 0x2A
            elif top == "italic":
                is_end = c == 0x5F and at(i + 1) != 0x5F
            elif top == "code":
                is_end = c == 0x60
            elif top in ("pre", "pre_code"):
                is_end = c == 0x60 and at(i + 1) == 0x60 and at(i + 2) == 0x60
            elif top in ("text_link", "custom_emoji"):
                is_end = c == 0x5D
            elif top == "underline":
                is_end = c == 0x5F and at(i + 1) == 0x5F
            elif top == "strikethrough":
                is_end = c == 0x7E
            elif top == "spoiler":
                is_end = c == 0x7C and at(i + 1) == 0x7C

        if not is_end:
            kind = ""
            argument = ""
            byte_offset = i
            if c == 0x5F:
                if at(i + 1) == 0x5F:
                    kind = "underline"
                    i += 1
                else:
                    kind = "italic"
            elif c == 0x2A:
                if _at_line_start(out) and at(i + 1) == 0x2A and at(i + 2) == 0x3E and not have_blockquote:
                    kind = "blockquote"
                    have_blockquote = True
                    i += 2
                else:
                    kind = "bold"
            elif c == 0x7E:
                kind = "strikethrough"
            elif c == 0x7C:
                if at(i + 1) != 0x7C:
                    raise reserved(c)
                i += 1
                kind = "spoiler"
            elif c == 0x5B:
                kind = "text_link"
            elif c == 0x60:
                if at(i + 1) == 0x60 and at(i + 2) == 0x60:
                    i += 3
                    kind = "pre"
                    lang_end = i
                    while not _is_space(at(lang_end)) and at(lang_end) != 0x60:
                        lang_end += 1
                    if i != lang_end and lang_end < n and at(lang_end) != 0x60:
                        kind = "pre_code"
                        argument = src[i:lang_end].decode("utf-8", "replace")
                        i = lang_end
                    if at(i) in (0x0A, 0x0D):  # skip one new line at the beginning of the block
                        if at(i + 1) in (0x0A, 0x0D) and at(i) != at(i + 1):
                            i += 2
                        else:
                            i += 1
                    i -= 1
                else:
                    kind = "code"
            elif c == 0x21:
                if at(i + 1) != 0x5B:
                    raise reserved(c)
                i += 1
                kind = "custom_emoji"
            elif c == 0x0A:
                utf16 += 1
                out.append(0x0A)
                if at(i + 1) == 0x3E:
                    i += 1
                    if not have_blockquote:
                        kind = "blockquote"
                        have_blockquote = True
            elif c == 0x3E:
                if not _at_line_start(out) or have_blockquote:
                    raise reserved(c)
                kind = "blockquote"
                have_blockquote = True
            else:
                raise reserved(c)
            i += 1
            if kind:
                nested.append(_MdOpen(kind, argument, utf16, byte_offset, len(out)))
            continue

        # end of an entity
        opened = nested[-1]
        if c == 0x0A and opened.kind != "blockquote":
            raise ParseError(f"Can't find end of {_MD_NAMES[opened.kind]} entity at byte offset {opened.byte_offset}")
        skip = utf16 == opened.utf16
        extra: Json = {}
        kind = opened.kind
        if kind in ("underline", "spoiler"):
            i += 1
        elif kind in ("pre", "pre_code"):
            i += 2
        elif kind == "text_link":
            if at(i + 1) != 0x28:
                url = out[opened.out_pos :].decode("utf-8", "replace")
            else:
                i += 2
                url_begin = i
                raw = bytearray()
                while i < n and src[i] != 0x29:
                    if src[i] == 0x5C and 0 < at(i + 1) <= 126:
                        raw.append(src[i + 1])
                        i += 2
                        continue
                    raw.append(src[i])
                    i += 1
                if at(i) != 0x29:
                    raise ParseError(f"Can't find end of a URL at byte offset {url_begin}")
                url = raw.decode("utf-8", "replace")
            link = _link_entity(url, opened.utf16, utf16 - opened.utf16, known_users)
            if link and not skip:
                entities.extend(link)
            skip = True
        elif kind == "custom_emoji":
            if at(i + 1) != 0x28:
                raise ParseError("Custom emoji entity must contain a tg://emoji URL")
            i += 2
            url_begin = i
            raw = bytearray()
            while i < n and src[i] != 0x29:
                if src[i] == 0x5C and 0 < at(i + 1) <= 126:
                    raw.append(src[i + 1])
                    i += 2
                    continue
                raw.append(src[i])
                i += 1
            if at(i) != 0x29:
                raise ParseError(f"Can't find end of a custom emoji URL at byte offset {url_begin}")
            extra["custom_emoji_id"] = str(_custom_emoji_id(raw.decode("utf-8", "replace")))
        elif kind == "blockquote":
            have_blockquote = False
            out.append(src[i])
            utf16 += 1
            skip = False
        if not skip:
            length = utf16 - opened.utf16
            if kind == "pre_code":
                entities.append(_entity("pre", opened.utf16, length, language=opened.argument))
            elif kind == "blockquote":
                name = "expandable_blockquote" if opened.argument else "blockquote"
                entities.append(_entity(name, opened.utf16, length))
            else:
                entities.append(_entity(kind, opened.utf16, length, **extra))
        nested.pop()
        i += 1
    if have_blockquote and nested and nested[-1].kind == "blockquote":
        opened = nested.pop()
        if utf16 != opened.utf16:
            name = "expandable_blockquote" if opened.argument else "blockquote"
            entities.append(_entity(name, opened.utf16, utf16 - opened.utf16))
    if nested:
        opened = nested[-1]
        raise ParseError(f"Can't find end of {_MD_NAMES[opened.kind]} entity at byte offset {opened.byte_offset}")
    return out.decode("utf-8", "replace"), _sort_entities(entities)


def parse_markdown(text: str, *, known_users: Mapping[int, Json] | None = None) -> tuple[str, list[Json]]:
    """Legacy ``Markdown`` parse mode; a port of tdlib's ``parse_markdown``."""
    src = text.encode("utf-8", "surrogatepass")
    n = len(src)

    def at(k: int) -> int:
        return src[k] if k < n else 0

    out = bytearray()
    utf16 = 0
    entities: list[Json] = []
    i = 0
    while i < n:
        c = src[i]
        if c == 0x5C and at(i + 1) in (0x5F, 0x2A, 0x60, 0x5B):
            out.append(src[i + 1])
            utf16 += 1
            i += 2
            continue
        if c not in (0x5F, 0x2A, 0x60, 0x5B):
            if c & 0xC0 != 0x80:
                utf16 += 2 if c >= 0xF0 else 1
            out.append(c)
            i += 1
            continue
        begin = i
        end_char = 0x5D if c == 0x5B else c
        is_pre = False
        language = ""
        i += 1
        if c == 0x60 and at(i) == 0x60 and at(i + 1) == 0x60:
            i += 2
            is_pre = True
            lang_end = i
            while not _is_space(at(lang_end)) and at(lang_end) != 0x60:
                lang_end += 1
            if i != lang_end and lang_end < n and at(lang_end) != 0x60:
                language = src[i:lang_end].decode("utf-8", "replace")
                i = lang_end
            if at(i) in (0x0A, 0x0D):
                i += 2 if at(i + 1) in (0x0A, 0x0D) and at(i) != at(i + 1) else 1
        offset = utf16
        while i < n and (src[i] != end_char or (is_pre and not (at(i + 1) == 0x60 and at(i + 2) == 0x60))):
            if src[i] & 0xC0 != 0x80:
                utf16 += 2 if src[i] >= 0xF0 else 1
            out.append(src[i])
            i += 1
        if i == n:
            raise ParseError(f"Can't find end of the entity starting at byte offset {begin}")
        length = utf16 - offset
        if length:
            if c == 0x5F:
                entities.append(_entity("italic", offset, length))
            elif c == 0x2A:
                entities.append(_entity("bold", offset, length))
            elif c == 0x5B:
                if at(i + 1) != 0x28:
                    url = src[begin + 1 : i].decode("utf-8", "replace")
                else:
                    i += 2
                    url_start = i
                    while i < n and src[i] != 0x29:
                        i += 1
                    url = src[url_start:i].decode("utf-8", "replace")
                entities.extend(_link_entity(url, offset, length, known_users))
            elif is_pre:
                entities.append(_entity("pre", offset, length, language=language or None))
            else:
                entities.append(_entity("code", offset, length))
        if is_pre:
            i += 2
        i += 1
    return out.decode("utf-8", "replace"), _sort_entities(entities)


# --- automatically detected entities (tdlib's find_entities, simplified) ---------------------


def _word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _hashtag_letter(ch: str) -> bool:
    return ch.isalnum() or ch in "_\u200c\u00b7" or "\u0d80" <= ch <= "\u0dff"


_URL_RE = re.compile(r"(?i)(?<![\w@.])(?:(?:https?|ftp|tg|ton)://|www\.|t\.me/)[^\s<>\"]+")
_EMAIL_RE = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])")


def _trim_url(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1] in ".,;:!?'\"":
        end -= 1
    while end > start and text[end - 1] == ")" and text[start:end].count("(") < text[start:end].count(")"):
        end -= 1
    return end


def find_auto_entities(text: str) -> list[Json]:
    """The entities Telegram finds by itself in any message text: urls, e-mails, @mentions,
    #hashtags, $CASHTAGS and /bot_commands (with tdlib's boundary rules)."""
    spans: list[tuple[int, int, str]] = []
    for match in _URL_RE.finditer(text):
        end = _trim_url(text, match.start(), match.end())
        if end > match.start():
            spans.append((match.start(), end, "url"))
    spans.extend((m.start(), m.end(), "email") for m in _EMAIL_RE.finditer(text))
    size = len(text)
    for i, ch in enumerate(text):
        prev = text[i - 1] if i else ""
        if ch == "/" and not (prev and (_word(prev) or prev in "/<>")):
            j = i + 1
            while j < size and (text[j].isascii() and _word(text[j])):
                j += 1
            if not 1 <= j - i - 1 <= 64:
                continue
            if j < size and text[j] == "@":
                k = j + 1
                while k < size and text[k].isascii() and _word(text[k]):
                    k += 1
                if not 3 <= k - j - 1 <= 32:
                    continue
                j = k
            if j < size and (_word(text[j]) or text[j] in "/<>"):
                continue
            spans.append((i, j, "bot_command"))
        elif ch == "@" and not (prev and _word(prev)):
            j = i + 1
            while j < size and text[j].isascii() and _word(text[j]):
                j += 1
            if 4 <= j - i - 1 <= 32 and not (j < size and _word(text[j])):
                spans.append((i, j, "mention"))
        elif ch == "#" and not (prev and _hashtag_letter(prev)):
            j = i + 1
            while j < size and _hashtag_letter(text[j]):
                j += 1
            body = text[i + 1 : min(j, i + 257)]
            if body and any(c.isalpha() for c in body) and not (j < size and text[j] == "#"):
                spans.append((i, i + 1 + len(body), "hashtag"))
        elif ch == "$" and not (prev and (_hashtag_letter(prev) or prev == "$")):
            j = i + 1
            if text.startswith("1INCH", j):
                j += 5
            else:
                while j < size and "A" <= text[j] <= "Z":
                    j += 1
            if 1 <= j - i - 1 <= 8 and not (j < size and (_hashtag_letter(text[j]) or text[j] == "$")):
                spans.append((i, j, "cashtag"))
    chosen: list[tuple[int, int, str]] = []
    for start, end, kind in sorted(spans, key=lambda s: (s[2] not in ("url", "email"), s[0])):
        if all(end <= s or start >= e for s, e, _ in chosen):
            chosen.append((start, end, kind))
    index = _utf16_index(text)
    return _sort_entities([_entity(kind, index[s], index[e] - index[s]) for s, e, kind in chosen])


def _overlaps(a: Json, b: Json) -> bool:
    return a["offset"] < b["offset"] + b["length"] and b["offset"] < a["offset"] + a["length"]


def _contains(outer: Json, inner: Json) -> bool:
    return outer["offset"] <= inner["offset"] and inner["offset"] + inner["length"] <= outer["offset"] + outer["length"]


def fix_formatted_text(text: str, entities: Sequence[Json], *, detect: bool = True) -> tuple[str, list[Json]]:
    """What Telegram does after parsing (tdlib's fix_formatted_text, simplified).

    Leading and trailing white space is removed (so ``"  hi  "`` is sent as ``"hi"``), entities
    are clipped to the text, nothing stays inside code/pre ("bold, italic, ... can contain
    and can be part of any other entities, except pre and code"), block quotations are not
    nested, and the automatically found entities are added.
    """
    stripped = text.lstrip(" \t\r\n\v\f")
    lead = utf16_len(text) - utf16_len(stripped)
    stripped = stripped.rstrip(" \t\r\n\v\f")
    total = utf16_len(stripped)
    fixed: list[Json] = []
    for raw in entities:
        entity = copy.deepcopy(dict(raw))
        start = max(0, entity["offset"] - lead)
        end = min(total, entity["offset"] + entity["length"] - lead)
        if end <= start:
            continue
        entity["offset"], entity["length"] = start, end - start
        fixed.append(entity)
    fixed = _sort_entities(fixed)
    kept: list[Json] = []
    for entity in fixed:  # sorted: an enclosing entity comes before what it encloses
        if any(_contains(block, entity) for block in kept if block["type"] in ("code", "pre")):
            continue
        if entity["type"] in _QUOTES and any(_contains(q, entity) for q in kept if q["type"] in _QUOTES):
            continue
        kept.append(entity)
    if detect:
        blockers = [e for e in kept if e["type"] in _CONTINUOUS_USER_TYPES]
        for auto in find_auto_entities(stripped):
            if not any(_overlaps(auto, b) for b in blockers) and not any(
                e["type"] in _AUTO_TYPES and _overlaps(auto, e) for e in kept
            ):
                kept.append(auto)
    return stripped, _sort_entities(kept)


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
    bot_reactions: dict[int, list[Json]] = field(default_factory=dict)


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


class _Params:
    """Bot API parameters, typed per "Making requests": values may arrive as strings (forms)
    or as JSON values; JSON-serialized objects may arrive as JSON text in a string."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = {k: v for k, v in data.items() if v is not None}

    def has(self, name: str) -> bool:
        return name in self.data and self.data[name] != ""

    def text(self, name: str, default: str | None = None) -> str | None:
        if not self.has(name):
            return default
        value = self.data[name]
        return value if isinstance(value, str) else json.dumps(value)

    def integer(self, name: str, default: int | None = None, *, error: str | None = None) -> int | None:
        if not self.has(name):
            return default
        value = self.data[name]
        if isinstance(value, bool):
            raise _bad(error or f"invalid {name} specified")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        try:
            return int(str(value).strip())
        except ValueError:
            try:
                number = float(str(value))
            except ValueError:
                raise _bad(error or f"invalid {name} specified") from None
            return int(number)

    def flag(self, name: str, default: bool = False) -> bool:
        if not self.has(name):
            return default
        value = self.data[name]
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in ("true", "1")

    def decoded(self, name: str, *, what: str | None = None) -> Any:
        if not self.has(name):
            return None
        value = self.data[name]
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise _bad(f"can't parse {what or name.replace('_', ' ')} JSON object") from None
        return value


_H = TypeVar("_H", bound=Callable[..., Awaitable[Any]])
_HANDLERS: dict[str, tuple[str, Callable[..., Awaitable[Any]]]] = {}


def _api(name: str) -> Callable[[_H], _H]:
    """Register a Bot API method; "All methods in the Bot API are case-insensitive"."""

    def register(func: _H) -> _H:
        _HANDLERS[name.lower()] = (name, func)
        return func

    return register


# ================================================================================ the server


class FakeTelegram:
    """A Telegram Bot API server for one bot, plus the controls a test needs.

    Construct, then ``await start()`` (or ``async with``) inside the test's event loop.
    ``clock`` is the test's clock: every date the server stamps (messages, edits, webhook errors) is its
    ``now()``, so nothing a test sees depends on today's date.  ``monotonic`` drives :class:`RateLimits`
    (durations only), so a test can pass a manual one and advance it instead of sleeping.
    ``latency`` (seconds, settable later) is the network round trip of each HTTP method call: half before
    the server handles it, half before the answer, so a client's concurrency shows as it would against Telegram.
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        username: str = "studybot_test_bot",
        first_name: str = "StudyBot",
        privacy_mode: bool = True,
        can_join_groups: bool = True,
        supports_inline_queries: bool = False,
        strict_html: bool = True,
        first_update_id: int = 100,
        webhook_retry_delay: float = 0.05,
        clock: TestClock,
        monotonic: Callable[[], float] = time.monotonic,
        latency: float = 0.0,
    ) -> None:
        self.bot_id = 7_000_000_000 + secrets.randbelow(999_999_999)
        self.token = token or f"{self.bot_id}:AA{secrets.token_urlsafe(24)[:33]}"
        if ":" in self.token and self.token.split(":", 1)[0].isdigit():
            self.bot_id = int(self.token.split(":", 1)[0])  # a token starts with the bot's user id
        self.bot_username = username
        self.bot_first_name = first_name
        self.privacy_mode = privacy_mode
        self.can_join_groups = can_join_groups
        self.supports_inline_queries = supports_inline_queries
        self.strict_html = strict_html
        self.webhook_retry_delay = webhook_retry_delay
        self.clock = require_test_clock(clock, "FakeTelegram")
        self._monotonic = monotonic
        self.latency = latency

        self._users: dict[int, Json] = {}
        self._started: set[int] = set()
        self._blocked: set[int] = set()
        self._chats: dict[int, _Chat] = {}
        self._next_user_id = 1_000_000_001
        self._next_group_id = 4_000_000_001
        self._next_supergroup_id = 1_002_000_000_001

        self._updates: list[Json] = []
        self._next_update_id = first_update_id
        self._allowed_updates: list[str] | None = None
        self.confirmed_offset = 0
        self._poll_waiter: asyncio.Future[str] | None = None

        self._commands: dict[tuple[tuple[str, int | None, int | None], str], list[Json]] = {}
        self._callback_queries: dict[str, Json] = {}
        self.callback_answers: list[Json] = []

        self.calls: Counter[str] = Counter()
        self.requests: list[RecordedRequest] = []
        self.floods: list[FloodRecord] = []
        self.unknown_methods: list[str] = []
        self.server_errors: list[str] = []  # exceptions inside the fake (bugs), see _answer
        self.dropped_updates: list[tuple[str, str]] = []  # (update type, why it was not delivered)
        self._injected: list[_Injected] = []
        self.rate_limits: RateLimits | None = None
        self._overall_window: deque[float] = deque()
        self._chat_windows: dict[int, deque[float]] = {}
        self._minute_windows: dict[int, deque[float]] = {}

        self._webhook: Json | None = None
        self.webhook_deliveries: list[WebhookDelivery] = []
        self._webhook_wakeup = asyncio.Event()
        self._webhook_task: asyncio.Task[None] | None = None
        self._client: aiohttp.ClientSession | None = None

        self._cond = asyncio.Condition()
        self._notify_scheduled = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    # ---------------------------------------------------------------- lifecycle

    def _unix_now(self) -> int:
        """The test clock's now as the Bot API writes dates: whole Unix seconds."""
        return int(self.clock.now().timestamp())

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Listen on 127.0.0.1 on a free port."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Release long polls, stop webhook delivery, close the listener."""
        self._resolve_poll("stop")
        await self._stop_webhook_task()
        if self._client is not None:
            await self._client.close()
            self._client = None
        for task in list(self._tasks):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)`` / ``Bot(token, base_url=...)``: PTB appends the token."""
        if self._port is None:
            raise RuntimeError("FakeTelegram is not started")
        return f"http://127.0.0.1:{self._port}/bot"

    @property
    def api_url(self) -> str:
        """``base_url`` with this bot's token: append ``/<method>`` for raw HTTP calls."""
        return f"{self.base_url}{self.token}"

    # ---------------------------------------------------------------- change notification

    def _changed(self) -> None:
        """Wake :meth:`wait_for`; called after every change.  Safe from sync code."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if not self._notify_scheduled:
            self._notify_scheduled = True
            task = loop.create_task(self._notify())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _notify(self) -> None:
        self._notify_scheduled = False
        async with self._cond:
            self._cond.notify_all()

    async def wait_for(
        self,
        predicate: Callable[[FakeTelegram], Any],
        timeout: float = 5.0,  # noqa: ASYNC109
        what: str = "",
    ) -> None:
        """Return once ``predicate(self)`` is true; re-checked after every change to the fake."""
        async with self._cond:
            try:
                await asyncio.wait_for(self._cond.wait_for(lambda: bool(predicate(self))), timeout)
            except TimeoutError:
                recent = [r.method for r in self.requests[-10:]]
                subject = what or getattr(predicate, "__name__", "?")
                raise AssertionError(
                    f"FakeTelegram: timed out after {timeout}s waiting for {subject};"
                    f" calls so far {dict(self.calls)}, last requests {recent},"
                    f" pending updates {self.pending_updates()}"
                ) from None

    # ---------------------------------------------------------------- ids and JSON

    @property
    def bot_user(self) -> Json:
        """The bot as a ``User`` (as in ``from`` of its messages)."""
        return {"id": self.bot_id, "is_bot": True, "first_name": self.bot_first_name, "username": self.bot_username}

    def _user_json(self, user_id: int) -> Json:
        if user_id == self.bot_id:
            return self.bot_user
        return copy.deepcopy(self._users[user_id])

    def _chat_json(self, chat: _Chat) -> Json:
        if chat.type == "private":
            assert chat.user_id is not None
            user = self._users[chat.user_id]
            out: Json = {"id": chat.id, "first_name": user["first_name"]}
            for key in ("last_name", "username"):
                if user.get(key):
                    out[key] = user[key]
            out["type"] = "private"
            return out
        out = {"id": chat.id, "title": chat.title}
        if chat.username:
            out["username"] = chat.username
        if chat.is_forum:
            out["is_forum"] = True
        out["type"] = chat.type
        return out

    def _member_json(self, chat: _Chat, member: _Member) -> Json:
        user = self._user_json(member.user_id)
        status = member.status
        if status == "kicked" and chat.type == "group":
            status = "left"  # basic groups have no ban list: a removed member is "left"
        if status == "creator":
            out: Json = {"status": "creator", "user": user, "is_anonymous": member.is_anonymous}
            if member.custom_title:
                out["custom_title"] = member.custom_title
            return out
        if status == "administrator":
            out = {"status": "administrator", "user": user, "can_be_edited": False, "is_anonymous": member.is_anonymous}
            names = list(_REQUIRED_ADMIN_RIGHTS)
            if chat.type in ("group", "supergroup"):
                names += _GROUP_ADMIN_RIGHTS
            if chat.type == "supergroup":
                names += _SUPERGROUP_ADMIN_RIGHTS
            if chat.type == "channel":
                names += _CHANNEL_ADMIN_RIGHTS
            for name in names:
                out[name] = bool(member.rights.get(name, DEFAULT_ADMIN_RIGHTS.get(name, False)))
            if member.custom_title:
                out["custom_title"] = member.custom_title
            return out
        if status == "kicked":
            return {"status": "kicked", "user": user, "until_date": 0}
        return {"status": status, "user": user}

    def _chat(self, ref: ChatRef) -> _Chat:
        chat_id = ref if isinstance(ref, int) else int(ref["id"])
        try:
            return self._chats[chat_id]
        except KeyError:
            raise KeyError(f"FakeTelegram: no chat {chat_id}") from None

    @staticmethod
    def _user_id(ref: UserRef) -> int:
        return ref if isinstance(ref, int) else int(ref["id"])

    def _bot_member(self, chat: _Chat) -> _Member | None:
        return chat.members.get(self.bot_id)

    def _bot_is_admin(self, chat: _Chat) -> bool:
        member = self._bot_member(chat)
        return member is not None and member.status in ("creator", "administrator")

    def _has_right(self, chat: _Chat, user_id: int, right: str) -> bool:
        member = chat.members.get(user_id)
        if member is None:
            return False
        if member.status == "creator":
            return True
        if member.status != "administrator":
            return False
        if chat.type == "group":
            return True  # admins of basic groups are not granular
        return bool(member.rights.get(right, DEFAULT_ADMIN_RIGHTS.get(right, False)))

    # ---------------------------------------------------------------- test control: world

    def add_user(
        self,
        first_name: str,
        username: str | None = None,
        is_bot: bool = False,
        *,
        last_name: str | None = None,
        language_code: str | None = None,
    ) -> Json:
        """A Telegram account; returns its ``User`` object."""
        user_id = self._next_user_id
        self._next_user_id += 1
        user: Json = {"id": user_id, "is_bot": is_bot, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        self._users[user_id] = user
        self._changed()
        return copy.deepcopy(user)

    def add_chat(
        self,
        kind: str = "supergroup",
        title: str = "Study group",
        is_forum: bool = False,
        *,
        username: str | None = None,
        user: UserRef | None = None,
        creator: UserRef | None = None,
        bot_status: str = "member",
        bot_rights: Mapping[str, bool] | None = None,
    ) -> Json:
        """A chat the bot is already in (set-up, no update).  Returns its ``Chat`` object.

        ``kind`` is ``private`` (needs ``user``; same as a silent :meth:`start_private`),
        ``group``, ``supergroup`` or ``channel``.  Every group gets a creator (``creator`` or a
        made-up "Owner" account) because every real group has one.
        """
        if kind == "private":
            if user is None:
                raise ValueError("a private chat needs user=")
            chat = self._private_chat(self._user_id(user))
            self._started.add(chat.id)
            self._changed()
            return self._chat_json(chat)
        if kind not in ("group", "supergroup", "channel"):
            raise ValueError(f"unknown chat kind {kind!r}")
        if is_forum and kind != "supergroup":
            raise ValueError("only supergroups can be forums")
        if kind == "group":
            chat_id = -self._next_group_id
            self._next_group_id += 1
        else:
            chat_id = -self._next_supergroup_id
            self._next_supergroup_id += 1
        chat = _Chat(id=chat_id, type=kind, title=title, username=username, is_forum=is_forum)
        self._chats[chat_id] = chat
        owner = self._user_id(creator) if creator is not None else self.add_user(f"Owner of {title}")["id"]
        chat.members[owner] = _Member(owner, "creator")
        if kind == "channel" and bot_status == "member":
            bot_status = "administrator"  # bots can only be administrators of channels
        chat.members[self.bot_id] = _Member(self.bot_id, bot_status, dict(bot_rights or {}))
        self._changed()
        return self._chat_json(chat)

    def chat(self, ref: ChatRef) -> Json:
        """The ``Chat`` object of a chat as it is now."""
        return self._chat_json(self._chat(ref))

    def add_member(
        self,
        chat: ChatRef,
        user: UserRef,
        status: str = "member",
        *,
        rights: Mapping[str, bool] | None = None,
        announce: bool = False,
    ) -> None:
        """Put ``user`` in ``chat`` (set-up).  ``announce=True`` behaves like a real join:
        a ``new_chat_members`` service message and a ``chat_member`` update."""
        target = self._chat(chat)
        user_id = self._user_id(user)
        if status not in ("member", "administrator", "creator"):
            raise ValueError(f"unknown status {status!r}")
        old = target.members.get(user_id)
        old_json = self._member_json(target, old) if old else {"status": "left", "user": self._user_json(user_id)}
        target.members[user_id] = _Member(user_id, status, dict(rights or {}))
        if announce:
            if target.type != "channel":
                msg = self._new_message(
                    target, self._user_json(user_id), service={"new_chat_members": [self._user_json(user_id)]}
                )
                self._emit_message(target, msg)
            self._emit_chat_member(
                target, user_id, old_json, self._member_json(target, target.members[user_id]), by=user_id
            )
        self._changed()

    def user_leaves(self, chat: ChatRef, user: UserRef) -> None:
        """``user`` leaves: a ``left_chat_member`` service message and a ``chat_member`` update."""
        target = self._chat(chat)
        user_id = self._user_id(user)
        member = target.members.get(user_id)
        if member is None:
            return
        old_json = self._member_json(target, member)
        member.status = "left"
        if target.type != "channel":
            msg = self._new_message(
                target, self._user_json(user_id), service={"left_chat_member": self._user_json(user_id)}
            )
            self._emit_message(target, msg)
        self._emit_chat_member(target, user_id, old_json, self._member_json(target, member), by=user_id)
        self._changed()

    def set_bot_admin(
        self,
        chat: ChatRef,
        is_admin: bool = True,
        rights: Mapping[str, bool] | None = None,
        *,
        by: UserRef | None = None,
    ) -> Json | None:
        """Promote or demote the bot; emits ``my_chat_member`` (returns that update, if delivered)."""
        target = self._chat(chat)
        member = target.members.setdefault(self.bot_id, _Member(self.bot_id, "left"))
        old_json = self._member_json(target, member)
        member.status = "administrator" if is_admin else "member"
        member.rights = dict(rights or {}) if is_admin else {}
        return self._emit_my_chat_member(target, old_json, by)

    def add_bot(self, chat: ChatRef, *, by: UserRef | None = None, as_admin: bool = False) -> Json | None:
        """Someone adds the bot to ``chat`` again: ``my_chat_member`` and, in groups, a
        ``new_chat_members`` service message naming the bot."""
        target = self._chat(chat)
        member = target.members.setdefault(self.bot_id, _Member(self.bot_id, "left"))
        old_json = self._member_json(target, member)
        member.status = "administrator" if as_admin else "member"
        update = self._emit_my_chat_member(target, old_json, by)
        if target.type in ("group", "supergroup"):
            actor = self._user_json(self._actor(target, by))
            msg = self._new_message(target, actor, service={"new_chat_members": [self.bot_user]})
            self._emit_message(target, msg)
        return update

    def kick_bot(self, chat: ChatRef, *, by: UserRef | None = None) -> Json | None:
        """Remove the bot: ``my_chat_member`` to "kicked" (basic groups: "left"); later calls for
        the chat answer 403 "Forbidden: bot was kicked from the ... chat"."""
        target = self._chat(chat)
        member = target.members.setdefault(self.bot_id, _Member(self.bot_id, "member"))
        old_json = self._member_json(target, member)
        member.status = "kicked"
        member.rights = {}
        return self._emit_my_chat_member(target, old_json, by)

    def block_bot(self, user: UserRef) -> Json | None:
        """The user blocks the bot: ``my_chat_member`` in the private chat; sends then answer 403
        "Forbidden: bot was blocked by the user"."""
        user_id = self._user_id(user)
        chat = self._private_chat(user_id)
        self._blocked.add(user_id)
        old = {"status": "member", "user": self.bot_user}
        new = {"status": "kicked", "user": self.bot_user, "until_date": 0}
        return self._emit("my_chat_member", self._chat_member_updated(chat, user_id, old, new))

    def start_private(self, user: UserRef, payload: str | None = None) -> Json:
        """The user pressed Start: a ``/start`` message in their private chat (after an unblock,
        first a ``my_chat_member`` update).  From now on the bot may message them."""
        user_id = self._user_id(user)
        chat = self._private_chat(user_id)
        if user_id in self._blocked:
            self._blocked.discard(user_id)
            old = {"status": "kicked", "user": self.bot_user, "until_date": 0}
            self._emit(
                "my_chat_member",
                self._chat_member_updated(chat, user_id, old, {"status": "member", "user": self.bot_user}),
            )
        self._started.add(user_id)
        return self.user_sends(chat.id, user_id, "/start" + (f" {payload}" if payload else ""))

    def _private_chat(self, user_id: int) -> _Chat:
        if user_id not in self._users:
            raise KeyError(f"FakeTelegram: no user {user_id}")
        chat = self._chats.get(user_id)
        if chat is None:
            chat = _Chat(id=user_id, type="private", user_id=user_id)
            chat.members[user_id] = _Member(user_id, "member")
            chat.members[self.bot_id] = _Member(self.bot_id, "member")
            self._chats[user_id] = chat
        return chat

    def _actor(self, chat: _Chat, by: UserRef | None) -> int:
        if by is not None:
            return self._user_id(by)
        for member in chat.members.values():
            if member.status == "creator":
                return member.user_id
        return next(iter(chat.members))

    def migrate_to_supergroup(self, chat: ChatRef, *, by: UserRef | None = None) -> Json:
        """Upgrade a basic group.  As Telegram does, a service message with ``migrate_to_chat_id``
        appears in the old group and one with ``migrate_from_chat_id`` in the new supergroup;
        afterwards every call naming the old id answers 400 "group chat was upgraded to a
        supergroup chat" with ``parameters.migrate_to_chat_id``."""
        old = self._chat(chat)
        if old.type != "group":
            raise ValueError("only basic groups migrate")
        actor = self._actor(old, by)
        new_id = -self._next_supergroup_id
        self._next_supergroup_id += 1
        new = _Chat(id=new_id, type="supergroup", title=old.title)
        for user_id, member in old.members.items():
            new.members[user_id] = copy.deepcopy(member)
        self._chats[new_id] = new
        msg = self._new_message(old, self._user_json(actor), service={"migrate_to_chat_id": new_id})
        self._emit_message(old, msg)
        old.migrated_to = new_id
        msg = self._new_message(new, self._user_json(actor), service={"migrate_from_chat_id": old.id})
        self._emit_message(new, msg)
        self._changed()
        return self._chat_json(new)

    def user_creates_topic(
        self, chat: ChatRef, user: UserRef, name: str, icon_color: int = FORUM_ICON_COLORS[0]
    ) -> Json:
        """A member opens a forum topic (a ``forum_topic_created`` service message); returns the ForumTopic."""
        target = self._chat(chat)
        return self._create_topic(target, self._user_id(user), name, icon_color, None, emit=True)

    # ---------------------------------------------------------------- test control: activity

    def user_sends(
        self,
        chat: ChatRef,
        user: UserRef | None,
        text: str,
        *,
        reply_to: Mapping[str, Any] | int | None = None,
        thread_id: int | None = None,
        sender_chat: ChatRef | None = None,
        entities: Sequence[Mapping[str, Any]] | None = None,
    ) -> Json:
        """A message from ``user`` (or, with ``sender_chat``, on behalf of a chat: pass the group
        itself for an anonymous admin).  Returns the ``Message``; an update is delivered if the
        bot may see it ("Privacy mode": with privacy on, in groups where the bot is not an
        admin only commands, replies to the bot and service messages reach it)."""
        target = self._chat(chat)
        if target.migrated_to is not None:
            raise ValueError(f"chat {target.id} was migrated to {target.migrated_to}")
        sender: Json | None = None
        sender_chat_json: Json | None = None
        if target.type == "channel":
            sender_chat_json = self._chat_json(target)  # channel posts have sender_chat and no from
        elif sender_chat is not None:
            origin = self._chat(sender_chat)
            sender_chat_json = self._chat_json(origin)
            if target.type != "channel":
                sender = copy.deepcopy(GROUP_ANONYMOUS_BOT if origin.id == target.id else CHANNEL_BOT)
        elif user is not None:
            user_id = self._user_id(user)
            if target.type == "private" and user_id not in self._started:
                raise ValueError("the user has not started the bot: call start_private(user) first")
            sender = self._user_json(user_id)
        else:
            raise ValueError("user_sends needs a user or a sender_chat")
        text, found = fix_formatted_text(text, [dict(e) for e in entities or ()])
        thread, reply = self._resolve_thread(target, thread_id, reply_to, allow_missing=False)
        msg = self._new_message(
            target, sender, sender_chat=sender_chat_json, text=text, entities=found, thread_id=thread, reply_to=reply
        )
        self._emit_message(target, msg)
        self._changed()
        return copy.deepcopy(msg)

    def user_edits(self, chat: ChatRef, message_id: int, text: str) -> Json:
        """The author edits a message: an ``edited_message`` update (same visibility as messages)."""
        target = self._chat(chat)
        msg = target.messages[message_id]
        new_text, found = fix_formatted_text(text, [])
        msg["text"] = new_text
        if found:
            msg["entities"] = found
        else:
            msg.pop("entities", None)
        msg["edit_date"] = self._unix_now()
        kind = "edited_channel_post" if target.type == "channel" else "edited_message"
        if self._bot_sees(target, msg):
            self._emit(kind, msg)
        self._changed()
        return copy.deepcopy(msg)

    def user_deletes(self, chat: ChatRef, message_id: int) -> None:
        """A user deletes a message.  The Bot API has no update for deletions, so the bot is
        not told; only later calls about the message fail ("message to ... not found")."""
        self._chat(chat).deleted.add(message_id)
        self._changed()

    def user_reacts(
        self, chat: ChatRef, message_id: int, user: UserRef, new: Sequence[str], old: Sequence[str] | None = None
    ) -> Json | None:
        """A ``message_reaction`` update.  "The bot must be an administrator in the chat and must
        explicitly specify "message_reaction" in the list of allowed_updates to receive these
        updates" -- otherwise it is silently not delivered and None is returned.  ``old``
        defaults to what this user had set before."""
        target = self._chat(chat)
        user_id = self._user_id(user)
        key = (message_id, user_id)
        old_types = [{"type": "emoji", "emoji": e} for e in old] if old is not None else target.reactions.get(key, [])
        new_types = [{"type": "emoji", "emoji": e} for e in new]
        target.reactions[key] = new_types
        payload = {
            "chat": self._chat_json(target),
            "message_id": message_id,
            "user": self._user_json(user_id),
            "date": self._unix_now(),
            "old_reaction": old_types,
            "new_reaction": new_types,
        }
        if target.type != "private" and not self._bot_is_admin(target):
            self.dropped_updates.append(("message_reaction", "bot is not an administrator"))
            self._changed()
            return None
        return self._emit("message_reaction", payload)

    def anonymous_reaction_count(self, chat: ChatRef, message_id: int, counts: Mapping[str, int]) -> Json | None:
        """A ``message_reaction_count`` update (anonymous reactions, e.g. in channels); same
        delivery rule as ``message_reaction``."""
        target = self._chat(chat)
        payload = {
            "chat": self._chat_json(target),
            "message_id": message_id,
            "date": self._unix_now(),
            "reactions": [
                {"type": {"type": "emoji", "emoji": e}, "total_count": n} for e, n in counts.items() if n > 0
            ],
        }
        if not self._bot_is_admin(target):
            self.dropped_updates.append(("message_reaction_count", "bot is not an administrator"))
            self._changed()
            return None
        return self._emit("message_reaction_count", payload)

    def user_presses(self, chat: ChatRef, message_id: int, user: UserRef, data: str) -> str:
        """The user presses an inline button: a ``callback_query`` update; returns its id."""
        target = self._chat(chat)
        query_id = str(secrets.randbits(60))
        query = {
            "id": query_id,
            "from": self._user_json(self._user_id(user)),
            "message": copy.deepcopy(target.messages[message_id]),
            "chat_instance": str(abs(hash((target.id, self.bot_id))) % 10**18),
            "data": data,
        }
        self._callback_queries[query_id] = query
        self._emit("callback_query", query)
        return query_id

    # ---------------------------------------------------------------- test control: failures

    def flood(
        self, method: str = "sendMessage", times: int = 1, retry_after: int = 5, *, chat_id: ChatRef | None = None
    ) -> None:
        """The next ``times`` calls of ``method`` (for ``chat_id``, if given) answer 429
        "Too Many Requests: retry after N" with ``parameters.retry_after`` ("ResponseParameters")."""
        self._injected.append(
            _Injected(
                method=self._canonical(method),
                status=429,
                description=f"Too Many Requests: retry after {retry_after}",
                parameters={"retry_after": retry_after},
                remaining=times,
                chat_id=None if chat_id is None else self._chat(chat_id).id,
                disconnect=False,
            )
        )

    def fail_next(
        self,
        method: str,
        status: int = 502,
        *,
        times: int = 1,
        description: str | None = None,
        disconnect: bool = False,
    ) -> None:
        """The next ``times`` calls of ``method`` fail: an error answer with ``status`` (PTB raises
        NetworkError for 5xx), or with ``disconnect=True`` the connection is closed unanswered."""
        self._injected.append(
            _Injected(
                method=self._canonical(method),
                status=status,
                description=description or HTTPStatus(status).phrase,
                parameters=None,
                remaining=times,
                chat_id=None,
                disconnect=disconnect,
            )
        )

    def enable_rate_limits(self, limits: RateLimits | None = None) -> RateLimits:
        """Answer 429 as Telegram would when its published limits are exceeded (off by default)."""
        self.rate_limits = limits or RateLimits()
        return self.rate_limits

    def disable_rate_limits(self) -> None:
        self.rate_limits = None

    @staticmethod
    def _canonical(method: str) -> str:
        entry = _HANDLERS.get(method.lower())
        return entry[0] if entry else method

    # ---------------------------------------------------------------- inspection

    def messages(self, chat: ChatRef, *, include_deleted: bool = False) -> list[Json]:
        """Every message in the chat (users', the bot's, service), oldest first."""
        target = self._chat(chat)
        return [
            copy.deepcopy(m)
            for mid, m in sorted(target.messages.items())
            if include_deleted or mid not in target.deleted
        ]

    def sent(self, chat: ChatRef, thread_id: int | None = None, *, include_deleted: bool = False) -> list[Json]:
        """The bot's own (non-service) messages in ``chat``, as they are now (after edits).
        ``thread_id``: None for all, 0 for those outside any thread/topic, else that thread."""
        out = []
        for msg in self.messages(chat, include_deleted=include_deleted):
            if msg.get("from", {}).get("id") != self.bot_id or _SERVICE_KEYS & msg.keys():
                continue
            if thread_id is not None and msg.get("message_thread_id", 0) != thread_id:
                continue
            out.append(msg)
        return out

    def last_sent(self, chat: ChatRef, thread_id: int | None = None) -> Json | None:
        sent = self.sent(chat, thread_id)
        return sent[-1] if sent else None

    def topics(self, chat: ChatRef) -> list[Json]:
        """The forum topics of a chat, with ``is_closed``."""
        return [
            {"message_thread_id": t.thread_id, "name": t.name, "icon_color": t.icon_color, "is_closed": t.closed}
            for t in self._chat(chat).topics.values()
        ]

    def bot_reactions(self, chat: ChatRef, message_id: int) -> list[Json]:
        """The reactions the bot has set on a message (setMessageReaction)."""
        return copy.deepcopy(self._chat(chat).bot_reactions.get(message_id, []))

    def member_status(self, chat: ChatRef, user: UserRef) -> str:
        member = self._chat(chat).members.get(self._user_id(user))
        return member.status if member else "left"

    def commands(self, scope: Any = None, language_code: str = "") -> list[Json] | None:
        """The commands set for exactly this scope and language (None if never set or deleted).

        ``scope``: None/"default", a scope type name, a BotCommandScope dict, or any object
        with ``to_dict()`` (PTB's BotCommandScope* classes)."""
        key = self._scope_key(self._scope_dict(scope))
        found = self._commands.get((key, language_code))
        return copy.deepcopy(found) if found is not None else None

    def pending_updates(self) -> int:
        """Updates created but not yet confirmed (getUpdates offset) or delivered (webhook)."""
        return len(self._updates)

    def drop_pending_updates(self) -> int:
        """Forget every unconfirmed update, as if it had expired unseen (Telegram keeps updates
        for 24 hours), e.g. to test that a send alone discovers a migration.  Returns how many."""
        dropped = len(self._updates)
        self._updates.clear()
        self._changed()
        return dropped

    @property
    def allowed_updates(self) -> list[str] | None:
        """The remembered ``allowed_updates`` (None: the default set)."""
        return list(self._allowed_updates) if self._allowed_updates is not None else None

    @property
    def webhook_url(self) -> str:
        return self._webhook["url"] if self._webhook else ""

    # ---------------------------------------------------------------- updates

    def _emit(self, kind: str, payload: Json) -> Json | None:
        """Create an update if the bot's allowed_updates let it through *now* (the docs: the
        setting "doesn't affect updates created before the call", so filtering happens here)."""
        allowed = self._allowed_updates
        explicit = kind in _EXPLICIT_ONLY
        deliver = (allowed is not None and kind in allowed) if explicit else (not allowed or kind in allowed)
        if not deliver:
            self.dropped_updates.append((kind, "not in allowed_updates"))
            self._changed()
            return None
        update = {"update_id": self._next_update_id, kind: copy.deepcopy(payload)}
        self._next_update_id += 1
        self._updates.append(update)
        self._resolve_poll("update")
        self._webhook_wakeup.set()
        self._changed()
        return copy.deepcopy(update)

    def _emit_message(self, chat: _Chat, msg: Json) -> Json | None:
        if not self._bot_sees(chat, msg):
            self.dropped_updates.append(("message", "privacy mode"))
            return None
        return self._emit("channel_post" if chat.type == "channel" else "message", msg)

    def _bot_sees(self, chat: _Chat, msg: Json) -> bool:
        """Features page, "Privacy mode"."""
        if chat.type == "private":
            return chat.user_id not in self._blocked
        bot = self._bot_member(chat)
        if bot is None or bot.status in ("left", "kicked"):
            return False
        if chat.type == "channel" or _SERVICE_KEYS & msg.keys():
            return True
        if self._bot_is_admin(chat) or not self.privacy_mode:
            return True
        text = msg.get("text", "")
        for entity in msg.get("entities", []):
            if entity["type"] == "bot_command":
                command = _utf16_slice(text, entity["offset"], entity["length"])
                target = command.partition("@")[2]
                # "/command@this_bot" always; a general "/command" too (the fake has no other bots
                # that could have been "the last bot to send a message to the group").
                if not target or target.lower() == self.bot_username.lower():
                    return True
        replied = msg.get("reply_to_message")
        return bool(
            replied and replied.get("from", {}).get("id") == self.bot_id and not replied.get("forum_topic_created")
        )

    def _chat_member_updated(self, chat: _Chat, actor: int, old: Json, new: Json) -> Json:
        return {
            "chat": self._chat_json(chat),
            "from": self._user_json(actor),
            "date": self._unix_now(),
            "old_chat_member": old,
            "new_chat_member": new,
        }

    def _emit_my_chat_member(self, chat: _Chat, old_json: Json, by: UserRef | None) -> Json | None:
        member = chat.members[self.bot_id]
        update = self._emit(
            "my_chat_member",
            self._chat_member_updated(chat, self._actor(chat, by), old_json, self._member_json(chat, member)),
        )
        self._changed()
        return update

    def _emit_chat_member(self, chat: _Chat, user_id: int, old: Json, new: Json, by: int) -> None:
        # "chat_member": "The bot must be an administrator in the chat and must explicitly specify
        # "chat_member" in the list of allowed_updates to receive these updates."
        if not self._bot_is_admin(chat):
            self.dropped_updates.append(("chat_member", "bot is not an administrator"))
            return
        self._emit("chat_member", self._chat_member_updated(chat, by, old, new))

    def _resolve_poll(self, outcome: str) -> None:
        waiter = self._poll_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(outcome)

    def _confirm(self, offset: int) -> None:
        """ "An update is considered confirmed as soon as getUpdates is called with an offset
        higher than its update_id. The negative offset can be specified to retrieve updates
        starting from -offset update from the end of the updates queue. All previous updates
        will be forgotten.\""""
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            self.confirmed_offset = max(self.confirmed_offset, offset)
        elif offset < 0:
            dropped = self._updates[:offset] if -offset < len(self._updates) else []
            self._updates = self._updates[len(dropped) :]
            if dropped:
                self.confirmed_offset = max(self.confirmed_offset, dropped[-1]["update_id"] + 1)

    # ---------------------------------------------------------------- messages

    def _new_message(
        self,
        chat: _Chat,
        sender: Json | None,
        *,
        sender_chat: Json | None = None,
        text: str | None = None,
        entities: Sequence[Json] = (),
        thread_id: int | None = None,
        reply_to: Json | None = None,
        service: Json | None = None,
        extra: Json | None = None,
    ) -> Json:
        message_id = chat.next_message_id
        chat.next_message_id += 1
        msg: Json = {"message_id": message_id}
        if sender is not None:
            msg["from"] = copy.deepcopy(sender)
        if sender_chat is not None:
            msg["sender_chat"] = copy.deepcopy(sender_chat)
        msg["chat"] = self._chat_json(chat)
        msg["date"] = self._unix_now()
        if thread_id:
            msg["message_thread_id"] = thread_id
            if chat.is_forum:
                msg["is_topic_message"] = True  # "True, if the message is sent to a forum topic"
        if reply_to is not None:
            # "Note that the Message object in this field will not contain further reply_to_message
            # fields even if it itself is a reply."
            msg["reply_to_message"] = {k: copy.deepcopy(v) for k, v in reply_to.items() if k != "reply_to_message"}
        if text is not None:
            msg["text"] = text
            if entities:
                msg["entities"] = [copy.deepcopy(dict(e)) for e in entities]
        if service:
            msg.update(copy.deepcopy(service))
        if extra:
            msg.update(copy.deepcopy(extra))
        chat.messages[message_id] = msg
        return msg

    def _live_message(self, chat: _Chat, message_id: int | None) -> Json | None:
        if message_id is None or message_id in chat.deleted:
            return None
        return chat.messages.get(message_id)

    def _resolve_thread(
        self, chat: _Chat, thread_id: int | None, reply_to: Mapping[str, Any] | int | None, *, allow_missing: bool
    ) -> tuple[int | None, Json | None]:
        """The thread and replied-to message of a new message ("Message.message_thread_id":
        "Unique identifier of a message thread or forum topic to which the message belongs;
        for supergroups and private chats only")."""
        reply: Json | None = None
        if reply_to is not None:
            reply_id = reply_to if isinstance(reply_to, int) else int(reply_to["message_id"])
            reply = self._live_message(chat, reply_id)
            if reply is None and not allow_missing:
                raise _bad("message to be replied not found")
        if chat.type != "supergroup":
            return None, reply
        if chat.is_forum:
            if thread_id is None and reply is not None:
                thread_id = reply.get("message_thread_id") if reply.get("is_topic_message") else None
            if thread_id:
                topic = chat.topics.get(thread_id)
                if topic is None:
                    raise _bad("message thread not found")
                if reply is None:
                    # In a topic, a message that replies to nothing replies to the topic's
                    # forum_topic_created service message.
                    reply = chat.messages.get(thread_id)
            return thread_id or None, reply
        if thread_id:
            if self._live_message(chat, thread_id) is None:
                raise _bad("message thread not found")
            return thread_id, reply
        if reply is not None:
            return reply.get("message_thread_id") or reply["message_id"], reply
        return None, reply

    def _create_topic(
        self, chat: _Chat, creator: int, name: str, icon_color: int, icon_custom_emoji_id: str | None, *, emit: bool
    ) -> Json:
        created: Json = {"name": name, "icon_color": icon_color}
        if icon_custom_emoji_id:
            created["icon_custom_emoji_id"] = icon_custom_emoji_id
        thread_id = chat.next_message_id  # the topic's id is its forum_topic_created message's id
        msg = self._new_message(
            chat, self._user_json(creator), thread_id=thread_id, service={"forum_topic_created": created}
        )
        chat.topics[thread_id] = _Topic(thread_id, name, icon_color, icon_custom_emoji_id, creator)
        if emit:
            self._emit_message(chat, msg)
        self._changed()
        return {"message_thread_id": thread_id, **created}

    # ---------------------------------------------------------------- HTTP

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        match = re.fullmatch(r"/bot([^/]*)/([^/]+)", request.path)
        if not match:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        token, method = match.groups()
        try:
            params, content_type = await self._read_params(request)
        except ApiError as exc:
            return web.json_response(exc.body(), status=exc.status)
        if self.latency > 0:
            await asyncio.sleep(self.latency / 2)
        status, body, disconnect = await self._dispatch(token, method, params, content_type)
        if self.latency > 0:
            await asyncio.sleep(self.latency / 2)
        if disconnect:
            if request.transport is not None:
                request.transport.close()
            raise web.HTTPServiceUnavailable()  # never written: the connection is already gone
        return web.json_response(body, status=status)

    @staticmethod
    async def _read_params(request: web.Request) -> tuple[Json, str]:
        """ "Making requests": query string, application/x-www-form-urlencoded,
        application/json (except for uploading files) or multipart/form-data."""
        params: Json = dict(request.query)
        content_type = request.content_type if request.can_read_body else ""
        if request.can_read_body:
            if content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise _bad("can't parse JSON encoded request body") from None
                if not isinstance(body, dict):
                    raise _bad("JSON encoded request body must be an object")
                params.update(body)
            elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                for key, value in form.items():
                    params[key] = value if isinstance(value, str | bytes | bytearray) else value.file.read()
        return params, content_type

    async def _dispatch(self, token: str, method: str, params: Json, content_type: str) -> tuple[int, Json, bool]:
        entry = _HANDLERS.get(method.lower())
        name = entry[0] if entry else method
        self.calls[name] += 1
        status, body, disconnect = await self._answer(token, name, entry, params)
        self.requests.append(RecordedRequest(name, params, content_type, status))
        self._changed()
        return status, body, disconnect

    async def _answer(
        self, token: str, name: str, entry: tuple[str, Callable[..., Awaitable[Any]]] | None, params: Json
    ) -> tuple[int, Json, bool]:
        if token != self.token:
            # Telegram: a malformed token is "Not Found", a well-formed unknown one "Unauthorized".
            if not _TOKEN_RE.fullmatch(token):
                return 404, {"ok": False, "error_code": 404, "description": "Not Found"}, False
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}, False
        if entry is None:
            self.unknown_methods.append(name)
            _log.warning("FakeTelegram: method %s is not implemented (answered 404 Not Found)", name)
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}, False
        injected = self._take_injected(name, params)
        if injected is not None:
            if injected.status == 429:
                retry = int((injected.parameters or {}).get("retry_after", 0))
                self.floods.append(FloodRecord(name, injected.chat_id, retry, "injected"))
            error = ApiError(injected.status, injected.description, injected.parameters)
            return injected.status, error.body(), injected.disconnect
        try:
            result = await entry[1](self, _Params(params))
        except ApiError as exc:
            return exc.status, exc.body(), False
        except Exception as exc:
            # A bug in the fake, not a Telegram answer: keep it visible (tests can assert
            # ``server_errors == []``) instead of letting it look like a flaky network.
            _log.exception("FakeTelegram: %s failed", name)
            self.server_errors.append(f"{name}: {exc!r}")
            return 500, {"ok": False, "error_code": 500, "description": f"FakeTelegram bug: {exc!r}"}, False
        return 200, {"ok": True, "result": result}, False

    def _take_injected(self, name: str, params: Json) -> _Injected | None:
        for injected in self._injected:
            if injected.method != name or injected.remaining <= 0:
                continue
            if injected.chat_id is not None:
                try:
                    chat_id = int(params.get("chat_id", 0))
                except (TypeError, ValueError):
                    continue
                if chat_id != injected.chat_id:
                    continue
            injected.remaining -= 1
            if injected.remaining == 0:
                self._injected.remove(injected)
            return injected
        return None

    async def call(self, method: str, **params: Any) -> Json:
        """Call a method in-process (no HTTP); returns the whole answer body."""
        _, body, _ = await self._dispatch(self.token, method, params, "in-process")
        return body

    # ---------------------------------------------------------------- method helpers

    def _resolve_chat(self, p: _Params, name: str = "chat_id", *, for_send: bool = False) -> _Chat:
        if not p.has(name):
            raise _bad(f"{name} is empty")
        raw = p.data[name]
        chat: _Chat | None = None
        if isinstance(raw, str) and raw.strip().startswith("@"):
            wanted = raw.strip()[1:].lower()
            chat = next((c for c in self._chats.values() if c.username and c.username.lower() == wanted), None)
        else:
            try:
                chat = self._chats.get(int(str(raw).strip()))
            except ValueError:
                chat = None
            if chat is None and for_send:
                with contextlib.suppress(ValueError):
                    if int(str(raw).strip()) in self._users:
                        # A known user who never opened a chat with the bot.
                        raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        if chat is None:
            raise _bad("chat not found")
        if chat.migrated_to is not None:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
            )
        if chat.type == "private":
            return chat
        bot = self._bot_member(chat)
        kind = {"group": "group", "supergroup": "supergroup", "channel": "channel"}[chat.type]
        if bot is None or bot.status == "left":
            raise ApiError(403, f"Forbidden: bot is not a member of the {kind} chat")
        if bot.status == "kicked":
            raise ApiError(403, f"Forbidden: bot was kicked from the {kind} chat")
        return chat

    def _chat_for_send(self, p: _Params) -> _Chat:
        chat = self._resolve_chat(p, for_send=True)
        if chat.type == "private":
            assert chat.user_id is not None
            if chat.user_id in self._blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            if chat.user_id not in self._started:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
            if self._users[chat.user_id].get("is_bot"):
                raise ApiError(403, "Forbidden: bot can't send messages to bots")
        return chat

    def _formatted(
        self, p: _Params, text_name: str = "text", parse_name: str = "parse_mode", entities_name: str = "entities"
    ) -> tuple[str, list[Json]]:
        """Parse the text as "Formatting options" says; returns raw (unfixed) text and entities."""
        text = p.text(text_name) or ""
        if not text:
            raise _bad("message text is empty")
        mode = (p.text(parse_name) or "").strip().lower()
        known = self._users
        try:
            if mode == "html":
                return parse_html(text, strict=self.strict_html, known_users=known)
            if mode == "markdownv2":
                return parse_markdown_v2(text, known_users=known)
            if mode == "markdown":
                return parse_markdown(text, known_users=known)
        except ParseError as exc:
            raise _bad(f"can't parse entities: {exc}") from None
        if mode not in ("", "none"):
            raise _bad("unsupported parse_mode")
        raw = p.decoded(entities_name, what="entities") or []
        if not isinstance(raw, list):
            raise _bad("can't parse entities JSON object")
        entities: list[Json] = []
        total = utf16_len(text)
        for item in raw:
            if not isinstance(item, dict) or "type" not in item:
                raise _bad("can't parse entities JSON object")
            try:
                offset, length = int(item.get("offset", 0)), int(item.get("length", 0))
            except (TypeError, ValueError):
                raise _bad("can't parse entities JSON object") from None
            if offset < 0 or length <= 0 or offset >= total:
                continue
            entity = dict(item)
            entity["offset"], entity["length"] = offset, min(length, total - offset)
            entities.append(entity)
        return text, _sort_entities(entities)

    def _finish_text(self, text: str, entities: list[Json]) -> tuple[str, list[Json]]:
        text, entities = fix_formatted_text(text, entities)
        if not text:
            raise _bad("message text is empty")
        # "1-4096 characters after entities parsing": Telegram counts Unicode code points here,
        # not UTF-16 units (4096 astral emoji are accepted; only entity offsets are UTF-16).
        if len(text) > MAX_MESSAGE_LENGTH:
            raise _bad("message is too long")
        return text, entities

    def _rate_check(self, chat: _Chat, method: str) -> None:
        limits = self.rate_limits
        if limits is None:
            return
        now = self._monotonic()
        waits: list[float] = []

        def check(window: deque[float], limit: int | None, span: float) -> None:
            while window and window[0] <= now - span:
                window.popleft()
            if limit is not None and len(window) >= limit:
                waits.append(window[0] + span - now)

        check(self._overall_window, limits.overall_per_second, 1.0)
        check(self._chat_windows.setdefault(chat.id, deque()), limits.chat_per_second, 1.0)
        if chat.type in ("group", "supergroup"):
            check(self._minute_windows.setdefault(chat.id, deque()), limits.group_per_minute, 60.0)
        if waits:
            retry = max(1, math.ceil(max(waits)))
            self.floods.append(FloodRecord(method, chat.id, retry, "limits"))
            raise ApiError(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry})

    def _rate_note(self, chat: _Chat) -> None:
        if self.rate_limits is None:
            return
        now = self._monotonic()
        self._overall_window.append(now)
        self._chat_windows.setdefault(chat.id, deque()).append(now)
        if chat.type in ("group", "supergroup"):
            self._minute_windows.setdefault(chat.id, deque()).append(now)

    def _message_for_bot(self, chat: _Chat, p: _Params, missing: str) -> Json:
        message_id = p.integer("message_id", error=missing)
        msg = self._live_message(chat, message_id)
        if msg is None:
            raise _bad(missing)
        return msg

    @staticmethod
    def _scope_dict(scope: Any) -> Json:
        if scope is None:
            return {"type": "default"}
        if isinstance(scope, str):
            return {"type": scope}
        if hasattr(scope, "to_dict"):
            return dict(scope.to_dict())
        return dict(scope)

    def _scope_key(self, scope: Json) -> tuple[str, int | None, int | None]:
        kind = scope.get("type", "default")
        chat_id: int | None = None
        user_id: int | None = None
        if kind in ("chat", "chat_administrators", "chat_member"):
            raw = scope.get("chat_id")
            if isinstance(raw, str) and raw.startswith("@"):
                found = next(
                    (c for c in self._chats.values() if c.username and c.username.lower() == raw[1:].lower()), None
                )
                chat_id = found.id if found else None
            elif raw is not None:
                chat_id = int(raw)
        if kind == "chat_member":
            user_id = int(scope["user_id"]) if scope.get("user_id") is not None else None
        return kind, chat_id, user_id

    def _command_key(self, p: _Params) -> tuple[tuple[str, int | None, int | None], str]:
        scope = p.decoded("scope") or {"type": "default"}
        if not isinstance(scope, dict) or scope.get("type") not in _SCOPE_TYPES:
            raise _bad("can't parse BotCommandScope JSON object")
        key = self._scope_key(scope)
        if key[0] in ("chat", "chat_administrators", "chat_member"):
            if key[1] is None or key[1] not in self._chats:
                raise _bad("chat not found")
            if key[0] == "chat_member" and key[2] not in self._users:
                raise _bad("user not found")
        language = p.text("language_code") or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise _bad("invalid language code specified")
        return key, language

    # ---------------------------------------------------------------- webhook delivery

    async def _stop_webhook_task(self) -> None:
        task = self._webhook_task
        self._webhook_task = None
        if task is asyncio.current_task():
            return  # deleteWebhook answered from a webhook reply: the loop ends by itself
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _start_webhook_task(self) -> None:
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.get_running_loop().create_task(self._webhook_loop())

    async def _webhook_loop(self) -> None:
        """Deliver pending updates in order; "In case of an unsuccessful request (a request with
        response HTTP status code different from 2XY), we will repeat the request"."""
        if self._client is None:
            self._client = aiohttp.ClientSession()
        while self._webhook is not None:
            if not self._updates:
                self._webhook_wakeup.clear()
                await self._webhook_wakeup.wait()
                continue
            update = self._updates[0]
            delivered = await self._deliver(update)
            if delivered:
                if self._updates and self._updates[0]["update_id"] == update["update_id"]:
                    self._updates.pop(0)
                self._changed()
            else:
                self._changed()
                self._webhook_wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._webhook_wakeup.wait(), self.webhook_retry_delay)

    async def _deliver(self, update: Json) -> bool:
        hook = self._webhook
        assert hook is not None and self._client is not None
        headers = {"Content-Type": "application/json"}
        secret = hook.get("secret_token")
        if secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        try:
            async with self._client.post(
                hook["url"], data=json.dumps(update), headers=headers, timeout=aiohttp.ClientTimeout(total=10)
            ) as response:
                status = response.status
                body = await response.read()
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            message = "Connection refused" if isinstance(exc, aiohttp.ClientConnectorError) else str(exc) or "error"
            hook["last_error_date"] = self._unix_now()
            hook["last_error_message"] = message
            self.webhook_deliveries.append(WebhookDelivery(update["update_id"], None, secret, message))
            return False
        if not 200 <= status <= 299:
            message = f"Wrong response from the webhook: {status} {HTTPStatus(status).phrase}"
            hook["last_error_date"] = self._unix_now()
            hook["last_error_message"] = message
            self.webhook_deliveries.append(WebhookDelivery(update["update_id"], status, secret, message))
            return False
        self.webhook_deliveries.append(WebhookDelivery(update["update_id"], status, secret, None))
        await self._webhook_reply(body)
        return True

    async def _webhook_reply(self, body: bytes) -> None:
        """ "Making requests when getting updates": a webhook answer may itself be a method call
        (``{"method": "sendMessage", ...}``); its result is not reported anywhere."""
        try:
            payload = json.loads(body) if body.strip() else None
        except ValueError:
            return
        if isinstance(payload, dict) and isinstance(payload.get("method"), str):
            params = {k: v for k, v in payload.items() if k != "method"}
            await self._dispatch(self.token, payload["method"], params, "webhook-reply")

    # ================================================================ Bot API methods

    @_api("getMe")
    async def _get_me(self, p: _Params) -> Json:
        return {
            **self.bot_user,
            "can_join_groups": self.can_join_groups,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": self.supports_inline_queries,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    @_api("logOut")
    async def _log_out(self, p: _Params) -> bool:
        return True

    @_api("close")
    async def _close(self, p: _Params) -> bool:
        return True

    @_api("getUpdates")
    async def _get_updates(self, p: _Params) -> list[Json]:
        if self._webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = p.integer("offset")
        limit = min(100, max(1, p.integer("limit", 100) or 100))
        try:
            timeout = max(0.0, float(p.text("timeout") or 0))
        except ValueError:
            raise _bad("invalid timeout specified") from None
        allowed = p.decoded("allowed_updates", what="allowed updates")
        if allowed is not None:
            if not isinstance(allowed, list):
                raise _bad("can't parse allowed updates JSON object")
            # "If not specified, the previous setting will be used."
            self._allowed_updates = [str(a) for a in allowed] or None
        if offset is not None:
            self._confirm(offset)
        # Only one getUpdates may wait: Telegram ends the older one with 409.
        self._resolve_poll("conflict")
        if not self._updates and timeout > 0:
            waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            self._poll_waiter = waiter
            self._changed()
            try:
                outcome = await asyncio.wait_for(waiter, timeout)
            except TimeoutError:
                outcome = "timeout"
            finally:
                if self._poll_waiter is waiter:
                    self._poll_waiter = None
            if outcome == "conflict":
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                )
            if self._webhook is not None:
                raise ApiError(409, "Conflict: terminated by setWebhook request")
        return copy.deepcopy(self._updates[:limit])

    @property
    def long_polling(self) -> bool:
        """True while a getUpdates call is waiting for updates."""
        return self._poll_waiter is not None and not self._poll_waiter.done()

    @_api("setWebhook")
    async def _set_webhook(self, p: _Params) -> bool:
        url = (p.text("url") or "").strip()
        if not url:
            return await self._delete_webhook(p)
        parts = urlsplit(url)
        host = parts.hostname or ""
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if parts.scheme not in ("http", "https"):
            raise _bad("bad webhook: HTTPS url must be provided for webhook")
        if not loopback:
            # Deviation: Telegram would accept any public HTTPS URL; the fake must not leave the machine.
            raise _bad("bad webhook: FakeTelegram only delivers to loopback addresses")
        secret = p.text("secret_token")
        if secret is not None and not _SECRET_TOKEN_RE.fullmatch(secret):
            raise _bad("secret token contains unallowed characters")
        max_connections = p.integer("max_connections", 40) or 40
        if not 1 <= max_connections <= 100:
            raise _bad("max_connections must be between 1 and 100")
        allowed = p.decoded("allowed_updates", what="allowed updates")
        if allowed is not None:
            self._allowed_updates = [str(a) for a in allowed] or None
        if p.flag("drop_pending_updates"):
            self._updates.clear()
        self._webhook = {
            "url": url,
            "max_connections": max_connections,
            "secret_token": secret,
            "ip_address": p.text("ip_address"),
        }
        self._resolve_poll("webhook")
        self._start_webhook_task()
        self._webhook_wakeup.set()
        return True

    @_api("deleteWebhook")
    async def _delete_webhook(self, p: _Params) -> bool:
        self._webhook = None
        await self._stop_webhook_task()
        if p.flag("drop_pending_updates"):
            self._updates.clear()
        return True

    @_api("getWebhookInfo")
    async def _get_webhook_info(self, p: _Params) -> Json:
        info: Json = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        hook = self._webhook
        if hook is not None:
            for key in ("ip_address", "last_error_date", "last_error_message"):
                if hook.get(key):
                    info[key] = hook[key]
            info["max_connections"] = hook["max_connections"]
            if self._allowed_updates is not None:
                info["allowed_updates"] = list(self._allowed_updates)
        return info

    @_api("sendMessage")
    async def _send_message(self, p: _Params) -> Json:
        # Order as in the Bot API server: parse the text, then find the chat, then check the result.
        raw_text, raw_entities = self._formatted(p)
        chat = self._chat_for_send(p)
        text, entities = self._finish_text(raw_text, raw_entities)
        reply_params = p.decoded("reply_parameters", what="reply parameters")
        reply_to: int | None = None
        allow_missing = p.flag("allow_sending_without_reply")
        if isinstance(reply_params, dict):
            if reply_params.get("chat_id") not in (None, chat.id, str(chat.id)):
                raise _bad("message to be replied not found")  # cross-chat replies are not modelled
            reply_to = int(reply_params["message_id"])
            allow_missing = bool(reply_params.get("allow_sending_without_reply", allow_missing))
        elif p.has("reply_to_message_id"):
            reply_to = p.integer("reply_to_message_id")
        thread, reply = self._resolve_thread(
            chat, p.integer("message_thread_id"), reply_to, allow_missing=allow_missing
        )
        if (
            thread
            and chat.is_forum
            and chat.topics[thread].closed
            and not self._has_right(chat, self.bot_id, "can_manage_topics")
        ):
            raise _bad("TOPIC_CLOSED")
        extra: Json = {}
        markup = p.decoded("reply_markup", what="reply markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            extra["reply_markup"] = {"inline_keyboard": markup["inline_keyboard"]}
        preview = p.decoded("link_preview_options", what="link preview options")
        if p.flag("disable_web_page_preview"):
            preview = {"is_disabled": True}
        if isinstance(preview, dict) and preview:
            extra["link_preview_options"] = preview
        if p.flag("protect_content"):
            extra["has_protected_content"] = True
        self._rate_check(chat, "sendMessage")
        msg = self._new_message(
            chat, self.bot_user, text=text, entities=entities, thread_id=thread, reply_to=reply, extra=extra
        )
        self._rate_note(chat)
        return copy.deepcopy(msg)

    @_api("editMessageText")
    async def _edit_message_text(self, p: _Params) -> Json | bool:
        if p.has("inline_message_id"):
            raise _bad("message to edit not found")  # inline messages are not modelled
        raw_text, raw_entities = self._formatted(p)
        chat = self._resolve_chat(p)
        msg = self._message_for_bot(chat, p, "message to edit not found")
        if msg.get("from", {}).get("id") != self.bot_id or "text" not in msg:
            raise _bad("message can't be edited")
        text, entities = self._finish_text(raw_text, raw_entities)
        markup = p.decoded("reply_markup", what="reply markup")
        new_markup = (
            {"inline_keyboard": markup["inline_keyboard"]}
            if isinstance(markup, dict) and markup.get("inline_keyboard")
            else None
        )
        if text == msg["text"] and entities == msg.get("entities", []) and new_markup == msg.get("reply_markup"):
            raise _bad(
                "message is not modified: specified new message content and reply markup are exactly the "
                "same as a current content and reply markup of the message"
            )
        msg["text"] = text
        if entities:
            msg["entities"] = entities
        else:
            msg.pop("entities", None)
        if new_markup:
            msg["reply_markup"] = new_markup
        else:
            msg.pop("reply_markup", None)
        msg["edit_date"] = self._unix_now()
        return copy.deepcopy(msg)

    def _delete_one(self, chat: _Chat, message_id: int | None) -> None:
        msg = self._live_message(chat, message_id)
        if msg is None or message_id is None:
            raise _bad("message to delete not found")
        own = msg.get("from", {}).get("id") == self.bot_id
        # deleteMessage: "Bots can delete outgoing messages in private chats, groups, and supergroups.
        # Bots can delete incoming messages in private chats. ... If the bot is an administrator of a
        # group, it can delete any message there. If the bot has can_delete_messages administrator
        # right in a supergroup or a channel, it can delete any message there."
        allowed = own or chat.type == "private" or self._has_right(chat, self.bot_id, "can_delete_messages")
        if not allowed:
            raise _bad("message can't be deleted for everyone")
        chat.deleted.add(message_id)

    @_api("deleteMessage")
    async def _delete_message(self, p: _Params) -> bool:
        chat = self._resolve_chat(p)
        self._delete_one(chat, p.integer("message_id", error="message to delete not found"))
        return True

    @_api("deleteMessages")
    async def _delete_messages(self, p: _Params) -> bool:
        chat = self._resolve_chat(p)
        ids = p.decoded("message_ids", what="message identifiers") or []
        for message_id in ids:
            with contextlib.suppress(ApiError):  # "If some of the specified messages can't be found, they are skipped."
                self._delete_one(chat, int(message_id))
        return True

    @_api("setMessageReaction")
    async def _set_message_reaction(self, p: _Params) -> bool:
        chat = self._resolve_chat(p)
        msg = self._message_for_bot(chat, p, "message to react not found")
        reactions = p.decoded("reaction", what="reaction types") or []
        if not isinstance(reactions, list):
            raise _bad("can't parse reaction types JSON object")
        clean: list[Json] = []
        for reaction in reactions:
            if not isinstance(reaction, dict):
                raise _bad("REACTION_INVALID")
            if reaction.get("type") == "emoji":
                emoji = str(reaction.get("emoji", ""))
                if emoji not in REACTION_EMOJI and emoji.replace("\ufe0f", "") not in REACTION_EMOJI:
                    raise _bad("REACTION_INVALID")
                clean.append({"type": "emoji", "emoji": emoji})
            elif reaction.get("type") == "custom_emoji" and str(reaction.get("custom_emoji_id", "")).isdigit():
                clean.append({"type": "custom_emoji", "custom_emoji_id": str(reaction["custom_emoji_id"])})
            else:
                raise _bad("REACTION_INVALID")  # "Bots can't use paid reactions."
        if len(clean) > 1:
            # "Currently, as non-premium users, bots can set up to one reaction per message."
            raise _bad("REACTIONS_TOO_MANY")
        chat.bot_reactions[msg["message_id"]] = clean
        return True

    @_api("sendChatAction")
    async def _send_chat_action(self, p: _Params) -> bool:
        self._chat_for_send(p)
        return True

    @_api("getChat")
    async def _get_chat(self, p: _Params) -> Json:
        chat = self._resolve_chat(p)
        info = self._chat_json(chat)
        # ChatFullInfo: accent_color_id, max_reaction_count and accepted_gift_types are not optional.
        info.update(
            {
                "accent_color_id": abs(chat.id) % 7,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            }
        )
        if chat.type in ("group", "supergroup"):
            info["permissions"] = {
                name: True
                for name in (
                    "can_send_messages",
                    "can_send_audios",
                    "can_send_documents",
                    "can_send_photos",
                    "can_send_videos",
                    "can_send_video_notes",
                    "can_send_voice_notes",
                    "can_send_polls",
                    "can_send_other_messages",
                    "can_add_web_page_previews",
                    "can_invite_users",
                )
            }
            info["permissions"].update(
                {"can_change_info": False, "can_pin_messages": False, "can_manage_topics": False}
            )
        return info

    @_api("getChatAdministrators")
    async def _get_chat_administrators(self, p: _Params) -> list[Json]:
        chat = self._resolve_chat(p)
        if chat.type == "private":
            raise _bad("there are no administrators in the private chat")
        return [self._member_json(chat, m) for m in chat.members.values() if m.status in ("creator", "administrator")]

    @_api("getChatMember")
    async def _get_chat_member(self, p: _Params) -> Json:
        chat = self._resolve_chat(p)
        user_id = p.integer("user_id", error="user not found")
        if user_id != self.bot_id and user_id not in self._users:
            raise _bad("user not found")
        assert user_id is not None
        member = chat.members.get(user_id) or _Member(user_id, "left")
        return self._member_json(chat, member)

    @_api("getChatMemberCount")
    async def _get_chat_member_count(self, p: _Params) -> int:
        chat = self._resolve_chat(p)
        return sum(1 for m in chat.members.values() if m.status not in ("left", "kicked"))

    @_api("leaveChat")
    async def _leave_chat(self, p: _Params) -> bool:
        chat = self._resolve_chat(p)
        if chat.type == "private":
            raise _bad("chat member status can't be changed in private chats")
        member = chat.members[self.bot_id]
        old_json = self._member_json(chat, member)
        member.status = "left"
        member.rights = {}
        self._emit(
            "my_chat_member", self._chat_member_updated(chat, self.bot_id, old_json, self._member_json(chat, member))
        )
        return True

    @_api("createForumTopic")
    async def _create_forum_topic(self, p: _Params) -> Json:
        chat = self._resolve_chat(p)
        if not chat.is_forum:
            raise _bad("the chat is not a forum")
        if not self._has_right(chat, self.bot_id, "can_manage_topics"):
            raise _bad("not enough rights to create a topic")
        name = p.text("name") or ""
        if not 1 <= len(name) <= 128:
            raise _bad("TOPIC_TITLE_EMPTY" if not name else "TOPIC_TITLE_INVALID")
        color = p.integer("icon_color", FORUM_ICON_COLORS[0]) or FORUM_ICON_COLORS[0]
        if color not in FORUM_ICON_COLORS:
            raise _bad("TOPIC_ICON_COLOR_INVALID")
        return self._create_topic(chat, self.bot_id, name, color, p.text("icon_custom_emoji_id"), emit=False)

    def _topic(self, chat: _Chat, p: _Params) -> _Topic:
        if not chat.is_forum:
            raise _bad("the chat is not a forum")
        topic = chat.topics.get(p.integer("message_thread_id", error="message thread not found") or 0)
        if topic is None:
            raise _bad("message thread not found")
        if topic.created_by != self.bot_id and not self._has_right(chat, self.bot_id, "can_manage_topics"):
            raise _bad("not enough rights to manage topics")  # "unless it is the creator of the topic"
        return topic

    @_api("editForumTopic")
    async def _edit_forum_topic(self, p: _Params) -> bool:
        chat = self._resolve_chat(p)
        topic = self._topic(chat, p)
        name = p.text("name")
        emoji = p.text("icon_custom_emoji_id")
        edited: Json = {}
        if name is not None and name != topic.name:
            if len(name) > 128:
                raise _bad("TOPIC_TITLE_INVALID")
            topic.name = edited["name"] = name
        if emoji is not None and emoji != (topic.icon_custom_emoji_id or ""):
            topic.icon_custom_emoji_id = emoji or None
            edited["icon_custom_emoji_id"] = emoji
        if not edited:
            raise _bad("TOPIC_NOT_MODIFIED")
        self._new_message(chat, self.bot_user, thread_id=topic.thread_id, service={"forum_topic_edited": edited})
        return True

    @_api("closeForumTopic")
    async def _close_forum_topic(self, p: _Params) -> bool:
        chat = self._resolve_chat(p)
        topic = self._topic(chat, p)
        if topic.closed:
            raise _bad("TOPIC_NOT_MODIFIED")
        topic.closed = True
        self._new_message(chat, self.bot_user, thread_id=topic.thread_id, service={"forum_topic_closed": {}})
        return True

    @_api("reopenForumTopic")
    async def _reopen_forum_topic(self, p: _Params) -> bool:
        chat = self._resolve_chat(p)
        topic = self._topic(chat, p)
        if not topic.closed:
            raise _bad("TOPIC_NOT_MODIFIED")
        topic.closed = False
        self._new_message(chat, self.bot_user, thread_id=topic.thread_id, service={"forum_topic_reopened": {}})
        return True

    @_api("deleteForumTopic")
    async def _delete_forum_topic(self, p: _Params) -> bool:
        chat = self._resolve_chat(p)
        topic = self._topic(chat, p)
        if not self._has_right(chat, self.bot_id, "can_delete_messages"):
            raise _bad("not enough rights to delete the topic")
        del chat.topics[topic.thread_id]
        for mid, msg in chat.messages.items():
            if msg.get("message_thread_id") == topic.thread_id:
                chat.deleted.add(mid)
        return True

    @_api("setMyCommands")
    async def _set_my_commands(self, p: _Params) -> bool:
        commands = p.decoded("commands", what="bot commands")
        if not isinstance(commands, list):
            raise _bad("can't parse bot commands JSON object")
        if len(commands) > 100:
            raise _bad("too many commands")  # "At most 100 commands can be specified."
        clean = []
        for item in commands:
            if not isinstance(item, dict):
                raise _bad("can't parse bot commands JSON object")
            command = str(item.get("command", "")).strip()
            description = str(item.get("description", "")).strip()
            # BotCommand: "Text of the command; 1-32 characters. Can contain only lowercase English
            # letters, digits and underscores." / "Description of the command; 1-256 characters."
            if not _COMMAND_RE.fullmatch(command):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
            clean.append({"command": command, "description": description})
        key = self._command_key(p)
        if clean:
            self._commands[key] = clean
        else:
            self._commands.pop(key, None)
        return True

    @_api("getMyCommands")
    async def _get_my_commands(self, p: _Params) -> list[Json]:
        return copy.deepcopy(self._commands.get(self._command_key(p), []))

    @_api("deleteMyCommands")
    async def _delete_my_commands(self, p: _Params) -> bool:
        self._commands.pop(self._command_key(p), None)
        return True

    @_api("answerCallbackQuery")
    async def _answer_callback_query(self, p: _Params) -> bool:
        query_id = p.text("callback_query_id") or ""
        query = self._callback_queries.pop(query_id, None)
        if query is None:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        answer: Json = {"callback_query_id": query_id}
        for name in ("text", "url"):
            if p.has(name):
                answer[name] = p.text(name) or ""
        answer["show_alert"] = p.flag("show_alert")
        self.callback_answers.append(answer)
        return True

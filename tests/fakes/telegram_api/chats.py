"""Chat, forum topic and command menu methods: getChat and its members, leaveChat, creating, closing and
reopening forum topics, setMyCommands and its scopes ("Bot commands").

Cut because studybot does not use them (issue 15): inline buttons (callback queries), setting reactions, and
renaming or deleting topics.  A call to one answers 404 and lands in ``unknown_methods``, so a test that starts
needing one fails loudly, and it can come back from git history with its self-test.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from tests.fakes.telegram_api.model import (
    _COMMAND_RE,
    _SCOPE_TYPES,
    FORUM_ICON_COLORS,
    Json,
    _bad,
    _Chat,
    _Member,
    _Topic,
)
from tests.fakes.telegram_api.transport import _api, _Params


class _Chats:
    """Chats and their members, forum topics and command menus."""

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

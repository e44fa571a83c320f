"""Test control: the world a test builds (users, chats, members, the bot's rights) and the changes to it that
Telegram reports as updates (joins, kicks, blocks, migrations, new topics).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

from tests.fakes.telegram_api.model import FORUM_ICON_COLORS, ChatRef, Json, UserRef, _Chat, _Member


class _World:
    """Users and chats, and membership changes with the updates Telegram sends for them."""

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

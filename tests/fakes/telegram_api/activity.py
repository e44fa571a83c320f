"""Test control: what people do in chats (send, edit, delete, react), and what a test reads
back (messages, the bot's sends, topics, commands, pending updates).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from tests.fakes.telegram_api.entities import fix_formatted_text
from tests.fakes.telegram_api.model import _SERVICE_KEYS, CHANNEL_BOT, GROUP_ANONYMOUS_BOT, ChatRef, Json, UserRef


class _Activity:
    """People's acts as updates, and the read-only views a test asserts on."""

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

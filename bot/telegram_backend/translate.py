"""Telegram updates → core events. Pure functions over python-telegram-bot's objects.

Platform ids become strings in a :class:`MessageRef`. In forum supergroups every message inside a topic
carries the topic's id as ``message_thread_id`` and, confusingly, a ``reply_to_message`` pointing at the
topic's creation message; only a reply to another message is a reply.

Bots are left out here, at the border: a bot's message is no question and a bot's reaction no like, so the
core never sees either (the store keeps its own guard). Commands are left to the core as they are.
"""

from __future__ import annotations

from datetime import UTC, datetime

from telegram import (
    Chat,
    Message,
    MessageReactionCountUpdated,
    MessageReactionUpdated,
    ReactionType,
    ReactionTypeCustomEmoji,
    ReactionTypeEmoji,
    User,
)
from telegram.constants import ChatType

from handlers.vocabulary.domain import Member, MessageRef, Platform, ReactionChange
from handlers.vocabulary.events import (
    ChatMoved,
    CommandInvoked,
    Event,
    MessageEdited,
    MessagePosted,
    ReactionAdded,
    ReactionCountsChanged,
    ReactionRemoved,
)

PLATFORM = Platform.TELEGRAM.value


def aware(moment: datetime) -> datetime:
    """Telegram's own time of an update (every message, edit and reaction carries one): the adapter never reads
    the clock for it."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def member(user: User) -> Member:
    return Member(PLATFORM, str(user.id), user.full_name or user.username or str(user.id), bool(user.is_bot))


def chat_member(chat: Chat) -> Member:
    """A message sent on behalf of a chat (an anonymous admin, a linked channel) is authored by the chat."""
    return Member(PLATFORM, str(chat.id), chat.title or chat.username or str(chat.id))


def thread_of(message: Message) -> str | None:
    return str(message.message_thread_id) if message.is_topic_message and message.message_thread_id else None


def message_ref(message: Message) -> MessageRef:
    return MessageRef(PLATFORM, str(message.chat.id), str(message.message_id), thread_of(message))


def reply_ref(message: Message) -> MessageRef | None:
    target = message.reply_to_message
    if target is None:
        return None
    if message.is_topic_message and target.message_id == message.message_thread_id:
        return None  # the implicit "reply" to a forum topic's creation message
    return MessageRef(PLATFORM, str(target.chat.id), str(target.message_id), thread_of(target))


def author_of(message: Message) -> Member | None:
    if message.sender_chat is not None:
        return chat_member(message.sender_chat)
    return member(message.from_user) if message.from_user else None


def emoji_key(reaction: ReactionType) -> str | None:
    if isinstance(reaction, ReactionTypeEmoji):
        return reaction.emoji
    if isinstance(reaction, ReactionTypeCustomEmoji):
        return f"custom:{reaction.custom_emoji_id}"
    return None  # paid reactions are not likes


def parse_command(text: str, bot_username: str) -> tuple[str, str] | None:
    """``/name@bot args`` → (name, args); None when it is not a command for this bot."""
    if not text.startswith("/"):
        return None
    head, _, args = text[1:].partition(" ")
    head, _, newline_args = head.partition("\n")
    name, _, addressed = head.partition("@")
    if addressed and addressed.lower() != bot_username.lower():
        return None
    if not name or not name.replace("_", "").isalnum():
        return None
    return name.lower(), (args or newline_args).strip()


def message_events(message: Message, bot_username: str, is_admin: bool = False) -> list[Event]:
    """A new message: a chat migration, a command, or something a member wrote."""
    at = aware(message.date)
    if message.migrate_to_chat_id:
        return [ChatMoved(PLATFORM, str(message.chat.id), str(message.migrate_to_chat_id), at)]
    text = message.text or message.caption or ""
    author = author_of(message)
    if author is None or not text:
        return []
    ref = message_ref(message)
    command = parse_command(text, bot_username)
    if command is None and author.is_bot:
        return []  # a bot's message (ours, another bot's in a channel-like chat) is nobody's question
    if command is not None:
        name, args = command
        target = message.reply_to_message.from_user if reply_ref(message) and message.reply_to_message else None
        private = message.chat.type == ChatType.PRIVATE
        if message.chat.is_forum and ref.thread_id is not None and name in ("setup", "unfollow"):
            # A forum is one study group: configuring it from inside a topic configures the whole chat.
            ref = MessageRef(ref.platform, ref.chat_id, ref.message_id)
        return [
            CommandInvoked(
                ref=ref,
                actor=author,
                name=name,
                args=args,
                at=at,
                actor_is_admin=not private and is_admin,
                private=private,
                chat_title=message.chat.title or "",
                reply_to=reply_ref(message),
                target=member(target) if target else None,
            )
        ]
    return [MessagePosted(ref, author, text, at, reply_ref(message))]


def edited_events(message: Message) -> list[Event]:
    text = message.text or message.caption or ""
    if not text:
        return []
    return [MessageEdited(message_ref(message), text, aware(message.edit_date or message.date))]


def reaction_changes(update: MessageReactionUpdated) -> list[ReactionChange]:
    """A member's reactions on a message went from ``old`` to ``new``: one change per emoji removed, then one
    per emoji added.

    Applying them again (a redelivered update) leaves the same state, since each is a set operation. This runs
    once per reaction under load, so the common case (one emoji added, none before) skips the set arithmetic.
    """
    who = member(update.user) if update.user else chat_member(update.actor_chat) if update.actor_chat else None
    if who is None or who.is_bot:
        return []  # (a bot's reaction is no like)
    ref = MessageRef(PLATFORM, str(update.chat.id), str(update.message_id))
    at = aware(update.date)
    if not update.old_reaction and len(update.new_reaction) == 1:
        key = emoji_key(update.new_reaction[0])
        return [ReactionChange(ref, who, key, at, True)] if key else []
    old = {key for r in update.old_reaction if (key := emoji_key(r))}
    new = {key for r in update.new_reaction if (key := emoji_key(r))}
    changes = [ReactionChange(ref, who, emoji, at, False) for emoji in sorted(old - new)]
    changes += [ReactionChange(ref, who, emoji, at, True) for emoji in sorted(new - old)]
    return changes


def reaction_events(update: MessageReactionUpdated) -> list[Event]:
    """The same changes as core events, for a reaction update handled on its own."""
    return [
        (ReactionAdded if change.added else ReactionRemoved)(change.ref, change.member, change.emoji, change.at)
        for change in reaction_changes(update)
    ]


def reaction_count_events(update: MessageReactionCountUpdated) -> list[Event]:
    counts = tuple((key, count.total_count) for count in update.reactions if (key := emoji_key(count.type)) is not None)
    ref = MessageRef(PLATFORM, str(update.chat.id), str(update.message_id))
    return [ReactionCountsChanged(ref, counts, aware(update.date))]

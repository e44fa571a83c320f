"""Discord objects → core events. Pure functions over discord.py's objects and raw payloads.

Refs: a message in a guild channel is ``MessageRef("discord", channel, message)``; a message in a thread (a
lesson's thread, a forum post) keeps the *parent* channel as ``chat_id`` and the thread as ``thread_id``, so the
study group (the channel) is found for everything said in its threads, and the thread tells which lesson it is
about. A lesson post started in a text channel shares its id with its thread, as Discord does.

Bots are left out here, at the border: a bot's message is no question and a bot's reaction no like, so the
core never sees either (the store keeps its own guard). Times come from Discord's objects; where Discord gives
none, the caller stamps the event with its :class:`~handlers.ports.Clock`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import discord

from handlers.vocabulary.domain import Member, MessageRef, Platform
from handlers.vocabulary.events import CommandInvoked, Event, MessagePosted

PLATFORM = Platform.DISCORD.value
_CUSTOM = re.compile(r"<a?:([A-Za-z0-9_]{1,32}):(\d{5,25})>")


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def member(user: discord.abc.User) -> Member:
    return Member(PLATFORM, str(user.id), user.display_name or user.name or str(user.id), bool(user.bot))


def member_from_payload(data: dict[str, Any]) -> Member:
    """A User object as the REST API gives it (reaction users)."""
    name = data.get("global_name") or data.get("username") or str(data["id"])
    return Member(PLATFORM, str(data["id"]), str(name), bool(data.get("bot")))


def emoji_key(emoji: discord.PartialEmoji | discord.Emoji | str) -> str:
    """Unicode emoji as themselves; custom ones as ``<:name:id>`` whether animated or not, as /likes keeps them."""
    if isinstance(emoji, str):
        return canonical_emojis(emoji)
    if emoji.id is None:
        return str(emoji.name)
    return f"<:{emoji.name}:{emoji.id}>"


def emoji_key_from_payload(data: dict[str, Any]) -> str:
    if data.get("id"):
        return f"<:{data.get('name')}:{data['id']}>"
    return str(data.get("name"))


def canonical_emojis(text: str) -> str:
    """``<a:name:id>`` → ``<:name:id>``: reaction payloads do not always say whether an emoji is animated."""
    return _CUSTOM.sub(lambda m: f"<:{m.group(1)}:{m.group(2)}>", text)


def chat_of(channel: Any) -> tuple[str, str | None]:
    """(chat_id, thread_id) of a channel object: threads live in their parent channel."""
    if isinstance(channel, discord.Thread):
        return str(channel.parent_id), str(channel.id)
    return str(channel.id), None


def message_ref(chat: tuple[str, str | None], message_id: int | str, guild_id: int | None = None) -> MessageRef:
    """``guild_id``, where known, is kept with a post so that any process can link to it."""
    return MessageRef(PLATFORM, chat[0], str(message_id), chat[1], None if guild_id is None else str(guild_id))


def reply_to(message: discord.Message, chat: tuple[str, str | None]) -> MessageRef | None:
    """Only a real reply (not a thread starter, not a forward) points at another message."""
    ref = message.reference
    if message.type is not discord.MessageType.reply or ref is None or ref.message_id is None:
        return None
    if ref.channel_id not in (None, int(chat[1] or chat[0])):
        return None
    return message_ref(chat, ref.message_id)


def message_event(message: discord.Message) -> Event | None:
    """A member wrote something (commands are interactions, never messages); None for a bot's message (ours
    included) and for system messages."""
    if message.author.bot or message.type not in (discord.MessageType.default, discord.MessageType.reply):
        return None
    chat = chat_of(message.channel)
    return MessagePosted(
        message_ref(chat, message.id, message.guild.id if message.guild is not None else None),
        member(message.author),
        message.content,
        aware(message.created_at),
        reply_to(message, chat),
    )


def command_event(
    interaction: discord.Interaction,
    ref: MessageRef,
    name: str,
    args: str,
    *,
    target: discord.abc.User | None = None,
) -> CommandInvoked:
    """A slash command. Admin is Manage Server in this channel, read from the interaction itself, so it is
    checked at run time whatever the command's default permissions say."""
    private = interaction.guild_id is None
    admin = not private and bool(interaction.permissions.manage_guild)
    name_of_channel = getattr(interaction.channel, "name", None)
    title = f"#{name_of_channel}" if name_of_channel else ""
    return CommandInvoked(
        ref=ref,
        actor=member(interaction.user),
        name=name,
        args=args,
        at=aware(interaction.created_at),
        actor_is_admin=admin,
        private=private,
        chat_title=title,
        target=member(target) if target is not None else None,
    )

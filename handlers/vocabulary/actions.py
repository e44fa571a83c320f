"""Outbound intents: what to say and where, never how to render it."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.vocabulary.content import Content
from handlers.vocabulary.domain import ChatRef, Lesson, MessageRef


@dataclass(frozen=True, slots=True)
class Post:
    """A message in a chat, optionally as a reply to another message.

    ``notify_replied``: the reply should notify the author of ``reply_to`` (an answer to their question) and
    nobody else. Telegram notifies the replied-to author anyway; Discord pings them only when asked
    (``AllowedMentions(replied_user=True)``), so its adapter maps this flag and keeps every other mention off.
    """

    chat: ChatRef
    content: Content
    reply_to: MessageRef | None = None
    notify_replied: bool = False


@dataclass(frozen=True, slots=True)
class PostLesson:
    """A lesson intro. Backends may render it specially (a Discord embed and thread, a Telegram topic)."""

    chat: ChatRef
    lesson: Lesson
    content: Content


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to a command. ``ephemeral`` asks for a reply only the invoker sees, where possible."""

    to: MessageRef
    content: Content
    ephemeral: bool = False


@dataclass(frozen=True, slots=True)
class DirectMessage:
    platform: str
    user_id: str
    content: Content


Action = Post | PostLesson | Reply | DirectMessage

"""Outbound intents: what to say and where, never how to render it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from handlers.vocabulary.charts import DigestChart
from handlers.vocabulary.content import Content
from handlers.vocabulary.domain import ChatRef, Lesson, MessageRef


@dataclass(frozen=True, slots=True)
class Chart:
    """A picture to send with the content (a digest's chart): the data and the language of its words. The core
    says what it shows; the adapters draw it (``bot/charts.py``) and attach it as their platform does. ``png``
    is filled by the adapter layer once drawn (one drawing per digest, however many recipients), never by the
    core."""

    data: DigestChart
    language: str
    png: bytes | None = None


@dataclass(frozen=True, slots=True)
class Post:
    """A message in a chat, optionally as a reply to another message, optionally with a chart.

    ``notify_replied``: the reply should notify the author of ``reply_to`` (an answer to their question) and
    nobody else. Telegram notifies the replied-to author anyway; Discord pings them only when asked
    (``AllowedMentions(replied_user=True)``), so its adapter maps this flag and keeps every other mention off.
    """

    chat: ChatRef
    content: Content
    reply_to: MessageRef | None = None
    chart: Chart | None = None
    notify_replied: bool = False
    # The asker's user id on the post's platform, with ``notify_replied``: where the replied-to message is not
    # the asker's own (a question asked with Discord's /ask is the bot's reply to the command), the adapter
    # mentions this user instead, and only them.
    asker_id: str | None = None


@dataclass(frozen=True, slots=True)
class PostLesson:
    """A lesson intro. Backends may render it specially (a Discord embed and thread, a Telegram topic).

    ``opened``: where the backend opens a thread or topic of the lesson's own and more messages follow in it (a
    forum's topic, a long intro in several parts, a send waiting out a 429), it awaits ``opened(thread)`` as
    soon as the thread exists, before the rest: what learners write there meanwhile is then already about the
    lesson. The core records the thread on the pending post; nothing else is done with it."""

    chat: ChatRef
    lesson: Lesson
    content: Content
    opened: Callable[[ChatRef], Awaitable[None]] | None = field(default=None, compare=False)


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
    chart: Chart | None = None


Action = Post | PostLesson | Reply | DirectMessage

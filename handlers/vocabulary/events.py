"""Inbound core events: what a backend tells the core, in the core's own words.

Backends translate at the border: bots' messages and reactions are left out there, so every author and member
here is a person (or a chat speaking as one); the store keeps its own guard besides."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from handlers.vocabulary.domain import ChatRef, Member, MessageRef, ReactionChange


@dataclass(frozen=True, slots=True)
class MessagePosted:
    """A member wrote something. ``reply_to`` is the message it answers, if the platform says so."""

    ref: MessageRef
    author: Member
    text: str
    at: datetime
    reply_to: MessageRef | None = None


@dataclass(frozen=True, slots=True)
class MessageEdited:
    ref: MessageRef
    text: str
    at: datetime


@dataclass(frozen=True, slots=True)
class MessageDeleted:
    """A message is gone: deleted live, or found gone by a backend catching up after downtime (Discord's
    reconciliation), so that both go the same way through the core."""

    ref: MessageRef
    at: datetime


@dataclass(frozen=True, slots=True)
class ReactionAdded:
    ref: MessageRef
    member: Member
    emoji: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ReactionRemoved:
    ref: MessageRef
    member: Member
    emoji: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ReactionBurst:
    """Reactions a backend received together (a getUpdates batch, a busy gateway), in the order they happened.

    Handled like the single events, but committed with one wait for the lot. It carries the store's own
    :class:`ReactionChange` rather than one event per reaction: under load a backend builds one object per
    reaction instead of two.

    ``kept_is_enough``: the backend must confirm receipt before it may fetch more (Telegram's getUpdates offset),
    and needs for that only the burst kept, not yet counted (see ``LikeStore.keep_reactions``).
    """

    changes: tuple[ReactionChange, ...]
    kept_is_enough: bool = False


@dataclass(frozen=True, slots=True)
class ReactionsCleared:
    """All reactions (``emoji`` None) or all reactions of one emoji were removed from a message."""

    ref: MessageRef
    at: datetime
    emoji: str | None = None


@dataclass(frozen=True, slots=True)
class ReactionCountsChanged:
    """Reaction totals per emoji, for platforms that report anonymous reactions only as counts."""

    ref: MessageRef
    counts: tuple[tuple[str, int], ...]
    at: datetime


@dataclass(frozen=True, slots=True)
class ChatMoved:
    """A chat continues under a new id (a Telegram group upgraded to a supergroup)."""

    platform: str
    old_chat_id: str
    new_chat_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CommandInvoked:
    """``/name args`` in a chat. The backend knows the platform's admin rules and says whether they hold.

    ``private`` is true in a one-to-one chat with the bot (where the instructor answers).
    """

    ref: MessageRef
    actor: Member
    name: str
    args: str
    at: datetime
    actor_is_admin: bool = False
    private: bool = False
    chat_title: str = ""
    reply_to: MessageRef | None = None
    # The member the command is about (the author of the replied-to message, a mention), when there is one.
    target: Member | None = None

    @property
    def chat(self) -> ChatRef:
        return self.ref.chat


@dataclass(frozen=True, slots=True)
class AdviceDue:
    """The platform knows something a chat's admins must do for the bot to work there (Telegram: make the bot
    an admin of the group; open a private chat to receive digests). The core says it in the group's language.

    ``key`` is the i18n key of the advice, ``params`` its placeholders' values.
    """

    chat: ChatRef
    key: str
    at: datetime
    params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Leading:
    """Which platforms' scheduled sends a duty event is for (issue 13, mixed deployments).

    Processes sharing a database may run different platforms (Telegram webhook workers, Discord shards); a
    send can only go out from a process that runs its platform. So each platform has its own leader, and a
    duty done by one leader covers only its ``platforms`` (None: every platform, the single-process case).
    ``elsewhere`` names the platforms another live process leads: what is theirs is left for them, and a
    digest is not counted as sent until they have delivered their share."""

    platforms: frozenset[str] | None = None
    elsewhere: frozenset[str] = frozenset()

    def leads(self, platform: str) -> bool:
        return self.platforms is None or platform in self.platforms


EVERY_PLATFORM = Leading()


@dataclass(frozen=True, slots=True)
class LessonPublished:
    """A lesson's time came (the scheduler found it due): post it to every group of its course, then mark it
    published. Groups already served keep their post (each group's claim makes it once)."""

    lesson_id: int
    at: datetime
    leading: Leading = field(default=EVERY_PLATFORM)


@dataclass(frozen=True, slots=True)
class DigestDue:
    """A course's digest period ended: the scheduler decides when, the core decides what."""

    course_slug: str
    period_end: datetime
    leading: Leading = field(default=EVERY_PLATFORM)


@dataclass(frozen=True, slots=True)
class SendsUnfinished:
    """Time to finish what was recorded but not delivered: digests that reached no instructor yet, and lesson
    posts whose claim expired (its attempt died mid-send)."""

    at: datetime
    leading: Leading = field(default=EVERY_PLATFORM)


@dataclass(frozen=True, slots=True)
class RemindersDue:
    """Time to look for unanswered, liked questions older than their course's ``/remind`` days (the scheduler
    says when, at every wake-up; the core finds which, by ``at``, and claims each before sending). Reminders are
    delivered on the ``leading`` platforms only; another platform's leader delivers its own share."""

    at: datetime
    leading: Leading = field(default=EVERY_PLATFORM)


Event = (
    MessagePosted
    | MessageEdited
    | MessageDeleted
    | ReactionAdded
    | ReactionRemoved
    | ReactionBurst
    | ReactionsCleared
    | ReactionCountsChanged
    | ChatMoved
    | CommandInvoked
    | AdviceDue
    | LessonPublished
    | DigestDue
    | SendsUnfinished
    | RemindersDue
)

# How events enter the core: the dispatcher's ``dispatch`` (handlers.routing.Dispatcher), handed to every
# producer of events (backends, the scheduler), which know it by this one name.
Dispatch = Callable[[Event], Awaitable[None]]

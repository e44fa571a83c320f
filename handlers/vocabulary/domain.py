"""Domain types shared by every layer.

They are frozen, slotted dataclasses (one a named tuple, see :class:`ReactionChange`) so that an event or a row
read from storage can be passed between tasks without anyone mutating it behind another handler's back. Platform
ids are always strings: Telegram uses 64-bit integers, Discord snowflakes, the console small counters; a string
holds all of them without loss.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # digest_report imports this module
    from handlers.vocabulary.digest_report import DigestReport

DEFAULT_LIKE_EMOJIS: tuple[str, ...] = ("👍",)
DEFAULT_DIGEST_CRON = "0 9 * * 1"  # crontab: Mondays at 09:00 in the course's timezone
DEFAULT_TIMEZONE = "UTC"
DEFAULT_DIGEST_SIZE = 10


class Platform(StrEnum):
    CONSOLE = "console"
    TELEGRAM = "telegram"
    DISCORD = "discord"


class Language(StrEnum):
    ZH = "zh"
    EN = "en"


class PostKind(StrEnum):
    """What a member's top-level message about a lesson turned out to be."""

    QUESTION = "question"
    COMMENT = "comment"


class PostState(StrEnum):
    """Lesson broadcast bookkeeping: the intent is recorded before sending, the message after."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ChatRef:
    """A place where messages are posted: a group, a channel, a forum topic or a private chat."""

    platform: str
    chat_id: str
    thread_id: str | None = None


@dataclass(frozen=True, slots=True)
class MessageRef:
    """A typed pointer to one platform message (rather than an untyped ``extras`` dict)."""

    platform: str
    chat_id: str
    message_id: str
    thread_id: str | None = None
    # What a link to the message needs besides its ids, where the platform has it: Discord's guild (server) id.
    # Not part of the message's identity, so refs compare and hash without it; kept with the post so that any
    # process makes the right link, even one that does not have the guild in its cache.
    guild_id: str | None = field(default=None, compare=False)

    @property
    def chat(self) -> ChatRef:
        return ChatRef(self.platform, self.chat_id, self.thread_id)


@dataclass(frozen=True, slots=True)
class Member:
    platform: str
    user_id: str
    display_name: str
    is_bot: bool = False


# Course slugs: the one rule, for every path that creates a course (lesson files and their folders, --course,
# DEFAULT_COURSE, FEEDS). /setup <course> takes the first word of its arguments and Discord's course option is
# matched as typed, so a slug with a space, a slash or nothing in it would make a course nobody can follow.
MAX_COURSE_SLUG = 64
COURSE_SLUG_RULE = f"use letters, digits, '-' and '_' only (at most {MAX_COURSE_SLUG}), e.g. ai-systems"


def course_slug_problem(slug: str) -> str | None:
    """Why ``slug`` cannot name a course (:data:`COURSE_SLUG_RULE`), or None when it can."""
    if not slug.replace("-", "").replace("_", "").isalnum() or len(slug) > MAX_COURSE_SLUG:
        return COURSE_SLUG_RULE
    return None


@dataclass(frozen=True, slots=True)
class Course:
    slug: str
    title: str
    timezone: str = DEFAULT_TIMEZONE
    language: str = Language.ZH.value
    digest_cron: str = DEFAULT_DIGEST_CRON
    digest_size: int = DEFAULT_DIGEST_SIZE
    # When the course was first stored: the start of its first digest period. Set by the store.
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class LessonDraft:
    """A lesson as a source gives it, before storage gives it an id."""

    course_slug: str
    slug: str
    title: str
    intro: str = ""
    link: str = ""
    number: int | None = None
    release_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Lesson:
    id: int
    course_slug: str
    slug: str
    title: str
    intro: str
    link: str
    number: int | None
    release_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Group:
    """A study group: one chat (or one forum topic) following at most one course."""

    id: int
    chat: ChatRef
    title: str
    course_slug: str | None
    language: str
    like_emojis: tuple[str, ...] = DEFAULT_LIKE_EMOJIS
    active: bool = True
    # Why an admin should look at the group (e.g. the bot lost a permission there), None when all is well.
    attention: str | None = None


@dataclass(frozen=True, slots=True)
class Instructor:
    course_slug: str
    platform: str
    user_id: str
    display_name: str


@dataclass(frozen=True, slots=True)
class LessonPost:
    """A lesson's post in one group. A PENDING post is claimed by one attempt, ``claimed_by`` (its process's holder
    id and a part of its own), which alone may send it until ``claim_expires_at``; after that another attempt, of
    any process, may take the claim over."""

    lesson_id: int
    group_id: int
    state: PostState
    ref: MessageRef | None
    claimed_by: str | None = None
    claim_expires_at: datetime | None = None

    def claim_expired(self, now: datetime) -> bool:
        """A claim without an expiry (made before claims had owners) counts as expired."""
        return self.claim_expires_at is None or self.claim_expires_at <= now


@dataclass(frozen=True, slots=True)
class NewPost:
    """A member's message about a lesson, as the handler classified it."""

    lesson_id: int
    group_id: int
    author: Member
    ref: MessageRef
    text: str
    kind: PostKind
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Question:
    """A question or comment; ``likes`` counts members, ``base_likes`` imported counts without members."""

    id: int
    lesson_id: int
    group_id: int | None
    author: Member
    ref: MessageRef | None
    text: str
    kind: PostKind
    created_at: datetime
    edited_at: datetime | None
    deleted: bool
    answered: bool
    answer_text: str | None
    likes: int
    base_likes: int
    replies: int
    # The id of the first question of the cluster this one joined (issue 12); None for a first or lone one.
    duplicate_of: int | None = None

    @property
    def asker_id(self) -> str | None:
        """The author's id on the platform the question was asked on, whom a reply to it notifies; None for an
        imported question (its author is no user there) or one without a message."""
        if self.ref is None or self.author.platform != self.ref.platform:
            return None
        return self.author.user_id

    @property
    def total_likes(self) -> int:
        return self.likes + self.base_likes


@dataclass(frozen=True, slots=True)
class DiscussionReply:
    """A member's reply under a question, kept for the export (not the action of replying: see
    :class:`handlers.vocabulary.actions.Reply`)."""

    question_id: int
    author: Member
    ref: MessageRef | None
    text: str
    created_at: datetime


class ReactionChange(NamedTuple):
    """One member's reaction added (or, with ``added`` False, removed) on a message.

    A named tuple, not a frozen dataclass as the other types here, and as immutable: a busy server brings
    thousands of these a second, each built on the event loop as the platform library parses its event, and a
    frozen dataclass's ``__init__`` (one ``object.__setattr__`` per field) took 1.3 µs of the 4.3 µs that studybot
    spends per Discord reaction there; a named tuple is built in 0.6 µs.
    """

    ref: MessageRef
    member: Member
    emoji: str
    at: datetime
    added: bool = True


@dataclass(frozen=True, slots=True)
class RankedQuestion:
    """A question with the lesson it belongs to, as /top and digests list it."""

    question: Question
    lesson_title: str
    lesson_number: int | None
    # For a cluster of near-duplicates: its likes (distinct members + imported) and its other copies' ids.
    likes: int | None = None
    copies: tuple[int, ...] = ()

    @property
    def total_likes(self) -> int:
        return self.question.total_likes if self.likes is None else self.likes


@dataclass(frozen=True, slots=True)
class PostWindow:
    """The posts a digest covers: those studybot *stored* after post ``after`` up to post ``through``.

    Post ids grow in the order posts are stored, so consecutive digests, each from the last one's ``through`` to
    the newest post when it is recorded, cover every post exactly once: a question asked while the bot was down,
    or dated in a period already recorded, lands in the next digest instead of being lost. ``since`` narrows
    the window to posts dated at or after it (``studybot digest --since``).
    """

    after: int
    through: int
    since: datetime | None = None


@dataclass(frozen=True, slots=True)
class PeriodSummary:
    questions: int
    comments: int
    likes: int
    most_active_lesson: str | None


@dataclass(frozen=True, slots=True)
class DigestItem:
    """One question of a digest. It keeps the question's message (``ref``), not a link: the link is made when the
    digest is sent, by the platform the question is on (see ``bot.outbox``). ``link`` is only set on items of
    digests recorded before that (schema 8 and older), which stored a link already made."""

    question_id: int
    lesson_title: str
    likes: int
    author: str
    excerpt: str
    ref: MessageRef | None
    answered: bool
    link: str | None = None
    # The other copies of the question (issue 12): "also asked by N", their ids to reach them.
    copies: tuple[int, ...] = ()
    # Posted to the instructors as unanswered by /remind before the digest was recorded (issue 16).
    reminded: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "copies", tuple(self.copies))  # a list when read back from JSON


@dataclass(frozen=True, slots=True)
class Digest:
    id: int
    course_slug: str
    period_start: datetime
    period_end: datetime
    through_post: int  # the newest post the digest covers (see PostWindow)
    items: tuple[DigestItem, ...]
    summary: PeriodSummary
    sent_at: datetime | None = None
    # Still open, what changed and the chart (issue 16); None on digests recorded before it.
    report: DigestReport | None = None


@dataclass(frozen=True, slots=True)
class Stats:
    lessons: int
    questions: int
    comments: int
    replies: int
    likes: int
    answered: int
    members: int


@dataclass(frozen=True, slots=True)
class ExportRow:
    """One question or comment with its discussion, for ``studybot export``."""

    question: Question
    lesson_title: str
    replies: tuple[DiscussionReply, ...] = field(default=())


# discord ---------------------------------------------------------------------------------------------------
ATTENTION_MISSING_PERMISSIONS = "missing_permissions"


@dataclass(frozen=True, slots=True)
class ReactionFix:
    """What a reconciliation changed on one question: (user id, emoji) pairs added and removed."""

    question_id: int
    added: tuple[tuple[str, str], ...] = ()
    removed: tuple[tuple[str, str], ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)

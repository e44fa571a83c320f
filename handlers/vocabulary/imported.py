"""Types for lessons that come from sources (course pages, feeds), shared by the ports and their users.

A course page's featured comments become the lesson's questions and comments as *imported posts*: they have
no group and no platform message, their author is a name (kept as a member of the pseudo-platform
:data:`IMPORTED_PLATFORM`), their 👍 count is kept as base likes and their 💬 count as imported replies.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from handlers.vocabulary.domain import Lesson, LessonDraft, PostKind

IMPORTED_PLATFORM = "import"  # the "platform" of imported authors: they are names, not accounts


def import_key(*parts: str) -> str:
    """A stable key for an imported post from what identifies it (course, lesson, author, date, text)."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:32]


@dataclass(frozen=True, slots=True)
class ImportedPost:
    """A question or comment taken from a course page."""

    key: str  # stable across re-imports of the same page: the same key updates, never duplicates
    author: str
    text: str
    kind: PostKind
    likes: int  # kept as base likes (likes without member ids)
    replies: int  # kept as imported replies, added to the members' replies we keep
    created_at: datetime


@dataclass(frozen=True, slots=True)
class LessonImport:
    """What :meth:`handlers.ports.Store.import_lesson` did."""

    lesson: Lesson
    new: bool
    posts_added: int = 0
    posts_updated: int = 0
    lesson_changed: bool = True  # a field of the stored lesson changed (or it is new)

    @property
    def changed(self) -> bool:
        """Whether the import changed anything stored: a re-import of the same file changes nothing."""
        return self.new or self.lesson_changed or bool(self.posts_added or self.posts_updated)


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One feed entry as a lesson; ``key`` is its guid/id (its link only when it has none)."""

    key: str
    draft: LessonDraft


@dataclass(frozen=True, slots=True)
class FeedState:
    """What is kept about a feed between polls (and restarts)."""

    course_slug: str
    url: str
    added_at: datetime
    next_attempt_at: datetime
    etag: str | None = None
    last_modified: str | None = None
    primed_at: datetime | None = None  # first successful poll: the entries seen then were recorded, not posted
    polled_at: datetime | None = None
    failures: int = 0  # consecutive failed polls
    last_error: str | None = None

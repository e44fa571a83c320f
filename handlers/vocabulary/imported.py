"""Types for lessons that come from sources (course pages, feeds), shared by the ports and their users.

A course page's featured comments become the lesson's questions and comments as *imported posts*: they have
no group and no platform message, their author is a name (kept as a member of the pseudo-platform
:data:`IMPORTED_PLATFORM`), their 👍 count is kept as base likes and their 💬 count as imported replies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime

from handlers.vocabulary.domain import Lesson, LessonDraft, PostKind

IMPORTED_PLATFORM = "import"  # the "platform" of imported authors: they are names, not accounts


KEY_BYTES = 16  # an import key is the hex of this many bytes


def import_key(*parts: str) -> str:
    """A stable key for an imported post from what identifies it (course, lesson, author, date, text)."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[: 2 * KEY_BYTES]


class ImportKeys(Collection[str]):
    """A page's import keys, in the page's order, packed into one bytes object of 16 bytes a key.

    Why: a course page's keys are held from parsing until its import has stored every comment (they tell which
    stored posts the page no longer lists). As a set of 32-character strings, a page of 130,000 comments held
    15 MB of them; packed, 2 MB. A key listed twice (the same comment twice on a page) is there twice: the
    stores only ask whether a stored post's key is among them. Keys are yielded as :func:`import_key` makes them.
    """

    __slots__ = ("_packed",)

    def __init__(self, packed: bytes = b"") -> None:
        if len(packed) % KEY_BYTES:
            raise ValueError(f"packed import keys are {KEY_BYTES} bytes each, not {len(packed)} bytes in all")
        self._packed = packed

    @staticmethod
    def pack(key: str) -> bytes:
        """A key's 16 bytes, as :class:`ImportKeys` holds them."""
        return bytes.fromhex(key)

    def __len__(self) -> int:
        return len(self._packed) // KEY_BYTES

    def __iter__(self) -> Iterator[str]:
        packed = self._packed
        for start in range(0, len(packed), KEY_BYTES):
            yield packed[start : start + KEY_BYTES].hex()

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str) or len(key) != 2 * KEY_BYTES:
            return False
        try:
            wanted = bytes.fromhex(key)
        except ValueError:
            return False
        packed, at = self._packed, self._packed.find(wanted)
        while at >= 0 and at % KEY_BYTES:  # a match across two keys is none
            at = packed.find(wanted, at + 1)
        return at >= 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ImportKeys) and other._packed == self._packed

    def __hash__(self) -> int:
        return hash(self._packed)

    def __repr__(self) -> str:
        return f"ImportKeys(<{len(self)} keys>)"


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

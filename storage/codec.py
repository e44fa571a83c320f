"""Converting between domain values and what the tables hold.

Times are stored as INTEGER microseconds since the Unix epoch, UTC: they sort and compare as integers (so
range conditions use plain indexes), they are exact (no float rounding) and they carry no zone to get wrong.
Naive datetimes are refused with ValueError before anything is queued, so a bad call changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from handlers.vocabulary.domain import (
    ChatRef,
    Course,
    Digest,
    DigestItem,
    DiscussionReply,
    Group,
    Instructor,
    Lesson,
    LessonPost,
    Member,
    MessageRef,
    PeriodSummary,
    PostKind,
    PostState,
    Question,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Row(Protocol):
    """A row indexed by column name: SQLite's ``sqlite3.Row`` or asyncpg's ``Record`` (both stores share the
    codec)."""

    def __getitem__(self, key: Any, /) -> Any: ...


_MICROSECOND = timedelta(microseconds=1)


def to_micros(value: datetime) -> int:
    """``value`` as microseconds since the epoch; ValueError for a naive datetime (its zone is unknowable)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} given to storage; pass a timezone-aware one")
    return (value - EPOCH) // _MICROSECOND


def to_micros_or_none(value: datetime | None) -> int | None:
    return None if value is None else to_micros(value)


def from_micros(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


def from_micros_or_none(value: int | None) -> datetime | None:
    return None if value is None else from_micros(value)


# rows → domain ---------------------------------------------------------------------------------------------
def course_from(row: Row) -> Course:
    return Course(
        slug=row["slug"],
        title=row["title"],
        timezone=row["timezone"],
        language=row["language"],
        digest_cron=row["digest_cron"],
        digest_size=row["digest_size"],
        created_at=from_micros_or_none(row["created_at"]),
    )


def lesson_from(row: Row) -> Lesson:
    return Lesson(
        id=row["id"],
        course_slug=row["course_slug"],
        slug=row["slug"],
        title=row["title"],
        intro=row["intro"],
        link=row["link"],
        number=row["number"],
        release_at=from_micros_or_none(row["release_at"]),
        created_at=from_micros(row["created_at"]),
    )


def group_from(row: Row) -> Group:
    """Expects the group's columns plus ``emojis``, a JSON array in the admin's order."""
    return Group(
        id=row["id"],
        chat=ChatRef(row["platform"], row["chat_id"], row["thread_id"]),
        title=row["title"],
        course_slug=row["course_slug"],
        language=row["language"],
        like_emojis=tuple(json.loads(row["emojis"])),
        active=bool(row["active"]),
        attention=row["attention"],  # discord: migration 0005
    )


def message_ref_from(row: Row, prefix: str = "") -> MessageRef | None:
    message_id = row[prefix + "message_id"]
    if message_id is None:
        return None
    try:
        guild = row[prefix + "guild_id"]
    except (IndexError, KeyError):  # a table that keeps no guild (lesson posts, replies); KeyError: asyncpg
        guild = None
    return MessageRef(row[prefix + "platform"], row[prefix + "chat_id"], message_id, row[prefix + "thread_id"], guild)


def lesson_post_from(row: Row) -> LessonPost:
    return LessonPost(
        lesson_id=row["lesson_id"],
        group_id=row["group_id"],
        state=PostState(row["state"]),
        ref=message_ref_from(row),
        claimed_by=row["claimed_by"],
        claim_expires_at=from_micros_or_none(row["claim_expires_at"]),
    )


def author_from(row: Row) -> Member:
    """Expects the author's columns aliased ``a_platform``, ``a_user_id``, ``a_name``, ``a_is_bot``."""
    return Member(row["a_platform"], row["a_user_id"], row["a_name"], bool(row["a_is_bot"]))


def question_from(row: Row) -> Question:
    return Question(
        id=row["id"],
        lesson_id=row["lesson_id"],
        group_id=row["group_id"],
        author=author_from(row),
        ref=message_ref_from(row),
        text=row["text"],
        kind=PostKind(row["kind"]),
        created_at=from_micros(row["created_at"]),
        edited_at=from_micros_or_none(row["edited_at"]),
        deleted=bool(row["deleted"]),
        answered=bool(row["answered"]),
        answer_text=row["answer_text"],
        likes=row["likes"],
        base_likes=row["base_likes"],
        replies=row["replies"],
        duplicate_of=row["duplicate_of"],  # clusters: migration 0010
    )


def reply_from(row: Row) -> DiscussionReply:
    return DiscussionReply(
        question_id=row["question_id"],
        author=author_from(row),
        ref=message_ref_from(row),
        text=row["text"],
        created_at=from_micros(row["created_at"]),
    )


def instructor_from(row: Row) -> Instructor:
    return Instructor(row["course_slug"], row["platform"], row["user_id"], row["display_name"])


# digests: JSON snapshots ------------------------------------------------------------------------------------
def items_to_json(items: Sequence[DigestItem]) -> str:
    """Each item with its question's message ref (guild id included); ``link`` only when an old item had one."""
    rows = []
    for item in items:
        row = asdict(item)
        if row["link"] is None:
            del row["link"]
        rows.append(row)
    return json.dumps(rows, ensure_ascii=False)


def item_from(data: dict[str, Any]) -> DigestItem:
    """Items recorded before schema 9 have a ``link`` (made when the digest was built) and no ``ref``."""
    ref = data.pop("ref", None)
    return DigestItem(**data, ref=MessageRef(**ref) if ref else None)


def summary_to_json(summary: PeriodSummary) -> str:
    return json.dumps(asdict(summary), ensure_ascii=False)


def digest_from(row: Row) -> Digest:
    return Digest(
        id=row["id"],
        course_slug=row["course_slug"],
        period_start=from_micros(row["period_start"]),
        period_end=from_micros(row["period_end"]),
        through_post=row["through_post"],
        items=tuple(item_from(item) for item in json.loads(row["items"])),
        # "report" (issue 16) is read by storage.digests, which keeps it in the same JSON
        summary=PeriodSummary(**{k: v for k, v in json.loads(row["summary"]).items() if k != "report"}),
        sent_at=from_micros_or_none(row["sent_at"]),
    )

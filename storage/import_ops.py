"""The SQL of lesson sources: imported lessons with their posts, feeds' state and known entries.

Each public function is an operation for :meth:`storage.writer.GroupCommitWriter.call`: it runs inside the
writer's transaction (in its own savepoint), so everything it writes commits together or not at all.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from datetime import datetime
from itertools import islice
from typing import TypeVar

import aiosqlite

from handlers.vocabulary.domain import Course, Lesson, LessonDraft
from handlers.vocabulary.imported import IMPORTED_PLATFORM, FeedEntry, FeedState, ImportedPost, LessonImport
from storage import chunk_placement, clusters, codec
from storage.json_text import json_text

logger = logging.getLogger(__name__)

T = TypeVar("T")
Op = Callable[[aiosqlite.Connection], Awaitable[T]]

# The lesson's imported posts that the page being imported no longer lists: the ones an edited comment may
# replace (by the same author, on the same day, oldest first).
UNLISTED = """
    SELECT q.id, m.user_id, q.created_at FROM questions q JOIN members m ON m.id = q.author_id
    WHERE q.lesson_id = ? AND q.import_key IS NOT NULL AND m.platform = ?
      AND q.import_key NOT IN (SELECT value FROM json_each(?))
    ORDER BY q.id
"""

FEED_SELECT = (
    "SELECT course_slug, url, etag, last_modified, added_at, primed_at, polled_at, failures, last_error,"
    " next_attempt_at FROM feeds"
)


def feed_state_from(row: codec.Row) -> FeedState:
    return FeedState(
        course_slug=row["course_slug"],
        url=row["url"],
        added_at=codec.from_micros(row["added_at"]),
        next_attempt_at=codec.from_micros(row["next_attempt_at"]),
        etag=row["etag"],
        last_modified=row["last_modified"],
        primed_at=codec.from_micros_or_none(row["primed_at"]),
        polled_at=codec.from_micros_or_none(row["polled_at"]),
        failures=row["failures"],
        last_error=row["last_error"],
    )


async def _one(conn: aiosqlite.Connection, sql: str, params: Sequence[object]) -> sqlite3.Row | None:
    async with conn.execute(sql, params) as cursor:
        row: sqlite3.Row | None = await cursor.fetchone()
    return row


async def upsert_lesson_row(
    conn: aiosqlite.Connection, draft: LessonDraft, now: datetime, *, hold: bool = False
) -> tuple[int, bool, bool]:
    """Insert or update the lesson by (course, slug); (its id, whether it is new, whether anything changed).

    created_at never changes. A row whose fields are already the draft's is not written at all. ``hold``: a new
    lesson that is due now is stored as already published (held back from the scheduler) until the import run
    decides whether it is posted (see bot.sources.publishing); one released later is never held.
    """
    fields = (draft.title, draft.intro, draft.link, draft.number, codec.to_micros_or_none(draft.release_at))
    found = await _one(
        conn, "SELECT id FROM lessons WHERE course_slug = ? AND slug = ?", (draft.course_slug, draft.slug)
    )
    if found is not None:
        async with conn.execute(
            "UPDATE lessons SET title = ?, intro = ?, link = ?, number = ?, release_at = ? WHERE id = ?"
            " AND (title, intro, link, number, release_at) IS NOT (?, ?, ?, ?, ?)",
            (*fields, found[0], *fields),
        ) as cursor:
            changed = cursor.rowcount > 0
        return int(found[0]), False, changed
    held = hold and (draft.release_at is None or draft.release_at <= now)
    async with conn.execute(
        "INSERT INTO lessons (title, intro, link, number, release_at, course_slug, slug, created_at, published_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (*fields, draft.course_slug, draft.slug, codec.to_micros(now), codec.to_micros(now) if held else None),
    ) as cursor:
        lesson_id = cursor.lastrowid
    assert lesson_id is not None
    return lesson_id, True, True


async def _lesson(conn: aiosqlite.Connection, lesson_id: int) -> Lesson:
    row = await _one(conn, "SELECT * FROM lessons WHERE id = ?", (lesson_id,))
    assert row is not None
    return codec.lesson_from(row)


CHUNK = 2000  # imported posts written per round of statements


def import_lesson_op(
    draft: LessonDraft,
    posts: Iterable[ImportedPost],
    now: datetime,
    course: Course | None = None,
    hold: bool = False,
    listed: Collection[str] | None = None,
) -> Op[LessonImport]:
    """The course when new, the lesson, then its posts with their authors: inserted, edited, or their counts and
    kind updated; all in the one transaction, so a failed or killed import leaves nothing behind.

    A post's key includes its text (nothing else tells two comments by one author on one day apart), so a
    comment edited on the site comes back under a new key. Such a post takes over the lesson's imported post by
    the same author on the same day that this page no longer lists, when there is one: the text is updated
    instead of a second copy of the comment being added.

    ``posts`` is read once, in chunks of :data:`CHUNK`, each written with a few set-based statements (a page of
    130,000 comments is never held whole); ``listed``, every post's key, tells which stored posts the page no
    longer lists. Without it, ``posts`` is read into a list first (a feed's or a test's few posts).
    """
    if listed is None:
        posts = list(posts)
        listed = [post.key for post in posts]
        for post in posts:  # a bad post fails here, before anything is queued
            _check(post)
    listed_json = json_text(list(listed))  # (in any order, a key listed twice or not)
    edited_at = codec.to_micros(now)
    new_course = (
        None
        if course is None
        else (
            course.slug,
            course.title,
            course.timezone,
            course.language,
            course.digest_cron,
            course.digest_size,
            codec.to_micros(course.created_at or now),
        )
    )

    async def op(conn: aiosqlite.Connection) -> LessonImport:
        if new_course is not None:
            await conn.execute(
                "INSERT INTO courses (slug, title, timezone, language, digest_cron, digest_size, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (slug) DO NOTHING",
                new_course,
            )
        lesson_id, new, lesson_changed = await upsert_lesson_row(conn, draft, now, hold=hold)
        replaceable: dict[tuple[str, int], deque[int]] = defaultdict(deque)
        for row in await conn.execute_fetchall(UNLISTED, (lesson_id, IMPORTED_PLATFORM, listed_json)):
            replaceable[(row[1], row[2])].append(row[0])
        added = updated = 0
        stream = iter(posts)
        while chunk := list(islice(stream, CHUNK)):
            done = await _import_chunk(conn, draft, lesson_id, chunk, replaceable, edited_at)
            added, updated = added + done[0], updated + done[1]
        return LessonImport(await _lesson(conn, lesson_id), new, added, updated, lesson_changed)

    return op


def _check(post: ImportedPost) -> int:
    """The post's time as stored; a naive time or negative counts raise ValueError."""
    if post.likes < 0 or post.replies < 0:
        raise ValueError(f"imported post {post.key}: likes and replies cannot be negative")
    return codec.to_micros(post.created_at)


async def _import_chunk(
    conn: aiosqlite.Connection,
    draft: LessonDraft,
    lesson_id: int,
    chunk: Sequence[ImportedPost],
    replaceable: dict[tuple[str, int], deque[int]],
    edited_at: int,
) -> tuple[int, int]:
    """One chunk of posts: (how many were added, how many changed). A key seen in an earlier chunk is stored by
    now, so a comment listed twice is one post, with its last counts."""
    page = {post.key: post for post in chunk}
    created = {key: _check(post) for key, post in page.items()}
    await conn.executemany(
        "INSERT INTO members (platform, user_id, display_name, is_bot) VALUES (?, ?, ?, 0)"
        " ON CONFLICT (platform, user_id) DO NOTHING",
        [(IMPORTED_PLATFORM, author, author) for author in dict.fromkeys(p.author for p in page.values())],
    )
    known = {
        row[0]: row[1]
        for row in await conn.execute_fetchall(
            "SELECT import_key, id FROM questions WHERE import_key IN (SELECT value FROM json_each(?))",
            (json_text(list(page)),),
        )
    }
    # Edits are few and decided first (each takes one replaceable post); then inserts and refreshes.
    edits = []
    for key, post in page.items():
        if key not in known and (candidates := replaceable.get((post.author, created[key]))):
            edits.append((post.text, post.kind.value, post.likes, post.replies, key, edited_at, candidates.popleft()))
    edited = {edit[4] for edit in edits}
    await conn.executemany(
        "UPDATE questions SET text = ?, kind = ?, base_likes = ?, base_replies = ?, import_key = ?,"
        " edited_at = ? WHERE id = ?",
        edits,
    )
    for edit in edits:  # an edited question is placed again, as a live one is (issue 12)
        await clusters.place_edited(conn, edit[6])
    inserts = [
        (lesson_id, draft.course_slug, post.kind.value, post.text, created[key], post.likes, post.replies, key,
         IMPORTED_PLATFORM, post.author)
        for key, post in page.items()
        if key not in known and key not in edited
    ]  # fmt: skip
    await conn.executemany(
        "INSERT INTO questions (lesson_id, course_slug, group_id, author_id, kind, text, created_at,"
        " base_likes, base_replies, import_key)"
        " SELECT ?, ?, NULL, m.id, ?, ?, ?, ?, ?, ? FROM members m WHERE m.platform = ? AND m.user_id = ?",
        inserts,
    )
    if any(insert[2] == "question" for insert in inserts):
        # New questions join their clusters in this same transaction (issue 12), as if placed one by one in the
        # order they were stored (see storage.chunk_placement).
        stored = await conn.execute_fetchall(
            "SELECT id, text FROM questions WHERE import_key IN (SELECT value FROM json_each(?))"
            " AND kind = 'question' ORDER BY id",
            (json_text([insert[7] for insert in inserts]),),
        )
        await chunk_placement.place_chunk(conn, draft.course_slug, [(row[0], row[1]) for row in stored])
    refreshes = [
        (post.likes, post.replies, post.kind.value, lesson_id, known[key], post.likes, post.replies,
         post.kind.value, lesson_id)
        for key, post in page.items()
        if key in known
    ]  # fmt: skip
    async with conn.executemany(
        "UPDATE questions SET base_likes = ?, base_replies = ?, kind = ?, lesson_id = ?"
        " WHERE id = ? AND (base_likes, base_replies, kind, lesson_id) IS NOT (?, ?, ?, ?)",
        refreshes,
    ) as cursor:
        refreshed = max(cursor.rowcount, 0)
    return len(inserts), len(edits) + refreshed


def add_feed_op(course_slug: str, url: str, now: datetime) -> Op[FeedState]:
    at = codec.to_micros(now)

    async def op(conn: aiosqlite.Connection) -> FeedState:
        await conn.execute(
            "INSERT INTO feeds (course_slug, url, added_at, next_attempt_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (course_slug, url) DO NOTHING",
            (course_slug, url, at, at),
        )
        row = await _one(conn, FEED_SELECT + " WHERE course_slug = ? AND url = ?", (course_slug, url))
        assert row is not None
        return feed_state_from(row)

    return op


def feed_polled_op(
    course_slug: str,
    url: str,
    entries: Sequence[FeedEntry],
    etag: str | None,
    last_modified: str | None,
    now: datetime,
    next_attempt: datetime,
) -> Op[list[Lesson]]:
    at, following = codec.to_micros(now), codec.to_micros(next_attempt)
    for entry in entries:
        codec.to_micros_or_none(entry.draft.release_at)  # a naive time fails here, before anything is queued

    async def op(conn: aiosqlite.Connection) -> list[Lesson]:
        feed = await _one(conn, "SELECT id, primed_at FROM feeds WHERE course_slug = ? AND url = ?", (course_slug, url))
        if feed is None:
            raise LookupError(f"feed {url} of {course_slug} is not registered")
        feed_id, primed = feed[0], feed[1] is not None
        created: list[Lesson] = []
        for entry in entries:
            known = await _one(
                conn, "SELECT 1 FROM feed_entries WHERE feed_id = ? AND entry_key = ?", (feed_id, entry.key)
            )
            if known is not None:
                continue
            lesson_id, _, _ = await upsert_lesson_row(conn, entry.draft, now)
            if not primed:
                # The back catalogue: known from now on and available to /lesson, but never broadcast.
                await conn.execute(
                    "UPDATE lessons SET published_at = ? WHERE id = ? AND published_at IS NULL", (at, lesson_id)
                )
            await conn.execute(
                "INSERT INTO feed_entries (feed_id, entry_key, lesson_id, seen_at) VALUES (?, ?, ?, ?)",
                (feed_id, entry.key, lesson_id, at),
            )
            created.append(await _lesson(conn, lesson_id))
        await conn.execute(
            "UPDATE feeds SET etag = ?, last_modified = ?, polled_at = ?, primed_at = COALESCE(primed_at, ?),"
            " failures = 0, last_error = NULL, next_attempt_at = ? WHERE id = ?",
            (etag, last_modified, at, at, following, feed_id),
        )
        return created

    return op

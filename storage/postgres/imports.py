"""Lesson sources on PostgreSQL: imported lessons with their posts, and the state of the feeds polled for new
lessons (the counterpart of :mod:`storage.imports` and :mod:`storage.import_ops`).

Where SQLite runs many small statements inside its writer's transaction, a chunk of imported posts goes here as
arrays in a few set-based statements (``unnest``), so a page of 130,000 comments costs a few round trips per
chunk rather than one per comment.
"""

from __future__ import annotations

import logging
from collections import defaultdict, deque
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from itertools import islice

from handlers.vocabulary.domain import Course, Lesson, LessonDraft
from handlers.vocabulary.imported import IMPORTED_PLATFORM, FeedEntry, FeedState, ImportedPost, LessonImport
from storage import codec
from storage.import_ops import CHUNK, FEED_SELECT, _check, feed_state_from
from storage.postgres import clusters
from storage.postgres.base import Conn, PgBase
from storage.postgres.lessons import INSERT_COURSE, course_params
from storage.postgres.posts import lock_course_posts

logger = logging.getLogger(__name__)

# The lesson's imported posts that the page being imported no longer lists: the ones an edited comment may
# replace (by the same author, on the same day, oldest first).
UNLISTED = """
    SELECT q.id, m.user_id, q.created_at FROM questions q JOIN members m ON m.id = q.author_id
    WHERE q.lesson_id = $1 AND q.import_key IS NOT NULL AND m.platform = $2
      AND NOT (q.import_key = ANY($3::text[]))
    ORDER BY q.id
"""

# A chunk that adds this many questions refreshes the table's statistics before its questions are placed in
# their clusters: placement reads each candidate by id, and with the statistics of a table still small (a fresh
# database, a new deployment's first import) the planner reads candidates through a whole index instead of the
# primary key, one scan per candidate, and an import's time grows as the square of its size.
ANALYZE_AFTER = 500

LESSON_FIELDS = "($1::text, $2::text, $3::text, $4::integer, $5::bigint)"


async def upsert_lesson_row(
    conn: Conn, draft: LessonDraft, now: datetime, *, hold: bool = False
) -> tuple[int, bool, bool]:
    """Insert or update the lesson by (course, slug); (its id, whether it is new, whether anything changed).

    As :func:`storage.import_ops.upsert_lesson_row`: created_at never changes, a row already equal to the draft
    is not written, and ``hold`` stores a new lesson due now as published. The insert goes first (ON CONFLICT DO
    NOTHING), so two processes importing one new lesson make one row and only one of them calls it new.
    """
    fields = (draft.title, draft.intro, draft.link, draft.number, codec.to_micros_or_none(draft.release_at))
    held = hold and (draft.release_at is None or draft.release_at <= now)
    at = codec.to_micros(now)
    lesson_id = await conn.fetchval(
        "INSERT INTO lessons (title, intro, link, number, release_at, course_slug, slug, created_at, published_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (course_slug, slug) DO NOTHING RETURNING id",
        *fields,
        draft.course_slug,
        draft.slug,
        at,
        at if held else None,
    )
    if lesson_id is not None:
        return int(lesson_id), True, True
    row = await conn.fetchrow(
        "UPDATE lessons SET title = $1, intro = $2, link = $3, number = $4, release_at = $5"
        " WHERE course_slug = $6 AND slug = $7"
        f" AND (title, intro, link, number, release_at) IS DISTINCT FROM {LESSON_FIELDS} RETURNING id",
        *fields,
        draft.course_slug,
        draft.slug,
    )
    if row is not None:
        return int(row["id"]), False, True
    found = await conn.fetchval(
        "SELECT id FROM lessons WHERE course_slug = $1 AND slug = $2", draft.course_slug, draft.slug
    )
    assert found is not None  # the insert conflicted with it
    return int(found), False, False


async def _lesson(conn: Conn, lesson_id: int) -> Lesson:
    row = await conn.fetchrow("SELECT * FROM lessons WHERE id = $1", lesson_id)
    assert row is not None
    return codec.lesson_from(row)


class SourceRows(PgBase):
    """The lesson sources part of :class:`storage.postgres.PostgresStore`."""

    async def import_lesson(
        self,
        draft: LessonDraft,
        posts: Iterable[ImportedPost],
        now: datetime,
        *,
        course: Course | None = None,
        hold: bool = False,
        listed: Collection[str] | None = None,
    ) -> LessonImport:
        """The course when new, the lesson, then its posts with their authors, in ONE transaction: a failed or
        killed import leaves nothing behind. The rules are :func:`storage.import_ops.import_lesson_op`'s.

        The course's post lock (:func:`storage.postgres.posts.lock_course_posts`) is held from before the first
        post is inserted to the commit, so the imported posts' ids commit in order with the members' posts.
        """
        if listed is None:
            posts = list(posts)
            listed = [post.key for post in posts]
            for post in posts:  # a bad post fails here, before anything is written
                _check(post)
        keys = list(listed)  # (in any order, a key listed twice or not)
        edited_at = codec.to_micros(now)
        new_course = None if course is None else course_params(course, now)
        codec.to_micros_or_none(draft.release_at)  # a naive time fails before the transaction
        async with self._transaction() as conn:
            if new_course is not None:
                await conn.execute(INSERT_COURSE + " ON CONFLICT (slug) DO NOTHING", *new_course)
            await lock_course_posts(conn, draft.course_slug)
            lesson_id, new, lesson_changed = await upsert_lesson_row(conn, draft, now, hold=hold)
            replaceable: dict[tuple[str, int], deque[int]] = defaultdict(deque)
            for row in await conn.fetch(UNLISTED, lesson_id, IMPORTED_PLATFORM, keys):
                replaceable[(row[1], row[2])].append(row[0])
            added = updated = 0
            stream = iter(posts)
            while chunk := list(islice(stream, CHUNK)):
                done = await _import_chunk(conn, draft, lesson_id, chunk, replaceable, edited_at)
                added, updated = added + done[0], updated + done[1]
            lesson = await _lesson(conn, lesson_id)
        return LessonImport(lesson, new, added, updated, lesson_changed)

    async def feed_state(self, course_slug: str, url: str) -> FeedState | None:
        row = await self._fetchrow(FEED_SELECT + " WHERE course_slug = $1 AND url = $2", course_slug, url)
        return feed_state_from(row) if row else None

    async def add_feed(self, course_slug: str, url: str, now: datetime) -> FeedState:
        """Register the feed unless known (due at once, not yet primed); return its state."""
        at = codec.to_micros(now)
        async with self._transaction() as conn:
            await conn.execute(
                "INSERT INTO feeds (course_slug, url, added_at, next_attempt_at) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (course_slug, url) DO NOTHING",
                course_slug,
                url,
                at,
                at,
            )
            row = await conn.fetchrow(FEED_SELECT + " WHERE course_slug = $1 AND url = $2", course_slug, url)
        assert row is not None
        return feed_state_from(row)

    async def feed_polled(
        self,
        course_slug: str,
        url: str,
        entries: Sequence[FeedEntry],
        etag: str | None,
        last_modified: str | None,
        now: datetime,
        next_attempt: datetime,
    ) -> list[Lesson]:
        """A successful poll in one transaction (see :func:`storage.import_ops.feed_polled_op`). The feed's row is
        locked first, so two processes recording one poll record each entry once."""
        at, following = codec.to_micros(now), codec.to_micros(next_attempt)
        for entry in entries:
            codec.to_micros_or_none(entry.draft.release_at)  # a naive time fails here, before anything is written
        async with self._transaction() as conn:
            feed = await conn.fetchrow(
                "SELECT id, primed_at FROM feeds WHERE course_slug = $1 AND url = $2 FOR UPDATE", course_slug, url
            )
            if feed is None:
                raise LookupError(f"feed {url} of {course_slug} is not registered")
            feed_id, primed = feed[0], feed[1] is not None
            created: list[Lesson] = []
            for entry in entries:
                known = await conn.fetchval(
                    "SELECT 1 FROM feed_entries WHERE feed_id = $1 AND entry_key = $2", feed_id, entry.key
                )
                if known is not None:
                    continue
                lesson_id, _, _ = await upsert_lesson_row(conn, entry.draft, now)
                if not primed:
                    # The back catalogue: known from now on and available to /lesson, but never broadcast.
                    await conn.execute(
                        "UPDATE lessons SET published_at = $1 WHERE id = $2 AND published_at IS NULL", at, lesson_id
                    )
                await conn.execute(
                    "INSERT INTO feed_entries (feed_id, entry_key, lesson_id, seen_at) VALUES ($1, $2, $3, $4)",
                    feed_id,
                    entry.key,
                    lesson_id,
                    at,
                )
                created.append(await _lesson(conn, lesson_id))
            await conn.execute(
                "UPDATE feeds SET etag = $1, last_modified = $2, polled_at = $3, primed_at = COALESCE(primed_at, $3),"
                " failures = 0, last_error = NULL, next_attempt_at = $4 WHERE id = $5",
                etag,
                last_modified,
                at,
                following,
                feed_id,
            )
        return created

    async def feed_failed(self, course_slug: str, url: str, error: str, now: datetime, next_attempt: datetime) -> None:
        await self._execute(
            "UPDATE feeds SET failures = failures + 1, last_error = $1, next_attempt_at = $2"
            " WHERE course_slug = $3 AND url = $4",
            error[:500],
            codec.to_micros(next_attempt),
            course_slug,
            url,
        )


async def _import_chunk(
    conn: Conn,
    draft: LessonDraft,
    lesson_id: int,
    chunk: Sequence[ImportedPost],
    replaceable: dict[tuple[str, int], deque[int]],
    edited_at: int,
) -> tuple[int, int]:
    """One chunk of posts: (how many were added, how many changed), as
    :func:`storage.import_ops._import_chunk` decides them, each kind of write one statement over arrays."""
    page = {post.key: post for post in chunk}
    created = {key: _check(post) for key, post in page.items()}
    authors = list(dict.fromkeys(p.author for p in page.values()))
    await conn.execute(
        "INSERT INTO members (platform, user_id, display_name, is_bot)"
        " SELECT $1, a, a, 0 FROM unnest($2::text[]) WITH ORDINALITY AS t (a, n) ORDER BY n"
        " ON CONFLICT (platform, user_id) DO NOTHING",
        IMPORTED_PLATFORM,
        authors,
    )
    known = {
        row[0]: row[1]
        for row in await conn.fetch(
            "SELECT import_key, id FROM questions WHERE import_key = ANY($1::text[])", list(page)
        )
    }
    # Edits are few and decided first (each takes one replaceable post); then inserts and refreshes.
    edits = []
    for key, post in page.items():
        if key not in known and (candidates := replaceable.get((post.author, created[key]))):
            edits.append((post.text, post.kind.value, post.likes, post.replies, key, edited_at, candidates.popleft()))
    edited = {edit[4] for edit in edits}
    if edits:
        await conn.executemany(
            "UPDATE questions SET text = $1, kind = $2, base_likes = $3, base_replies = $4, import_key = $5,"
            " edited_at = $6 WHERE id = $7",
            edits,
        )
        for edit in edits:  # an edited question is placed again, as a live one is (issue 12)
            await clusters.place_edited(conn, edit[6])
    inserts = [(key, post) for key, post in page.items() if key not in known and key not in edited]
    if inserts:
        # In page order (ordinality), so ids follow the page as on SQLite; new questions then join their
        # clusters in this same transaction (issue 12), as if placed one by one in the order they were stored
        # (see storage.chunk_placement).
        rows = await conn.fetch(
            "INSERT INTO questions (lesson_id, course_slug, group_id, author_id, kind, text, created_at,"
            " base_likes, base_replies, import_key)"
            " SELECT $1, $2, NULL, m.id, p.kind, p.text, p.created_at, p.likes, p.replies, p.key"
            " FROM unnest($3::text[], $4::text[], $5::bigint[], $6::integer[], $7::integer[], $8::text[], $9::text[])"
            " WITH ORDINALITY AS p (kind, text, created_at, likes, replies, key, author, n)"
            " JOIN members m ON m.platform = $10 AND m.user_id = p.author ORDER BY p.n"
            " RETURNING id, kind, import_key AS key",
            lesson_id,
            draft.course_slug,
            [post.kind.value for _, post in inserts],
            [post.text for _, post in inserts],
            [created[key] for key, _ in inserts],
            [post.likes for _, post in inserts],
            [post.replies for _, post in inserts],
            [key for key, _ in inserts],
            [post.author for _, post in inserts],
            IMPORTED_PLATFORM,
        )
        if len(rows) >= ANALYZE_AFTER:
            await conn.execute("ANALYZE questions")
        texts = {key: post.text for key, post in inserts}
        await clusters.place_chunk(
            conn,
            draft.course_slug,
            sorted((row["id"], texts[row["key"]]) for row in rows if row["kind"] == "question"),
        )
    refreshes = [(known[key], post) for key, post in page.items() if key in known]
    refreshed = 0
    if refreshes:
        changed = await conn.fetch(
            "UPDATE questions q SET base_likes = r.likes, base_replies = r.replies, kind = r.kind, lesson_id = $1"
            " FROM unnest($2::bigint[], $3::integer[], $4::integer[], $5::text[]) AS r (id, likes, replies, kind)"
            " WHERE q.id = r.id"
            " AND (q.base_likes, q.base_replies, q.kind, q.lesson_id) IS DISTINCT FROM (r.likes, r.replies, r.kind, $1)"
            " RETURNING q.id",
            lesson_id,
            [question_id for question_id, _ in refreshes],
            [post.likes for _, post in refreshes],
            [post.replies for _, post in refreshes],
            [post.kind.value for _, post in refreshes],
        )
        refreshed = len(changed)
    return len(inserts), len(edits) + refreshed

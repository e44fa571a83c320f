"""Question clusters (issue 12) on PostgreSQL: placement when a question is stored, clustering a database once,
manual merges and splits, and ranking by cluster for /top and the digest.

The rules and the pure parts are :mod:`storage.clusters`' (the detector is :mod:`handlers.text.duplicates`);
this module states its SQL in PostgreSQL's dialect: ``json_agg`` for SQLite's ``json_group_array``, arrays for
``json_each``, no ``INDEXED BY``. :func:`place` runs inside the transaction that inserts the question (the post
path calls it), so a question is never visible without its cluster.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache
from typing import Any

import asyncpg

from handlers.ports.clusters import Cluster, DupesMode
from handlers.text.duplicates import FINGERPRINT_VERSION, best_match, fingerprint, normalise
from handlers.vocabulary.domain import RankedQuestion
from storage import chunk_placement, codec, queries
from storage.candidates import MAX_CANDIDATES, MAX_POSTINGS, WHOLE_TEXT
from storage.clusters import (
    CLUSTERED_IDS,
    COURSE_QUESTIONS,
    EDITED,
    PERIOD_SCOPE,
    PROGRESS_EVERY,
    ROOT_OF,
    Progress,
    cluster_in_memory,
    light,
    stored_fingerprint,
)
from storage.postgres.base import Conn, numbered
from storage.postgres.named import named

logger = logging.getLogger(__name__)

__all__ = [
    "PERIOD_SCOPE",
    "TOP_SCOPE",
    "cluster_pending",
    "place",
    "place_chunk",
    "place_edited",
    "ranked_by_cluster",
    "read_cluster",
]

# Where a pool or a connection reads (both have fetch).
Reader = asyncpg.Pool | Conn

CLUSTER_LOCK = 0x5354_5544_434C_5553  # "STUDCLUS": one process clusters a database, the others wait and skip

_POSTINGS = """
    SELECT post_id, {weight} AS w FROM (SELECT post_id FROM question_keys WHERE course_slug = ? AND key = ?
                         AND post_id < ? ORDER BY post_id DESC LIMIT ?) AS p
"""
_CANDIDATES = """
    WITH hits(post_id, w) AS ({postings}),
    shared(post_id, n) AS (SELECT post_id, SUM(w) FROM hits GROUP BY post_id ORDER BY SUM(w) DESC, post_id LIMIT ?)
    SELECT q.id, q.normalised, COALESCE(q.duplicate_of, q.id) AS root
    FROM shared CROSS JOIN LATERAL (
        SELECT * FROM questions q1 WHERE q1.id = shared.post_id AND q1.deleted = 0 AND q1.kind = 'question' LIMIT 1
    ) AS q
"""
# The candidates are read by their ids, one primary-key lookup each (the LATERAL with LIMIT, which the planner
# does not flatten into a join). As a plain join, statistics from before an import's first rows (a new course,
# a fresh database) made the planner scan the course's questions once per candidate: an import of n posts
# then took time in n² (25 ms a post at 1,500).
INSERT_KEYS = """
    INSERT INTO question_keys (course_slug, key, post_id)
    SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) ON CONFLICT DO NOTHING
"""


@cache
def candidates_sql(keys: int) -> str:
    """The candidate query for a fingerprint of ``keys`` keys (one bounded index range per key; the first, the whole
    text's, weighs WHOLE_TEXT: see storage.candidates)."""
    postings = [_POSTINGS.format(weight=WHOLE_TEXT if number == 0 else 1) for number in range(keys)]
    return numbered(_CANDIDATES.format(postings=" UNION ALL ".join(postings)))


async def _insert_keys(conn: Conn, rows: Sequence[tuple[str, str, int]]) -> None:
    if rows:
        await conn.execute(INSERT_KEYS, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])


async def place(conn: Conn, post_id: int, *, keep_cluster: bool = False) -> int | None:
    """Fingerprint the stored question ``post_id`` and join the cluster of the earlier question it duplicates;
    returns that cluster's root, or None when it stays alone (see :func:`storage.clusters.place`)."""
    found = await conn.fetchrow(
        "SELECT q.course_slug, q.text, q.kind, q.duplicate_of, COALESCE(g.dupes, 'on') AS dupes FROM questions q"
        " LEFT JOIN study_groups g ON g.id = q.group_id WHERE q.id = $1",
        post_id,
    )
    if found is None or found["kind"] != "question" or found["dupes"] == DupesMode.OFF:
        return None
    course, text = found["course_slug"], found["text"]
    fp = fingerprint(text)
    if keep_cluster:
        root = found["duplicate_of"]
    else:
        candidates: list[asyncpg.Record] = []
        if fp.keys:
            params = [v for key in fp.keys for v in (course, key, post_id, MAX_POSTINGS)]
            candidates = list(await conn.fetch(candidates_sql(len(fp.keys)), *params, MAX_CANDIDATES))
        roots = {row["id"]: row["root"] for row in candidates}
        match = best_match(fp, ((row["id"], stored_fingerprint(row)) for row in candidates))
        root = roots[match] if match is not None else None
    await conn.execute(
        "UPDATE questions SET normalised = $1, duplicate_of = $2 WHERE id = $3", fp.normalised, root, post_id
    )
    await _insert_keys(conn, [(course, key, post_id) for key in fp.keys])
    return int(root) if root is not None else None


# Each key's newest stored postings below the chunk's first id (see storage.chunk_placement), one bounded index
# range per key in one statement; then the stored candidates those rank, by id.
CHUNK_POSTINGS = """
    SELECT k.key, ARRAY(
        SELECT post_id FROM question_keys WHERE course_slug = $1 AND key = k.key AND post_id < $2
        ORDER BY post_id DESC LIMIT $3
    ) AS posts
    FROM unnest($4::text[]) AS k (key)
"""
CHUNK_STORED = """
    SELECT id, normalised, COALESCE(duplicate_of, id) AS root, deleted = 0 AND kind = 'question' AS live
    FROM questions WHERE id = ANY($1::bigint[])
"""


async def place_chunk(conn: Conn, course: str, questions: Sequence[tuple[int, str]]) -> None:
    """Place an import chunk's new questions, (id, text) in id order, all inserted after every stored question,
    in the import's transaction: as :func:`place` would one by one (see :mod:`storage.chunk_placement`)."""
    new = chunk_placement.fingerprints(questions)
    if not new:
        return
    keys = chunk_placement.chunk_keys(new)
    postings: dict[str, list[int]] = {}
    if keys:
        rows = await conn.fetch(CHUNK_POSTINGS, course, new[0][0], MAX_POSTINGS, keys)
        postings = {row["key"]: sorted(row["posts"]) for row in rows}
    ranked = chunk_placement.rank(new, postings)
    found = await conn.fetch(CHUNK_STORED, chunk_placement.stored_among(new, ranked))
    stored = {row["id"]: chunk_placement.Stored(stored_fingerprint(row), row["root"], row["live"]) for row in found}
    roots = chunk_placement.decide(new, ranked, stored)
    await conn.execute(
        "UPDATE questions q SET normalised = p.normalised, duplicate_of = p.root"
        " FROM unnest($1::bigint[], $2::text[], $3::bigint[]) AS p (id, normalised, root) WHERE q.id = p.id",
        [post_id for post_id, _ in new],
        [fp.normalised for _, fp in new],
        roots,
    )
    await _insert_keys(conn, [(course, key, post_id) for post_id, fp in new for key in fp.keys])


async def place_edited(conn: Conn, post_id: int) -> None:
    """A question's text was edited: place it again, in the edit's transaction (see :data:`storage.clusters.EDITED`)."""
    found = await conn.fetchrow(numbered(EDITED), post_id)
    if found is None or found["normalised"] == normalise(found["text"]):
        return  # not a live question, or nothing that counts changed
    await conn.execute("DELETE FROM question_keys WHERE post_id = $1", post_id)
    await place(conn, post_id, keep_cluster=bool(found["fixed"]))


# clustering a whole database ---------------------------------------------------------------------------------
async def needs_clustering(conn: Conn) -> bool:
    version = await conn.fetchrow("SELECT fingerprint_version FROM cluster_state WHERE id = 1")
    return version is not None and version[0] != FINGERPRINT_VERSION


async def cluster_pending(conn: Conn, progress: Progress | None = None) -> int:
    """Cluster every course's questions once when the stored clusters were not made by this detector version;
    returns how many questions were placed. One transaction under an advisory lock: several processes starting
    at once cluster once, and a kill leaves the database as it was."""
    if not await needs_clustering(conn):
        return 0
    done = total = 0
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", CLUSTER_LOCK)
        if not await needs_clustering(conn):  # another process did it while we waited
            return 0
        total = int(await conn.fetchval("SELECT COUNT(*) FROM questions WHERE kind = 'question' AND deleted = 0"))
        await conn.execute("DELETE FROM question_keys")
        await conn.execute("UPDATE questions SET duplicate_of = NULL WHERE duplicate_of IS NOT NULL")
        decisions = list(await conn.fetch("SELECT first, second, same FROM cluster_decisions ORDER BY decided_at"))
        courses = [r[0] for r in await conn.fetch("SELECT DISTINCT course_slug FROM questions ORDER BY 1")]
        for course in courses:
            done = await _cluster_course(conn, course, decisions, done, total, progress)
        await conn.execute("UPDATE cluster_state SET fingerprint_version = $1 WHERE id = 1", FINGERPRINT_VERSION)
    if progress is not None and done % PROGRESS_EVERY:
        progress(done, total)
    logger.info("clustered %d questions with fingerprint version %d", done, FINGERPRINT_VERSION)
    return done


async def _cluster_course(
    conn: Conn, course: str, decisions: Sequence[asyncpg.Record], done: int, total: int, progress: Progress | None
) -> int:
    rows = await conn.fetch(numbered(COURSE_QUESTIONS), course)
    prints, roots, done = cluster_in_memory(rows, decisions, done, total, progress)
    await conn.execute(
        "UPDATE questions q SET normalised = t.normalised FROM unnest($1::bigint[], $2::text[]) AS t(id, normalised)"
        " WHERE q.id = t.id",
        list(prints),
        [fp.normalised for fp in prints.values()],
    )
    joined = [(post_id, root) for post_id, root in roots.items() if root != post_id]
    await conn.execute(
        "UPDATE questions q SET duplicate_of = t.root FROM unnest($1::bigint[], $2::bigint[]) AS t(id, root)"
        " WHERE q.id = t.id",
        [j[0] for j in joined],
        [j[1] for j in joined],
    )
    await _insert_keys(conn, [(course, key, post_id) for post_id, fp in prints.items() for key in fp.keys])
    return done


# manual decisions ----------------------------------------------------------------------------------------------
async def _members(conn: Conn, question_id: int) -> tuple[int, list[int]]:
    """(root, every member's id, root included) of the question's cluster; LookupError when unknown."""
    found = await conn.fetchrow(numbered(ROOT_OF), question_id)
    if found is None:
        raise LookupError(f"question {question_id} does not exist")
    root = int(found["root"])
    sql, values = named(CLUSTER_MEMBERS, {"root": root, "course": found["course_slug"]})
    rows = await conn.fetch(sql, *values)
    return root, sorted(int(r[0]) for r in rows)


async def _decide(conn: Conn, pairs: Iterable[tuple[int, int]], same: bool, at: int) -> None:
    rows = [(min(a, b), max(a, b), int(same), at) for a, b in pairs if a != b]
    if rows:
        await conn.executemany(
            "INSERT INTO cluster_decisions (first, second, same, decided_at) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (first, second) DO UPDATE SET same = excluded.same, decided_at = excluded.decided_at",
            rows,
        )


async def _set_root(conn: Conn, members: Sequence[int]) -> None:
    """Make ``members`` one cluster under its lowest id."""
    if not members:
        return
    root = min(members)
    await conn.execute("UPDATE questions SET duplicate_of = NULL WHERE id = $1", root)
    others = [m for m in members if m != root]
    if others:
        await conn.execute("UPDATE questions SET duplicate_of = $1 WHERE id = ANY($2::bigint[])", root, others)


async def merge(conn: Conn, first: int, second: int, at: datetime) -> None:
    _, one = await _members(conn, first)
    _, two = await _members(conn, second)
    await _decide(conn, [(first, second)], True, codec.to_micros(at))
    await _set_root(conn, sorted(set(one) | set(two)))


async def split(conn: Conn, question_id: int, at: datetime) -> None:
    _, members = await _members(conn, question_id)
    rest = [m for m in members if m != question_id]
    await _decide(conn, [(question_id, m) for m in rest], False, codec.to_micros(at))
    await conn.execute("UPDATE questions SET duplicate_of = NULL WHERE id = $1", question_id)
    await _set_root(conn, rest)


# reads -----------------------------------------------------------------------------------------------------------
CLUSTER_MEMBERS = """
    SELECT CAST(:root AS BIGINT) AS id
    UNION ALL
    SELECT id FROM questions WHERE course_slug = :course AND duplicate_of = :root
"""
CLUSTER_OF = f"""
    {queries.QUESTIONS_FROM}
    WHERE q.id IN ({CLUSTER_MEMBERS}) AND q.deleted = 0
    ORDER BY q.id
"""
CLUSTER_LIKES = """
    SELECT t.root, COUNT(DISTINCT r.member_id) AS members
    FROM unnest($1::bigint[], $2::bigint[]) AS t(root, id) JOIN reactions r ON r.question_id = t.id
    GROUP BY t.root
"""
# storage.clusters.CLUSTER_RANKING in PostgreSQL's dialect.
CLUSTER_RANKING = """
    WITH m(id, root) AS (
        SELECT id, duplicate_of FROM questions WHERE course_slug = :course AND duplicate_of IS NOT NULL
        UNION
        SELECT duplicate_of, duplicate_of FROM questions WHERE course_slug = :course AND duplicate_of IS NOT NULL),
    live AS (
        SELECT m.root, q.id, q.likes + q.base_likes AS own, q.base_likes, q.created_at, ({scope}) AS in_scope
        FROM m JOIN question_counts q ON q.id = m.id
        WHERE q.kind = 'question' AND q.deleted = 0),
    grouped AS (
        SELECT root, SUM(base_likes) AS base, MIN(created_at) AS first_at, MIN(id) AS first_id,
               json_agg(json_build_array(id, own) ORDER BY id)::text AS copies
        FROM live GROUP BY root HAVING COUNT(*) > 1 AND bool_or(in_scope)),
    likers AS (
        SELECT l.root, COUNT(DISTINCT r.member_id) AS n
        FROM live l JOIN reactions r ON r.question_id = l.id
        WHERE l.root IN (SELECT root FROM grouped) GROUP BY l.root)
    SELECT g.root, g.base + COALESCE(k.n, 0) AS likes, g.first_at, g.first_id, g.copies
    FROM grouped g LEFT JOIN likers k ON k.root = g.root
    ORDER BY likes DESC, g.first_at, g.first_id
"""
TOP_SCOPE = (
    "(CAST(:lesson AS BIGINT) IS NULL OR q.lesson_id = :lesson) AND (CAST(:answered AS BOOLEAN) OR q.answered = 0)"
)


async def _all(reader: Reader, sql: str, params: dict[str, Any]) -> list[asyncpg.Record]:
    text, values = named(sql, params)
    return list(await reader.fetch(text, *values))


async def cluster_likes(reader: Reader, members: dict[int, list[int]]) -> dict[int, int]:
    pairs = [(root, m) for root, ids in members.items() for m in ids]
    rows = await reader.fetch(CLUSTER_LIKES, [p[0] for p in pairs], [p[1] for p in pairs])
    return {int(r["root"]): int(r["members"]) for r in rows}


async def read_cluster(reader: Reader, question_id: int) -> Cluster | None:
    found = await reader.fetchrow(numbered(ROOT_OF), question_id)
    if found is None:
        return None
    root = int(found["root"])
    rows = await _all(reader, CLUSTER_OF, {"root": root, "course": found["course_slug"]})
    questions = tuple(codec.question_from(r) for r in rows)
    members = await cluster_likes(reader, {root: [q.id for q in questions]})
    return Cluster(root, questions, members.get(root, 0) + sum(q.base_likes for q in questions))


async def ranked_by_cluster(
    reader: Reader, course: str, limit: int, ranking_sql: str, params: dict[str, Any], scope: str
) -> list[RankedQuestion]:
    """The ``limit`` best clusters, each as its most liked wording with its cluster's likes and other copies
    (see :func:`storage.clusters.ranked_by_cluster`, whose merge this is)."""
    values = params | {"course": course}
    clustered = {int(r[0]) for r in await _all(reader, CLUSTERED_IDS, {"course": course})}
    if not clustered:
        return [_ranked(r) for r in await _all(reader, ranking_sql, values | {"limit": limit})]
    Key = tuple[int, int, int]
    entries: list[tuple[Key, int, int | None, tuple[int, ...]]] = [  # (order, shown id, cluster likes, copies)
        ((-r["score"], r["created_at"], r["id"]), r["id"], None, ())
        for r in await _plain(reader, light(ranking_sql), values, limit, clustered)
    ]
    ranking = CLUSTER_RANKING.format(scope=scope) + " LIMIT :limit"
    for row in await _all(reader, ranking, values | {"limit": limit}):
        copies = [(int(c[0]), int(c[1])) for c in json.loads(row["copies"])]
        shown = min(copies, key=lambda c: (-c[1], c[0]))[0]  # the most liked wording, the earliest on a tie
        others = tuple(sorted(c[0] for c in copies if c[0] != shown))
        entries.append(((-row["likes"], row["first_at"], row["first_id"]), shown, int(row["likes"]), others))
    entries.sort(key=lambda entry: entry[0])
    chosen = entries[:limit]
    full = await _ranked_rows(reader, [shown for _, shown, _, _ in chosen])
    result: list[RankedQuestion] = []
    for _, shown, likes, others in chosen:
        item = full.get(shown)
        if item is not None and likes is not None:
            item = RankedQuestion(item.question, item.lesson_title, item.lesson_number, likes=likes, copies=others)
        if item is not None:
            result.append(item)
    return result


async def _plain(
    reader: Reader, sql: str, params: dict[str, Any], limit: int, excluded: set[int]
) -> list[asyncpg.Record]:
    """The plain ranking's best ``limit`` that are not in a cluster: pages that grow until enough are left."""
    size, enough = 2 * limit + 8, limit + len(excluded)
    while True:
        page = await _all(reader, sql, params | {"limit": size})
        kept = [r for r in page if r["id"] not in excluded]
        if len(kept) >= limit or len(page) < size or size >= enough:
            return kept[:limit]
        size = min(size * 4, enough)


def _ranked(row: asyncpg.Record) -> RankedQuestion:
    return RankedQuestion(codec.question_from(row), row["lesson_title"], row["lesson_number"])


async def _ranked_rows(reader: Reader, ids: Sequence[int]) -> dict[int, RankedQuestion]:
    rows = await reader.fetch(
        f"SELECT {queries.QUESTION_COLUMNS}, l.title AS lesson_title, l.number AS lesson_number"
        " FROM counted_questions q JOIN members m ON m.id = q.author_id JOIN lessons l ON l.id = q.lesson_id"
        " WHERE q.id = ANY($1::bigint[])",
        list(ids),
    )
    return {int(r["id"]): _ranked(r) for r in rows}

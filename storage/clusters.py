"""The SQL of question clusters (issue 12): placing a question when it is stored, clustering a database once,
manual merges and splits, and ranking by cluster for /top and the digest.

Placement runs on the writer connection inside the transaction that inserts the question (see
:func:`place`), so a question is never visible without its cluster. The detector itself is pure
(:mod:`handlers.text.duplicates`); this module only feeds it candidates: the course's questions sharing at least
one key with the new one, the :data:`MAX_CANDIDATES` sharing most.

Manual decisions are pairs (``cluster_decisions``): ``/merge A B`` records A and B as the same, ``/split A``
records A apart from each member it had. Re-clustering (a new fingerprint version) replays them over the
detector, so they always win, and they live in the database, so restarts and re-imports keep them.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import aiosqlite

from handlers.ports.clusters import Cluster, DupesMode
from handlers.text.duplicates import FINGERPRINT_VERSION, Fingerprint, best_match, fingerprint, normalise
from handlers.vocabulary.domain import RankedQuestion
from storage import codec, queries
from storage.candidates import MAX_CANDIDATES, MAX_POSTINGS, WHOLE_TEXT, ranked
from storage.json_text import json_text

logger = logging.getLogger(__name__)

PROGRESS_EVERY = 10_000  # questions clustered between two progress reports
Progress = Callable[[int, int], None]  # (questions clustered so far, of how many)

# The course's questions sharing keys with the new one, most shared first (see storage.candidates for the rule
# and its bounds, MAX_POSTINGS a key and MAX_CANDIDATES in all; the whole text's key weighs WHOLE_TEXT).
_POSTINGS = """
    SELECT post_id, {weight} AS w FROM (SELECT post_id FROM question_keys WHERE course_slug = ? AND key = ?
                         AND post_id < ? ORDER BY post_id DESC LIMIT ?)
"""
_CANDIDATES = """
    WITH hits(post_id, w) AS ({postings}),
    shared(post_id, n) AS (SELECT post_id, SUM(w) FROM hits GROUP BY post_id ORDER BY SUM(w) DESC, post_id LIMIT ?)
    SELECT q.id, q.normalised, COALESCE(q.duplicate_of, q.id) AS root
    FROM shared JOIN questions q ON q.id = shared.post_id
    WHERE q.deleted = 0 AND q.kind = 'question'
"""


@cache
def candidates_sql(keys: int) -> str:
    """The candidate query for a fingerprint of ``keys`` keys (one bounded index range per key; the first, the whole
    text's, weighs WHOLE_TEXT: see storage.candidates)."""
    postings = [_POSTINGS.format(weight=WHOLE_TEXT if number == 0 else 1) for number in range(keys)]
    return _CANDIDATES.format(postings=" UNION ALL ".join(postings))


# An edited question: its fingerprint always follows its new words, so later questions are compared with what it
# asks now; and it is placed again, as if asked now, unless its place is fixed: a cluster's first question keeps
# the copies placed against it, and a question named in a manual decision keeps the decision's place.
EDITED = """
    SELECT q.text, q.normalised,
           EXISTS (SELECT 1 FROM questions m WHERE m.course_slug = q.course_slug AND m.duplicate_of = q.id)
           OR EXISTS (SELECT 1 FROM cluster_decisions d WHERE d.first = q.id OR d.second = q.id) AS fixed
    FROM questions q WHERE q.id = ? AND q.kind = 'question' AND q.deleted = 0
"""


async def _rows(conn: aiosqlite.Connection, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
    return list(await conn.execute_fetchall(sql, params))


def stored_fingerprint(row: Any) -> Fingerprint:
    """A candidate's fingerprint as a candidate query reads it: its normalised text. The decision reads nothing
    else of an earlier question; its keys found it, and are not read back (at up to MAX_CANDIDATES a placement,
    aggregating and parsing them was a fifth of placing a question among many alike)."""
    return Fingerprint(row["normalised"] or "", ())


async def place(conn: aiosqlite.Connection, post_id: int, *, keep_cluster: bool = False) -> int | None:
    """Fingerprint the stored question ``post_id`` and join the cluster of the earlier question it duplicates;
    returns that cluster's root, or None when it stays alone. Comments, and questions of a group whose
    duplicates are off, are left alone (and get no keys, so nothing joins them either). With ``keep_cluster``
    only the fingerprint is written (see :func:`place_edited`)."""
    found = await _rows(
        conn,
        "SELECT q.course_slug, q.text, q.kind, q.duplicate_of, COALESCE(g.dupes, 'on') AS dupes FROM questions q"
        " LEFT JOIN study_groups g ON g.id = q.group_id WHERE q.id = ?",
        (post_id,),
    )
    if not found or found[0]["kind"] != "question" or found[0]["dupes"] == DupesMode.OFF:
        return None
    course, text = found[0]["course_slug"], found[0]["text"]
    fp = fingerprint(text)
    if keep_cluster:
        root = found[0]["duplicate_of"]
    else:
        candidates = []
        if fp.keys:
            params = [v for key in fp.keys for v in (course, key, post_id, MAX_POSTINGS)]
            candidates = await _rows(conn, candidates_sql(len(fp.keys)), (*params, MAX_CANDIDATES))
        roots = {row["id"]: row["root"] for row in candidates}
        match = best_match(fp, ((row["id"], stored_fingerprint(row)) for row in candidates))
        root = roots[match] if match is not None else None
    await conn.execute(
        "UPDATE questions SET normalised = ?, duplicate_of = ? WHERE id = ?", (fp.normalised, root, post_id)
    )
    await conn.executemany(
        "INSERT OR IGNORE INTO question_keys (course_slug, key, post_id) VALUES (?, ?, ?)",
        [(course, key, post_id) for key in fp.keys],
    )
    return root


async def place_edited(conn: aiosqlite.Connection, post_id: int) -> None:
    """A question's text was edited: place it again, in the edit's transaction (see :data:`EDITED`)."""
    found = await _rows(conn, EDITED, (post_id,))
    if not found or found[0]["normalised"] == normalise(found[0]["text"]):
        return  # not a live question, or nothing that counts changed (a link unfurled, a typo of punctuation)
    await conn.execute("DELETE FROM question_keys WHERE post_id = ?", (post_id,))
    await place(conn, post_id, keep_cluster=bool(found[0]["fixed"]))


# clustering a whole database ---------------------------------------------------------------------------------
async def needs_clustering(conn: aiosqlite.Connection) -> bool:
    rows = await _rows(conn, "SELECT fingerprint_version FROM cluster_state WHERE id = 1")
    return bool(rows) and rows[0][0] != FINGERPRINT_VERSION


async def cluster_pending(conn: aiosqlite.Connection, progress: Progress | None = None) -> int:
    """Cluster every course's questions once, when the stored clusters were not made by this detector version
    (a database upgraded from before clusters, or a new detector); returns how many questions were placed.

    ``conn`` is a writer connection outside any transaction. One transaction: a kill leaves the database as it
    was, and the next start clusters it again.
    """
    if not await needs_clustering(conn):
        return 0
    total_rows = await _rows(conn, "SELECT COUNT(*) FROM questions WHERE kind = 'question' AND deleted = 0")
    total, done = int(total_rows[0][0]), 0
    await conn.execute("BEGIN IMMEDIATE")
    try:
        await conn.execute("DELETE FROM question_keys")
        await conn.execute("UPDATE questions SET duplicate_of = NULL WHERE duplicate_of IS NOT NULL")
        decisions = await _rows(conn, "SELECT first, second, same FROM cluster_decisions ORDER BY decided_at")
        courses = [r[0] for r in await _rows(conn, "SELECT DISTINCT course_slug FROM questions")]
        for course in courses:
            done = await _cluster_course(conn, course, decisions, done, total, progress)
        await conn.execute("UPDATE cluster_state SET fingerprint_version = ? WHERE id = 1", (FINGERPRINT_VERSION,))
        await conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            await conn.execute("ROLLBACK")
        raise
    if progress is not None and done % PROGRESS_EVERY:
        progress(done, total)
    logger.info("clustered %d questions with fingerprint version %d", done, FINGERPRINT_VERSION)
    return done


@dataclass(slots=True)
class _Clusters:
    """Union of question ids by root (the lowest id of each cluster)."""

    root: dict[int, int]
    members: dict[int, set[int]]

    def join(self, question: int, root: int) -> None:
        self.root[question] = root
        self.members[root].add(question)

    def union(self, a: int, b: int) -> None:
        ra, rb = self.root.get(a), self.root.get(b)
        if ra is None or rb is None or ra == rb:
            return
        keep, gone = min(ra, rb), max(ra, rb)
        for member in self.members.pop(gone):
            self.join(member, keep)


# A course's questions to cluster, in the order they were asked (both stores).
COURSE_QUESTIONS = (
    "SELECT q.id, q.text FROM questions q LEFT JOIN study_groups g ON g.id = q.group_id"
    " WHERE q.course_slug = ? AND q.kind = 'question' AND q.deleted = 0 AND COALESCE(g.dupes, 'on') <> 'off'"
    " ORDER BY q.id"
)


def cluster_in_memory(
    rows: Iterable[Any], decisions: Iterable[Any], done: int, total: int, progress: Progress | None
) -> tuple[dict[int, Fingerprint], dict[int, int], int]:
    """Cluster one course's questions (rows of ``id``, ``text`` in id order) as placement would have, one by
    one, then apply the manual decisions (rows of ``first``, ``second``, ``same``, oldest first): the pure part of
    clustering a database once, shared by both stores. Returns (fingerprint per question, root per question,
    questions done so far)."""
    apart: set[tuple[int, int]] = set()
    same: list[tuple[int, int]] = []
    for row in decisions:
        pair = (row["first"], row["second"])
        if row["same"]:
            same.append(pair)
            apart.discard(pair)
        else:
            apart.add(pair)
    prints: dict[int, Fingerprint] = {}
    clusters = _Clusters({}, defaultdict(set))
    course = ((row["id"], fingerprint(row["text"])) for row in rows)
    for post_id, fp, candidates in ranked(course, {}):
        allowed = [
            (other, prints[other])
            for other in candidates
            if not any((min(m, post_id), max(m, post_id)) in apart for m in clusters.members[clusters.root[other]])
        ]
        match = best_match(fp, allowed)
        clusters.join(post_id, post_id if match is None else clusters.root[match])
        prints[post_id] = fp
        done += 1
        if progress is not None and done % PROGRESS_EVERY == 0:
            progress(done, total)
    for a, b in same:
        clusters.union(a, b)
    return prints, clusters.root, done


async def _cluster_course(
    conn: aiosqlite.Connection,
    course: str,
    decisions: Sequence[sqlite3.Row],
    done: int,
    total: int,
    progress: Progress | None,
) -> int:
    rows = await _rows(conn, COURSE_QUESTIONS, (course,))
    prints, roots, done = cluster_in_memory(rows, decisions, done, total, progress)
    await conn.executemany(
        "UPDATE questions SET normalised = ? WHERE id = ?", [(fp.normalised, i) for i, fp in prints.items()]
    )
    await conn.executemany(
        "UPDATE questions SET duplicate_of = ? WHERE id = ?",
        [(root, post_id) for post_id, root in roots.items() if root != post_id],
    )
    await conn.executemany(
        "INSERT OR IGNORE INTO question_keys (course_slug, key, post_id) VALUES (?, ?, ?)",
        [(course, key, post_id) for post_id, fp in prints.items() for key in fp.keys],
    )
    return done


# manual decisions ----------------------------------------------------------------------------------------------
async def _members(conn: aiosqlite.Connection, question_id: int) -> tuple[int, list[int]]:
    """(root, every member's id, root included) of the question's cluster; LookupError when unknown."""
    found = await _rows(conn, ROOT_OF, (question_id,))
    if not found:
        raise LookupError(f"question {question_id} does not exist")
    root = int(found[0]["root"])
    rows = await _rows(conn, CLUSTER_MEMBERS, {"root": root, "course": found[0]["course_slug"]})
    return root, sorted(int(r[0]) for r in rows)


async def _decide(conn: aiosqlite.Connection, pairs: Iterable[tuple[int, int]], same: bool, at: int) -> None:
    await conn.executemany(
        "INSERT INTO cluster_decisions (first, second, same, decided_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (first, second) DO UPDATE SET same = excluded.same, decided_at = excluded.decided_at",
        [(min(a, b), max(a, b), int(same), at) for a, b in pairs if a != b],
    )


async def _set_root(conn: aiosqlite.Connection, members: Sequence[int]) -> None:
    """Make ``members`` one cluster under its lowest id."""
    if not members:
        return
    root = min(members)
    await conn.execute("UPDATE questions SET duplicate_of = NULL WHERE id = ?", (root,))
    await conn.executemany(
        "UPDATE questions SET duplicate_of = ? WHERE id = ?", [(root, m) for m in members if m != root]
    )


def merge_op(first: int, second: int, at: datetime) -> Callable[[aiosqlite.Connection], Awaitable[None]]:
    decided = codec.to_micros(at)

    async def op(conn: aiosqlite.Connection) -> None:
        _, one = await _members(conn, first)
        _, two = await _members(conn, second)
        await _decide(conn, [(first, second)], True, decided)
        await _set_root(conn, sorted(set(one) | set(two)))

    return op


def split_op(question_id: int, at: datetime) -> Callable[[aiosqlite.Connection], Awaitable[None]]:
    decided = codec.to_micros(at)

    async def op(conn: aiosqlite.Connection) -> None:
        _, members = await _members(conn, question_id)
        rest = [m for m in members if m != question_id]
        await _decide(conn, [(question_id, m) for m in rest], False, decided)
        await conn.execute("UPDATE questions SET duplicate_of = NULL WHERE id = ?", (question_id,))
        await _set_root(conn, rest)

    return op


# reads -----------------------------------------------------------------------------------------------------------
# The cluster's root and its members through the cluster index (never a scan of the course's questions).
CLUSTER_MEMBERS = """
    SELECT :root AS id
    UNION ALL
    SELECT id FROM questions INDEXED BY questions_by_cluster WHERE course_slug = :course AND duplicate_of = :root
"""
CLUSTER_OF = f"""
    {queries.QUESTIONS_FROM}
    WHERE q.id IN ({CLUSTER_MEMBERS}) AND q.deleted = 0
    ORDER BY q.id
"""
ROOT_OF = "SELECT COALESCE(duplicate_of, id) AS root, course_slug FROM questions WHERE id = ?"


# Distinct members who liked any of the listed questions, per cluster: [[root, question id], ...].
CLUSTER_LIKES = """
    SELECT j.value ->> 0 AS root, COUNT(DISTINCT r.member_id) AS members
    FROM json_each(?) AS j CROSS JOIN reactions r ON r.question_id = j.value ->> 1
    GROUP BY root
"""

# The course's best clusters of two or more copies in a ranking's scope, computed inside SQLite: each cluster's
# likes (distinct members who liked any live copy, plus imported likes), its first copy, and its copies with their
# own likes. {scope} is an SQL condition on a copy (q.*): a cluster is in scope when any live copy is. Only the
# clustered questions are read (through the cluster index), never the course's other questions.
CLUSTER_RANKING = """
    WITH m(id, root) AS (
        SELECT id, duplicate_of FROM questions INDEXED BY questions_by_cluster
        WHERE course_slug = :course AND duplicate_of IS NOT NULL
        UNION
        SELECT duplicate_of, duplicate_of FROM questions INDEXED BY questions_by_cluster
        WHERE course_slug = :course AND duplicate_of IS NOT NULL),
    live AS (
        SELECT m.root, q.id, q.likes + q.base_likes AS own, q.base_likes, q.created_at, ({scope}) AS in_scope
        FROM m CROSS JOIN questions q ON q.id = m.id
        WHERE q.kind = 'question' AND q.deleted = 0),
    grouped AS (
        SELECT root, SUM(base_likes) AS base, MIN(created_at) AS first_at, MIN(id) AS first_id,
               json_group_array(json_array(id, own)) AS copies
        FROM live GROUP BY root HAVING COUNT(*) > 1 AND MAX(in_scope)),
    likers AS (
        SELECT l.root, COUNT(DISTINCT r.member_id) AS n
        FROM live l CROSS JOIN reactions r ON r.question_id = l.id
        WHERE l.root IN (SELECT root FROM grouped) GROUP BY l.root)
    SELECT g.root, g.base + COALESCE(k.n, 0) AS likes, g.first_at, g.first_id, g.copies
    FROM grouped g LEFT JOIN likers k ON k.root = g.root
    ORDER BY likes DESC, g.first_at, g.first_id
"""
# Every clustered question id of the course (live or not): what the plain ranking leaves to CLUSTER_RANKING.
CLUSTERED_IDS = """
    SELECT id FROM questions INDEXED BY questions_by_cluster WHERE course_slug = :course AND duplicate_of IS NOT NULL
    UNION
    SELECT duplicate_of FROM questions INDEXED BY questions_by_cluster
    WHERE course_slug = :course AND duplicate_of IS NOT NULL
"""
# Scopes of CLUSTER_RANKING: /top (its lesson, whether answered ones count) and a digest's window.
TOP_SCOPE = "(:lesson IS NULL OR q.lesson_id = :lesson) AND (:answered OR q.answered = 0)"
PERIOD_SCOPE = "q.id > :after AND q.id <= :through AND q.created_at >= :since"


async def cluster_likes(reader: queries.Reader, members: dict[int, list[int]]) -> dict[int, int]:
    pairs = [[root, m] for root, ids in members.items() for m in ids]
    rows = await reader.all(CLUSTER_LIKES, (json_text(pairs),))
    return {int(r["root"]): int(r["members"]) for r in rows}


async def read_cluster(reader: queries.Reader, question_id: int) -> Cluster | None:
    found = await reader.one(ROOT_OF, (question_id,))
    if found is None:
        return None
    root = int(found["root"])
    rows = await reader.all(CLUSTER_OF, {"root": root, "course": found["course_slug"]})
    questions = tuple(codec.question_from(r) for r in rows)
    members = await cluster_likes(reader, {root: [q.id for q in questions]})
    return Cluster(root, questions, members.get(root, 0) + sum(q.base_likes for q in questions))


# The plain ranking's order without reading whole rows: a ranking query (queries.TOP, TOP_IN_LESSON, PERIOD)
# whose outer SELECT is this instead of queries.RANKED_OUTER reads only the picked ids' own columns.
LIGHT_OUTER = """
    SELECT q.id, q.score, q.created_at FROM picked JOIN counted_questions q ON q.id = picked.id
    ORDER BY q.score DESC, q.created_at, q.id
"""


def light(ranking_sql: str) -> str:
    """``ranking_sql`` (a query ending in queries.RANKED_OUTER) reading ids, scores and times only."""
    if queries.RANKED_OUTER not in ranking_sql:
        raise ValueError("not a ranking query of storage.queries")
    return ranking_sql.replace(queries.RANKED_OUTER, LIGHT_OUTER)


async def ranked_by_cluster(
    reader: queries.Reader, course: str, limit: int, ranking_sql: str, params: dict[str, Any], scope: str
) -> list[RankedQuestion]:
    """The ``limit`` best clusters, each as its most liked wording with its cluster's likes and other copies.

    ``ranking_sql`` with ``params`` is the plain ranking (each question on its own likes; its ``:limit`` is set
    here), ``scope`` the same ranking's condition on a copy for :data:`CLUSTER_RANKING`. Questions alone come
    from the plain ranking, clusters from CLUSTER_RANKING, and the two are merged in the plain ranking's order;
    whole rows are read only for what makes the list.
    """
    values = params | {"course": course}
    clustered = {int(r[0]) for r in await reader.all(CLUSTERED_IDS, {"course": course})}
    if not clustered:
        return [_ranked(r) for r in await reader.all(ranking_sql, values | {"limit": limit})]
    Key = tuple[int, int, int]
    entries: list[tuple[Key, int, int | None, tuple[int, ...]]] = [  # (order, shown id, cluster likes, copies)
        ((-r["score"], r["created_at"], r["id"]), r["id"], None, ())
        for r in await _plain(reader, light(ranking_sql), values, limit, clustered)
    ]
    for row in await reader.all(CLUSTER_RANKING.format(scope=scope) + " LIMIT :limit", values | {"limit": limit}):
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
    reader: queries.Reader, sql: str, params: dict[str, Any], limit: int, excluded: set[int]
) -> list[sqlite3.Row]:
    """The plain ranking's best ``limit`` that are not in a cluster: pages that grow until enough are left."""
    size, enough = 2 * limit + 8, limit + len(excluded)  # a page of ``enough`` always has ``limit`` left
    while True:
        page = await reader.all(sql, params | {"limit": size})
        kept = [r for r in page if r["id"] not in excluded]
        if len(kept) >= limit or len(page) < size or size >= enough:
            return kept[:limit]
        size = min(size * 4, enough)


def _ranked(row: sqlite3.Row) -> RankedQuestion:
    return RankedQuestion(codec.question_from(row), row["lesson_title"], row["lesson_number"])


async def _ranked_rows(reader: queries.Reader, ids: Sequence[int]) -> dict[int, RankedQuestion]:
    rows = await reader.all(
        f"SELECT {queries.QUESTION_COLUMNS}, l.title AS lesson_title, l.number AS lesson_number"
        " FROM counted_questions q JOIN members m ON m.id = q.author_id JOIN lessons l ON l.id = q.lesson_id"
        " WHERE q.id IN (SELECT value FROM json_each(?))",
        (json_text(list(ids)),),
    )
    return {int(r["id"]): _ranked(r) for r in rows}

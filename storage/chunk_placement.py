"""An import's new questions placed in their clusters a chunk at a time, in memory: the decisions placing them one
by one would make (:func:`storage.clusters.place`), from three reads a chunk instead of a candidate query a
question.

Why: a course page brings thousands of questions in one transaction. Placed one by one, each paid its own
candidate query (1.1 ms, of 2.7 ms a question, on a page of questions alike but for a number), and the import
benchmark's 16,000-comment page took 25 s against its 5 s target (benchmarks/import_pages.py).

How it stays the same decision: the chunk's questions were inserted after every stored question, so their ids
are above every stored id (both stores hand out growing ids), and placing them one by one in id order, question
``q`` would read, for each of its keys, the newest :data:`~storage.candidates.MAX_POSTINGS` postings below ``q``:
the stored ones (below the chunk's first id, read once here for every key of the chunk) followed by the chunk's
questions before ``q``. :func:`rank` ranks them as the candidate query does (most keys shared, then lowest id, at
most :data:`~storage.candidates.MAX_CANDIDATES`), the store reads the stored ones among them once, and
:func:`decide` drops the ones that are no longer live questions (as the query's join does, after ranking) and
judges the rest with :func:`best_match`, each earlier question of the chunk in its root as just decided.
The rule itself is :mod:`storage.candidates`, shared with clustering a whole database once.
``tests/storage/test_chunk_placement.py`` holds both ways to the same clusters.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import aiosqlite

from handlers.text.duplicates import Fingerprint, best_match, fingerprint
from storage.candidates import MAX_POSTINGS, ranked
from storage.clusters import stored_fingerprint
from storage.json_text import json_text

New = Sequence[tuple[int, Fingerprint]]  # the chunk's new questions with their fingerprints, in id order


@dataclass(frozen=True, slots=True)
class Stored:
    """A stored candidate as the candidate query reads it: its fingerprint (as
    :func:`storage.clusters.stored_fingerprint` makes it), its cluster's root, and whether it is still a live
    question (not deleted, still a question)."""

    print: Fingerprint
    root: int
    live: bool


def fingerprints(questions: Iterable[tuple[int, str]]) -> list[tuple[int, Fingerprint]]:
    """The chunk's new questions, (id, text) in id order, fingerprinted."""
    return [(post_id, fingerprint(text)) for post_id, text in questions]


def chunk_keys(new: New) -> list[str]:
    """Every key of the chunk's questions, once: the store reads each one's stored postings."""
    return sorted({key for _, fp in new for key in fp.keys})


def rank(new: New, postings: Mapping[str, Sequence[int]]) -> list[list[int]]:
    """For each new question, its candidates (see :func:`storage.candidates.ranked`); ``postings``: for each key,
    the newest MAX_POSTINGS stored questions holding it below the chunk's first id, in ascending order."""
    return [candidates for _, _, candidates in ranked(new, postings)]


def stored_among(new: New, ranked: Iterable[Iterable[int]]) -> list[int]:
    """The stored questions among the candidates (below the chunk's first id): the store reads them once."""
    if not new:
        return []
    first = new[0][0]
    return sorted({other for candidates in ranked for other in candidates if other < first})


def decide(new: New, ranked: Sequence[Sequence[int]], stored: Mapping[int, Stored]) -> list[int | None]:
    """Each new question's cluster root (None when it stays alone), deciding in id order as placement would."""
    judged: dict[int, tuple[Fingerprint, int]] = {
        post_id: (found.print, found.root) for post_id, found in stored.items() if found.live
    }
    roots: list[int | None] = []
    for (post_id, fp), candidates in zip(new, ranked, strict=True):
        match = best_match(fp, ((other, judged[other][0]) for other in candidates if other in judged))
        root = judged[match][1] if match is not None else None
        roots.append(root)
        # What a later question of the chunk reads of this one: its words as stored and its cluster's root.
        judged[post_id] = (Fingerprint(fp.normalised, ()), post_id if root is None else root)
    return roots


# SQLite ---------------------------------------------------------------------------------------------------------
# Each key's newest stored postings below the chunk's first id: one bounded index range per key, as the candidate
# query reads them, in one statement for the whole chunk.
POSTINGS = """
    SELECT j.value AS key, (
        SELECT json_group_array(post_id) FROM (
            SELECT post_id FROM question_keys WHERE course_slug = ? AND key = j.value AND post_id < ?
            ORDER BY post_id DESC LIMIT ?)
    ) AS posts
    FROM json_each(?) AS j
"""
STORED = """
    SELECT id, normalised, COALESCE(duplicate_of, id) AS root, deleted = 0 AND kind = 'question' AS live
    FROM questions WHERE id IN (SELECT value FROM json_each(?))
"""


async def place_chunk(conn: aiosqlite.Connection, course: str, questions: Sequence[tuple[int, str]]) -> None:
    """Place the chunk's new questions, (id, text) in id order, all inserted after every stored question, in
    the import's transaction on ``conn``: their fingerprints, clusters and keys written."""
    new = fingerprints(questions)
    if not new:
        return
    postings: dict[str, list[int]] = {}
    keys = chunk_keys(new)
    if keys:
        rows = await conn.execute_fetchall(POSTINGS, (course, new[0][0], MAX_POSTINGS, json_text(keys)))
        postings = {row[0]: sorted(json.loads(row[1])) for row in rows}
    ranked = rank(new, postings)
    found = await conn.execute_fetchall(STORED, (json_text(stored_among(new, ranked)),))
    stored = {row["id"]: Stored(stored_fingerprint(row), row["root"], bool(row["live"])) for row in found}
    roots = decide(new, ranked, stored)
    await conn.executemany(
        "UPDATE questions SET normalised = ?, duplicate_of = ? WHERE id = ?",
        [(fp.normalised, root, post_id) for (post_id, fp), root in zip(new, roots, strict=True)],
    )
    await conn.executemany(
        "INSERT OR IGNORE INTO question_keys (course_slug, key, post_id) VALUES (?, ?, ?)",
        [(course, key, post_id) for post_id, fp in new for key in fp.keys],
    )

"""An import places its questions a chunk at a time (storage.chunk_placement); the clusters must be exactly those
that placing each question as it is stored (the live path) makes, on both stores, and those that clustering a
whole course at once (an upgrade) makes.

The questions: the labelled set's (rewordings and hard negatives), and a course page's many questions alike but
for their number, so that keys are shared by more than MAX_POSTINGS questions and questions by more than
MAX_CANDIDATES candidates, with exact repeats among them (which must join); imported as two pages, so that the
second page's questions find the first page's stored ones as well as their own page's earlier ones.
"""

from __future__ import annotations

import json
from collections import Counter

from handlers.text.duplicates import fingerprint
from handlers.vocabulary.domain import Course, LessonDraft, Member, PostKind
from handlers.vocabulary.imported import ImportedPost
from storage import candidates
from storage.candidates import MAX_CANDIDATES, MAX_POSTINGS
from storage.clusters import cluster_in_memory
from tests.paths import ROOT
from tests.storage.helpers import T0, World

ALIKE = "第{n}条：这门课和其他课的区别是什么？ Question {n}"


def questions() -> list[str]:
    labelled = [
        json.loads(line)["text"]
        for line in (ROOT / "tests" / "data" / "duplicates.jsonl").read_text("utf-8").splitlines()
    ]
    alike = [ALIKE.format(n=n) for n in range(230)]
    repeats = [ALIKE.format(n=n) for n in (3, 150, 229)] + labelled[:20:4]
    return labelled[:120] + alike[:100] + labelled[120:160] + alike[100:] + repeats


def roots_by_position(rows: list[tuple[int, int | None]]) -> list[int | None]:
    """Each question's cluster as the position of the question it joined (None when it stayed alone)."""
    position = {question_id: i for i, (question_id, _) in enumerate(rows)}
    return [None if root is None else position[root] for _, root in rows]


async def clusters_of(world: World, course: str) -> list[int | None]:
    rows = sorted((r.question.id, r.question.duplicate_of) for r in await world.store.export_rows(course))
    return roots_by_position(rows)


async def test_an_import_makes_the_clusters_that_placing_each_question_as_it_is_stored_makes(world: World) -> None:
    texts = questions()
    for i, text in enumerate(texts):  # the reference: one by one, as a live group's questions are placed
        await world.post(text, author=Member("telegram", str(100 + i % 37), f"m{i % 37}"))
    await world.store.upsert_course(Course("imp", "Imported"), T0)
    posts = [ImportedPost(f"k{i}", f"a{i % 37}", text, PostKind.QUESTION, 0, 0, T0) for i, text in enumerate(texts)]
    half = len(posts) // 2
    await world.store.import_lesson(LessonDraft("imp", "one", "One", number=1), posts[:half], T0)
    await world.store.import_lesson(LessonDraft("imp", "two", "Two", number=2), posts[half:], T0)

    live, imported = await clusters_of(world, "ai"), await clusters_of(world, "imp")
    assert len(imported) == len(live) == len(texts)
    assert imported == live
    # And clustering the whole course at once (an upgrade) makes them too: the three share one candidate rule.
    _, roots, _ = cluster_in_memory([{"id": i, "text": text} for i, text in enumerate(texts)], [], 0, len(texts), None)
    assert roots_by_position([(i, None if roots[i] == i else roots[i]) for i in range(len(texts))]) == live
    joined = [i for i, root in enumerate(imported) if root is not None]
    assert len(joined) >= 40  # the labelled rewordings and the repeats: a test where nothing joins proves nothing
    # Questions 3, 150 and 229 asked again in the same words join their first asking, across both pages. For
    # question 3, more than MAX_CANDIDATES later questions share more key pairs than its first asking does, and
    # the pairs' newest MAX_POSTINGS have moved past it: only the whole text's key, which outweighs the pairs,
    # finds it (before fingerprint version 21 it was left alone, on both paths alike).
    again = range(len(texts) - 8, len(texts) - 5)
    assert [imported[i] for i in again] == [texts.index(texts[i]) for i in again]
    assert any(root is not None and root < half <= i for i, root in enumerate(imported))  # page two → page one


def test_the_questions_crowd_both_bounds_the_store_places_by() -> None:
    """The data above reaches both bounds, so an import that ignored either would part from the live path."""
    prints = [fingerprint(text) for text in questions()]
    holders = Counter(key for fp in prints for key in set(fp.keys))
    assert max(holders.values()) > MAX_POSTINGS
    repeat = prints[-8]  # the alike question 3, asked again
    assert sum(1 for fp in prints[:-8] if set(fp.keys) & set(repeat.keys)) > MAX_CANDIDATES


def test_the_most_shared_are_taken_as_the_candidate_query_orders_them() -> None:
    shared = Counter({5: 3, 9: 3, 2: 1, 7: 3, 1: 1, 4: 2})
    assert candidates.most_shared(shared) == [1, 2, 4, 5, 7, 9]  # all, when no more than the bound
    many = Counter({other: 1 for other in range(100, 200)}) + Counter({other: 2 for other in range(300, 340)})
    # The 40 sharing two keys, then the 10 lowest ids of those sharing one.
    assert candidates.most_shared(many) == list(range(100, 110)) + list(range(300, 340))

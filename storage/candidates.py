"""A new question's candidates among the course's earlier questions, in memory: the rule the store's candidate
query states in SQL (:func:`storage.clusters.candidates_sql`, its PostgreSQL twin), for the placements that run in
memory — an import's chunk (:mod:`storage.chunk_placement`) and clustering a whole database once
(:func:`storage.clusters.cluster_in_memory`).

The rule: each of the question's keys contributes the newest :data:`MAX_POSTINGS` earlier questions holding it
(so that a key most questions share cannot make placement read the course), and the :data:`MAX_CANDIDATES` that
share most keys, the lowest ids among equals, are judged. The whole text's key counts :data:`WHOLE_TEXT` keys, more
than all the pairs: a question asked again in the same words is always judged against its earlier asking. Counted
as one key, it lost to newer questions sharing more pairs: in a course with many questions alike (a page's
"第N条：…区别是什么"), the same words asked 230 questions later were left alone, while the pairs' newest
MAX_POSTINGS had moved past the first asking.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence

from handlers.text.duplicates import KEY_PAIRS, Fingerprint

# The questions sharing most keys that the detector judges. benchmarks/duplicates.py measures placement with these
# two bounds (it imports them): they were 200 and 1,000 in the store while it measured 50 and 200, and at 100,000
# stored questions placement took 10.9 ms instead of 3.5 (rewordings found on their question: 91 of 100 against 90).
MAX_CANDIDATES = 50
MAX_POSTINGS = 200
WHOLE_TEXT = KEY_PAIRS + 1  # what sharing the first key (the whole text's, see Fingerprint.keys) counts


def ranked(
    new: Iterable[tuple[int, Fingerprint]], postings: Mapping[str, Sequence[int]]
) -> Iterator[tuple[int, Fingerprint, list[int]]]:
    """Each new question (id, fingerprint, in id order) with its candidates, as the candidate query takes them.

    ``postings``: for each key, the newest MAX_POSTINGS earlier questions holding it that are not among ``new``
    (a chunk's stored ones; none when a whole course is clustered), ascending. The new questions before a
    question are its candidates too. Lazy: a question's keys join the postings once the next one is asked for,
    so a course of a million questions is never ranked whole.
    """
    ours: dict[str, list[int]] = defaultdict(list)  # the new questions so far, by key, ascending
    for post_id, fp in new:
        shared: Counter[int] = Counter()
        for number, key in enumerate(fp.keys):  # a key listed twice counts twice, as in the query's UNION ALL
            newest = _newest(ours.get(key, []), postings.get(key, ()))
            if number:
                shared.update(newest)
            else:  # the whole text's key
                shared.update(dict.fromkeys(newest, WHOLE_TEXT))
        yield post_id, fp, most_shared(shared)
        for key in dict.fromkeys(fp.keys):  # once per key, as question_keys keeps it
            ours[key].append(post_id)


def _newest(mine: Sequence[int], stored: Sequence[int]) -> Sequence[int]:
    """A key's newest MAX_POSTINGS postings: the new questions' own (the newest), then the stored ones."""
    if len(mine) >= MAX_POSTINGS:
        return mine[-MAX_POSTINGS:]
    room = MAX_POSTINGS - len(mine)
    return [*(stored[-room:] if len(stored) > room else stored), *mine]


def most_shared(shared: Counter[int]) -> list[int]:
    """The MAX_CANDIDATES questions sharing most keys, the lowest ids among equals (the candidate query's ORDER BY
    and LIMIT), as a set in id order: the decision reads no order (best_match takes the lowest id among equals).

    Why not a sort: counts are a handful of small numbers, so the count that the last one taken has is found from
    their histogram, and only the questions at that count are ordered, by id (a sort of (-count, id) pairs took
    110 µs a question on a page of questions alike, with 290 sharing keys each).
    """
    if len(shared) <= MAX_CANDIDATES:
        return sorted(shared)
    room, last = MAX_CANDIDATES, 0
    for count, how_many in sorted(Counter(shared.values()).items(), reverse=True):
        if how_many >= room:
            last = count
            break
        room -= how_many
    above = [other for other, count in shared.items() if count > last]
    at_last = heapq.nsmallest(room, (other for other, count in shared.items() if count == last))
    return sorted(above + at_last)

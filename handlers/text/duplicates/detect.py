"""The duplicate decision: a question's fingerprint, and whether a new question asks what an earlier one asked.

Why this shape: the store keeps each question's fingerprint (its normalised text and a few index keys) and, for a
new question, hands back the course's earlier questions that share a key; :func:`best_match` then decides among
those few. Keys must be cheap to look up at a million questions, and the decision must prefer missing a
duplicate to merging two different questions: a wrong merge hides a question from the instructor.

The decision: the two questions' contrast marks must agree (:class:`~handlers.text.duplicates.features.Marks`: the
kind of question, the system, framework, phase, device and numbers), the names in Chinese questions must not
differ wholesale, and then either their content terms overlap enough (a weighted Dice coefficient over glossary
terms, English stems and Chinese characters) or the two texts are nearly the same string (rapidfuzz's
normalised Indel similarity, which also forgives typos that split a term).
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from handlers.text.duplicates.features import (
    Marks,
    asks,
    english_words,
    mark_kind,
    marks,
    names,
    terms,
    weight,
)
from handlers.text.duplicates.lexicon import ACTS, ASPECTS, FACTS
from handlers.text.duplicates.normalise import normalise

logger = logging.getLogger(__name__)

# Bumped whenever normalisation, terms, keys, the decision or the stores' choice of candidates change: stores
# cluster their questions again on a new version, so a merge the new detector would not make is undone (manual
# decisions are replayed). 21: a candidate sharing the whole text's key outranks any sharing only pairs.
FINGERPRINT_VERSION = 21

# Weighted Dice coefficient of the content terms at or above which two questions (whose marks agree) are one.
TERM_THRESHOLD = 0.43
# A question of at most SHORT term weight ("RAG 是什么") must also share more than COVERAGE of the other's
# terms: "RAG 是什么" lies wholly inside "RAG 和微调怎么选", which asks about something more.
SHORT = 1.0
NARROW = 2.0  # a question of at most this weight, wholly inside another that names one more thing, differs
COMPARED = "区别"  # the glossary's term for "difference", "vs", "差别"
EXPLAINED = "原理"  # the glossary's term for "how does it work", "explain", "作用"
COVERAGE = 0.5
# Normalised Indel similarity of the texts (spaces removed) at or above which they are one question.
TEXT_THRESHOLD = 0.88
# Two questions that each name a thing of at least this weight that the other does not name ("enable" /
# "disable", "NaN" / "negative", "训练" / "验证") ask different things, however much else they share: a rewording
# adds or drops words, it seldom swaps a subject. Terms that are near-twins of one on the other side (Indel
# similarity at least TYPO_TWIN: "attension" / "attention") are typos, not swaps, when they begin alike: a typo
# seldom touches a word's first letters, and words that differ there are another word ("encoder" / "decoder",
# "increase" / "decrease", "encrypt" / "decrypt").
SUBSTITUTION = 1.0
TYPO_TWIN = 0.85
TYPO_KEEPS = 2  # the first letters a typo leaves as they were
# Keys: the whole text, and the KEY_PAIRS pairs of lowest stable hash among the question's content terms and
# the kind of question it asks (a fact kind such as "?when", or "?open"). Two questions sharing two terms, or one
# term and the kind of question, are candidates; a pair is rarer than a term, so a key's list of questions stays
# short in a large course.
KEY_PAIRS = 15
# The content terms of lowest stable hash that pair with each other and the kind of question; only terms of at
# least SUBJECT weight: aspects such as "区别" and words such as "报错" are too common to make a key selective.
SKETCH = 7
SUBJECT = 0.5


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What the store keeps of a question to find and judge its duplicates."""

    normalised: str  # the text with what does not change meaning removed (see handlers.text.duplicates.normalise)
    # Candidate keys for an index lookup: at most 16 short ASCII strings, the same everywhere. The first is the
    # whole (normalised) text's, which only the same words share; the others pair its terms (see keys_of).
    keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Terms:
    """A question's content terms as the decision reads them, with the sets its guards compare made once (the
    store hands back the same earlier questions again and again)."""

    weights: dict[str, float]
    total: float
    compact: str
    names: frozenset[str]  # the terms themselves
    aspects: frozenset[str]  # those of them that are aspects (ASPECTS)
    acts: frozenset[str]  # those of them that are acts (ACTS)


@lru_cache(maxsize=16384)
def _stable_hash(text: str) -> bytes:
    """Eight bytes of BLAKE2b: the same on every machine and run (unlike ``hash()``, which is salted). Cached: a
    question's terms and their pairs are hashed to pick its keys, and most recur from question to question (a
    course page of 8,000 questions hashed 43 strings each, 2 µs a hash; a hit costs a twentieth of that)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()


def _key(prefix: str, text: str) -> str:
    return prefix + _stable_hash(text).hex()[:12]


def keys_of(normalised: str) -> tuple[str, ...]:
    """The index keys of a normalised question (see KEY_PAIRS): at most 16 short ASCII strings."""
    if not normalised:
        return ()
    asked = asks(normalised) & FACTS
    kinds = sorted(f"?{kind}" for kind in asked) if asked else ["?open"]
    # The terms as the decision reads them (cached): this question's comparisons with its candidates reuse them.
    subjects = (term for term, w in _terms(normalised).weights.items() if w >= SUBJECT)
    sketch = sorted(kinds + heapq.nsmallest(SKETCH, subjects, key=_stable_hash))
    pairs = heapq.nsmallest(KEY_PAIRS, (f"{a}\x1f{b}" for a, b in itertools.combinations(sketch, 2)), key=_stable_hash)
    return (_key("t", normalised), *(_key("p", pair) for pair in pairs))


def fingerprint(text: str) -> Fingerprint:
    """The fingerprint of a member's question as written."""
    normalised = normalise(text)
    return Fingerprint(normalised, keys_of(normalised))


# The questions whose terms, marks and words are kept, in each of three caches: a placement judges at most 50
# earlier questions (the stores' MAX_CANDIDATES), so this keeps the candidates of the last forty or more. Each
# entry is about 1-2 KB: at 16,384 the three took up to 100 MB of a bot's memory, and a 130,000-comment import
# peaked at 7.7 times its file's size (benchmarks/import_pages.py). At 2,048 (4,096 before) that import peaks
# 4-5 MB lower in the same time, and placement among 100,000 or 1,000,000 questions takes as long
# (benchmarks/duplicates.py; among 10,000, where 4,096 held nearly every candidate, 0.1-0.2 ms more).
CACHED_QUESTIONS = 2048
_NONE: frozenset[str] = frozenset()


@lru_cache(maxsize=CACHED_QUESTIONS)
def _terms(normalised: str) -> _Terms:
    """Content terms of a normalised text, cached: the store hands back the same earlier questions again and
    again, and a new question is compared with up to MAX_CANDIDATES of them."""
    weighted = {term: weight(term) for term in terms(normalised)}
    named = frozenset(weighted)
    aspects, acts = named & ASPECTS or _NONE, named & ACTS or _NONE  # mostly none: one empty set for all
    return _Terms(weighted, sum(weighted.values()), normalised.replace(" ", ""), named, aspects, acts)


@lru_cache(maxsize=CACHED_QUESTIONS)
def _marks(normalised: str) -> tuple[Marks, frozenset[str]]:
    """Contrast marks and names, read only for the candidates whose terms are close enough."""
    return marks(normalised), names(normalised)


@lru_cache(maxsize=CACHED_QUESTIONS)
def _taken_words(normalised: str) -> frozenset[str]:
    """The English words of a question that a glossary term took ("gradient checkpointing" is 梯度检查点): the
    other side may have written them as they are, or mistyped them. Mostly none."""
    return english_words(normalised) - _terms(normalised).weights.keys()


def _text_similarity(a: str, b: str) -> float:
    """rapidfuzz's normalised Indel similarity, imported on first use: the question rule
    (:mod:`handlers.text.classify`) shares this package's normalisation and should not pay for rapidfuzz's import."""
    from rapidfuzz.distance import Indel

    return float(Indel.normalized_similarity(a, b))


def _names_differ(mine: frozenset[str], theirs: frozenset[str]) -> bool:
    """Two Chinese questions each naming something the other does not (DPO 和 PPO / DPO 和 RLHF) differ."""
    return bool(mine and theirs and mine - theirs and theirs - mine)


def _typo_of(term: str, other: str) -> bool:
    """``term`` is ``other`` mistyped (see TYPO_TWIN): long enough, beginning alike and nearly the same. The
    cheap tests first: this runs for every pair of unshared terms of every candidate."""
    if len(term) <= 3 or term[:TYPO_KEEPS] != other[:TYPO_KEEPS]:
        return False
    if _transposed(term, other):
        return True
    from rapidfuzz.distance import Indel

    return Indel.normalized_similarity(term, other) >= TYPO_TWIN


def _transposed(term: str, other: str) -> bool:
    """Two neighbouring letters swapped ("chekc" / "check"): the commonest slip of typing, which the Indel
    similarity of a short word cannot tell from another word (one swap in five letters is 0.8)."""
    if len(term) != len(other) or term == other:
        return False
    differ = [i for i, (x, y) in enumerate(zip(term, other, strict=True)) if x != y]
    if len(differ) != 2 or differ[1] != differ[0] + 1:
        return False
    first, second = differ
    return term[first] == other[second] and term[second] == other[first]


def _swapped_weight(mine: dict[str, float], theirs: dict[str, float], their_text: str) -> float:
    """The weight of the terms only ``mine`` names, less those that are a typo of a term only ``theirs`` names
    (or of an English word of ``their_text`` that a glossary term took), those written there as they are, and
    those the contrast marks compare: a number, system, framework or device (see :func:`mark_kind`) where the
    other question (``their_text``, normalised) carries a mark of the same kind too. Where it carries none, the
    marks cannot compare them, and the term is a swapped subject like any other ("which GPU" / "which Python
    version")."""
    taken = _taken_words(their_text)
    # The terms a typo of one of mine could be, by their first letters (which a typo keeps; see _typo_of).
    twins: dict[str, list[str]] = {}
    for other in itertools.chain(theirs, taken):
        if len(other) >= TYPO_KEEPS and other not in mine:
            twins.setdefault(other[:TYPO_KEEPS], []).append(other)
    swapped = 0.0
    their_kinds: set[str] | None = None
    for term, w in mine.items():
        if term in theirs or term in taken or any(_typo_of(term, other) for other in twins.get(term[:TYPO_KEEPS], ())):
            continue
        kind = mark_kind(term)
        if kind is not None:
            if their_kinds is None:
                their_kinds = _mark_kinds(their_text)
            if kind in their_kinds:
                continue
        swapped += w
    return swapped


def _mark_kinds(normalised: str) -> set[str]:
    """The kinds of contrast mark a question carries, as :func:`mark_kind` names them."""
    found, _ = _marks(normalised)
    kinds = {kind for kind, _ in found.things}
    return kinds | {"number"} if found.numbers else kinds


def similarity(new: Fingerprint, earlier: Fingerprint) -> float:
    """How alike two questions are, 0..1, or 0 when a guard keeps them apart. :func:`same_question` compares it
    with the thresholds; :func:`best_match` ranks by it."""
    if not new.normalised or not earlier.normalised:
        return 0.0
    if new.normalised == earlier.normalised:
        return 1.0
    a, b = _terms(new.normalised), _terms(earlier.normalised)
    theirs = b.names
    shared = sum([w for term, w in a.weights.items() if term in theirs])  # in a's order: the same float each time
    dice = 2 * shared / (a.total + b.total) if a.total and b.total else 0.0
    text = _text_similarity(a.compact, b.compact) if dice < TERM_THRESHOLD else 0.0
    if dice < TERM_THRESHOLD and text < TEXT_THRESHOLD:
        return 0.0  # not alike enough for any guard below to matter: most candidates end here, cheaply
    # The guards below each return 0 on their own, so their order changes no result, only the cost: the set
    # comparisons come first, the weighing of swapped terms (typo twins, mark kinds) last. Questions alike but
    # for their subject ("第3条：…区别是什么" / "第5条：…区别是什么", a course page's many) end in the cheap ones.
    if a.aspects and b.aspects and not a.aspects & b.aspects:
        return 0.0  # "X 和 Y 有什么区别" / "X 的 Y 怎么安装": one subject, different aspects
    if a.acts - b.acts and b.acts - a.acts:
        return 0.0  # one subject, and each does something with it that the other does not
    only_a, only_b = a.names - b.names, b.names - a.names
    if COMPARED in a.names and COMPARED in b.names and only_a and only_b:
        return 0.0  # a comparison is defined by what it compares: LoRA vs QLoRA is not LoRA vs full tuning
    # "What is X" and "explain X" (原理) ask the same: the explain aspect does not make a question name more.
    extra = (only_a | only_b) - {EXPLAINED}
    if (
        min(a.total, b.total) <= NARROW
        and (only_a <= {EXPLAINED} or only_b <= {EXPLAINED})
        and any((a.weights.get(term) or b.weights.get(term)) == 1.0 for term in extra)
    ):
        return 0.0  # "KV cache 量化怎么做" asks about more than "KV cache 是什么" (or "解释一下 KV 缓存的作用")
    short_inside_long = min(a.total, b.total) <= SHORT and shared <= COVERAGE * max(a.total, b.total)
    if text >= TEXT_THRESHOLD:
        score = max(dice, text)
    elif dice >= TERM_THRESHOLD and not short_inside_long:
        score = dice
    else:
        return 0.0
    swapped = _swapped_weight(a.weights, b.weights, earlier.normalised)
    if swapped >= SUBSTITUTION and _swapped_weight(b.weights, a.weights, new.normalised) >= SUBSTITUTION:
        return 0.0  # each asks about something the other does not name
    (marks_a, names_a), (marks_b, names_b) = _marks(new.normalised), _marks(earlier.normalised)
    if marks_a.conflicts_with(marks_b) or _names_differ(names_a, names_b):
        return 0.0
    return score


def same_question(new: Fingerprint, earlier: Fingerprint) -> bool:
    """True when ``new`` asks what ``earlier`` asked. Precision first: when in doubt, False."""
    return similarity(new, earlier) > 0.0


def best_match(new: Fingerprint, candidates: Iterable[tuple[int, Fingerprint]]) -> int | None:
    """The id of the earlier question ``new`` duplicates, or None: the most similar of the candidates that
    :func:`same_question` accepts, the lowest id (the earliest) among equals."""
    best: tuple[float, int] | None = None
    for post_id, earlier in candidates:
        score = similarity(new, earlier)
        if score > 0.0 and (best is None or score > best[0] or (score == best[0] and post_id < best[1])):
            best = (score, post_id)
    return best[1] if best else None

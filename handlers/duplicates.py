"""PLACEHOLDER duplicate detector (the API of /work/briefs/dupes-api.md), so that clusters can be built and
tested before the real detector lands; the lead replaces this module with the real one at merge.

Deliberately simple and precision-first: the normalised text is the NFKC, case-folded text without
punctuation, symbols or spaces; candidate keys are a few hashed character 4-grams; two questions are the same
when difflib's ratio of their normalised texts is at least 0.85. It merges plain rewordings ("How do I install
CUDA on Windows?" / "how to install cuda on windows??") and keeps "…on Linux?" apart.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from difflib import SequenceMatcher

FINGERPRINT_VERSION = 1
THRESHOLD = 0.85
MAX_KEYS = 16
GRAM = 4
# English filler that rewording adds or drops without changing the question.
_FILLER = ("howdoi", "howto", "howcani", "canyoutellme")


@dataclass(frozen=True, slots=True)
class Fingerprint:
    normalised: str
    keys: tuple[str, ...]


def normalise(text: str) -> str:
    """NFKC (full-/half-width forms), casefold, and only letters and digits kept."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")
    for filler in _FILLER:
        if kept.startswith(filler):
            return "how" + kept[len(filler) :]
    return kept


def _keys(normalised: str) -> tuple[str, ...]:
    """The smallest hashes of the text's character 4-grams (a bottom-k sketch): similar texts share many of
    them. sha1 rather than hash(), so keys are the same in every process."""
    if not normalised:
        return ()
    grams = {normalised[i : i + GRAM] for i in range(max(1, len(normalised) - GRAM + 1))}
    hashes = sorted(hashlib.sha1(g.encode("utf-8")).hexdigest()[:12] for g in grams)
    return tuple(hashes[:MAX_KEYS])


def fingerprint(text: str) -> Fingerprint:
    normalised = normalise(text)
    return Fingerprint(normalised, _keys(normalised))


def same_question(new: Fingerprint, earlier: Fingerprint) -> bool:
    """Similar enough, and the same numbers ("lab 2" is not "lab 3", however alike the rest)."""
    return _ratio(new, earlier) >= THRESHOLD


def _ratio(new: Fingerprint, earlier: Fingerprint) -> float:
    """difflib's ratio, 0 when the numbers differ; the cheap upper bounds first, as difflib's docs advise."""
    if not new.normalised or not earlier.normalised or _numbers(new.normalised) != _numbers(earlier.normalised):
        return 0.0
    matcher = SequenceMatcher(None, new.normalised, earlier.normalised, autojunk=False)
    if matcher.real_quick_ratio() < THRESHOLD or matcher.quick_ratio() < THRESHOLD:
        return 0.0
    return matcher.ratio()


def _numbers(normalised: str) -> list[str]:
    return re.findall(r"\d+", normalised)


def best_match(new: Fingerprint, candidates: Iterable[tuple[int, Fingerprint]]) -> int | None:
    """The earliest candidate with the highest ratio among those that pass :func:`same_question`."""
    best: tuple[float, int] | None = None
    for post_id, earlier in candidates:
        ratio = _ratio(new, earlier)
        if ratio < THRESHOLD:
            continue
        if best is None or ratio > best[0] or (ratio == best[0] and post_id < best[1]):
            best = (ratio, post_id)
    return None if best is None else best[1]

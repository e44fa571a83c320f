"""The characters a regular expression's match can begin with, so that a long alternation is tried only there.

Why: Python's ``re`` tries every branch of an alternation at every position it may start at. The detector's
glossary is an alternation of a few hundred spellings tried at every Chinese character and every Latin word of a
question; each spelling added made every question slower to read (17 terms added in version 11 took the glossary
from 24 to 51 µs a question). A lookahead of the characters that can begin a match, one set test, turns most
positions away at once. The set is read from the pattern's own parse tree (``re._parser``, the module behind
``re.compile`` since Python 3.11), so it cannot fall out of step with the pattern; where the set cannot be known (a
pattern that may match the empty string, ``.``, a negated class, a class too large to list), there is none and the
pattern is used as it is.
"""

from __future__ import annotations

import re
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

LARGEST_RANGE = 128  # a class spanning more characters than this is not listed ("any CJK character")
_ZERO_WIDTH = {sre_constants.AT, sre_constants.ASSERT, sre_constants.ASSERT_NOT}


class _Unknown(Exception):
    """The pattern may begin with a character that cannot be listed."""


def first_chars(pattern: str) -> frozenset[str] | None:
    """Every character a match of ``pattern`` can begin with, or None when that cannot be said."""
    try:
        chars, nullable = _first(list(sre_parse.parse(pattern)))
    except _Unknown:
        return None
    return None if nullable else frozenset(chars)


def with_first_chars(pattern: str) -> str:
    """``pattern`` behind a lookahead of its first characters (the same matches), or as it is when unknown."""
    chars = first_chars(pattern)
    if not chars:
        return pattern
    return f"(?=[{''.join(re.escape(c) for c in sorted(chars))}])(?:{pattern})"


def _first(items: list[tuple[Any, Any]]) -> tuple[set[str], bool]:
    """(first characters, whether the sequence may match the empty string) of a parsed sequence."""
    found: set[str] = set()
    for op, value in items:
        if op in _ZERO_WIDTH:
            continue
        chars, nullable = _first_of(op, value)
        found |= chars
        if not nullable:
            return found, False
    return found, True


def _first_of(op: Any, value: Any) -> tuple[set[str], bool]:
    if op is sre_constants.LITERAL:
        return {chr(value)}, False
    if op is sre_constants.IN:
        return _class(value), False
    if op is sre_constants.SUBPATTERN:
        return _first(list(value[-1]))
    if op is sre_constants.BRANCH:
        found: set[str] = set()
        nullable = False
        for branch in value[1]:
            chars, empty = _first(list(branch))
            found |= chars
            nullable = nullable or empty
        return found, nullable
    if op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, sre_constants.POSSESSIVE_REPEAT):
        low, _, inner = value
        chars, empty = _first(list(inner))
        return chars, empty or low == 0
    raise _Unknown(op)


def _class(items: list[tuple[Any, Any]]) -> set[str]:
    found: set[str] = set()
    for op, value in items:
        if op is sre_constants.LITERAL:
            found.add(chr(value))
        elif op is sre_constants.RANGE and value[1] - value[0] < LARGEST_RANGE:
            found.update(chr(code) for code in range(value[0], value[1] + 1))
        else:  # a negated class, a category (\d, \s), a large range
            raise _Unknown(op)
    return found

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
from collections.abc import Callable, Iterator, Sequence
from functools import cached_property
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


# Where a term may begin: where a Latin word or a number begins, or at a character outside ASCII (Chinese).
WORD_START = r"(?:(?<![a-z0-9])(?=[a-z0-9])|(?=[^\x00-\x7f]))"
_WORD = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


class Alternation:
    """An alternation of many branches tried where a term may begin (see WORD_START), each position trying only
    the branches that can begin with its character.

    Why: a lookahead of the first characters (:func:`with_first_chars`) turns away positions no branch can begin
    at, but once the glossary's branches begin with most common Chinese characters and Latin letters, most
    positions pass it and then try every branch. Here a position tries the few branches its character can begin
    (in their order, so the first that matches wins, as in the alternation), or the branches whose first
    character cannot be listed. The matches are the alternation's (a test compares them on every question of the
    sets); :attr:`plain` is the alternation itself.
    """

    def __init__(self, branches: Sequence[str]) -> None:
        self._branches = tuple(branches)

    @cached_property
    def plain(self) -> re.Pattern[str]:
        return re.compile(WORD_START + "(?:" + "|".join(self._branches) + ")")

    @cached_property
    def _tables(self) -> tuple[dict[str, re.Pattern[str]], re.Pattern[str] | None]:
        """The pattern for each first character, and the one of the branches that can begin anywhere: built at
        the first match, not when the detector is imported. Why: building reads every branch's parse tree and
        compiles a pattern per first character (266 of them for the detector's two alternations), about 0.15 s
        that a command which reads no question (``studybot lesson list``, a store opened to migrate) should not
        pay for importing the store."""
        branches = self._branches
        by_char: dict[str, list[int]] = {}
        anywhere: list[int] = []
        for index, branch in enumerate(branches):
            chars = first_chars(branch)
            if chars is None:
                anywhere.append(index)
                continue
            for char in chars:
                by_char.setdefault(char, []).append(index)

        def compiled(indexes: set[int]) -> re.Pattern[str]:
            return re.compile("|".join(branches[i] for i in sorted(indexes)))

        tables = {char: compiled(set(indexes) | set(anywhere)) for char, indexes in by_char.items()}
        return tables, compiled(set(anywhere)) if anywhere else None

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        """The matches, left to right and not overlapping, as ``plain.finditer`` finds them."""
        position, end = 0, len(text)
        by_char, anywhere = self._tables
        while position < end:
            char = text[position]
            if char in _WORD:
                if position and text[position - 1] in _WORD:
                    position += 1
                    continue
            elif char < "\x80":
                position += 1
                continue
            pattern = by_char.get(char, anywhere)
            found = pattern.match(text, position) if pattern is not None else None
            if found is None:
                position += 1
                continue
            yield found
            position = max(found.end(), position + 1)

    def sub(self, replace: str | Callable[[re.Match[str]], str], text: str) -> str:
        """``text`` with each match replaced, as ``plain.sub`` replaces them."""
        pieces: list[str] = []
        last = 0
        for found in self.finditer(text):
            pieces += (text[last : found.start()], replace(found) if callable(replace) else replace)
            last = found.end()
        if not pieces:
            return text
        pieces.append(text[last:])
        return "".join(pieces)


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

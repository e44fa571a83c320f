"""Named parameters (``:course``) for asyncpg, which only numbers them (``$1``).

The SQLite store writes its longer queries with named parameters, used several times in one statement (a
digest's window, a report's ages). :func:`named` turns such text into asyncpg's form once per query text and
orders the values to match, so the PostgreSQL store shares the text where the dialects agree instead of
renumbering it by hand. :func:`without_hints` drops SQLite's ``INDEXED BY`` hints, which PostgreSQL does not
have (its planner picks the index from the statistics). :func:`as_row` hands a record to :mod:`storage.codec`.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping
from functools import cache
from typing import Any, cast

import asyncpg

# ``:name`` but not a cast (``x::text``) or a word's inside.
_NAME = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_HINT = re.compile(r"\s+INDEXED\s+BY\s+\w+", re.IGNORECASE)


@cache
def _numbered(sql: str) -> tuple[str, tuple[str, ...]]:
    order: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in order:
            order.append(name)
        return f"${order.index(name) + 1}"

    return _NAME.sub(number, sql), tuple(order)


def named(sql: str, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """``sql`` with ``$n`` for each distinct ``:name`` (a name used twice is one parameter), and the values in
    that order. A name missing from ``params`` raises KeyError; extra ones are ignored, as SQLite does."""
    text, order = _numbered(sql)
    return text, [params[name] for name in order]


def statement(sql: str, params: Mapping[str, Any]) -> list[Any]:
    """The query text in asyncpg's form followed by its values, to pass as ``conn.fetch(*statement(…))``."""
    text, values = named(sql, params)
    return [text, *values]


@cache
def without_hints(sql: str) -> str:
    """SQLite's query text without its ``INDEXED BY`` hints."""
    return _HINT.sub("", sql)


def as_row(record: asyncpg.Record) -> sqlite3.Row:
    """A record typed as :mod:`storage.codec` takes its rows: the codec only indexes them by column name (and
    the queries select the same names and aliases on both stores), which an asyncpg record allows too."""
    return cast(sqlite3.Row, record)

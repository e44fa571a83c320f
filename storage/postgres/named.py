"""Query text shared with the SQLite store's read side, which names its parameters (``:course``), for asyncpg.

SQLite's ranking queries (:mod:`storage.queries`, :mod:`storage.clusters`) take named parameters and pin their
indexes with ``INDEXED BY``; PostgreSQL numbers its parameters and picks indexes itself. :func:`named` turns
such a query into PostgreSQL's form once (cached) and orders a call's values to match, so the text the
dialects agree on is written once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any

_NAME = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")  # not a ``::type`` cast
_INDEXED_BY = re.compile(r"\s+INDEXED BY \w+")


@cache
def _converted(sql: str) -> tuple[str, tuple[str, ...]]:
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _NAME.sub(number, _INDEXED_BY.sub("", sql)), tuple(names)


def named(sql: str, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """(``sql`` with ``$n`` for each distinct ``:name``, the values in that order); KeyError for a missing one."""
    text, names = _converted(sql)
    return text, [params[name] for name in names]

"""The JSON text the store hands to SQLite's json_each: what SQLite reads back is what was given."""

from __future__ import annotations

import json
import sqlite3

from storage.json_text import json_text


def read_back(text: str) -> list[object]:
    with sqlite3.connect(":memory:") as conn:
        assert conn.execute("SELECT typeof(?)", (text,)).fetchone()[0] == "text"  # bound as TEXT, never as a BLOB
        return [json.loads(row[0]) for row in conn.execute("SELECT value FROM json_each(?) ORDER BY key", (text,))]


def test_rows_reach_sqlite_as_given() -> None:
    rows = [(1, "👍", "discord", "1001", None, 2.5), (2, '问题 "引号" \\ 反斜杠', "telegram", "-100", None, 0.0)]
    text = json_text(rows)
    assert "问题" in text and "👍" in text  # kept as written, not escaped
    assert read_back(text) == [list(row) for row in rows]


def test_a_value_orjson_refuses_is_encoded_as_the_standard_library_does() -> None:
    lone_surrogate = "name \ud83d"  # a broken emoji half, as a client may send in a display name
    big = 2**70  # past 64 bits
    assert json_text([lone_surrogate]) == json.dumps([lone_surrogate], ensure_ascii=False)
    assert json.loads(json_text([big])) == [big]

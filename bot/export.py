"""``studybot export``: a course's questions and comments as CSV, JSON or Markdown.

The Markdown reads like a course page's featured-comments list (author, 👍 likes, 💬 replies, date), one
section per lesson, questions first. User text is written as text: Markdown export escapes the characters
that would otherwise become formatting. Every format drops control and bidi characters from members' text
(:func:`handlers.text.shown_text`): an export is read in editors and spreadsheets that obey them.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from handlers.text import shown_text

if TYPE_CHECKING:  # the command line's parser reads FORMATS without paying for the domain types
    from handlers.vocabulary.domain import ExportRow

FORMATS = ("csv", "json", "md")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")

CSV_COLUMNS = (
    "id",
    "lesson",
    "kind",
    "author",
    "likes",
    "base_likes",
    "replies",
    "created_at",
    "edited_at",
    "answered",
    "answer",
    "text",
    "duplicate_of",
)


def _row_dict(row: ExportRow) -> dict[str, Any]:
    q = row.question
    return {
        "id": q.id,
        "lesson": shown_text(row.lesson_title),
        "kind": q.kind.value,
        "author": shown_text(q.author.display_name),
        "likes": q.likes,
        "base_likes": q.base_likes,
        "replies": q.replies,
        "created_at": q.created_at.isoformat(),
        "edited_at": q.edited_at.isoformat() if q.edited_at else None,
        "answered": q.answered,
        "answer": shown_text(q.answer_text) if q.answer_text is not None else None,
        "text": shown_text(q.text),
        # The question whose cluster this one joined (issue 12), so a course team can audit the merges.
        "duplicate_of": q.duplicate_of,
    }


def to_csv(rows: Sequence[ExportRow]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow(_row_dict(row))
    return buffer.getvalue()


def to_json(rows: Sequence[ExportRow]) -> str:
    items = []
    for row in rows:
        item = _row_dict(row)
        item["discussion"] = [
            {
                "author": shown_text(r.author.display_name),
                "text": shown_text(r.text),
                "created_at": r.created_at.isoformat(),
            }
            for r in row.replies
        ]
        items.append(item)
    return json.dumps(items, ensure_ascii=False, indent=2) + "\n"


def md_escape(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", shown_text(text))


def to_markdown(rows: Sequence[ExportRow], course_title: str) -> str:
    out = [f"# {md_escape(course_title)}", ""]
    by_lesson: dict[str, list[ExportRow]] = {}
    for row in rows:
        by_lesson.setdefault(row.lesson_title, []).append(row)
    for lesson, lesson_rows in by_lesson.items():
        ordered = sorted(lesson_rows, key=lambda r: (r.question.kind.value != "question", -r.question.total_likes))
        out += [f"## {md_escape(lesson)}", "", f"**精选留言（{len(ordered)}）**", ""]
        for row in ordered:
            q = row.question
            mark = " ✅" if q.answered else ""
            if q.duplicate_of is not None:
                mark += f" ↪ #{q.duplicate_of}"
            out.append(
                f"- **{md_escape(q.author.display_name)}** 👍（{q.total_likes}） 💬（{q.replies}） "
                f"{q.created_at.date().isoformat()}{mark}"
            )
            for line in q.text.splitlines() or [""]:
                out.append(f"  {md_escape(line)}")
            if q.answer_text:
                out.append(f"  > **作者回复：** {md_escape(' '.join(q.answer_text.split()))}")
            for reply in row.replies:
                out.append(f"  > {md_escape(reply.author.display_name)}：{md_escape(' '.join(reply.text.split()))}")
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def render_export(rows: Sequence[ExportRow], fmt: str, course_title: str) -> str:
    if fmt == "csv":
        return to_csv(rows)
    if fmt == "json":
        return to_json(rows)
    if fmt == "md":
        return to_markdown(rows, course_title)
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")

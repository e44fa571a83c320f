"""Lesson files: Markdown with a small YAML front-matter header, or plain text.

Markdown::

    ---
    title: 开篇词 | 为什么要学 AI 系统
    course: ai-systems        # optional when --course or DEFAULT_COURSE is given
    number: 0                 # optional
    slug: intro               # optional, defaults to the file name
    link: https://example.com/lesson/0
    release: 2026-12-01T09:00:00+08:00   # optional; an ISO time with its offset
    intro: optional short intro; else the body's first paragraphs are used
    ---
    Body…

Plain text: the first non-empty line is the title, the rest is the intro.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import frontmatter
import yaml

from handlers.domain import LessonDraft

INTRO_LIMIT = 600
_SLUG_OK = re.compile(r"[^0-9A-Za-z_\-\u4e00-\u9fff]+")
_SENTENCE_END = re.compile(r"[。！？.!?](?=\s|$|[^\w.])")


class LessonFileError(Exception):
    """A lesson file that cannot be imported; the message names the file (and line) and what to fix."""

    def __init__(self, path: Path, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.path, self.message, self.line = path, message, line

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {self.message}"


def slug_from(path: Path) -> str:
    return _SLUG_OK.sub("-", path.stem).strip("-").lower() or "lesson"


def intro_from_body(body: str, limit: int = INTRO_LIMIT) -> str:
    """The body's first paragraphs up to ``limit`` characters, cut at a sentence end where possible."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", body) if p.strip()]
    text = ""
    for paragraph in paragraphs:
        candidate = f"{text}\n\n{paragraph}" if text else paragraph
        if len(candidate) > limit:
            if not text:
                text = _cut(paragraph, limit)
            break
        text = candidate
    return text


def _cut(paragraph: str, limit: int) -> str:
    head = paragraph[:limit]
    ends = [match.end() for match in _SENTENCE_END.finditer(head)]
    if ends and ends[-1] > limit // 3:
        return head[: ends[-1]].strip()
    space = head.rfind(" ")
    return (head[:space] if space > limit // 2 else head).rstrip() + "…"


def _release(value: Any, path: Path) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        raise LessonFileError(path, f"release {value} has no time: write e.g. {value}T09:00:00+08:00")
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            raise LessonFileError(
                path, f"release {value!r} is not an ISO date-time like 2026-12-01T09:00+08:00"
            ) from None
    if moment.tzinfo is None:
        raise LessonFileError(path, f"release {value!s} needs a UTC offset, e.g. {moment.isoformat()}+08:00")
    return moment


def _number(value: Any, path: Path) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not str(value).isdigit():
        raise LessonFileError(path, f"number {value!r} must be a whole number ≥ 0")
    return int(value)


def read_lesson_file(path: Path, course: str | None) -> LessonDraft:
    """Parse one lesson file; ``course`` (from --course or DEFAULT_COURSE) is used when the file names none."""
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise LessonFileError(path, f"not UTF-8 text ({error.reason} at byte {error.start})") from None
    except OSError as error:
        raise LessonFileError(path, f"cannot read: {error.strerror}") from None
    if path.suffix.lower() in (".md", ".markdown"):
        try:
            post = frontmatter.loads(raw)
        except yaml.YAMLError as error:
            # The context mark is where the broken construct starts, which is what a person needs to look at.
            mark = getattr(error, "context_mark", None) or getattr(error, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            raise LessonFileError(path, f"bad front matter: {getattr(error, 'problem', error)}", line) from None
        meta: dict[str, Any] = dict(post.metadata)
        body = post.content
    else:
        meta, body = {}, raw
    if not meta.get("title"):
        lines = body.strip().splitlines()
        if not lines:
            raise LessonFileError(path, "empty file: a lesson needs at least a title")
        meta["title"] = lines[0].lstrip("#").strip()
        body = "\n".join(lines[1:])
    course_slug = str(meta.get("course") or course or "").strip()
    if not course_slug:
        raise LessonFileError(path, "no course: pass --course SLUG, set DEFAULT_COURSE, or add 'course:' to the header")
    title = str(meta["title"]).strip()
    if len(title) > 200:
        raise LessonFileError(path, "title longer than 200 characters")
    intro = str(meta.get("intro") or "").strip() or intro_from_body(body)
    return LessonDraft(
        course_slug=course_slug,
        slug=str(meta.get("slug") or slug_from(path)).strip(),
        title=title,
        intro=intro,
        link=str(meta.get("link") or "").strip(),
        number=_number(meta.get("number"), path),
        release_at=_release(meta.get("release"), path),
    )


def lesson_paths(paths: list[Path]) -> list[Path]:
    """Files named, and the .md/.markdown/.txt files inside folders named, in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in (".md", ".markdown", ".txt"))
            )
        else:
            found.append(path)
    return found

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

The intro (given, or the body's first paragraphs cut to ``intro_length`` at a sentence end) is kept in the
form of :mod:`handlers.text.intro`: Markdown is rendered to HTML and reduced to its safe subset (paragraphs, line
breaks, bold, http(s) links), so **bold** and [links](https://…) show as such on every platform.
Course pages (``bot.sources.course_page``) share the front matter and the error type defined here.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import frontmatter
import yaml
from markdown_it import MarkdownIt

from handlers.text.intro import DEFAULT_INTRO_LENGTH, intro_from_html, intro_from_text
from handlers.vocabulary.domain import LessonDraft, course_slug_problem

INTRO_LIMIT = DEFAULT_INTRO_LENGTH
LESSON_SUFFIXES = (".md", ".markdown", ".txt", ".html", ".htm")
_SLUG_OK = re.compile(r"[^0-9A-Za-z_\-\u4e00-\u9fff]+")
_MARKDOWN = MarkdownIt("commonmark")
HEADER_END = re.compile(r"^---[ \t]*$", re.M)  # the line that closes a YAML front-matter header


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


def markdown_intro(markdown: str, limit: int | None) -> str:
    """Markdown → the stored intro form (safe subset of its HTML), cut to ``limit`` unless None.

    Only the leading blocks that can reach the intro are rendered (:func:`leading_blocks`): rendering a whole
    20 MB lesson to keep its first 600 characters took seconds and about a gigabyte of memory.
    """
    source = markdown if limit is None else leading_blocks(markdown, max(8 * limit, 4000))
    return intro_from_html(_MARKDOWN.render(source), limit)


def leading_blocks(markdown: str, enough: int) -> str:
    """The text up to the first blank line after ``enough`` characters, outside a fenced code block (a block
    is never cut in two, so what is rendered renders as it does in the whole text)."""
    position, counted, fences = enough, 0, 0
    while (gap := markdown.find("\n\n", position)) >= 0:
        fences += markdown.count("```", counted, gap) + markdown.count("~~~", counted, gap)
        counted = gap
        if fences % 2 == 0:
            return markdown[:gap]
        position = gap + 2
    return markdown


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


def read_text(path: Path) -> str:
    try:
        return read_bytes(path).decode("utf-8")
    except UnicodeDecodeError as error:
        raise LessonFileError(path, f"not UTF-8 text ({error.reason} at byte {error.start})") from None


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise LessonFileError(path, f"cannot read: {error.strerror}") from None


def split_front_matter(raw: str, path: Path) -> tuple[dict[str, Any], str]:
    """The YAML header (empty without one) and the rest; a broken header names its line.

    Only the header goes through python-frontmatter when its closing line is found: handing it a whole long
    lesson copied the text several times over."""
    closing = HEADER_END.search(raw, raw.find("\n") + 1) if raw.lstrip().startswith("---") else None
    if closing is None:
        return _front_matter(raw, path)
    meta, _ = _front_matter(raw[: closing.end()] + "\n", path)
    return meta, raw[closing.end() :].lstrip("\r\n")


def _front_matter(text: str, path: Path) -> tuple[dict[str, Any], str]:
    try:
        post = frontmatter.loads(text)
    except yaml.YAMLError as error:
        # The context mark is where the broken construct starts, which is what a person needs to look at.
        mark = getattr(error, "context_mark", None) or getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise LessonFileError(path, f"bad front matter: {getattr(error, 'problem', error)}", line) from None
    if not isinstance(post.metadata, dict):
        raise LessonFileError(path, "bad front matter: the header must be 'name: value' lines", 2)
    return dict(post.metadata), post.content


def header_line(raw: str, key: str) -> int | None:
    """The line number of ``key:`` in the front matter at the top of ``raw``, when it is there."""
    lines = raw.splitlines()
    start = next((index for index, line in enumerate(lines) if line.strip()), None)
    if start is None or lines[start].strip() != "---":
        return None
    field = re.compile(rf"{re.escape(key)}\s*:")
    for index in range(start + 1, len(lines)):
        if lines[index].strip() == "---":
            return None
        if field.match(lines[index]):
            return index + 1
    return None


def draft_from(meta: dict[str, Any], intro: str, path: Path, course: str | None, raw: str = "") -> LessonDraft:
    """A draft from a header's fields (``title`` required) and an intro already in stored form.

    ``course`` (from --course, DEFAULT_COURSE or the LESSONS_DIR sub-folder) is used when the header names
    none; either way the slug must pass the one course-slug rule, so that no file creates a course that
    /setup cannot reach. ``raw``, the file's text, lets an error name the header's line.
    """
    named = meta.get("course")
    course_slug = str(named or course or "").strip()
    if not course_slug:
        raise LessonFileError(path, "no course: pass --course SLUG, set DEFAULT_COURSE, or add 'course:' to the header")
    if (problem := course_slug_problem(course_slug)) is not None:
        line = header_line(raw, "course") if named else None
        raise LessonFileError(path, f"course {course_slug!r} is not a course slug: {problem}", line)
    title = str(meta["title"]).strip()
    if len(title) > 200:
        raise LessonFileError(path, "title longer than 200 characters")
    return LessonDraft(
        course_slug=course_slug,
        slug=str(meta.get("slug") or slug_from(path)).strip(),
        title=title,
        intro=intro,
        link=str(meta.get("link") or "").strip(),
        number=_number(meta.get("number"), path),
        release_at=_release(meta.get("release"), path),
    )


def read_lesson_file(path: Path, course: str | None, intro_length: int = DEFAULT_INTRO_LENGTH) -> LessonDraft:
    """Parse one lesson file; ``course`` (from --course or DEFAULT_COURSE) is used when the file names none."""
    return lesson_from_text(read_text(path), path, course, intro_length)


def lesson_from_text(raw: str, path: Path, course: str | None, intro_length: int = DEFAULT_INTRO_LENGTH) -> LessonDraft:
    markdown = path.suffix.lower() in (".md", ".markdown")
    if markdown:
        meta, body = split_front_matter(raw, path)
    else:
        meta, body = {}, raw
    if not meta.get("title"):
        first, _, body = body.strip().partition("\n")  # not splitlines(): a copy of every line of a long file
        if not first.strip():
            raise LessonFileError(path, "empty file: a lesson needs at least a title")
        meta["title"] = first.lstrip("#").strip()
    given = str(meta.get("intro") or "").strip()
    if markdown:
        intro = markdown_intro(given, None) if given else markdown_intro(body, intro_length)
    else:
        intro = intro_from_text(body, intro_length)
    return draft_from(meta, intro, path, course, raw)


def lesson_paths(paths: list[Path]) -> list[Path]:
    """Files named, and the lesson files (.md/.markdown/.txt/.html/.htm) inside folders named, in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in LESSON_SUFFIXES))
        else:
            found.append(path)
    return found

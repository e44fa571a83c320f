"""Every lesson file format behind one reader, and the import of one file into the store.

Formats, told apart by content first and by name second:

* a course page — any file holding a "精选留言（N）" list of ``<li>`` comments (:mod:`bot.sources.course_page`);
* Markdown (``.md``, ``.markdown``) with an optional YAML front-matter header;
* plain text (``.txt``): the first line is the title.

A file is parsed completely before anything is written, and a lesson with its comments is written in one
transaction, so a malformed file changes nothing stored.
"""

from __future__ import annotations

import codecs
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bot.lesson_files import HEADER_END, LessonFileError, lesson_from_text, read_bytes
from bot.sources.course_page import CoursePage, is_course_page, parse_course_page
from handlers.ports import SourceStore
from handlers.text.intro import DEFAULT_INTRO_LENGTH
from handlers.vocabulary.domain import Course, LessonDraft, course_slug_problem
from handlers.vocabulary.imported import LessonImport

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: Path
    draft: LessonDraft
    page: CoursePage | None = None  # set for course pages


@dataclass(frozen=True, slots=True)
class FileImport:
    """What importing one file did, for the CLI's lines and the folder scan's log."""

    path: Path
    result: LessonImport
    questions: int = 0
    comments: int = 0

    def describe(self) -> str:
        verb = "imported" if self.result.new else "updated" if self.result.changed else "unchanged"
        text = f"{verb} {self.path} → {self.result.lesson.title}"
        if self.questions or self.comments:
            added, updated = self.result.posts_added, self.result.posts_updated
            text += (
                f" ({self.questions + self.comments} comments: {self.questions} questions, {self.comments} comments;"
                f" {added} new, {updated} updated)"
            )
        return text


@dataclass(slots=True)
class ImportSummary:
    imported: int = 0
    updated: int = 0
    skipped: list[str] = field(default_factory=list)


def read_source(path: Path, course: str | None, intro_length: int = DEFAULT_INTRO_LENGTH) -> SourceFile:
    """Parse one lesson file of any supported format; raises :class:`LessonFileError` naming file and line."""
    data = read_bytes(path)
    if is_course_page(data):
        # A pipe or other special file cannot be read a second time: its page is kept in memory instead.
        page = parse_course_page(data, path, course, intro_length, from_file=path.is_file())
        return SourceFile(path, page.draft, page)
    if path.suffix.lower() in (".html", ".htm"):
        raise LessonFileError(path, "not a course page: an HTML lesson needs a 精选留言（N） list of comments")
    return SourceFile(path, lesson_from_text(lesson_head(data, path, intro_length), path, course, intro_length))


def lesson_head(data: bytes, path: Path, intro_length: int) -> str:
    """The text of a Markdown or plain lesson as far as the draft needs it: its header, title and intro.

    Only the intro is kept of a lesson's body, so a 20 MB lesson is checked to be UTF-8 in chunks and only its
    first part decoded, instead of becoming a 40 MB string copied on every step. A header longer than that part
    (no closing ``---`` in it) gets the whole text.
    """
    check_utf8(data, path)
    enough = max(64 * 1024, 64 * intro_length)
    if len(data) <= enough:
        return data.decode("utf-8")
    cut = enough
    while data[cut] & 0xC0 == 0x80:  # not in the middle of a character
        cut -= 1
    head = data[:cut].decode("utf-8")
    if head.lstrip().startswith("---") and HEADER_END.search(head, head.find("\n") + 1) is None:
        return data.decode("utf-8")
    return head


def check_utf8(data: bytes, path: Path, chunk: int = 1 << 20) -> None:
    """Raise :class:`LessonFileError` at the first byte that is not UTF-8, decoding a megabyte at a time."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    for start in range(0, len(data), chunk):
        pending = len(decoder.getstate()[0])  # the end of a character cut by the previous chunk
        try:
            decoder.decode(data[start : start + chunk], final=start + chunk >= len(data))
        except UnicodeDecodeError as error:
            offset = start - pending + error.start
            raise LessonFileError(path, f"not UTF-8 text ({error.reason} at byte {offset})") from None


async def ensure_course(store: SourceStore, slug: str, title: str | None, language: str, now: datetime) -> Course:
    """The course, created when new."""
    course, new = await course_or_new(store, slug, title, language)
    return await store.upsert_course(course, now) if new else course


async def course_or_new(store: SourceStore, slug: str, title: str | None, language: str) -> tuple[Course, bool]:
    """The stored course, or the one to create (not stored yet) and True. Every source checked its slug
    already; this is the last guard."""
    if (problem := course_slug_problem(slug)) is not None:
        raise ValueError(f"course {slug!r} is not a course slug: {problem}")
    course = await store.get_course(slug)
    if course is None:
        return Course(slug=slug, title=title or slug, language=language), True
    return course, False


async def import_source(
    store: SourceStore,
    source: SourceFile,
    now: datetime,
    *,
    language: str,
    course_title: str | None = None,
    hold: bool = False,
) -> FileImport:
    """Store a parsed file: the course if new, the lesson and its comments, in one transaction.

    Raises :class:`LessonFileError` when the lesson's number belongs to another lesson of the course: ``/lesson
    N`` would then pick one of the two silently."""
    draft = source.draft
    if draft.number is not None:
        other = await store.find_lesson(draft.course_slug, str(draft.number))
        if other is not None and other.slug != draft.slug:
            raise LessonFileError(
                source.path,
                f"number {draft.number} is already lesson «{other.title}» ({other.slug}) of {draft.course_slug}:"
                " give this one another number, or none",
            )
    course, new = await course_or_new(store, source.draft.course_slug, course_title, language)
    page = source.page
    result = await store.import_lesson(
        source.draft,
        page.posts(course.timezone) if page is not None else (),
        now,
        course=course if new else None,
        hold=hold,
        listed=page.keys if page is not None else (),
    )
    if page is None:
        return FileImport(source.path, result)
    return FileImport(source.path, result, page.questions, page.count - page.questions)

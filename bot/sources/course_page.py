"""Course-page exports: the lesson's intro, then its featured comments ("精选留言（N）") in HTML.

The format (see ``tests/data/course-page-lesson-00.txt``)::

    [optional front matter: title, number, slug, link, release, intro, course — as in a Markdown lesson]
    The intro text, plain paragraphs (or HTML) …
    <div><strong>精选留言（18）</strong></div><ul>
    <li><img …><span>AUTHOR</span> 👍（3） 💬（1）<div>COMMENT HTML</div>2023-11-01</li><br/>
    …
    </ul>

Each comment keeps its author, its text (entities decoded, ``<br>`` as line breaks, other tags dropped), its
likes (imported as base likes), its reply count (imported replies) and its date. A page gives a date only:
it is read as 00:00 of that day in the course's timezone. Without a header, the title is the file name and
the number the file name's trailing digits (``lesson-00`` → 0). Parsing is pure: nothing is stored here.

The page is read as bytes and each comment decoded on its own: a 20 MB page full of emoji is an 80 MB Python
string (four bytes a character), and decoding it whole peaked at seven times the file's size. Nor is a file's
page kept in memory while it is imported: parsing checks every comment and notes where each stretch of about a
megabyte of whole comments lies (:class:`Segment`), and the import reads them again from the file one stretch
at a time, each checked against the digest taken when it was parsed.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from bot.lesson_files import LessonFileError, draft_from, split_front_matter
from handlers.text.classify import classify
from handlers.text.intro import DEFAULT_INTRO_LENGTH, intro_from_html, intro_from_text
from handlers.vocabulary.domain import LessonDraft, PostKind
from handlers.vocabulary.imported import ImportedPost, ImportKeys, import_key

_MARKER_BYTES = re.compile(
    "精选留言".encode() + rb"\s*(?:" + "（".encode() + rb"|\()\s*(\d+)\s*(?:" + "）".encode() + rb"|\))"
)
_TAG = re.compile(r"<[A-Za-z/!][^>]*>")
_LI_OPEN = re.compile(rb"<li\b[^>]*>", re.I)
_ITEM = re.compile(
    r"^\s*(?:<img[^>]*>\s*)?<span[^>]*>(?P<author>.*?)</span>\s*"
    r"👍\s*[（(]\s*(?P<likes>[^）)]*?)\s*[）)]\s*"
    r"💬\s*[（(]\s*(?P<replies>[^）)]*?)\s*[）)]\s*"
    r"<div[^>]*>(?P<text>.*?)</div>\s*"
    r"(?P<date>[^<\s]*)\s*$",
    re.S | re.I,
)
_BR = re.compile(r"<br\s*/?>", re.I)
_TRAILING_NUMBER = re.compile(r"(\d+)$")


@dataclass(frozen=True, slots=True)
class PageComment:
    author: str
    text: str
    likes: int
    replies: int
    day: date
    line: int


SEGMENT_BYTES = 1 << 20  # how much of a page's comment list the import reads from the file at a time
CHANGED = "changed while it was being imported (nothing from it was stored): import it again"


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of a page's comment list holding whole comments: its place in the page's bytes, the number
    and line of its first comment, and a digest of its bytes, so that a file changed since it was parsed is
    told instead of misread."""

    start: int
    end: int
    number: int
    line: int
    digest: bytes


@dataclass(frozen=True, slots=True)
class CoursePage:
    """A parsed course page. Its comments are not kept as objects: they are parsed again from the page's bytes,
    a segment at a time, each time they are read (:meth:`iter_comments`) — a page of 130,000 comments held as
    objects took six times the file's size. Parsing checked them all once already, so reading them again cannot
    fail, unless the file changed meanwhile (:data:`CHANGED`).

    ``data`` holds the page's bytes, or nothing when the page is the file at ``path`` (``from_file``): its
    segments are then read from there, and a 20 MB page is not held in memory while its comments are stored.
    """

    draft: LessonDraft
    declared: int  # the N of 精选留言（N）
    keys: ImportKeys  # every comment's import key (see :meth:`posts`)
    questions: int  # how many of the comments are questions
    count: int  # how many comments
    data: bytes = field(repr=False)
    segments: tuple[Segment, ...] = ()
    path: Path = Path()
    from_file: bool = False

    @property
    def comments(self) -> tuple[PageComment, ...]:
        return tuple(self.iter_comments())

    def iter_comments(self) -> Iterator[PageComment]:
        with ExitStack() as stack:
            file = stack.enter_context(_open(self.path)) if self.from_file else None
            for segment in self.segments:
                data = self._segment_bytes(segment, file)
                for _, _, comment in _items(data, 0, self.path, segment.number, segment.line):
                    yield comment

    def _segment_bytes(self, segment: Segment, file: IO[bytes] | None) -> bytes:
        if file is None:
            data = self.data[segment.start : segment.end]
        else:
            try:
                file.seek(segment.start)
                data = file.read(segment.end - segment.start)
            except OSError as error:
                raise LessonFileError(self.path, f"cannot read: {error.strerror}") from None
        if _digest(data) != segment.digest:
            raise LessonFileError(self.path, CHANGED)
        return data

    def posts(self, timezone: str) -> Iterator[ImportedPost]:
        """The comments as imported posts, one at a time: dates at 00:00 in ``timezone``, questions told from
        comments by the same rule as live messages (:func:`handlers.text.classify.classify`)."""
        zone = ZoneInfo(timezone)
        for comment in self.iter_comments():
            yield self.post(comment, zone)

    def post(self, c: PageComment, zone: ZoneInfo) -> ImportedPost:
        return ImportedPost(
            key=self.key(c),
            author=c.author,
            text=c.text,
            kind=classify(c.text),
            likes=c.likes,
            replies=c.replies,
            created_at=datetime.combine(c.day, time(0, 0), tzinfo=zone),
        )

    def key(self, c: PageComment) -> str:
        return import_key(self.draft.course_slug, self.draft.slug, c.author, c.day.isoformat(), c.text)


def is_course_page(data: bytes) -> bool:
    return _MARKER_BYTES.search(data) is not None and _LI_OPEN.search(data) is not None


def _open(path: Path) -> IO[bytes]:
    try:
        return path.open("rb")
    except OSError as error:
        raise LessonFileError(path, f"cannot read: {error.strerror}") from None


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


class _LineCounter:
    """Line numbers of increasing offsets, counting each stretch of the page once (a page of 16,000 comments
    must not be rescanned from its start for every comment). ``line`` is the line at offset 0."""

    def __init__(self, data: bytes, line: int = 1) -> None:
        self._data, self._offset, self._line = data, 0, line

    def at(self, offset: int) -> int:
        self._line += self._data.count(b"\n", self._offset, offset)
        self._offset = offset
        return self._line


def decoded(data: bytes, start: int, end: int, path: Path) -> str:
    """``data[start:end]`` as text; bytes that are not UTF-8 fail with their offset in the file."""
    try:
        return data[start:end].decode("utf-8")
    except UnicodeDecodeError as error:
        raise LessonFileError(path, f"not UTF-8 text ({error.reason} at byte {start + error.start})") from None


def comment_text(markup: str) -> str:
    """A comment's HTML as the plain text people wrote: entities decoded, ``<br>`` as newlines, tags dropped."""
    return html.unescape(_TAG.sub("", _BR.sub("\n", markup))).strip()


def _count(value: str, what: str, path: Path, number: int, line: int) -> int:
    if not value.isascii() or not value.isdigit():
        raise LessonFileError(path, f"comment {number}: {what} {value!r} is not a whole number", line)
    return int(value)


def _items(
    data: bytes, start: int, path: Path, first_number: int = 1, first_line: int = 1
) -> Iterator[tuple[int, int, PageComment]]:
    """Every ``<li>`` after ``start``, one at a time, with its offset and line; a malformed one fails the page
    with its number and line. ``data`` may be a segment: its first comment is ``first_number``, and offset 0
    is on ``first_line``."""
    lines = _LineCounter(data, first_line)
    for number, opening in enumerate(_LI_OPEN.finditer(data, start), start=first_number):
        line = lines.at(opening.start())
        close = data.find(b"</li>", opening.end())
        following = _LI_OPEN.search(data, opening.end())
        item = None
        if close >= 0 and (following is None or following.start() > close):
            item = _ITEM.match(decoded(data, opening.end(), close, path))
        if item is None:
            raise LessonFileError(
                path,
                f"comment {number} is not '<span>author</span> 👍（n） 💬（n）<div>text</div>YYYY-MM-DD</li>'",
                line,
            )
        likes = _count(item["likes"].strip(), "likes", path, number, line)
        replies = _count(item["replies"].strip(), "replies", path, number, line)
        try:
            day = date.fromisoformat(item["date"])
        except ValueError:
            raise LessonFileError(path, f"comment {number}: date {item['date']!r} is not YYYY-MM-DD", line) from None
        author = html.unescape(_TAG.sub("", item["author"])).strip()
        body = comment_text(item["text"])
        if not author:
            raise LessonFileError(path, f"comment {number} has no author", line)
        if not body:
            raise LessonFileError(path, f"comment {number} has no text", line)
        yield opening.start(), line, PageComment(author, body, likes, replies, day, line)


def parse_course_page(
    raw: bytes | str,
    path: Path,
    course: str | None,
    intro_length: int = DEFAULT_INTRO_LENGTH,
    *,
    from_file: bool = False,
) -> CoursePage:
    """Parse a course page; raises :class:`LessonFileError` naming the file and line of what is wrong.

    ``from_file``: ``raw`` is the file at ``path`` as just read, and the page reads its comments from there
    again when they are imported instead of keeping ``raw`` (see :class:`CoursePage`)."""
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    marker = _MARKER_BYTES.search(data)
    if marker is None:
        raise LessonFileError(path, "not a course page: no 精选留言（N） list of featured comments")
    top = before = decoded(data, 0, marker.start(), path)  # the header and the intro
    meta: dict[str, Any] = {}
    if before.lstrip().startswith("---"):
        meta, before = split_front_matter(before, path)
    line_start = before.rfind("\n") + 1
    if "<" in before[line_start:] and not _TAG.sub("", before[line_start:]).strip():
        head = before[:line_start]  # the marker's own line holds only its wrapper (<div><strong>)
    else:
        head = before
    if not meta.get("title"):
        meta["title"] = path.stem
    if meta.get("number") is None and (found := _TRAILING_NUMBER.search(path.stem)):
        meta["number"] = int(found.group(1))
    given = str(meta.get("intro") or "").strip()
    body = given or head.strip()
    limit = None if given else intro_length
    intro = intro_from_html(body, limit) if _TAG.search(body) else intro_from_text(body, limit)
    draft = draft_from(meta, intro, path, course, top)
    page = CoursePage(draft, int(marker.group(1)), ImportKeys(), 0, 0, b"" if from_file else data, (), path, from_file)
    keys = bytearray()  # (ImportKeys: a set of 130,000 keys as strings held 15 MB)
    questions = count = 0
    segments: list[Segment] = []
    begin, first, line = marker.end(), 1, 1 + data.count(b"\n", 0, marker.end())
    for offset, at, comment in _items(data, marker.end(), path):  # every comment checked before anything is stored
        count += 1
        if offset - begin >= SEGMENT_BYTES:
            segments.append(Segment(begin, offset, first, line, _digest(data[begin:offset])))
            begin, first, line = offset, count, at
        keys += ImportKeys.pack(page.key(comment))
        questions += classify(comment.text) is PostKind.QUESTION
    segments.append(Segment(begin, len(data), first, line, _digest(data[begin:])))
    return replace(page, keys=ImportKeys(bytes(keys)), questions=questions, count=count, segments=tuple(segments))

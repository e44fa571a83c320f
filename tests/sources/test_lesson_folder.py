"""Lesson files of every format, and LESSONS_DIR scanned by the scheduler on a test clock."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import count
from pathlib import Path

import pytest

from bot.app import open_app
from bot.config import Settings
from bot.lesson_files import LessonFileError
from bot.sources.files import read_source
from handlers.text.intro import decode, intro_plain_text
from handlers.vocabulary.actions import Action, PostLesson
from handlers.vocabulary.content import Span, Style
from handlers.vocabulary.domain import ChatRef, Course, MessageRef
from tests.clock import TestClock
from tests.paths import SAMPLE_PAGE, write

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)

MARKDOWN = """---
title: Parallelism
number: 3
link: https://course.example/3
---
Data parallelism is **the simplest** kind. See [the paper](https://arxiv.org/abs/1) and
[this](javascript:alert(1)).

Second paragraph.
"""


def test_markdown_with_front_matter_keeps_bold_and_safe_links(tmp_path: Path) -> None:
    source = read_source(write(tmp_path / "03.md", MARKDOWN), "ai")
    draft = source.draft
    assert (draft.title, draft.number, draft.link, source.page) == ("Parallelism", 3, "https://course.example/3", None)
    content = decode(draft.intro)
    assert Span("the simplest", Style.BOLD) in content
    assert Span("the paper", Style.PLAIN, "https://arxiv.org/abs/1") in content
    assert not any(span.url and "javascript" in span.url for span in content)
    assert intro_plain_text(draft.intro).endswith("Second paragraph.")


def test_markdown_without_front_matter_takes_its_title_from_the_first_line(tmp_path: Path) -> None:
    source = read_source(write(tmp_path / "intro.md", "# Welcome\n\nFirst words. " + "More words. " * 80), "ai")
    assert source.draft.title == "Welcome" and source.draft.slug == "intro"
    intro = intro_plain_text(source.draft.intro)
    assert intro.startswith("First words.") and len(intro) <= 600 and intro.endswith(".")


def test_intro_length_is_configurable(tmp_path: Path) -> None:
    source = read_source(write(tmp_path / "a.txt", "Title\n" + "Sentence number one. " * 50), "ai", intro_length=100)
    assert len(intro_plain_text(source.draft.intro)) <= 100


def test_an_html_file_that_is_not_a_course_page_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LessonFileError, match="not a course page"):
        read_source(write(tmp_path / "x.html", "<html><body>hi</body></html>"), "ai")


class RecordingBackend:
    platform = "test"

    def __init__(self) -> None:
        self.posts: list[str] = []
        self._ids = count(1)

    async def send(self, action: Action) -> MessageRef | None:
        assert isinstance(action, PostLesson)
        self.posts.append(action.lesson.title)
        return MessageRef(self.platform, action.chat.chat_id, str(next(self._ids)))

    def link_to(self, ref: MessageRef) -> str | None:
        return None


async def test_lessons_dir_is_scanned_at_start_and_on_schedule(tmp_path: Path) -> None:
    folder = tmp_path / "lessons"
    write(folder / "ai" / "03.md", MARKDOWN)
    write(folder / "ai" / "00-page.txt", SAMPLE_PAGE.read_text(encoding="utf-8"))
    write(folder / "ai" / "broken.md", "---\ntitle: [unclosed\n---\nbody")
    settings = Settings(database_path=tmp_path / "d.db", default_language="en", lessons_dir=folder, _env_file=None)  # type: ignore[call-arg]
    clock, backend = TestClock(T0), RecordingBackend()
    async with open_app(settings, {"test": backend}, clock, holder="p") as app:
        await app.store.upsert_course(Course("ai", "AI"), T0)
        await app.store.setup_group(ChatRef("test", "g"), "G", "ai", "en")
        report = await app.scheduler.tick()
        assert report.lessons_imported == 2
        # Published at once (no release time), but only the newest new lesson: 00-page joins the back catalogue.
        assert backend.posts == ["Parallelism"]
        assert (await app.store.stats("ai")).questions == 9

        write(folder / "ai" / "03.md", MARKDOWN.replace("Parallelism", "Parallelism, revised"))
        clock.advance(minutes=5)
        assert (await app.scheduler.tick()).lessons_imported == 0  # the next scan is not due yet
        clock.advance(minutes=10)
        assert (await app.scheduler.tick()).lessons_imported == 1  # only the changed file
        titles = [lesson.title for lesson in await app.store.list_lessons("ai")]
        assert "Parallelism, revised" in titles and len(titles) == 2
    assert len(backend.posts) == 1  # an updated lesson is never posted again


@pytest.mark.parametrize("at", [70_000, (1 << 20) - 1, 1 << 20, (1 << 20) + 1])
def test_a_bad_byte_deep_in_a_long_lesson_is_named_by_its_offset(tmp_path: Path, at: int) -> None:
    body = ("这一讲很长。" * 200_000).encode()  # 3.6 MB of three-byte characters
    header = b"---\ntitle: Long\n---\n"
    at = len(header) + (at - len(header)) // 3 * 3  # on a character's first byte, near the chunk edges
    data = header + body
    path = tmp_path / "long.md"
    path.write_bytes(data[:at] + b"\xff" + data[at:])
    with pytest.raises(LessonFileError, match=rf"not UTF-8 text \(invalid start byte at byte {at}\)"):
        read_source(path, "ai")


def test_a_long_lesson_gets_the_intro_its_whole_text_gives(tmp_path: Path) -> None:
    from bot.lesson_files import markdown_intro

    paragraphs = [f"Paragraph {n} of a long lesson, with **bold** words." for n in range(20_000)]
    body = "\n\n".join(paragraphs)
    path = write(tmp_path / "long.md", "---\ntitle: Long\n---\n" + body)
    draft = read_source(path, "ai").draft
    assert path.stat().st_size > 1_000_000
    assert draft.intro == markdown_intro(body, 600) and "Paragraph 0" in draft.intro

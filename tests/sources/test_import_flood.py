"""Importing a back catalogue never floods the groups (issue 18, item 3)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bot.app import open_app
from bot.commands import cmd_lesson_add
from bot.config import Settings
from handlers.vocabulary.domain import ChatRef, Course
from tests.clock import TestClock
from tests.paths import write
from tests.sources.test_lesson_folder import RecordingBackend

LESSONS = 50


def folder_of_lessons(root: Path) -> Path:
    for number in range(LESSONS):
        write(root / f"{number:02d}.md", f"---\ntitle: Lesson {number}\nnumber: {number}\n---\nBody {number}.\n")
    return root


async def followed_course(settings: Settings, clock: TestClock) -> None:
    async with open_app(settings, {}, clock) as app:
        await app.store.upsert_course(Course("ai", "AI"), clock.now())
        await app.store.setup_group(ChatRef("test", "g1"), "G1", "ai", "en")
        await app.store.setup_group(ChatRef("test", "g2"), "G2", "ai", "en")


async def posts_after_a_tick(settings: Settings, clock: TestClock) -> list[str]:
    """What the running bot posts at its next look (and the one after: nothing more comes)."""
    backend = RecordingBackend()
    async with open_app(settings, {"test": backend}, clock, holder="bot") as app:
        await app.scheduler.tick()
        clock.advance(hours=2)
        await app.scheduler.tick()
    return backend.posts


@pytest.mark.parametrize(
    ("publish", "posted", "summary"),
    [
        ("latest", ["Lesson 49", "Lesson 49"], "ai: «Lesson 49» will be posted to 2 group(s); 49 kept in the back"),
        ("none", [], "ai: 50 kept in the back catalogue (post one with /lesson)"),
    ],
)
async def test_a_folder_of_fifty_lessons_posts_at_most_the_newest(
    tmp_path: Path, clock: TestClock, publish: str, posted: list[str], summary: str
) -> None:
    settings = Settings(database_path=tmp_path / "d.db", default_language="en", _env_file=None)  # type: ignore[call-arg]
    await followed_course(settings, clock)
    out = io.StringIO()
    code = await cmd_lesson_add(settings, [folder_of_lessons(tmp_path / "lessons")], "ai", None, out, publish=publish)
    assert code == 0
    assert "50 imported" in out.getvalue() and summary in out.getvalue()
    assert await posts_after_a_tick(settings, clock) == posted
    async with open_app(settings, {}, clock) as app:  # the back catalogue stays postable with /lesson
        assert len(await app.store.list_lessons("ai")) == LESSONS


async def test_publish_all_posts_every_lesson_when_asked(tmp_path: Path, clock: TestClock) -> None:
    settings = Settings(database_path=tmp_path / "d.db", default_language="en", _env_file=None)  # type: ignore[call-arg]
    await followed_course(settings, clock)
    folder = tmp_path / "lessons"
    for number in range(3):
        write(folder / f"{number}.md", f"---\ntitle: Lesson {number}\nnumber: {number}\n---\nBody.\n")
    out = io.StringIO()
    assert await cmd_lesson_add(settings, [folder], "ai", None, out, publish="all") == 0
    assert "«Lesson 2» and 2 more will be posted to 2 group(s)" in out.getvalue()
    assert sorted(await posts_after_a_tick(settings, clock)) == sorted(f"Lesson {n}" for n in range(3) for _ in "gg")


async def test_a_lessons_dir_scan_of_fifty_new_lessons_posts_the_newest_only(tmp_path: Path, clock: TestClock) -> None:
    folder = folder_of_lessons(tmp_path / "lessons" / "ai")
    settings = Settings(  # type: ignore[call-arg]
        database_path=tmp_path / "d.db", default_language="en", lessons_dir=folder.parent, _env_file=None
    )
    await followed_course(settings, clock)
    assert await posts_after_a_tick(settings, clock) == ["Lesson 49", "Lesson 49"]


async def test_a_lesson_released_later_keeps_its_time(tmp_path: Path, clock: TestClock) -> None:
    settings = Settings(database_path=tmp_path / "d.db", default_language="en", _env_file=None)  # type: ignore[call-arg]
    await followed_course(settings, clock)
    folder = folder_of_lessons(tmp_path / "lessons")
    write(folder / "later.md", "---\ntitle: Later\nnumber: 99\nrelease: 2999-01-01T09:00:00+00:00\n---\nSoon.\n")
    out = io.StringIO()
    assert await cmd_lesson_add(settings, [folder], "ai", None, out) == 0
    assert "1 scheduled for their release time" in out.getvalue()
    assert await posts_after_a_tick(settings, clock) == ["Lesson 49", "Lesson 49"]


async def test_a_large_file_says_it_is_being_read_before_its_result(tmp_path: Path, clock: TestClock) -> None:
    settings = Settings(database_path=tmp_path / "d.db", default_language="en", _env_file=None)  # type: ignore[call-arg]
    big = write(tmp_path / "big.md", "---\ntitle: Big\n---\n" + "A long paragraph of the lesson.\n\n" * 40_000)
    out = io.StringIO()
    assert await cmd_lesson_add(settings, [big], "ai", None, out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0] == f"[1/1] reading {big} (1.3 MB)…" and lines[1].startswith("[1/1] imported")


async def test_a_lesson_number_taken_by_another_lesson_is_refused_and_nothing_changes(
    tmp_path: Path, clock: TestClock, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(database_path=tmp_path / "d.db", default_language="en", _env_file=None)  # type: ignore[call-arg]
    first = write(tmp_path / "intro.md", "---\ntitle: Intro\nnumber: 0\n---\nHello.\n")
    clash = write(tmp_path / "other.md", "---\ntitle: Other\nnumber: 0\n---\nAlso zero.\n")
    assert await cmd_lesson_add(settings, [first], "ai", None, io.StringIO()) == 0
    assert await cmd_lesson_add(settings, [clash], "ai", None, io.StringIO()) == 1
    assert "number 0 is already lesson «Intro» (intro) of ai" in capsys.readouterr().err
    async with open_app(settings, {}, clock) as app:
        assert [lesson.title for lesson in await app.store.list_lessons("ai")] == ["Intro"]

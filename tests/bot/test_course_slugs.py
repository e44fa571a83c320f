"""One rule for course slugs, on every path that creates a course, so /setup can reach every course there is.

``/setup <course>`` takes one word; a course made elsewhere with a space or a slash in its slug could never be
followed. Each path that creates a course refuses such a slug, names where it came from, and creates nothing.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import open_app
from bot.cli import main
from bot.config import Settings, SettingsError, load_settings
from bot.lesson_files import LessonFileError
from bot.sources.files import read_source
from handlers.vocabulary.domain import COURSE_SLUG_RULE, course_slug_problem
from tests.clock import TestClock
from tests.paths import SAMPLE_PAGE, write


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("DEFAULT_COURSE", "TELEGRAM_BOT_TOKEN", "DISCORD_BOT_TOKEN", "LOG_LEVEL", "FEEDS", "LESSONS_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "slugs.db"))
    monkeypatch.setenv("DEFAULT_LANGUAGE", "en")
    return tmp_path


def courses(db: Path) -> list[str]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as raw:
        return [row[0] for row in raw.execute("SELECT slug FROM courses ORDER BY slug")]


@pytest.mark.parametrize(
    ("slug", "good"),
    [
        ("ai-systems", True),
        ("ml_101", True),
        ("课程", True),
        ("a b", False),
        ("bad course/slug", False),
        ("", False),
        ("-", False),
        ("x" * 65, False),
        ("a\tb", False),
    ],
)
def test_the_rule(slug: str, good: bool) -> None:
    assert (course_slug_problem(slug) is None) is good


def test_lesson_add_refuses_a_bad_course_option_before_anything(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lesson = write(env / "a.md", "---\ntitle: A\n---\nText.\n")
    assert main(["lesson", "add", "--course", "a b", str(lesson)]) == 2
    err = capsys.readouterr().err
    assert "--course 'a b'" in err and COURSE_SLUG_RULE in err
    assert courses(env / "slugs.db") == []


def test_a_bad_course_in_front_matter_names_the_file_and_line(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(env / "l" / "a.md", '---\ntitle: A\nnumber: 1\ncourse: "bad course/slug"\n---\nText.\n')
    write(env / "l" / "b.md", "---\ntitle: B\n---\nText.\n")
    assert main(["lesson", "add", "--course", "ai", str(env / "l")]) == 1
    captured = capsys.readouterr()
    assert f"{env / 'l' / 'a.md'}:4: course 'bad course/slug' is not a course slug" in captured.out + captured.err
    assert courses(env / "slugs.db") == ["ai"]


def test_a_course_page_with_a_bad_course_is_refused(tmp_path: Path) -> None:
    page = write(tmp_path / "lesson-00.txt", "---\ncourse: a b\n---\n" + SAMPLE_PAGE.read_text(encoding="utf-8"))
    with pytest.raises(LessonFileError) as refused:
        read_source(page, None)
    assert refused.value.line == 2 and "course 'a b' is not a course slug" in str(refused.value)


async def test_a_lessons_dir_folder_that_is_no_slug_creates_no_course(tmp_path: Path) -> None:
    folder = tmp_path / "lessons"
    write(folder / "bad course" / "01.md", "---\ntitle: One\n---\nText.\n")
    write(folder / "ai" / "01.md", "---\ntitle: Two\n---\nText.\n")
    settings = Settings(database_path=tmp_path / "d.db", lessons_dir=folder, _env_file=None)  # type: ignore[call-arg]
    clock = TestClock(datetime(2026, 11, 23, tzinfo=UTC))
    async with open_app(settings, {}, clock, holder="p") as app:
        report = await app.scheduler.tick()
        assert [course.slug for course in await app.store.list_courses()] == ["ai"]
    assert report.lessons_imported == 1


@pytest.mark.parametrize(
    ("name", "value"),
    [("DEFAULT_COURSE", "a b"), ("FEEDS", "bad course/slug=https://example.com/feed.xml")],
)
def test_settings_use_the_same_rule(env: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as refused:
        load_settings(None)
    assert name in str(refused.value) and COURSE_SLUG_RULE in str(refused.value)

"""DATABASE_PATH that cannot be used: one or two lines naming the setting and the path, what to do, an exit code.

Each case runs the real command line on real files. Folders and files are made unwritable with ``chmod``, or,
when the tests run as root (whom permissions do not stop), with ``chattr +i``, which stops root as well.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.exits import EXIT_DATABASE_DAMAGED, EXIT_DATABASE_UNWRITABLE

LESSON = "---\ntitle: First lesson\nslug: first\n---\nHello.\n"


def studybot(cwd: Path, database: Path | str, *args: str, stdin: str = "", log_level: str = "INFO") -> tuple[int, str]:
    """``studybot ARGS`` as a process in ``cwd`` (which holds no .env); its exit status and standard error."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_TOKEN")}
    env.update({"DATABASE_PATH": str(database), "DEFAULT_LANGUAGE": "en", "LOG_LEVEL": log_level, "PYTHONUTF8": "1"})
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stderr


def assert_clear(err: str, path: Path | str, *words: str) -> None:
    """One or two lines, no traceback, naming DATABASE_PATH, the path and what was wrong."""
    lines = err.strip().splitlines()
    assert 1 <= len(lines) <= 2, err
    assert "Traceback" not in err and "Event loop is closed" not in err, err
    assert "DATABASE_PATH" in err and str(path) in err, err
    for word in words:
        assert word in err, err


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextlib.contextmanager
def unwritable(path: Path) -> Iterator[None]:
    """``path`` (a file or a folder) cannot be written, even by root, until the block ends."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(mode & ~0o222)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)], check=False).returncode:
        pytest.skip("running as root, and this file system has no chattr +i: nothing here is unwritable for root")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """For in-process runs: a working directory without .env, and no settings from the machine."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("DATABASE_", "DEFAULT_", "TELEGRAM_", "DISCORD_", "LOG_", "LESSONS_", "FEEDS")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DEFAULT_LANGUAGE", "en")
    return tmp_path


def stored_database(folder: Path) -> Path:
    """A studybot database with one course and one lesson, closed (its WAL folded back into the file)."""
    lesson = folder / "first.md"
    lesson.write_text(LESSON, encoding="utf-8")
    code, err = studybot(folder, folder / "kept.db", "lesson", "add", "--course", "ai", str(lesson))
    assert code == 0, err
    assert not (folder / "kept.db-wal").exists()
    return folder / "kept.db"


def test_a_folder_is_named_as_one(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    code, err = studybot(tmp_path, folder, "run")
    assert code == EXIT_DATABASE_UNWRITABLE
    assert_clear(err, folder, "is a folder", "data/studybot.db")
    assert list(folder.iterdir()) == []


def test_a_missing_folder_is_named_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "studybot.db"
    code, err = studybot(tmp_path, path, "run")
    assert code == EXIT_DATABASE_UNWRITABLE
    assert_clear(err, path, "does not exist", "mkdir -p")
    assert not path.parent.exists()


def test_an_unwritable_folder_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    with unwritable(folder):
        code, err = studybot(tmp_path, folder / "studybot.db", "run")
    assert code == EXIT_DATABASE_UNWRITABLE
    assert_clear(err, folder / "studybot.db", f"{folder} is not writable")
    assert list(folder.iterdir()) == []


def test_a_database_in_an_unwritable_folder_is_left_alone(tmp_path: Path) -> None:
    """SQLite needs to create its -wal and -shm files next to the database, even to read it."""
    kept = stored_database(tmp_path)
    before = digest(kept)
    with unwritable(tmp_path):
        code, err = studybot(tmp_path, kept, "run")
    assert code == EXIT_DATABASE_UNWRITABLE
    assert_clear(err, kept, f"{tmp_path} is not writable")
    assert digest(kept) == before


def test_run_on_a_read_only_file_stops_before_anything(tmp_path: Path) -> None:
    kept = stored_database(tmp_path)
    before = digest(kept)
    with unwritable(kept):
        code, err = studybot(tmp_path, kept, "run", stdin="/setup ai\n")
    assert code == EXIT_DATABASE_UNWRITABLE
    assert_clear(err, kept, "read-only", "chmod u+w")
    assert digest(kept) == before


def test_lesson_add_to_a_read_only_file_changes_nothing(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = stored_database(env)
    before = digest(kept)
    other = env / "second.md"
    other.write_text(LESSON.replace("first", "second"), encoding="utf-8")
    monkeypatch.setenv("DATABASE_PATH", str(kept))  # undone after the test, unlike os.environ
    with unwritable(kept):
        code = main(["lesson", "add", "--course", "ai", str(other)])
    assert code == EXIT_DATABASE_UNWRITABLE
    assert_clear(capsys.readouterr().err, kept, "read-only")
    assert digest(kept) == before


def damage_first_page(path: Path) -> None:
    """Overwrite the b-tree header of page 1 (the schema's root): SQLite reports the image as malformed."""
    with path.open("r+b") as raw:
        raw.seek(100)
        raw.write(b"\xff" * 200)


def damage_courses_table(path: Path) -> None:
    """Overwrite the header of the courses table's root page: found only when a command reads the courses."""
    with sqlite3.connect(path) as raw:
        (root,) = raw.execute("SELECT rootpage FROM sqlite_master WHERE name = 'courses'").fetchone()
        (page_size,) = raw.execute("PRAGMA page_size").fetchone()
    raw.close()
    with path.open("r+b") as data:
        data.seek((root - 1) * page_size)
        data.write(b"\xff" * 200)


@pytest.mark.parametrize("command", [["run"], ["lesson", "add", "--course", "ai", "first.md"], ["db", "upgrade"]])
def test_a_damaged_database_is_reported_and_left_as_it_was(tmp_path: Path, command: list[str]) -> None:
    kept = stored_database(tmp_path)
    damage_first_page(kept)
    before = digest(kept)
    code, err = studybot(tmp_path, kept, *command)
    assert code == EXIT_DATABASE_DAMAGED
    assert_clear(err, kept, "damaged", "database disk image is malformed", "backup")
    assert digest(kept) == before


def test_damage_found_in_the_middle_of_a_command_is_reported(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = stored_database(env)
    damage_courses_table(kept)
    before = digest(kept)
    monkeypatch.setenv("DATABASE_PATH", str(kept))  # undone after the test, unlike os.environ
    assert main(["lesson", "add", "--course", "ai", "first.md"]) == EXIT_DATABASE_DAMAGED
    assert_clear(capsys.readouterr().err, kept, "damaged", "malformed")
    assert digest(kept) == before


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("shopping list: milk, eggs, and a lot more text than an SQLite header\n" * 20, encoding="utf-8")
    before = digest(notes)
    for command in (["run"], ["db", "upgrade"]):
        code, err = studybot(tmp_path, notes, *command)
        assert code == EXIT_DATABASE_DAMAGED
        assert_clear(err, notes, "not an SQLite database")
    assert digest(notes) == before


def test_debug_logging_adds_the_traceback(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "studybot.db"
    code, err = studybot(tmp_path, path, "run", log_level="DEBUG")
    assert code == EXIT_DATABASE_UNWRITABLE
    assert "Traceback" in err and "unable to open database file" in err
    assert err.rstrip().splitlines()[-2].startswith("studybot: DATABASE_PATH")  # then what to do
    assert "Event loop is closed" not in err

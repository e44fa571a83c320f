"""The studybot command line, run in-process through main() on real files."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from tests.paths import write

LESSON_MD = """---
title: 开篇词
number: 0
slug: intro
link: https://example.com/0
---
你好，我是Tyler。欢迎加入我的专栏。

第二段。
"""


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean working directory and environment: no stray .env or tokens from the machine."""
    monkeypatch.chdir(tmp_path)
    for name in (
        "DATABASE_PATH",
        "DEFAULT_COURSE",
        "DEFAULT_LANGUAGE",
        "TELEGRAM_BOT_TOKEN",
        "DISCORD_BOT_TOKEN",
        "LOG_LEVEL",
        "CONSOLE_USER",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "cli.db"))
    monkeypatch.setenv("DEFAULT_LANGUAGE", "en")
    return tmp_path


def test_lesson_add_imports_then_updates_never_duplicates(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lesson = write(env / "lessons" / "00-intro.md", LESSON_MD)
    assert main(["lesson", "add", "--course", "ai", str(lesson)]) == 0
    assert "1 imported, 0 updated, 0 skipped" in capsys.readouterr().out
    write(lesson, LESSON_MD.replace("开篇词", "开篇词（修订）"))
    assert main(["lesson", "add", "--course", "ai", str(env / "lessons")]) == 0
    out = capsys.readouterr().out
    assert "[1/1] updated" in out and "0 imported, 1 updated" in out
    assert main(["lesson", "list", "ai"]) == 0
    listing = capsys.readouterr().out.strip().splitlines()
    assert len(listing) == 1 and "开篇词（修订）" in listing[0] and "intro" in listing[0]


def test_broken_file_is_reported_and_the_others_import(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(env / "l" / "a.md", LESSON_MD)
    write(env / "l" / "b.md", "---\ntitle: [unclosed\n---\nbody")
    write(env / "l" / "c.txt", "Plain title\nPlain intro.")
    write(env / "l" / "d.md", "---\ntitle: Bad time\nrelease: 2026-12-01 09:00\n---\nx")
    assert main(["lesson", "add", "--course", "ai", str(env / "l")]) == 1
    captured = capsys.readouterr()
    assert "2 imported, 0 updated, 2 skipped" in captured.out
    assert "b.md:2: bad front matter" in captured.err
    assert "d.md: release 2026-12-01 09:00 needs a UTC offset" in captured.err
    main(["lesson", "list", "ai"])
    titles = capsys.readouterr().out
    assert "开篇词" in titles and "Plain title" in titles and "Bad time" not in titles


def test_lesson_without_course_says_how_to_name_one(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lesson = write(env / "x.md", LESSON_MD)
    assert main(["lesson", "add", str(lesson)]) == 1
    assert "no course: pass --course SLUG, set DEFAULT_COURSE" in capsys.readouterr().err


def test_missing_file_is_reported(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lesson", "add", "--course", "ai", str(env / "nope.md")]) == 1
    assert "nope.md: no such file" in capsys.readouterr().err


def test_unknown_course_lists_known_ones(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["lesson", "add", "--course", "ai", str(write(env / "a.md", LESSON_MD))])
    capsys.readouterr()
    for argv in (["lesson", "list", "nope"], ["digest", "nope"], ["export", "nope"]):
        assert main(argv) == 2
        assert "no course 'nope' (known courses: ai)" in capsys.readouterr().err


def test_bad_setting_is_named(env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DEFAULT_LANGUAGE", "fr")
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert "DEFAULT_LANGUAGE" in err and "'fr'" in err


def test_bad_setting_in_dotenv_is_named(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(env / ".env", "LOG_LEVEL=LOUD\n")
    assert main(["db", "upgrade"]) == 2
    assert "LOG_LEVEL" in capsys.readouterr().err


def test_unreachable_telegram_is_explained_without_the_token(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    with socket.socket() as probe:  # a local port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:SECRET-TOKEN-VALUE")
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", f"http://127.0.0.1:{port}")
    assert main(["run"]) == 5  # unreachable: worth retrying as it is (a refused token is 2)
    captured = capsys.readouterr()
    assert "SECRET-TOKEN-VALUE" not in captured.out + captured.err
    assert f"cannot reach the Telegram Bot API at http://127.0.0.1:{port}" in captured.err


def test_bad_api_url_is_named(env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", "api.telegram.org")
    assert main(["db", "upgrade"]) == 2
    assert "TELEGRAM_API_BASE_URL" in capsys.readouterr().err


def test_db_upgrade_and_too_new_database(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade"]) == 0
    assert "schema version 0 →" in capsys.readouterr().out
    with sqlite3.connect(env / "cli.db") as raw:
        raw.execute("PRAGMA user_version = 999")
    assert main(["db", "upgrade"]) == 1
    assert "newer than this studybot" in capsys.readouterr().err


def test_digest_prints_and_records_unless_dry_run(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["lesson", "add", "--course", "ai", str(write(env / "a.md", LESSON_MD))])
    capsys.readouterr()
    assert main(["digest", "ai", "--dry-run"]) == 0
    assert "question digest" in capsys.readouterr().out
    with sqlite3.connect(env / "cli.db") as raw:
        assert raw.execute("SELECT count(*) FROM digests").fetchone()[0] == 0
    assert main(["digest", "ai", "--since", "2026-01-01"]) == 0
    assert "2026-01-01" in capsys.readouterr().out
    with sqlite3.connect(env / "cli.db") as raw:
        assert raw.execute("SELECT count(*) FROM digests").fetchone()[0] == 1
    assert main(["digest", "ai", "--since", "last week"]) == 2
    assert "is not a date" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["csv", "json", "md"])
def test_export_formats(env: Path, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    main(["lesson", "add", "--course", "ai", str(write(env / "a.md", LESSON_MD))])
    capsys.readouterr()
    out_file = env / f"export.{fmt}"
    assert main(["export", "ai", "--format", fmt, "--output", str(out_file)]) == 0
    text = out_file.read_text(encoding="utf-8")
    if fmt == "json":
        assert json.loads(text) == []
    elif fmt == "csv":
        assert text.startswith("id,lesson,kind,author")
    else:
        assert text.startswith("# ai")


FUTURE_LESSON_MD = """---
title: Later lesson
slug: later
release: 2099-01-05T09:00:00+08:00
---
Soon.
"""


def test_schedule_lists_next_digests_and_pending_releases(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(
        [
            "lesson",
            "add",
            "--course",
            "ai",
            str(write(env / "a.md", LESSON_MD)),
            str(write(env / "b.md", FUTURE_LESSON_MD)),
        ]
    )
    capsys.readouterr()
    assert main(["schedule"]) == 0
    out = capsys.readouterr().out
    assert "ai: next digest " in out and "— 0 9 * * 1 (UTC)" in out
    assert "ai: lesson 'later' released 2099-01-05T01:00:00+00:00" in out


def test_digest_send_needs_an_instructor_then_records_for_the_bot(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    from handlers.vocabulary.domain import Instructor
    from storage import SqliteStore

    main(["lesson", "add", "--course", "ai", str(write(env / "a.md", LESSON_MD))])
    capsys.readouterr()
    assert main(["digest", "ai", "--send"]) == 1
    assert "ai has no instructor yet; make one with /instructor first" in capsys.readouterr().err

    async def add_instructor() -> None:
        async with await SqliteStore.open(env / "cli.db") as store:
            await store.add_instructor(Instructor("ai", "console", "tyler", "Tyler"))

    asyncio.run(add_instructor())
    assert main(["digest", "ai", "--send"]) == 0
    assert "recorded" in capsys.readouterr().out
    with sqlite3.connect(env / "cli.db") as raw:
        assert raw.execute("SELECT count(*) FROM digests WHERE sent_at IS NULL").fetchone()[0] == 1
    with pytest.raises(SystemExit) as exit_info:
        main(["digest", "ai", "--send", "--dry-run"])
    assert exit_info.value.code == 2
    assert "not allowed with argument --send" in capsys.readouterr().err


def test_lesson_add_imports_a_course_page_with_its_comments_and_reimport_duplicates_nothing(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.paths import SAMPLE_PAGE, write

    page = write(env / "pages" / "lesson-00.txt", SAMPLE_PAGE.read_text(encoding="utf-8"))
    assert main(["lesson", "add", "--course", "ai", str(page)]) == 0
    out = capsys.readouterr().out
    assert "[1/1] imported" in out and "(18 comments: 9 questions, 9 comments; 18 new, 0 updated)" in out
    assert "1 imported, 0 updated, 0 skipped" in out
    assert main(["lesson", "add", "--course", "ai", str(env / "pages")]) == 0
    assert "0 imported, 0 updated, 0 skipped, 1 unchanged" in capsys.readouterr().out
    with sqlite3.connect(env / "cli.db") as raw:
        assert raw.execute("SELECT count(*), sum(base_likes), sum(base_replies) FROM questions").fetchone() == (
            18,
            14,  # the page's 👍 counts
            14,  # and its 💬 counts
        )


def test_a_folder_with_one_broken_page_imports_the_others_and_names_the_file_and_line(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.paths import SAMPLE_PAGE

    sample = SAMPLE_PAGE.read_text(encoding="utf-8")
    write(env / "l" / "a.md", LESSON_MD)
    write(env / "l" / "b-page.txt", sample.replace("💬（2）", "💬（二）"))
    write(env / "l" / "c.txt", "Plain title\nPlain intro.")
    assert main(["lesson", "add", "--course", "ai", str(env / "l")]) == 1
    captured = capsys.readouterr()
    assert "2 imported, 0 updated, 1 skipped" in captured.out
    assert "b-page.txt:13: comment 10: replies '二' is not a whole number" in captured.err
    with sqlite3.connect(env / "cli.db") as raw:
        assert raw.execute("SELECT count(*) FROM questions").fetchone() == (0,)
        assert raw.execute("SELECT count(*) FROM lessons").fetchone() == (2,)


# Smaller faults: each ends in a clear message on stderr, and changes nothing ---------------------------------
def test_export_into_a_missing_folder_is_refused(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["lesson", "add", "--course", "ai", str(write(env / "a.md", LESSON_MD))])
    capsys.readouterr()
    target = env / "no-such-folder" / "ai.md"
    assert main(["export", "ai", "-o", str(target)]) == 2
    err = capsys.readouterr().err
    assert f"cannot write {target}: the folder {target.parent} does not exist" in err and "Traceback" not in err
    assert not target.parent.exists()


def test_a_dotenv_that_is_not_utf8_is_named(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (env / ".env").write_bytes("CONSOLE_USER=Jos\xe9\n".encode("latin-1"))
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert ".env is not UTF-8 text" in err and "line 1" in err and "save it as UTF-8" in err


def test_a_missing_env_file_option_is_an_error(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--env-file", str(env / "prod.env"), "db", "upgrade"]) == 2
    assert f"--env-file {env / 'prod.env'}: no such file" in capsys.readouterr().err
    assert not (env / "cli.db").exists()
    assert main(["db", "upgrade"]) == 0  # the default .env is optional


def test_a_misspelt_setting_is_named_with_the_closest_one(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write(env / ".env", "TELEGRAM_TOKEN=123:abc\nlog_levl=DEBUG\n")
    monkeypatch.setenv("DISCORD_TOKEN", "x")
    monkeypatch.setenv("DEFAULT_USER", "someone else's variable")  # not ours, not close enough to warn about
    assert main(["db", "upgrade"]) == 0
    err = capsys.readouterr().err
    assert "TELEGRAM_TOKEN in .env is not a studybot setting (ignored); did you mean TELEGRAM_BOT_TOKEN?" in err
    assert "LOG_LEVL in .env is not a studybot setting (ignored); did you mean LOG_LEVEL?" in err
    assert (
        "DISCORD_TOKEN in the environment is not a studybot setting (ignored); did you mean DISCORD_BOT_TOKEN?" in err
    )
    assert "DEFAULT_USER" not in err


def test_lesson_add_reports_unchanged_files_and_errors_on_stderr(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lesson = write(env / "l" / "a.md", LESSON_MD)
    write(env / "l" / "b.md", "---\ntitle: [unclosed\n---\nbody")
    assert main(["lesson", "add", "--course", "ai", str(env / "l")]) == 1
    capsys.readouterr()
    assert main(["lesson", "add", "--course", "ai", str(env / "l")]) == 1
    captured = capsys.readouterr()
    assert (
        f"[1/2] unchanged {lesson}" in captured.out and "0 imported, 0 updated, 1 skipped, 1 unchanged" in captured.out
    )
    assert "b.md:2: bad front matter" in captured.err and "bad front matter" not in captured.out
    write(lesson, LESSON_MD.replace("第二段", "第二段（改）"))
    assert main(["lesson", "add", "--course", "ai", str(lesson)]) == 0
    assert "[1/1] updated" in capsys.readouterr().out


def test_digest_since_a_future_date_is_refused(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["lesson", "add", "--course", "ai", str(write(env / "a.md", LESSON_MD))])
    capsys.readouterr()
    assert main(["digest", "ai", "--since", "2999-01-01"]) == 2
    captured = capsys.readouterr()
    assert "--since 2999-01-01 is in the future" in captured.err and captured.out == ""
    with sqlite3.connect(env / "cli.db") as raw:
        assert raw.execute("SELECT count(*) FROM digests").fetchone()[0] == 0


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"studybot {version('studybot')}"


# aiohttp: the HTTP client of both (and of feeds); matplotlib: the digest chart, a second or two to import
PLATFORM_LIBRARIES = ("discord", "telegram", "aiohttp", "matplotlib")


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["--version"],
        ["lesson", "list", "ai"],
        ["lesson", "add", "--course", "ai", "x.md"],
        ["digest", "ai", "--dry-run"],
        ["export", "ai"],
        ["schedule"],
    ],
    ids=lambda argv: " ".join(argv),
)
def test_quick_commands_import_no_platform_library(env: Path, argv: list[str]) -> None:
    """A quick command line (issue 14): what does not talk to a platform does not pay for importing one."""
    write(env / "x.md", LESSON_MD)
    probe = (
        "import sys, bot.cli\n"
        "try:\n"
        f"    bot.cli.main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(PLATFORM_LIBRARIES)!r}))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=env, check=False)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout + done.stderr

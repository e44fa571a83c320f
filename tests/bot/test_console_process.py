"""`studybot run` as a newcomer uses it: a real process, the console backend, stdin and stdout."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import ROOT
from tests.process import studybot


def run_studybot(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_TOKEN")}
    env.update({"DATABASE_PATH": str(tmp_path / "studybot.db"), "DEFAULT_LANGUAGE": "en", "PYTHONUTF8": "1"})
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],  # in tmp_path, which holds no .env
        input=stdin,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
        check=False,
    )


def test_console_session_end_to_end(tmp_path: Path) -> None:
    lessons = ROOT / "examples" / "lessons"
    added = run_studybot(tmp_path, "lesson", "add", "--course", "ai-systems", str(lessons))
    assert added.returncode == 0, added.stderr
    session = "\n".join(
        [
            "/setup ai-systems",
            "/lesson 0",
            ":as alice",
            ":reply m4 老师，需要先学什么数学吗？",
            ":as bob",
            ":react m5 👍",
            "/top",
            ":as tyler admin",
            "/instructor",
            ":digest ai-systems",
            ":quit",
        ]
    )
    result = run_studybot(tmp_path, "run", stdin=session + "\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "now follows" in out
    assert "开篇词 | 跟我一起学习 AI 大模型系统" in out
    assert "👍1" in out and "需要先学什么数学吗" in out
    assert "✉ studybot → tyler:" in out


def test_restart_keeps_everything(tmp_path: Path) -> None:
    lessons = ROOT / "examples" / "lessons"
    run_studybot(tmp_path, "lesson", "add", "--course", "ai-systems", str(lessons))
    run_studybot(tmp_path, "run", stdin="/setup ai-systems\n/lesson 0\n:as alice\n:reply m4 How do I start?\n")
    again = run_studybot(tmp_path, "run", stdin=":as bob\n/top\n/lesson 0\n")
    assert "How do I start?" in again.stdout
    assert "Only this chat's admins" in again.stdout  # bob is no admin


def test_a_newer_database_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    import sqlite3

    with sqlite3.connect(tmp_path / "studybot.db") as raw:
        raw.execute("PRAGMA user_version = 99")
    result = run_studybot(tmp_path, "run")
    assert result.returncode == 1
    assert "newer than this studybot" in result.stderr


def test_the_readme_session_pastes_as_it_stands(tmp_path: Path) -> None:
    """README's "Try it" session, taken from the README itself, typed into the real console."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    session = readme.split("Then type (or paste) this session:\n\n```\n", 1)[1].split("```", 1)[0]
    added = run_studybot(tmp_path, "lesson", "add", "--course", "ai-systems", str(ROOT / "examples" / "lessons"))
    assert added.returncode == 0, added.stderr
    result = run_studybot(tmp_path, "run", stdin=session + ":quit\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "m4 studybot:" in out and "👍1" in out
    assert "✉ studybot → tyler:" in out and "需要先学什么数学吗" in out
    assert "studybot ↪ m5: Answer from instructor tyler:\n    线性代数就够了" in out  # under the question
    assert "question #1 is marked answered" in out
    assert "Unknown" not in out and "Usage" not in out


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_signal_stops_the_console_while_it_waits_for_a_line(tmp_path: Path, signum: signal.Signals) -> None:
    """stdin stays open and silent (a terminal nobody types in): the read must not keep the process alive."""
    async with studybot(tmp_path, "run", env={}, stdin=True) as bot:
        await bot.wait_for_output("studybot console", within=10)
        bot.send_signal(signum)
        finished = await bot.finish(within=3)
    assert finished.returncode == 0, finished.stderr
    finished.assert_quiet()

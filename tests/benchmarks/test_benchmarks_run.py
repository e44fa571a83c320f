"""The benchmarks still run against the current schema (tiny sizes, ``--smoke`` / ``--no-targets``: their
targets are not checked here, but the ingest rounds still check that every like was committed)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.rounds import RoundFailed, check_committed
from storage import upgrade_database
from tests.paths import ROOT
from tests.postgres_server import PostgresServer


def run_benchmark(script: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """``benchmarks/<script> <args>`` in a child process, its output captured (five minutes at most)."""
    command = [sys.executable, str(ROOT / "benchmarks" / script), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


def test_storage_benchmark_runs(tmp_path: Path) -> None:
    result = run_benchmark("storage.py", "--smoke", "--no-targets", "--cache-dir", tmp_path)
    assert result.returncode == 0, result.stderr
    for label in ("(a) store.add_reaction", "(b1) raw executemany", "(c) ratio", "(e) top_questions"):
        assert label in result.stdout


def check_ingest_run(result: subprocess.CompletedProcess[str], events: int) -> None:
    assert result.returncode == 0, result.stdout + result.stderr
    assert "(c) ratio (b)/(a), median of rounds:" in result.stdout
    assert "ratio (b)/(a) over the rounds:       min" in result.stdout
    assert "(d) CPU per event (a)/(b), median:" in result.stdout
    assert f"{events} likes committed" in result.stdout


@pytest.mark.parametrize("script", ["ingest_telegram.py", "ingest_discord.py"])
def test_ingest_benchmarks_run(script: str) -> None:
    check_ingest_run(run_benchmark(script, "--events", "300", "--rounds", "1", "--no-targets"), 300)


@pytest.mark.parametrize("script", ["ingest_telegram.py", "ingest_discord.py"])
def test_ingest_benchmarks_run_on_postgresql(script: str, postgres_server: PostgresServer) -> None:
    """On PostgreSQL too (the benchmark starts a server of its own; the fixture only says whether the binaries
    are there). The Discord run on PostgreSQL is where a lesson posted twice in one group first showed."""
    args = ("--events", "300", "--rounds", "1", "--no-targets", "--store", "postgresql")
    check_ingest_run(run_benchmark(script, *args), 300)


def test_a_round_with_likes_missing_fails(tmp_path: Path) -> None:
    database = tmp_path / "bench.db"
    asyncio.run(upgrade_database(database))
    assert check_committed(database, 0) == 0
    with pytest.raises(RoundFailed, match="3 likes sent, but 0 reaction rows and a like count of 0 committed"):
        check_committed(database, 3)


def test_broadcast_benchmark_runs() -> None:
    """The benchmark runs and checks its work; its timing targets are for a quiet machine, not for the suite."""
    result = run_benchmark("broadcast.py", "--groups", "40", "--latency", "0.02")
    for label in ("(a) broadcast time", "(c) ratio (b)/(a)", "(d) 429 answers: ", "groups missed: 0, doubled: 0"):
        assert label in result.stdout, result.stdout + result.stderr


def test_duplicates_benchmark_runs(tmp_path: Path) -> None:
    """The placement benchmark builds its index, places questions and prints its figures (targets unchecked)."""
    args = ("--sizes", "300,600", "--queries", "20", "--cache-dir", tmp_path, "--no-targets")
    result = run_benchmark("duplicates.py", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    for label in ("300 stored: built in", "fingerprint() per question", "600 stored: place one question median",
                  "rewordings placed on a question of their topic", "RSS", "growth 300 → 600"):  # fmt: skip
        assert label in result.stdout, result.stdout


def test_chart_benchmark_runs(tmp_path: Path) -> None:
    result = run_benchmark("chart.py", "--questions", "5000", "--runs", "1", "--no-targets", "--keep", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "(a) weekly digest: 350 questions over 8 days" in result.stdout
    assert "(b) every question in one window: 5,000 questions over 101 days" in result.stdout
    assert "PNG 1080x1350" in result.stdout
    assert (tmp_path / "chart-a.png").read_bytes().startswith(b"\x89PNG")


def test_reminders_benchmark_runs(tmp_path: Path) -> None:
    """The reminders benchmark builds a small database and prints both figures (target unchecked)."""
    result = run_benchmark("reminders.py", "--questions", "2000", "--cache-dir", tmp_path, "--no-targets")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "(a) nothing reminded yet" in result.stdout and "(b) " in result.stdout, result.stdout


def test_web_benchmark_runs(tmp_path: Path) -> None:
    result = run_benchmark("web.py", "--size", "3000", "--repeat", "2", "--no-targets", "--cache-dir", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "web page reads at 3,000 questions" in result.stdout
    assert "search '显存' (2, common)" in result.stdout and "search 'AI' (2, rare)" in result.stdout

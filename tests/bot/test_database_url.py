"""DATABASE_URL (issue 13): PostgreSQL instead of the SQLite file, chosen by one setting, refused with the other."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from storage.postgres.schema import latest_version
from tests.postgres_server import PostgresServer


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("DATABASE_PATH", "DATABASE_URL", "DEFAULT_COURSE", "LOG_LEVEL", "TELEGRAM_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_both_database_settings_are_refused_naming_them(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_PATH", str(env / "s.db"))
    monkeypatch.setenv("DATABASE_URL", "postgresql://studybot:pw@127.0.0.1:1/studybot")
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert "DATABASE_URL and DATABASE_PATH are both set: keep one" in err and "pw@" not in err
    assert not (env / "s.db").exists()


def test_a_database_url_that_is_not_one_says_what_is_expected(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://studybot:pw@db/studybot")
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert "expected sqlite:///path/to/studybot.db or postgresql://" in err and ":pw@" not in err


def test_db_upgrade_migrates_a_postgresql_database_once(
    env: Path, monkeypatch: pytest.MonkeyPatch, postgres_server: PostgresServer, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", postgres_server.create_database("upgrade_me"))
    assert main(["db", "upgrade"]) == 0
    latest = latest_version()
    assert f"schema version 0 → {latest}" in capsys.readouterr().out
    assert main(["db", "upgrade"]) == 0
    assert f"schema version {latest} → {latest}" in capsys.readouterr().out


def test_an_unreachable_server_is_named_without_its_password(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.postgres_server import free_port

    monkeypatch.setenv("DATABASE_URL", f"postgresql://studybot:s3cret@127.0.0.1:{free_port()}/studybot")
    assert main(["db", "upgrade"]) == 3
    err = capsys.readouterr().err
    assert "DATABASE_URL postgresql://studybot:***@127.0.0.1" in err and "cannot be reached" in err
    assert "s3cret" not in err and "Traceback" not in err


def test_a_rule_across_settings_never_echoes_the_others(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A rule over several settings is reported by its message alone: its input is every setting, tokens too."""
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:SECRET-token")
    monkeypatch.setenv("DISCORD_SHARD_IDS", "0")
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert "DISCORD_SHARD_IDS needs DISCORD_SHARD_COUNT" in err and "SECRET-token" not in err

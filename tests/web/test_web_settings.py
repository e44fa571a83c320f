"""WEB_LISTEN and friends: a bad value is a clear error; the page's commands parse; a taken port is said."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import build_parser
from bot.config import Settings, SettingsError, load_settings
from tests.paths import ROOT


def test_the_default_listens_on_localhost() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.web_address() == ("127.0.0.1", 8080)
    assert settings.web_url() == "http://127.0.0.1:8080"


@pytest.mark.parametrize("value", ["8080", "localhost:99999", "localhost:0", "a b:80", "host:"])
def test_a_bad_web_listen_is_a_clear_error(value: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WEB_LISTEN", value)
    with pytest.raises(SettingsError, match="WEB_LISTEN"):
        load_settings(str(tmp_path / "none.env"))


def test_web_and_run_web_parse() -> None:
    assert build_parser().parse_args(["web"]).command == "web"
    assert build_parser().parse_args(["run", "--web"]).web


def test_a_taken_port_stops_studybot_web_with_a_clear_message(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "bot.cli", "web"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=tmp_path,
            env={"PATH": "/usr/bin:/bin", "WEB_LISTEN": f"127.0.0.1:{port}", "PYTHONPATH": str(ROOT)},
        )
    assert result.returncode == 2, result.stderr
    assert f"cannot listen on WEB_LISTEN=127.0.0.1:{port}" in result.stderr

"""A deployment of several ``studybot run`` processes on one database, as an operator would start them.

Each process is a real child (:class:`tests.process.Studybot` reads its output as it comes) with an environment
built here from scratch: the platform it serves, the database (``DATABASE_PATH`` or ``DATABASE_URL``, never both)
and the shared clock (:mod:`tests.multiprocess.shared_time`). A process can be killed with SIGKILL and started
again under the same name, as a supervisor would restart it.

The database is read back with plain SQL that both SQLite and PostgreSQL accept, straight from the file or the
server, so what the test checks is what the processes committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage.locations import Database
from tests.multiprocess.shared_time import SharedTime, without_faketime
from tests.process import Finished, Studybot

# Settings a developer's shell may hold that would change what a child does (as tests/process.py drops them).
_DROPPED_PREFIXES = ("TELEGRAM_", "DISCORD_", "DATABASE_")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True, slots=True)
class Target:
    """The database every process shares: its settings for a child and a way to read it back."""

    database: Database

    def settings(self) -> dict[str, str]:
        if self.database.kind == "sqlite":
            return {"DATABASE_PATH": str(self.database.path)}
        assert self.database.url is not None
        return {"DATABASE_URL": self.database.url}

    async def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """``sql`` (no parameters, both dialects) run on a connection of its own, so nothing is cached."""
        if self.database.kind == "sqlite":
            assert self.database.path is not None
            with contextlib.closing(sqlite3.connect(self.database.path, timeout=10)) as db:
                return [tuple(row) for row in db.execute(sql).fetchall()]
        import asyncpg  # only where PostgreSQL is what the test runs on

        assert self.database.url is not None
        connection = await asyncpg.connect(self.database.url)
        try:
            return [tuple(row) for row in await connection.fetch(sql)]
        finally:
            await connection.close()

    async def value(self, sql: str) -> Any:
        rows = await self.rows(sql)
        assert len(rows) == 1 and len(rows[0]) == 1, rows
        return rows[0][0]


class Deployment:
    """Named ``studybot run`` processes; each start is kept, so the test can read every run's stderr."""

    def __init__(self, workdir: Path, target: Target, time: SharedTime) -> None:
        self.workdir, self.target, self.time = workdir, target, time
        self.running: dict[str, Studybot] = {}
        self.killed: list[tuple[str, Studybot]] = []
        (workdir / "none.env").touch()  # an empty settings file: only the environment counts

    async def start(self, name: str, settings: Mapping[str, str]) -> Studybot:
        environment = {
            k: v for k, v in without_faketime(dict(os.environ)).items() if not k.startswith(_DROPPED_PREFIXES)
        }
        environment.update({"DEFAULT_LANGUAGE": "en", "PYTHONUTF8": "1", "LOG_LEVEL": "INFO"})
        environment.update(self.target.settings())
        environment.update(settings)
        environment.update(self.time.child_environment())
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "--env-file",
            str(self.workdir / "none.env"),
            "run",
            cwd=self.workdir,
            env=environment,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        child = Studybot(process, time.monotonic())
        self.running[name] = child
        return child

    async def wait_for_output(self, name: str, text: str, within: float) -> None:
        """Until process ``name`` writes ``text``; a failure shows what every process wrote."""
        try:
            await self.running[name].wait_for_output(text, within)
        except AssertionError as failure:
            raise AssertionError(f"{name}: {failure}\n{self.stderr()}") from None

    def pid(self, name: str) -> int:
        return self.running[name].process.pid

    async def kill(self, name: str) -> None:
        """SIGKILL: no handler runs, nothing is flushed or released (the lease, claims, half-handled updates)."""
        child = self.running.pop(name)
        child.send_signal(signal.SIGKILL)
        await child.process.wait()
        await asyncio.gather(*child._readers, return_exceptions=True)
        self.killed.append((name, child))

    async def stop_all(self, within: float) -> dict[str, Finished]:
        """SIGTERM to every running process at once; each must exit by itself within ``within`` seconds."""
        for child in self.running.values():
            child.send_signal(signal.SIGTERM)
        names = list(self.running)
        finished = await asyncio.gather(*(self.running[n].finish(within) for n in names))
        self.running.clear()
        return dict(zip(names, finished, strict=True))

    async def close(self) -> None:
        """Whatever is still running (a test that failed half-way) is killed, never left behind."""
        for child in self.running.values():
            if child.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    child.send_signal(signal.SIGKILL)
                await child.process.wait()
            await asyncio.gather(*child._readers, return_exceptions=True)
        self.running.clear()

    def stderr(self) -> str:
        """Every process's stderr so far, killed ones included, for a failure message; the web server's
        access lines (one per webhook delivery) are left out."""
        runs = [*self.killed, *self.running.items()]
        return "\n".join(
            f"----- {name} (pid {c.process.pid})\n{_without_access_log(c.stderr)[-6000:]}" for name, c in runs
        )


async def until(
    check: Callable[[], Awaitable[bool]], within: float, what: str, explain: Callable[[], str] = lambda: ""
) -> None:
    """Until ``check()`` holds, looking again every 50 ms; past ``within`` seconds the test fails with ``what``."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what}\n{explain()}")
        await asyncio.sleep(0.05)


def _without_access_log(text: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if "aiohttp.access" not in line)

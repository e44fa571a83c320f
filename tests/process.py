"""``studybot`` as an operator runs it: a real process, settings in its environment, signals, an exit code.

Why a real process: signal handling, exit codes, what reaches stderr at exit (tracebacks, aiohttp's
"Unclosed client session") and whether the interpreter can exit at all (a thread blocked in a read) can only be
seen from outside. Every wait is bounded: a process still running past its bound is killed and the test fails
with what it wrote so far.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

# Settings a developer's shell may hold that would change what the child does.
_DROPPED_PREFIXES = ("TELEGRAM_", "DISCORD_")


@dataclass(frozen=True, slots=True)
class Finished:
    returncode: int
    stdout: str
    stderr: str
    seconds: float  # from start to exit

    def assert_quiet(self) -> None:
        """No traceback and no resource left open: what an operator must never have to read at exit."""
        assert "Traceback" not in self.stderr, self.stderr
        assert "Unclosed" not in self.stderr, self.stderr  # aiohttp: "Unclosed client session", "Unclosed connector"
        assert "Task was destroyed" not in self.stderr, self.stderr


class Studybot:
    """One ``python -m bot.cli`` process; stdout and stderr are read as they come, so tests can wait for a line."""

    def __init__(self, process: asyncio.subprocess.Process, started: float) -> None:
        self.process = process
        self.started = started
        self._out: list[str] = []
        self._err: list[str] = []
        self._changed = asyncio.Event()
        assert process.stdout is not None and process.stderr is not None
        self._readers = [
            asyncio.create_task(self._read(process.stdout, self._out)),
            asyncio.create_task(self._read(process.stderr, self._err)),
        ]

    async def _read(self, stream: asyncio.StreamReader, into: list[str]) -> None:
        while line := await stream.readline():
            into.append(line.decode("utf-8", "replace"))
            self._changed.set()

    @property
    def stdout(self) -> str:
        return "".join(self._out)

    @property
    def stderr(self) -> str:
        return "".join(self._err)

    async def wait_for_output(self, text: str, within: float) -> None:
        """Until ``text`` appears on stdout or stderr (a log line, the console's banner)."""
        try:
            async with asyncio.timeout(within):
                while text not in self.stdout + self.stderr:
                    if self.process.returncode is not None:
                        raise AssertionError(f"studybot exited ({self.process.returncode}) before {text!r}")
                    self._changed.clear()
                    with contextlib.suppress(TimeoutError):  # (the exit itself is no output: look again)
                        await asyncio.wait_for(self._changed.wait(), 0.2)
        except TimeoutError:
            raise AssertionError(f"no {text!r} within {within} s; stderr:\n{self.stderr}") from None

    def send_signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    async def finish(self, within: float) -> Finished:
        """The process's exit, at most ``within`` seconds from now; past that it is killed and the test fails."""
        try:
            await asyncio.wait_for(self.process.wait(), within)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            await asyncio.gather(*self._readers)
            raise AssertionError(f"studybot still running {within} s later (killed); stderr:\n{self.stderr}") from None
        seconds = time.monotonic() - self.started
        await asyncio.gather(*self._readers)
        assert self.process.returncode is not None
        return Finished(self.process.returncode, self.stdout, self.stderr, seconds)


@contextlib.asynccontextmanager
async def studybot(workdir: Path, *args: str, env: Mapping[str, str], stdin: bool = False) -> AsyncIterator[Studybot]:
    """``studybot ARGS…`` in ``workdir`` with ``env`` on top of this environment (no platform settings of the
    machine's own); killed on the way out if a test left it running."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED_PREFIXES)}
    environment.update({"DATABASE_PATH": str(workdir / "studybot.db"), "DEFAULT_LANGUAGE": "en", "PYTHONUTF8": "1"})
    environment.update(env)
    (workdir / "none.env").touch()  # an empty settings file: only the environment above counts
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "--env-file",
        str(workdir / "none.env"),
        *args,
        cwd=workdir,
        env=environment,
        stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    running = Studybot(process, time.monotonic())
    try:
        yield running
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGKILL)
            await process.wait()
        await asyncio.gather(*running._readers, return_exceptions=True)

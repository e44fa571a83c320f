"""A real PostgreSQL server for the tests, started in a temporary folder on a free port of 127.0.0.1.

Nothing is mocked: the tests talk to the same server binary a deployment runs (Debian's ``postgresql``
package, installed by ``.ci/run``). The server is made to be fast and disposable (no fsync, no locale, trust
authentication on loopback only) and is stopped and deleted when the tests are done.

PostgreSQL refuses to run as root, and CI runs as root: then the server runs as the ``postgres`` system user
that Debian's package creates (``setpriv``). Its session time zone is set to one far from UTC
(``Pacific/Chatham``, +12:45/+13:45) so that any SQL reading the server's local time shows up in the tests;
studybot passes every time from its Clock, and under ``tests.moved_date`` libfaketime moves the server's clock
too, because the server is a child of the test process.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

SERVER_TIMEZONE = "Pacific/Chatham"
START_TIMEOUT = 30.0
INITDB_ATTEMPTS = 2


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries are not installed (Debian: ``apt-get install postgresql``)."""


def find_bindir() -> Path:
    """Where ``initdb`` and ``postgres`` are: on PATH, else Debian's versioned folder (newest first)."""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if candidates:
        return Path(candidates[-1]).parent
    raise PostgresUnavailable("PostgreSQL is not installed: run `apt-get install postgresql` (or .ci/run)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """``with PostgresServer() as server: server.url`` — one throwaway cluster with database ``studybot``."""

    def __init__(self) -> None:
        self.bindir = find_bindir()
        self.port = free_port()
        self.user = "studybot"
        self.database = "studybot"
        self._root: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def database_url(self, name: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{name}"

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def _as_server_user(self, argv: list[str]) -> list[str]:
        """As root, exec as ``postgres`` (setpriv replaces itself, so signals reach the server directly)."""
        if os.geteuid() != 0:
            return argv
        return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", *argv]

    def start(self) -> None:
        self._root = Path(tempfile.mkdtemp(prefix="studybot-pg-"))
        data, sockets, log = self._root / "data", self._root / "sockets", self._root / "server.log"
        sockets.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self._root, "postgres")
            shutil.chown(sockets, "postgres")
        self._initdb(data)
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(sockets),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "timezone": SERVER_TIMEZONE,
            "max_connections": "100",
        }
        options = [arg for name, value in settings.items() for arg in ("-c", f"{name}={value}")]
        with open(log, "wb") as out:
            self._process = subprocess.Popen(
                self._as_server_user([str(self.bindir / "postgres"), "-D", str(data), *options]),
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self._root,
            )
        self._wait_ready(log)
        self._psql("postgres", f'CREATE DATABASE "{self.database}"')

    def _initdb(self, data: Path) -> None:
        """A new cluster in ``data``. A failed initdb is tried once more in a clean folder, and a second failure
        names what initdb printed: a CI run once saw one fail with its output thrown away, beside two running
        servers, and could not be told why."""
        initdb = [str(self.bindir / "initdb"), "-D", str(data), "-U", self.user, "-A", "trust", "-E", "UTF8"]
        for attempt in range(INITDB_ATTEMPTS):
            done = subprocess.run(
                self._as_server_user([*initdb, "--no-locale", "--no-sync"]),
                check=False,
                capture_output=True,
                cwd=self._root,
            )
            if done.returncode == 0:
                return
            printed = (done.stdout + done.stderr).decode(errors="replace").strip()
            if attempt == INITDB_ATTEMPTS - 1:
                self.stop()
                raise RuntimeError(f"initdb failed (exit status {done.returncode}):\n{printed}")
            print(f"initdb failed (exit status {done.returncode}), trying again:\n{printed}", file=sys.stderr)
            shutil.rmtree(data, ignore_errors=True)
            time.sleep(1.0)

    def create_database(self, name: str, *, template: str | None = None) -> str:
        """A fresh database on this server, empty or a copy of ``template``; returns its URL."""
        copy = f' TEMPLATE "{template}"' if template else ""
        self._psql("postgres", f'CREATE DATABASE "{name}"{copy}')
        return self.database_url(name)

    def drop_database(self, name: str) -> None:
        self._psql("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _psql(self, database: str, sql: str) -> None:
        psql = shutil.which("psql") or str(self.bindir / "psql")
        subprocess.run(
            [psql, "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user,
             "-d", database, "-c", sql],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ, "PGCONNECT_TIMEOUT": "5"},
        )

    def _wait_ready(self, log: Path) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"PostgreSQL did not start:\n{log.read_text(errors='replace')}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    pass
            except OSError:
                time.sleep(0.05)
                continue
            ready = subprocess.run(
                [str(self.bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)], check=False
            )
            if ready.returncode == 0:
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"PostgreSQL was not ready within {START_TIMEOUT:.0f} s")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)  # "fast" shutdown: ends open sessions, no waiting on them
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None


TEMPLATE = "studybot_template"


def migrated_template(server: PostgresServer) -> str:
    """The name of a database at the latest schema version, made once per server, for tests to copy.

    Copying a template is much quicker than migrating a fresh database for every test.
    """
    if getattr(server, "_template_ready", False):
        return TEMPLATE
    import asyncio

    from storage.postgres.store import PostgresStore

    async def migrate(url: str) -> None:
        store = await PostgresStore.open(url, pool_size=1)
        await store.close()

    asyncio.run(migrate(server.create_database(TEMPLATE)))
    server._template_ready = True  # type: ignore[attr-defined]
    return TEMPLATE

"""``studybot db copy SOURCE TARGET``: move a deployment from its SQLite file to PostgreSQL (and back).

The copy itself is :func:`storage.copying.copy_database`; this is its command line: the URLs, a progress bar
per table on a terminal (a line per table elsewhere, so a log shows it moving), and the result or the reason
it was refused.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from bot.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from storage import Database
from storage.copying import CopyRefused, copy_database


class TableProgress:
    """rich's bar for the table being copied on a terminal; otherwise one line per table when it is done."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._bar: Any = None
        self._tasks: dict[str, Any] = {}
        if out.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._bar = Progress(
                TextColumn("{task.description:<20}"), BarColumn(), MofNCompleteColumn(), console=Console(file=out)
            )

    def __enter__(self) -> TableProgress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *_: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def __call__(self, table: str, done: int, total: int) -> None:
        if self._bar is None:
            if done == total:
                print(f"  {table}: {done} rows", file=self.out, flush=True)
            return
        if table not in self._tasks:
            self._tasks[table] = self._bar.add_task(table, total=total)
        self._bar.update(self._tasks[table], completed=done)


async def cmd_db_copy(source_url: str, target_url: str, out: TextIO) -> int:
    try:
        source, target = Database.parse(source_url), Database.parse(target_url)
    except ValueError as error:
        print(f"studybot: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(f"copying {source.shown()} → {target.shown()}", file=out, flush=True)
    try:
        with TableProgress(out) as progress:
            report = await copy_database(source, target, progress)
    except CopyRefused as refused:
        print(f"studybot: nothing was copied: {refused}", file=sys.stderr)
        return EXIT_FAILED
    rows = sum(report.rows.values())
    print(
        f"copied {rows} rows in {len(report.rows)} tables; every table's row count and all {report.questions} "
        "questions' like counts match",
        file=out,
    )
    return EXIT_OK

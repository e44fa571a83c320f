"""The commands of ``studybot``: run the bot, import lessons, print digests, export, upgrade the database.

:mod:`bot.cli` parses the command line and hands it to :func:`run`. A platform library is imported only by the
commands that talk to a platform (``run``, ``doctor``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from bot.app import open_app, run_console
from bot.config import Settings, SettingsError, load_settings, unknown_settings
from bot.exits import (
    EXIT_DATABASE_DAMAGED,
    EXIT_DATABASE_UNWRITABLE,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
)
from bot.export import render_export
from bot.lifecycle import run_until_signalled
from bot.logs import configure_logging as configure_log_stream
from bot.redact import Redactor, install
from bot.sources.publishing import holds, settle_new_lessons
from handlers.ports import Store
from handlers.vocabulary.content import to_plain_text
from handlers.vocabulary.domain import Lesson, course_slug_problem
from storage import (
    DatabaseDamaged,
    DatabaseTooNew,
    DatabaseUnusable,
    explain_database_failure,
    open_store,
    upgrade_store,
)

logger = logging.getLogger(__name__)

DEFAULT_ENV_FILE = ".env"


def run(args: argparse.Namespace) -> int:
    """A parsed command line, carried out: settings, logging, then the command in an event loop."""
    # The default .env is optional; a file named on the command line is meant, so a typo must not go unseen.
    env_file = DEFAULT_ENV_FILE if args.env_file is None else args.env_file
    if args.env_file is not None and not Path(args.env_file).is_file():
        print(f"studybot: --env-file {args.env_file}: no such file", file=sys.stderr)
        return EXIT_USAGE
    try:
        settings = load_settings(env_file)
        warnings = unknown_settings(env_file, os.environ)
    except SettingsError as error:
        print(f"studybot: {error}", file=sys.stderr)
        return EXIT_USAGE
    for warning in warnings:
        print(f"studybot: warning: {warning}", file=sys.stderr)
    configure_logging(settings, sys.stderr)
    try:
        return asyncio.run(run_cli_command(args, settings, sys.stdin, sys.stdout))
    except DatabaseTooNew as error:
        return database_problem(error, EXIT_FAILED)
    except DatabaseUnusable as error:
        return database_problem(error, database_exit_code(error))
    except KeyboardInterrupt:
        return EXIT_OK
    except Exception as error:
        # SQLite can also find damage, or a file turned read-only, in the middle of a command.
        problem = explain_database_failure(settings.database(), error)
        if problem is None:
            raise
        return database_problem(problem, database_exit_code(problem), error)


def configure_logging(settings: Settings, stream: TextIO) -> None:
    """Log to ``stream`` at LOG_LEVEL (:mod:`bot.logs`), with every secret masked in every record, ours or a
    library's."""
    configure_log_stream(settings.log_level, stream)
    install(Redactor(settings.secret_values()))


def database_exit_code(problem: DatabaseUnusable) -> int:
    return EXIT_DATABASE_DAMAGED if isinstance(problem, DatabaseDamaged) else EXIT_DATABASE_UNWRITABLE


def database_problem(problem: Exception, code: int, cause: BaseException | None = None) -> int:
    """The problem in its own words on stderr, as the last thing printed; its traceback only at DEBUG.

    The operator needs the setting, the path and what to do; a traceback through aiosqlite's thread says none
    of it, but is there for whoever debugs studybot itself.
    """
    logger.debug("the database could not be used", exc_info=cause or problem)
    print(f"studybot: {problem}", file=sys.stderr)
    return code


async def run_cli_command(args: argparse.Namespace, settings: Settings, stdin: TextIO, out: TextIO) -> int:
    match args.command:
        case "run":
            return await cmd_run(settings, stdin, out, web=args.web)
        case "web":
            return await cmd_run(settings, stdin, out, web=True, console=False)
        case "lesson" if args.lesson_command == "add":
            return await cmd_lesson_add(settings, args.paths, args.course, args.title, out, publish=args.publish)
        case "lesson":
            return await cmd_lesson_list(settings, args.course, out)
        case "digest" if args.send:
            return await cmd_digest_send(settings, args.course, out)
        case "digest":
            return await cmd_digest(settings, args.course, args.since, args.dry_run, out)
        case "schedule":
            from bot.scheduler import describe_schedule

            async with open_app(settings) as app:
                for line in await describe_schedule(app.services):
                    print(line, file=out)
            return EXIT_OK
        case "export":
            return await cmd_export(settings, args.course, args.format, args.output, out)
        case "doctor":
            return await cmd_doctor(settings, out)
        case "db":
            if args.db_command == "copy":
                from bot.db_copy import cmd_db_copy

                return await cmd_db_copy(args.source, args.target, out)
            database = settings.database()
            before, after = await upgrade_store(database, clustering_progress(out))
            print(f"database {database.shown()}: schema version {before} → {after}", file=out)
            return EXIT_OK
    raise AssertionError(f"unhandled command {args.command}")


def clustering_progress(out: TextIO) -> Callable[[int, int], None]:
    """Progress of clustering the questions of a database once (issue 12): a line per 10,000 questions, so an
    operator upgrading a large database sees it move; nothing for a small one."""

    def report(done: int, total: int) -> None:
        if total >= 10_000:
            print(f"clustering near-duplicate questions: {done:,} of {total:,}", file=out, flush=True)

    return report


async def cmd_run(
    settings: Settings, stdin: TextIO, out: TextIO, *, web: bool = False, console: bool = True
) -> int:
    """The platforms whose tokens are set; with none, the console study group. Until SIGTERM or SIGINT, which
    stop it cleanly in every state (:mod:`bot.lifecycle`) and exit 0: a stop the operator asked for is no
    failure.

    A start that fails is said in one or two ``studybot:`` lines, cause then next step, with the exit code that
    tells a supervisor what to do (see ``EXIT_*``); the traceback goes to the log at DEBUG only.
    """
    from bot.web.auth import WebListenError  # stdlib only: no aiohttp.web until the page starts

    try:
        return await _run(settings, stdin, out, web=web, console=console)
    except WebListenError as error:
        print(f"studybot: {error}. Choose another host:port in WEB_LISTEN.", file=sys.stderr)
        return EXIT_USAGE


async def _run(settings: Settings, stdin: TextIO, out: TextIO, *, web: bool, console: bool) -> int:
    if console and settings.telegram_bot_token is None and settings.discord_bot_token is None:
        await run_until_signalled(run_console(settings, stdin, out, web=web))
        return EXIT_OK
    # The platform libraries, only for the command that talks to a platform (see bot.cli).
    from telegram.error import InvalidToken, NetworkError

    from bot.discord_backend.backend import DiscordStartError, DiscordUnreachable
    from bot.platforms import run_platforms
    from bot.telegram_backend.backend import PollingConflict

    redact = Redactor(settings.secret_values())
    try:
        await run_until_signalled(run_platforms(settings, web=web))
    except InvalidToken:
        print("studybot: Telegram refused TELEGRAM_BOT_TOKEN; copy it again from @BotFather.", file=sys.stderr)
        return EXIT_USAGE
    except PollingConflict:
        logger.debug("telegram polling ended", exc_info=True)
        print(
            "studybot: Telegram answers 409 Conflict: another process is polling with this TELEGRAM_BOT_TOKEN (or a"
            " webhook is set for it). Only one process may poll; to run several, use webhook mode"
            " (TELEGRAM_WEBHOOK_URL).",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except DiscordUnreachable as error:
        logger.debug("discord start-up failed", exc_info=True)
        print(f"studybot: {error.cause}.\nstudybot: {error.advice}.", file=sys.stderr)
        return EXIT_UNREACHABLE
    except DiscordStartError as error:  # discord: a refused token or privileged intent, said exactly
        logger.debug("discord start-up failed", exc_info=True)
        print(f"studybot: {redact(str(error))}", file=sys.stderr)
        return EXIT_USAGE
    except NetworkError as error:
        reason = redact(str(error))
        print(
            f"studybot: cannot reach the Telegram Bot API at {settings.telegram_api_base_url} ({reason}). "
            "Check the network, or TELEGRAM_API_BASE_URL if you use your own Bot API server.",
            file=sys.stderr,
        )
        return EXIT_UNREACHABLE
    return EXIT_OK


async def cmd_lesson_add(
    settings: Settings,
    paths: list[Path],
    course: str | None,
    title: str | None,
    out: TextIO,
    *,
    publish: str = "latest",
) -> int:
    """Import lesson files of every format (:mod:`bot.sources.files`): Markdown, text and course pages.

    In a terminal a progress bar runs while files are read; otherwise (pipes, logs, tests) one ``[i/n]`` line
    per file. Either way every file gets its line and the summary follows: imported, updated, skipped with
    the reason (file name and line where known), and what will be posted where (``publish``: see
    :mod:`bot.sources.publishing`). A file that fails changes nothing stored.
    """
    from bot.lesson_files import LessonFileError, lesson_paths
    from bot.sources.files import import_source, read_source

    if course is not None and (problem := course_slug_problem(course)) is not None:
        print(f"studybot: --course {course!r} is not a course slug: {problem}", file=sys.stderr)
        return EXIT_USAGE
    files = lesson_paths(paths)
    missing = [p for p in files if not p.exists()]
    imported = updated = unchanged = 0
    created: list[Lesson] = []
    skipped: list[str] = [f"{p}: no such file" for p in missing]
    files = [p for p in files if p.exists()]
    progress = _Progress(out, len(files))
    async with open_app(settings) as app:
        with progress:
            for index, path in enumerate(files, start=1):
                if (size := file_size(path)) >= LARGE_FILE:
                    progress.note(index, f"reading {path} ({size / 1e6:.1f} MB)…")
                try:
                    source = read_source(path, course or settings.default_course, settings.intro_length)
                    done = await import_source(
                        app.store,
                        source,
                        app.services.clock.now(),
                        language=settings.default_language,
                        course_title=title,
                        hold=holds(publish),
                    )
                except LessonFileError as error:
                    skipped.append(str(error))
                    progress.line(index, f"skipped {error}", error=True)
                    continue
                if done.result.new:
                    created.append(done.result.lesson)
                imported += done.result.new
                updated += done.result.changed and not done.result.new
                unchanged += not done.result.changed
                progress.line(index, done.describe())
        publication = await settle_new_lessons(app.store, created, publish, app.services.clock.now())
    # The counts are the command's result (stdout); what was skipped and why are errors (stderr), so that
    # `studybot lesson add … > log` still shows them, and a script reading stdout sees only results.
    print(f"{imported} imported, {updated} updated, {len(skipped)} skipped, {unchanged} unchanged", file=out)
    for line in publication.describe():
        print(f"  {line}", file=out)
    for reason in skipped:
        print(f"  skipped: {reason}", file=sys.stderr)
    return EXIT_OK if not skipped else EXIT_FAILED


LARGE_FILE = 1_000_000  # bytes: `lesson add` says it is reading such a file before its result line


def file_size(path: Path) -> int:
    """The file's size, 0 when it cannot be read (reading it then reports why)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


class _Progress:
    """rich's progress bar on a terminal, plain ``[i/n]`` lines elsewhere."""

    def __init__(self, out: TextIO, total: int) -> None:
        self.out, self.total = out, total
        self._bar: Any = None
        self._task: Any = None
        if total and out.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._bar = Progress(
                TextColumn("importing"), BarColumn(), MofNCompleteColumn(), console=Console(file=out), transient=True
            )

    def __enter__(self) -> _Progress:
        if self._bar is not None:
            self._bar.start()
            self._task = self._bar.add_task("import", total=self.total)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def line(self, index: int, text: str, *, error: bool = False) -> None:
        """One file's line: on ``out``, or on stderr for an ``error`` (rich shows stderr above a running bar)."""
        self.note(index, text, error=error)
        if self._bar is not None:
            self._bar.advance(self._task)

    def note(self, index: int, text: str, *, error: bool = False) -> None:
        """A line about the file being worked on, before its result (a large file takes seconds)."""
        message = f"[{index}/{self.total}] {text}"
        if self._bar is None or error:
            print(message, file=sys.stderr if error else self.out, flush=True)
        else:
            self._bar.console.print(message, markup=False, highlight=False, soft_wrap=True)


async def cmd_lesson_list(settings: Settings, course: str, out: TextIO) -> int:
    """The course's lessons, read straight from the store (no scheduler, no sources: a quick command)."""
    async with await open_store(settings.database(), pool_size=1) as store:
        if await store.get_course(course) is None:
            return unknown_course(course, [c.slug for c in await store.list_courses()])
        for lesson in await store.list_lessons(course):
            number = "-" if lesson.number is None else str(lesson.number)
            release = lesson.release_at.isoformat() if lesson.release_at else ""
            print(f"{number:>4}  {lesson.slug:<24} {lesson.title}  {release}".rstrip(), file=out)
    return EXIT_OK


def unknown_course(course: str, known: list[str]) -> int:
    hint = (
        f"known courses: {', '.join(known)}"
        if known
        else "import lessons first with: studybot lesson add --course SLUG FILE"
    )
    print(f"studybot: no course {course!r} ({hint})", file=sys.stderr)
    return EXIT_USAGE


def parse_since(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"--since {value!r} is not a date like 2026-11-23") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def cmd_digest(settings: Settings, course_slug: str, since: str | None, dry_run: bool, out: TextIO) -> int:
    from handlers.features.digests import compose_period, record_composed

    try:
        start_override = parse_since(since) if since else None
    except ValueError as error:
        print(f"studybot: {error}", file=sys.stderr)
        return EXIT_USAGE
    async with open_app(settings) as app:
        store, services = app.store, app.services
        course = await store.get_course(course_slug)
        if course is None:
            return unknown_course(course_slug, [c.slug for c in await store.list_courses()])
        end = services.clock.now()
        if start_override is not None and start_override > end:
            print(f"studybot: --since {since} is in the future; give a date up to today", file=sys.stderr)
            return EXIT_USAGE
        period = await compose_period(services, course, end, start_override)
        print(to_plain_text(period.render(services, services.i18n.normalise(course.language), course)), file=out)
        if not dry_run:
            digest = await record_composed(services, course.slug, period)
            await store.mark_digest_sent(digest.id, end)
    return EXIT_OK


async def cmd_digest_send(settings: Settings, course_slug: str, out: TextIO) -> int:
    """The scheduled digest, now: the period since the last one, recorded once for delivery.

    Only the running bot's scheduler leaders deliver digests, each to its platform's instructors (so an
    instructor never gets one twice); this command records the period and they deliver it at their next tick
    (within half a minute), or at the next start.
    """
    from handlers.features.digests import record_period

    async with open_app(settings) as app:
        store = app.store
        if await store.get_course(course_slug) is None:
            return unknown_course(course_slug, [c.slug for c in await store.list_courses()])
        if not await store.instructors(course_slug):
            print(f"studybot: {course_slug} has no instructor yet; make one with /instructor first", file=sys.stderr)
            return EXIT_FAILED
        digest = await record_period(app.services, course_slug, app.services.clock.now())
        if digest is None:
            print("nothing to send: the last digest ends now", file=out)
            return EXIT_OK
        print(
            f"digest #{digest.id} of {course_slug} recorded ({len(digest.items)} questions); "
            "the running bot delivers it within a minute, or at its next start",
            file=out,
        )
    return EXIT_OK


def doctor_checks() -> tuple[Callable[[Settings, Store], Awaitable[list[str]]], ...]:
    """Per-platform checks for `studybot doctor`: each returns its report lines (✓ / ✗ / -); another platform
    adds its function here. Imported when asked for: each brings its platform's library."""
    from bot.discord_backend.doctor import check_discord
    from bot.telegram_backend.doctor import check_telegram

    return (check_telegram, check_discord)


async def cmd_doctor(settings: Settings, out: TextIO) -> int:
    """Every platform's checks; exit status 1 when any check failed.

    The checks quote the platforms' error descriptions, which may quote a URL with the token in it (a proxy's
    "Bad Gateway … /bot<token>/getMe"): every line is cleaned of secrets before it is printed.
    """
    failed = False
    redact = Redactor(settings.secret_values())
    async with open_app(settings) as app:
        for check in doctor_checks():
            for line in await check(settings, app.store):
                failed = failed or line.startswith("✗")
                print(redact(line), file=out)
    return EXIT_FAILED if failed else EXIT_OK


async def cmd_export(settings: Settings, course_slug: str, fmt: str, output: Path | None, out: TextIO) -> int:
    if output is not None and (problem := unwritable_output(output)) is not None:
        print(f"studybot: cannot write {output}: {problem}", file=sys.stderr)
        return EXIT_USAGE
    async with open_app(settings) as app:
        course = await app.store.get_course(course_slug)
        if course is None:
            return unknown_course(course_slug, [c.slug for c in await app.store.list_courses()])
        rows = await app.store.export_rows(course.slug)
    text = render_export(rows, fmt, course.title)
    if output is None:
        out.write(text)
    else:
        try:
            await asyncio.to_thread(output.write_text, text, encoding="utf-8")
        except OSError as error:
            print(f"studybot: cannot write {output}: {error.strerror}", file=sys.stderr)
            return EXIT_FAILED
        print(f"wrote {len(rows)} questions and comments to {output}", file=sys.stderr)
    return EXIT_OK


def unwritable_output(output: Path) -> str | None:
    """Why ``export -o`` cannot write ``output``, found before the database is opened, or None."""
    if output.is_dir():
        return "it is a folder; name a file in it"
    if not output.parent.exists():
        return f"the folder {output.parent} does not exist; create it first (mkdir -p {output.parent})"
    if not output.parent.is_dir():
        return f"{output.parent} is not a folder"
    return None

"""The ``studybot`` command line: the parser, and the entry point that hands a parsed command to
:mod:`bot.commands`.

Nothing heavy is imported here: ``studybot --help`` must not pay for pydantic, the database driver or a platform
library. The commands import what each one uses.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from bot.export import FORMATS
from bot.sources.publishing import PUBLISH_CHOICES


class _VersionAction(argparse.Action):
    """``--version``: the installed version, looked up only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print studybot's version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        print(f"studybot {installed_version()}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="studybot", description="Community bot for online-course study groups.")
    parser.add_argument(
        "--env-file", help="settings file read besides the environment (default: .env in this folder, if there)"
    )
    parser.add_argument("--version", action=_VersionAction)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the bot (the console study group when no platform token is set)")
    run.add_argument("--web", action="store_true", help="serve the web page too, on WEB_LISTEN")
    commands.add_parser(
        "web", help="serve the course's questions on a web page (WEB_LISTEN), with the platforms whose tokens are set"
    )

    lesson = commands.add_parser("lesson", help="import or list lessons")
    lesson_commands = lesson.add_subparsers(dest="lesson_command", required=True, metavar="ACTION")
    add = lesson_commands.add_parser(
        "add", help="import lesson files: Markdown (front matter), text, or course pages with their comments"
    )
    add.add_argument("--course", help="course slug for files whose header names none (default DEFAULT_COURSE)")
    add.add_argument("--title", help="course title when the course is new")
    add.add_argument(
        "--publish",
        choices=PUBLISH_CHOICES,
        default="latest",
        help="which new lessons are posted to the groups: the newest per course (default), all, or none"
        " (the rest go to the back catalogue, postable with /lesson)",
    )
    add.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    listing = lesson_commands.add_parser("list", help="list a course's lessons")
    listing.add_argument("course")

    digest = commands.add_parser("digest", help="print a course's digest")
    digest.add_argument("course")
    digest.add_argument("--since", help="start of the period (YYYY-MM-DD, UTC); default: end of the last digest")
    mode = digest.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="print only; do not record the period as sent")
    mode.add_argument("--send", action="store_true", help="send it to the instructors now, as the schedule would")

    commands.add_parser("schedule", help="list every course's next digest and the lessons waiting for release")

    export = commands.add_parser("export", help="export a course's questions and comments")
    export.add_argument("course")
    export.add_argument("--format", choices=FORMATS, default="md")
    export.add_argument("--output", "-o", type=Path, help="file to write (default: standard output)")

    commands.add_parser("doctor", help="check tokens, intents and permissions on every platform that is set")

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply pending schema migrations (SQLite or PostgreSQL)")
    copy = db_commands.add_parser(
        "copy",
        help="copy everything from one database to another, e.g. SQLite to PostgreSQL",
        description="Copy every row from SOURCE to the empty database TARGET (same schema version), then check "
        "that every table's row count and every question's like count match. URLs: sqlite:///path/to/studybot.db "
        "or postgresql://user:password@host:5432/name.",
    )
    copy.add_argument("source", help="database URL to copy from")
    copy.add_argument("target", help="database URL to copy into (must be empty)")
    return parser


def installed_version() -> str:
    """The version of the installed package (pyproject.toml's, as pip recorded it)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("studybot")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from bot.commands import run  # the commands and what they import, only once a command is known

    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())

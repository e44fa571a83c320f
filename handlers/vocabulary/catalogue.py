"""Every command studybot answers, written once: what it takes, who it is for, where it works.

Why one table: the command list used to be written four times by hand (the routers, /help's order, Telegram's
menus, Discord's slash-command table), and the copies drifted apart (``/help`` on Discord listed ``/start``,
which Discord never registered; help's order did not know ``/start``). Everything that lists commands is now
derived from :data:`COMMANDS`:

- the router refuses to register a command that is not here, and takes its help text and admin rule from here
  (:meth:`handlers.routing.Router.command`);
- ``/help`` lists the commands of the platform it is asked on, in this table's order (:mod:`handlers.features.help`);
- Telegram's menus per scope and language (:mod:`bot.telegram_backend.menus`) and Discord's slash commands with
  their localized descriptions (:mod:`bot.discord_backend.commands`) are built from it.

A new command is one :class:`Command` here, its ``help.<name>`` line (``/name args — what it does``) and an
``option.<name>.<argument>`` description per argument in each ``handlers/i18n/*.po``, and a handler registered
with ``@router.command("<name>")``. The tests check every entry routes, appears in help and in both platforms'
menus.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from handlers.i18n import SUPPORTED_LANGUAGES, Translator
from handlers.vocabulary.domain import Platform

ArgumentKind = Literal["text", "integer", "member", "choice"]
# What a platform may offer to complete an argument as it is typed (Discord's autocomplete).
Completion = Literal["course", "lesson"] | None


class Role(StrEnum):
    """Who a command is for. Members are everyone in a study group; admins are the chat's admins; instructors
    are the course's instructors (a platform knows no such role: the handler checks it)."""

    MEMBER = "member"
    ADMIN = "admin"
    INSTRUCTOR = "instructor"


class Place(StrEnum):
    GROUP = "group"  # a study group's chat (or a channel of a Discord server)
    PRIVATE = "private"  # a one-to-one chat with the bot


@dataclass(frozen=True, slots=True)
class Argument:
    """One argument, in the order the core parses them from the command's text (the last takes the rest)."""

    name: str
    kind: ArgumentKind = "text"
    required: bool = False
    choices: tuple[str, ...] = ()
    complete: Completion = None
    minimum: int | None = None
    maximum: int | None = None


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    arguments: tuple[Argument, ...] = ()
    roles: frozenset[Role] = frozenset({Role.MEMBER})
    places: frozenset[Place] = frozenset({Place.GROUP})
    # None: every platform; otherwise only these (``/start`` is Telegram's Start button, also typed in the console).
    platforms: frozenset[str] | None = None
    # The handler decides itself who may do what (``/setup``: anyone may look, admins change), so the router does
    # not refuse non-admins although the command is offered to admins only.
    checked_by_handler: bool = False

    @property
    def help_key(self) -> str:
        """The i18n key of the help line, ``/name args — description``."""
        return f"help.{self.name}"

    @property
    def admins_only(self) -> bool:
        """Offered to admins only (Telegram's administrators' menu, Discord's Manage Server default)."""
        return self.roles == frozenset({Role.ADMIN})

    @property
    def refuses_non_admins(self) -> bool:
        """The router answers "admins only" to anyone else before the handler runs."""
        return self.admins_only and not self.checked_by_handler

    def option_key(self, argument: Argument) -> str:
        return f"option.{self.name}.{argument.name}"

    def on(self, platform: str) -> bool:
        return self.platforms is None or platform in self.platforms

    def description(self, i18n: Translator, language: str) -> str:
        """The one-line description menus show: the help line without its ``/name args — `` usage part."""
        line = i18n(language, self.help_key)
        return line.split(" — ", 1)[-1] or self.name


MEMBERS = frozenset({Role.MEMBER})
ADMINS = frozenset({Role.ADMIN})
GROUP = frozenset({Place.GROUP})
ANYWHERE = frozenset({Place.GROUP, Place.PRIVATE})

# The order a newcomer reads them in (help, menus): what learners use first, configuration after.
COMMANDS: tuple[Command, ...] = (
    Command("ask", (Argument("text", required=True),)),
    Command("top", (Argument("count", "integer", minimum=1, maximum=25),)),
    Command("stats"),
    Command("help", places=ANYWHERE),
    Command("follow", (Argument("mode"),), places=ANYWHERE),
    Command(
        "answer",
        (Argument("question", "integer", required=True, minimum=1), Argument("text", required=True)),
        roles=frozenset({Role.INSTRUCTOR}),
        places=ANYWHERE,
    ),
    Command(
        "digest",
        (Argument("course", complete="course"),),
        roles=frozenset({Role.ADMIN, Role.INSTRUCTOR}),
        places=ANYWHERE,
    ),
    Command(
        "merge",
        (
            Argument("question", "integer", required=True, minimum=1),
            Argument("into", "integer", required=True, minimum=1),
        ),
        roles=frozenset({Role.ADMIN, Role.INSTRUCTOR}),
        places=ANYWHERE,
    ),
    Command(
        "split",
        (Argument("question", "integer", required=True, minimum=1),),
        roles=frozenset({Role.ADMIN, Role.INSTRUCTOR}),
        places=ANYWHERE,
    ),
    Command(
        "setup",
        (Argument("course", complete="course"), Argument("role", "choice", choices=("instructors",))),
        roles=ADMINS,
        checked_by_handler=True,
    ),
    Command("lesson", (Argument("lesson", complete="lesson"),), roles=ADMINS),
    Command(
        "web",
        (Argument("share", "choice", choices=("share", "share off")),),
        roles=frozenset({Role.ADMIN, Role.INSTRUCTOR}),
        places=ANYWHERE,
        checked_by_handler=True,
    ),
    Command("instructor", (Argument("member", "member"),), roles=ADMINS),
    Command("schedule", (Argument("cron", required=True), Argument("timezone")), roles=ADMINS),
    Command("likes", (Argument("emojis", required=True),), roles=ADMINS),
    Command("lang", (Argument("language", "choice", required=True, choices=SUPPORTED_LANGUAGES),), roles=ADMINS),
    Command("dupes", (Argument("mode", "choice", choices=("on", "quiet", "off")),), roles=ADMINS),
    Command("remind", (Argument("days"),), roles=ADMINS),
    Command("unfollow", roles=ADMINS),
    Command(
        "start",
        places=frozenset({Place.PRIVATE}),
        platforms=frozenset({Platform.TELEGRAM.value, Platform.CONSOLE.value}),
    ),
)
BY_NAME: dict[str, Command] = {command.name: command for command in COMMANDS}


def commands_on(platform: str, commands: Iterable[Command] = COMMANDS) -> tuple[Command, ...]:
    """The commands a platform offers, in the catalogue's order."""
    return tuple(command for command in commands if command.on(platform))

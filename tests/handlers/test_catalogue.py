"""The command catalogue is the one list: every entry is routed, has its texts in every language, and /help
lists exactly the commands of the platform it is asked on (Telegram's and Discord's menus are checked against
it in tests/telegram/test_telegram_menus.py and tests/discord/test_discord_commands.py)."""

from __future__ import annotations

import re

import pytest

from handlers.core import ROUTERS
from handlers.i18n import Translator
from handlers.routing import Router
from handlers.vocabulary.catalogue import BY_NAME, COMMANDS, Place, commands_on
from handlers.vocabulary.domain import Platform
from tests.scenarios.harness import ConsoleHarness
from tests.scenarios.stories import COURSE, prepare_course


@pytest.fixture(scope="module")
def i18n() -> Translator:
    return Translator.load("en")


def listed_in_help(text: str) -> list[str]:
    """The command names /help's answer lists, in its order."""
    return re.findall(r"(?m)^/([a-z_]+)", text)


def test_every_catalogue_command_is_routed_and_every_route_is_catalogued() -> None:
    routed = [name for router in ROUTERS for name in router.commands]
    assert sorted(routed) == sorted(BY_NAME)
    assert len(routed) == len(set(routed))


def test_a_command_missing_from_the_catalogue_cannot_be_registered() -> None:
    with pytest.raises(KeyError, match=r"not in handlers/vocabulary/catalogue\.py"):
        Router("test").command("frobnicate")


def test_every_command_has_a_help_line_and_option_descriptions_in_every_language(i18n: Translator) -> None:
    for language in i18n.languages:
        keys = set(i18n.keys(language))
        for command in COMMANDS:
            assert command.help_key in keys, (language, command.name)
            line = i18n(language, command.help_key)
            # Menus show what follows " — ": the line must have that form, its usage naming the command.
            usage, dash, description = line.partition(" — ")
            assert dash and description.strip() and usage.split()[0] == f"/{command.name}", (language, line)
            assert command.description(i18n, language) == description
            for argument in command.arguments:
                assert command.option_key(argument) in keys, (language, command.name, argument.name)


def test_catalogue_entries_are_well_formed() -> None:
    for command in COMMANDS:
        assert re.fullmatch(r"[a-z][a-z0-9_]{0,31}", command.name), command.name  # both platforms' rule
        assert command.roles and command.places
        names = [argument.name for argument in command.arguments]
        assert len(names) == len(set(names)), command.name
        required = [argument.required for argument in command.arguments]
        assert required == sorted(required, reverse=True), f"/{command.name}: optional arguments come last"
        for argument in command.arguments:
            assert (argument.kind == "choice") == bool(argument.choices), (command.name, argument.name)


async def test_help_on_the_console_lists_every_console_command_in_catalogue_order(console: ConsoleHarness) -> None:
    await prepare_course(console)
    await console.command("anna", f"/setup {COURSE}", admin=True)
    text = await console.command("bob", "/help")
    assert listed_in_help(text) == [c.name for c in commands_on(Platform.CONSOLE.value)]
    # Only the commands the router refuses to non-admins carry the mark (/setup lets anyone look).
    for command in commands_on(Platform.CONSOLE.value):
        line = next(line for line in text.splitlines() if line.startswith(f"/{command.name}"))
        assert line.endswith("(admins)") == command.refuses_non_admins, line


async def test_every_catalogue_command_answers_on_the_console(console: ConsoleHarness) -> None:
    """No catalogue command falls through to "There is no /… command"."""
    await prepare_course(console)
    await console.command("anna", f"/setup {COURSE}", admin=True)
    for command in commands_on(Platform.CONSOLE.value):
        private = Place.GROUP not in command.places
        reply = await console.command("anna", f"/{command.name}", admin=True, private=private)
        assert reply and "There is no /" not in reply, command.name

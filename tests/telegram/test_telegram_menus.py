"""Telegram's command menus, read back from the local Bot API server with getMyCommands, against the catalogue.

The test that would have caught the hand-written copies drifting apart: every command a menu offers is one
/help lists on Telegram, and every command /help lists on Telegram is in some menu.
"""

from __future__ import annotations

from telegram import (
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeDefault,
)

from bot.telegram_backend.menus import menu_names
from handlers.i18n import Translator
from handlers.vocabulary.catalogue import BY_NAME, Place, Role, commands_on
from handlers.vocabulary.domain import Platform
from tests.handlers.test_catalogue import listed_in_help
from tests.scenarios.stories import COURSE, prepare_course
from tests.telegram.harness import TelegramHarness

SCOPES = {
    "all_group_chats": BotCommandScopeAllGroupChats(),
    "all_chat_administrators": BotCommandScopeAllChatAdministrators(),
    "all_private_chats": BotCommandScopeAllPrivateChats(),
}


async def test_every_menu_in_every_language_is_the_catalogues(telegram: TelegramHarness) -> None:
    bot, i18n = telegram.backend.application.bot, Translator.load("en")
    for language in i18n.languages:
        code = None if language == i18n.default_language else language
        for name, scope in SCOPES.items():
            menu = await bot.get_my_commands(scope=scope, language_code=code)
            assert [c.command for c in menu] == list(menu_names(name)), (language, name)
            for entry in menu:
                assert entry.description == BY_NAME[entry.command].description(i18n, language)
    zh = await bot.get_my_commands(scope=SCOPES["all_private_chats"], language_code="zh")
    assert {c.command: c.description for c in zh}["answer"] == "讲师回答问题"
    assert await bot.get_my_commands(scope=BotCommandScopeDefault()) == ()  # no menu outside the three scopes


def test_menus_offer_each_command_to_whom_and_where_the_catalogue_says() -> None:
    members, admins, private = (set(menu_names(scope)) for scope in SCOPES)
    for command in commands_on(Platform.TELEGRAM.value):
        in_groups = Place.GROUP in command.places
        assert (command.name in members) == (in_groups and Role.MEMBER in command.roles), command.name
        assert (command.name in admins) == (in_groups and bool(command.roles & {Role.MEMBER, Role.ADMIN}))
        assert (command.name in private) == (Place.PRIVATE in command.places), command.name
    assert members <= admins  # an admin's menu replaces the members' one: it must not lose anything


async def test_help_on_telegram_lists_exactly_the_commands_of_the_menus(telegram: TelegramHarness) -> None:
    await prepare_course(telegram)
    await telegram.command("anna", f"/setup {COURSE}", admin=True)
    in_menus = {name for scope in SCOPES for name in menu_names(scope)}
    for private in (False, True):
        listed = listed_in_help(await telegram.command("bob", "/help", private=private))
        assert set(listed) == in_menus
        assert listed == [c.name for c in commands_on(Platform.TELEGRAM.value)]
    for index, name in enumerate(sorted(in_menus)):  # and each of them is answered, not "There is no /… command"
        if index % 10 == 9:  # the bot keeps each group to Telegram's 20 messages a minute: spread over groups
            await telegram.use_group(f"menus-{index}")
        private = name in menu_names("all_private_chats") and name not in menu_names("all_chat_administrators")
        reply = await telegram.command("anna", f"/{name}", admin=True, private=private)
        assert reply and "There is no /" not in reply, name

"""Telegram's command menus, derived from the core's catalogue (:mod:`handlers.vocabulary.catalogue`).

Telegram shows a chat the menu of the narrowest scope that has one: a group's administrators see the
``all_chat_administrators`` menu, other members the ``all_group_chats`` one, and a private chat with the bot
the ``all_private_chats`` one. Each menu is set once per language we have a catalog of (the default language
without a ``language_code``, so it is also what clients in any other language see).

Telegram has no notion of a course's instructors: their commands (``/answer``) are offered where they use them,
in the private chat with the bot.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from telegram import (
    Bot,
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
)

from handlers.i18n import Translator
from handlers.vocabulary.catalogue import Command, Place, Role, commands_on
from handlers.vocabulary.domain import Platform

logger = logging.getLogger(__name__)

DESCRIPTION_LIMIT = 256  # Telegram's limit for a BotCommand's description


@dataclass(frozen=True, slots=True)
class Menu:
    scope: Callable[[], BotCommandScope]
    offers: Callable[[Command], bool]

    def commands(self) -> tuple[Command, ...]:
        return tuple(command for command in commands_on(Platform.TELEGRAM.value) if self.offers(command))


MENUS: dict[str, Menu] = {
    BotCommandScope.ALL_GROUP_CHATS: Menu(
        BotCommandScopeAllGroupChats, lambda c: Place.GROUP in c.places and Role.MEMBER in c.roles
    ),
    BotCommandScope.ALL_CHAT_ADMINISTRATORS: Menu(
        BotCommandScopeAllChatAdministrators,
        lambda c: Place.GROUP in c.places and bool(c.roles & {Role.MEMBER, Role.ADMIN}),
    ),
    BotCommandScope.ALL_PRIVATE_CHATS: Menu(BotCommandScopeAllPrivateChats, lambda c: Place.PRIVATE in c.places),
}


def menu_names(scope: str) -> tuple[str, ...]:
    """The command names of one scope's menu, in the catalogue's order."""
    return tuple(command.name for command in MENUS[scope].commands())


def bot_commands(menu: Menu, i18n: Translator, language: str) -> list[BotCommand]:
    return [
        BotCommand(command.name, command.description(i18n, language)[:DESCRIPTION_LIMIT]) for command in menu.commands()
    ]


async def register_menus(bot: Bot, i18n: Translator) -> None:
    """Every scope's menu in every language (setMyCommands overwrites, so this is safe at every start)."""
    for language in i18n.languages:
        code = None if language == i18n.default_language else language
        for menu in MENUS.values():
            await bot.set_my_commands(bot_commands(menu, i18n, language), scope=menu.scope(), language_code=code)

"""Slash commands: every catalogue command Discord offers as a top-level ``app_commands`` command.

The table (:data:`COMMANDS`) is derived from the core's catalogue (:mod:`handlers.vocabulary.catalogue`): each command's
options in order, whether it is an admin's, whether it works in a private chat. An invocation's option values
are joined in that order into the ``args`` string the core parses, so ``/answer question:12 text:Because…``
reaches the core exactly as ``/answer 12 Because…`` does from a chat. Admin commands carry
``default_member_permissions`` (Manage Server) so Discord hides them from members; the core still checks the
invoker's permission at run time, since server admins may change who sees a command. Commands are guild-only
unless the catalogue says they work in a private chat (``/answer``, ``/digest``, ``/help``).

Descriptions are in the bot's default language, with the other languages as Discord localizations (a client
set to Chinese shows the Chinese ones): each text is a ``locale_str`` carrying its translations, which
:class:`Localizations`, the tree's translator, hands to discord.py when the commands are synced.

The tree is synced at start only when what Discord holds differs from the table: a bulk overwrite is rate
limited and makes clients reload their command lists.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import discord
from discord import app_commands

from handlers.i18n import Translator
from handlers.vocabulary.catalogue import Argument, Command, Completion, Place, commands_on
from handlers.vocabulary.domain import Platform

logger = logging.getLogger(__name__)

__all__ = ["BY_NAME", "COMMANDS", "CommandSpec", "Completion", "OptionSpec", "build_commands", "sync_if_changed"]

OptionSpec = Argument
DESCRIPTION_LIMIT = 100  # Discord's limit for command and option descriptions


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """A catalogue command as Discord offers it."""

    command: Command

    @property
    def name(self) -> str:
        return self.command.name

    @property
    def options(self) -> tuple[Argument, ...]:
        return self.command.arguments

    @property
    def admin(self) -> bool:
        return self.command.admins_only

    @property
    def in_private(self) -> bool:
        return Place.PRIVATE in self.command.places


COMMANDS: tuple[CommandSpec, ...] = tuple(CommandSpec(c) for c in commands_on(Platform.DISCORD.value))
BY_NAME = {spec.name: spec for spec in COMMANDS}
MANAGE_SERVER = discord.Permissions(manage_guild=True)

Invoke = Callable[[discord.Interaction, CommandSpec, dict[str, Any]], Awaitable[None]]
Complete = Callable[[discord.Interaction, Completion, str], Awaitable[list[str]]]


def args_string(spec: CommandSpec, values: dict[str, Any]) -> str:
    """The option values as the core's ``args``, in the table's order (members are passed as ``target``)."""
    parts = []
    for option in spec.options:
        value = values.get(option.name)
        if value is None or option.kind == "member":
            continue
        parts.append(str(value).strip())
    return " ".join(part for part in parts if part)


def options_from_text(spec: CommandSpec, args: str) -> dict[str, Any]:
    """The inverse of :func:`args_string` for the text options (the last one takes the rest): how a person's
    ``/answer 12 Because…`` is typed into Discord's option boxes. Used by tests and tools."""
    text_options = [o for o in spec.options if o.kind != "member"]
    values: dict[str, Any] = {}
    rest = args.strip()
    for index, option in enumerate(text_options):
        if not rest:
            break
        if index == len(text_options) - 1:
            value, rest = rest, ""
        else:
            value, _, rest = rest.partition(" ")
            rest = rest.strip()
        values[option.name] = int(value) if option.kind == "integer" and value.isdigit() else value
    return values


def _annotation(option: Argument) -> Any:
    base: Any
    if option.kind == "integer":
        base = app_commands.Range[int, option.minimum or 1, option.maximum or 2**53]
    elif option.kind == "member":
        base = discord.User
    elif option.kind == "choice":
        base = Literal[option.choices]
    else:
        base = str
    return base if option.required else base | None


# localized descriptions -----------------------------------------------------------------------------------
def discord_language(locale: discord.Locale) -> str:
    """Our language for a Discord locale (``zh-CN`` and ``zh-TW`` → ``zh``)."""
    return locale.value.split("-", 1)[0].lower()


def localized(i18n: Translator, text: Callable[[str], str]) -> app_commands.locale_str:
    """``text(language)`` in the default language, carrying the other languages' texts for the translator."""
    others = {language: text(language)[:DESCRIPTION_LIMIT] for language in i18n.languages}
    default = others.pop(i18n.default_language)
    return app_commands.locale_str(default, translations=others)


class Localizations(app_commands.Translator):
    """The tree's translator: reads the translations each ``locale_str`` of ours carries (see :func:`localized`)
    and says nothing for a language we have no catalog of, so Discord shows the default text there."""

    async def translate(
        self, string: app_commands.locale_str, locale: discord.Locale, context: app_commands.TranslationContextTypes
    ) -> str | None:
        translations: dict[str, str] = string.extras.get("translations") or {}
        return translations.get(discord_language(locale))


def build_commands(i18n: Translator, invoke: Invoke, complete: Complete) -> list[app_commands.Command[Any, ..., Any]]:
    """The app commands, each calling ``invoke(interaction, spec, values)``."""
    return [_command(spec, i18n, invoke, complete) for spec in COMMANDS]


def _command(
    spec: CommandSpec, i18n: Translator, invoke: Invoke, complete: Complete
) -> app_commands.Command[Any, ..., Any]:
    async def callback(interaction: discord.Interaction, **values: Any) -> None:
        await invoke(interaction, spec, values)

    command_spec = spec.command
    parameters = [
        inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=discord.Interaction)
    ]
    for option in spec.options:
        parameters.append(
            inspect.Parameter(
                option.name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=_annotation(option),
                default=inspect.Parameter.empty if option.required else None,
            )
        )
    callback.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    callback.__discord_app_commands_param_description__ = {  # type: ignore[attr-defined]
        option.name: localized(i18n, _lookup(i18n, command_spec.option_key(option))) for option in spec.options
    }
    callback.__name__ = callback.__qualname__ = f"cmd_{spec.name}"
    command: app_commands.Command[Any, ..., Any] = app_commands.Command(
        name=spec.name,
        description=localized(i18n, lambda language: command_spec.description(i18n, language)),
        callback=callback,
    )
    if spec.admin:
        command.default_permissions = MANAGE_SERVER
    if not spec.in_private:
        command.guild_only = True
    for option in spec.options:
        if option.complete is not None:
            command.autocomplete(option.name)(_completer(complete, option.complete))
    return command


def _lookup(i18n: Translator, key: str) -> Callable[[str], str]:
    return lambda language: i18n(language, key)


def _completer(
    complete: Complete, kind: Completion
) -> Callable[[discord.Interaction, str], Coroutine[Any, Any, list[app_commands.Choice[str]]]]:
    async def autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        values = await complete(interaction, kind, current)
        return [app_commands.Choice(name=value[:100], value=value[:100]) for value in values[:25]]

    return autocomplete


# syncing --------------------------------------------------------------------------------------------------
def _norm_option(option: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": int(option.get("type", 3)),
        "name": option.get("name"),
        "description": option.get("description") or "",
        "required": bool(option.get("required")),
        "autocomplete": bool(option.get("autocomplete")),
        "choices": [(c.get("name"), c.get("value")) for c in option.get("choices") or []],
        "min_value": option.get("min_value"),
        "max_value": option.get("max_value"),
        "description_localizations": option.get("description_localizations") or {},
        "options": [_norm_option(o) for o in option.get("options") or []],
    }


def normalise(command: dict[str, Any]) -> dict[str, Any]:
    """The part of a command definition we set, in a form both sides agree on (Discord adds ids, versions…)."""
    permissions = command.get("default_member_permissions")
    contexts = command.get("contexts")
    guild_only = contexts == [0] if contexts else command.get("dm_permission") is False
    return {
        "name": command.get("name"),
        "type": int(command.get("type") or 1),
        "description": command.get("description") or "",
        "default_member_permissions": str(permissions) if permissions is not None else None,
        "guild_only": guild_only,
        "description_localizations": command.get("description_localizations") or {},
        "options": [_norm_option(o) for o in command.get("options") or []],
    }


def needs_sync(local: Sequence[dict[str, Any]], remote: Sequence[dict[str, Any]]) -> bool:
    key = lambda c: (c["type"], c["name"])  # noqa: E731
    return sorted(map(normalise, local), key=key) != sorted(map(normalise, remote), key=key)


async def sync_if_changed(tree: app_commands.CommandTree[Any], client: discord.Client) -> bool:
    """Overwrite the global commands only when they differ from ours; True when a sync was made.

    Our commands' descriptions carry their translations (:func:`localized`); the tree needs
    :class:`Localizations` as its translator to send them, so it gets one here when it has none.
    """
    if tree.translator is None:
        await tree.set_translator(Localizations())
    translator = tree.translator
    assert translator is not None
    local = [await command.get_translated_payload(tree, translator) for command in tree.get_commands()]
    assert client.application_id is not None  # known after login
    remote = await registered_commands(client)
    if not needs_sync(local, remote):
        logger.info("discord: %d slash commands already up to date", len(local))
        return False
    await tree.sync()
    logger.info("discord: synced %d slash commands", len(local))
    return True


async def registered_commands(client: discord.Client) -> list[dict[str, Any]]:
    """The global commands Discord holds, with every language's descriptions (Discord leaves them out unless
    asked with ``with_localizations``; discord.py's ``get_global_commands`` does not ask)."""
    assert client.application_id is not None  # known after login
    route = discord.http.Route("GET", "/applications/{application_id}/commands", application_id=client.application_id)
    found = await client.http.request(route, params={"with_localizations": "true"})
    return [dict(command) for command in found]

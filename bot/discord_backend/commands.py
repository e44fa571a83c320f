"""Slash commands: every core command as a top-level ``app_commands`` command, built from one table.

The table (:data:`COMMANDS`) says each command's options in order; an invocation's option values are joined in
that order into the ``args`` string the core parses, so ``/answer question:12 text:Because…`` reaches the core
exactly as ``/answer 12 Because…`` does from a chat. Admin commands carry ``default_member_permissions``
(Manage Server) so Discord hides them from members; the core still checks the invoker's permission at run time,
since server admins may change who sees a command. Commands are guild-only except the ones an instructor uses
in a private chat with the bot (``/answer``, ``/digest``) and ``/help``.

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

logger = logging.getLogger(__name__)

OptionKind = Literal["text", "integer", "member", "language", "role", "dupes"]
Completion = Literal["course", "lesson"] | None


@dataclass(frozen=True, slots=True)
class OptionSpec:
    name: str
    kind: OptionKind
    required: bool = False
    complete: Completion = None
    minimum: int | None = None
    maximum: int | None = None


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    options: tuple[OptionSpec, ...] = ()
    admin: bool = False
    in_private: bool = False


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("ask", (OptionSpec("text", "text", required=True),)),
    CommandSpec("top", (OptionSpec("count", "integer", minimum=1, maximum=25),)),
    CommandSpec("stats"),
    CommandSpec("help", in_private=True),
    CommandSpec(
        "answer",
        (OptionSpec("question", "integer", required=True, minimum=1), OptionSpec("text", "text", required=True)),
        in_private=True,
    ),
    CommandSpec("digest", (OptionSpec("course", "text", complete="course"),), in_private=True),
    CommandSpec("setup", (OptionSpec("course", "text", complete="course"), OptionSpec("role", "role")), admin=True),
    CommandSpec("lesson", (OptionSpec("lesson", "text", complete="lesson"),), admin=True),
    CommandSpec("instructor", (OptionSpec("member", "member"),), admin=True),
    CommandSpec("schedule", (OptionSpec("cron", "text", required=True), OptionSpec("timezone", "text")), admin=True),
    CommandSpec("likes", (OptionSpec("emojis", "text", required=True),), admin=True),
    CommandSpec("lang", (OptionSpec("language", "language", required=True),), admin=True),
    CommandSpec("unfollow", admin=True),
    CommandSpec("dupes", (OptionSpec("mode", "dupes"),), admin=True),
    CommandSpec(
        "merge",
        (
            OptionSpec("question", "integer", required=True, minimum=1),
            OptionSpec("into", "integer", required=True, minimum=1),
        ),
        in_private=True,
    ),
    CommandSpec("split", (OptionSpec("question", "integer", required=True, minimum=1),), in_private=True),
)
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


def _annotation(option: OptionSpec) -> Any:
    base: Any
    if option.kind == "integer":
        base = app_commands.Range[int, option.minimum or 1, option.maximum or 2**53]
    elif option.kind == "member":
        base = discord.User
    elif option.kind == "language":
        base = Literal["zh", "en"]
    elif option.kind == "role":
        base = Literal["instructors"]
    elif option.kind == "dupes":
        base = Literal["on", "quiet", "off"]
    else:
        base = str
    return base if option.required else base | None


def _describe(i18n: Translator, key: str, fallback: str) -> str:
    text = i18n(i18n.default_language, key)
    text = text.split(" — ", 1)[-1] if text != key else fallback
    return (text or fallback)[:100]


def build_commands(i18n: Translator, invoke: Invoke, complete: Complete) -> list[app_commands.Command[Any, ..., Any]]:
    """The app commands, each calling ``invoke(interaction, spec, values)``."""
    return [_command(spec, i18n, invoke, complete) for spec in COMMANDS]


def _command(
    spec: CommandSpec, i18n: Translator, invoke: Invoke, complete: Complete
) -> app_commands.Command[Any, ..., Any]:
    async def callback(interaction: discord.Interaction, **values: Any) -> None:
        await invoke(interaction, spec, values)

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
        option.name: _describe(i18n, f"discord.option_{spec.name}_{option.name}", option.name)
        for option in spec.options
    }
    callback.__name__ = callback.__qualname__ = f"cmd_{spec.name}"
    command: app_commands.Command[Any, ..., Any] = app_commands.Command(
        name=spec.name,
        description=_describe(i18n, f"help.{spec.name}", spec.name),
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
        "options": [_norm_option(o) for o in command.get("options") or []],
    }


def needs_sync(local: Sequence[dict[str, Any]], remote: Sequence[dict[str, Any]]) -> bool:
    key = lambda c: (c["type"], c["name"])  # noqa: E731
    return sorted(map(normalise, local), key=key) != sorted(map(normalise, remote), key=key)


async def sync_if_changed(tree: app_commands.CommandTree[Any], client: discord.Client) -> bool:
    """Overwrite the global commands only when they differ from ours; True when a sync was made."""
    local = [command.to_dict(tree) for command in tree.get_commands()]
    assert client.application_id is not None  # known after login
    remote = await client.http.get_global_commands(client.application_id)
    if not needs_sync(local, [dict(command) for command in remote]):
        logger.info("discord: %d slash commands already up to date", len(local))
        return False
    await tree.sync()
    logger.info("discord: synced %d slash commands", len(local))
    return True

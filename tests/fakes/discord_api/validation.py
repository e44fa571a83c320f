"""Checks on what a client sends ("Message Resource" limits, "Application Commands" naming), answered with
Discord's form errors: emoji, embeds, thread names, query numbers, command definitions.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.fakes.discord_api.constants import (
    _COMMAND_NAME_RE,
    _CUSTOM_EMOJI_RE,
    MAX_AUTHOR_NAME,
    MAX_EMBED_DESCRIPTION,
    MAX_EMBED_FIELDS,
    MAX_EMBED_TITLE,
    MAX_EMBED_TOTAL,
    MAX_EMBEDS,
    MAX_FIELD_NAME,
    MAX_FIELD_VALUE,
    MAX_FOOTER_TEXT,
    Json,
)
from tests.fakes.discord_api.model import _field_error, _invalid_form, _merge


def _parse_emoji(emoji: str | Json) -> tuple[str, Json]:
    """Key + emoji object: unicode ``{"id": None, "name": "👍"}`` or custom ``name:id``."""
    if isinstance(emoji, dict):
        if emoji.get("id"):
            return (
                f"{emoji['name']}:{emoji['id']}",
                {"id": str(emoji["id"]), "name": emoji["name"], "animated": bool(emoji.get("animated"))},
            )
        return str(emoji["name"]), {"id": None, "name": emoji["name"]}
    text = emoji.strip("<>")
    match = _CUSTOM_EMOJI_RE.match(text)
    if match:
        return f"{match[1]}:{match[2]}", {"id": match[2], "name": match[1], "animated": text.startswith("a:")}
    return text, {"id": None, "name": text}


def _normalise_embed(embed: Json) -> Json:
    out = dict(embed)
    out.setdefault("type", "rich")
    return out


def _embed_text_length(embed: Json) -> int:
    fields = embed.get("fields") or []
    return (
        len(embed.get("title") or "")
        + len(embed.get("description") or "")
        + sum(len(f.get("name") or "") + len(f.get("value") or "") for f in fields)
        + len((embed.get("footer") or {}).get("text") or "")
        + len((embed.get("author") or {}).get("name") or "")
    )


def _validate_embeds(embeds: Any) -> Json:
    """Embed limits from "Message Resource" > Embed Limits, reported as nested 50035 errors."""
    errors: Json = {}
    if not isinstance(embeds, list):
        return _field_error(["embeds"], "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
    if len(embeds) > MAX_EMBEDS:
        _merge(errors, _field_error(["embeds"], "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_EMBEDS} or fewer in length."))
    limits = (("title", MAX_EMBED_TITLE), ("description", MAX_EMBED_DESCRIPTION))
    for i, embed in enumerate(embeds):
        for key, limit in limits:
            if len(embed.get(key) or "") > limit:
                _merge(
                    errors,
                    _field_error(["embeds", i, key], "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length."),
                )
        footer = (embed.get("footer") or {}).get("text") or ""
        if len(footer) > MAX_FOOTER_TEXT:
            _merge(
                errors,
                _field_error(
                    ["embeds", i, "footer", "text"],
                    "BASE_TYPE_MAX_LENGTH",
                    f"Must be {MAX_FOOTER_TEXT} or fewer in length.",
                ),
            )
        author = (embed.get("author") or {}).get("name") or ""
        if len(author) > MAX_AUTHOR_NAME:
            _merge(
                errors,
                _field_error(
                    ["embeds", i, "author", "name"],
                    "BASE_TYPE_MAX_LENGTH",
                    f"Must be {MAX_AUTHOR_NAME} or fewer in length.",
                ),
            )
        fields = embed.get("fields") or []
        if len(fields) > MAX_EMBED_FIELDS:
            _merge(
                errors,
                _field_error(
                    ["embeds", i, "fields"], "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_EMBED_FIELDS} or fewer in length."
                ),
            )
        for j, fld in enumerate(fields):
            for key, limit in (("name", MAX_FIELD_NAME), ("value", MAX_FIELD_VALUE)):
                text = fld.get(key)
                if not text:
                    _merge(
                        errors,
                        _field_error(["embeds", i, "fields", j, key], "BASE_TYPE_REQUIRED", "This field is required"),
                    )
                elif len(text) > limit:
                    _merge(
                        errors,
                        _field_error(
                            ["embeds", i, "fields", j, key],
                            "BASE_TYPE_MAX_LENGTH",
                            f"Must be {limit} or fewer in length.",
                        ),
                    )
    if not errors and sum(_embed_text_length(e) for e in embeds) > MAX_EMBED_TOTAL:
        _merge(
            errors,
            _field_error(
                ["embeds"], "MAX_EMBED_SIZE_EXCEEDED", f"Embed size exceeds maximum size of {MAX_EMBED_TOTAL}"
            ),
        )
    return errors


def _check_thread_name(body: Json) -> str:
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise _invalid_form(_field_error(["name"], "BASE_TYPE_REQUIRED", "This field is required"))
    if len(name) > 100:
        raise _invalid_form(_field_error(["name"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."))
    return name


def _query_int(request: web.Request, key: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(key)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _invalid_form(_field_error([key], "NUMBER_TYPE_COERCE", f'Value "{raw}" is not int.')) from None
    if value > high:
        raise _invalid_form(
            _field_error([key], "NUMBER_TYPE_MAX", f"int value should be less than or equal to {high}.")
        )
    if value < low:
        raise _invalid_form(
            _field_error([key], "NUMBER_TYPE_MIN", f"int value should be greater than or equal to {low}.")
        )
    return value


def _find_option(defs: list[Json], name: str, otype: int) -> Json:
    for d in defs:
        if d["name"] == name and d["type"] == otype:
            return d
    raise ValueError(f"no option {name!r} of type {otype}; defined: {[d['name'] for d in defs]}")


_COMMAND_DEFAULTS: Json = {
    "type": 1,
    "description": "",
    "options": [],
    "default_member_permissions": None,
    "nsfw": False,
    "name_localizations": None,
    "description_localizations": None,
}


def _normalise_command(raw: Json) -> Json:
    """The comparable part of a command definition (server-managed fields dropped)."""
    norm = {k: raw[k] if raw.get(k) is not None else v for k, v in _COMMAND_DEFAULTS.items()}
    norm["name"] = raw["name"]
    norm["options"] = list(raw.get("options") or [])
    for key in ("contexts", "integration_types", "dm_permission"):
        if raw.get(key) is not None:
            norm[key] = raw[key]
    if norm["default_member_permissions"] is not None:
        norm["default_member_permissions"] = str(norm["default_member_permissions"])
    return norm


def _validate_commands(commands: list[Any]) -> None:
    errors: Json = {}
    seen: set[tuple[str, int]] = set()
    for i, cmd in enumerate(commands):
        if not isinstance(cmd, dict):
            _merge(errors, _field_error([i], "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"))
            continue
        name = cmd.get("name")
        ctype = int(cmd.get("type") or 1)
        if not isinstance(name, str) or not _COMMAND_NAME_RE.match(name) or (ctype == 1 and name != name.lower()):
            _merge(errors, _field_error([i, "name"], "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"))
        elif (name, ctype) in seen:
            _merge(
                errors,
                _field_error(
                    [i, "name"], "APPLICATION_COMMANDS_DUPLICATE_NAME", "Application command names must be unique"
                ),
            )
        else:
            seen.add((name, ctype))
        description = cmd.get("description") or ""
        if ctype == 1 and not 1 <= len(description) <= 100:
            _merge(
                errors, _field_error([i, "description"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
            )
        if len(cmd.get("options") or []) > 25:
            _merge(errors, _field_error([i, "options"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."))
    if len(commands) > 100:
        _merge(errors, _field_error([], "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length."))
    if errors:
        raise _invalid_form(errors)

"""Discord's slash commands, read back from the local Discord server, against the core's catalogue: names,
options, who sees them, where they work, and their descriptions in every language we have a catalog of.

The test that would have caught the hand-written copies drifting apart: /help on Discord lists exactly the
commands Discord registered (it used to list /start, which Discord never had).
"""

from __future__ import annotations

import functools
from typing import Any

from bot.config import Settings
from bot.discord_backend.commands import registered_commands
from handlers.i18n import Translator
from handlers.vocabulary.catalogue import Place, commands_on
from handlers.vocabulary.domain import LessonDraft, Platform
from tests.clock import TestClock
from tests.discord.harness import DiscordHarness
from tests.handlers.test_catalogue import listed_in_help

COURSE = "ai-systems"
MANAGE_GUILD = "32"
# Discord's locales for the languages we have a catalog of.
LOCALES = {"zh": ("zh-CN", "zh-TW"), "en": ("en-US", "en-GB")}


def localizations(i18n: Translator, text: Any) -> dict[str, str]:
    """What Discord should hold for a text: every other language than the default, under each of its locales."""
    return {
        locale: text(language)
        for language in i18n.languages
        if language != i18n.default_language
        for locale in LOCALES[language]
    }


async def test_registered_commands_are_the_catalogues_with_localized_descriptions(
    settings: Settings, clock: TestClock
) -> None:
    for default_language in ("en", "zh"):
        i18n = Translator.load(default_language)
        async with DiscordHarness.server(clock) as h:
            async with h.running(settings.model_copy(update={"default_language": default_language})) as backend:
                assert backend.client is not None
                # Read back over Discord's API, as the sync compares them (with every language's descriptions).
                registered = {c["name"]: c for c in await registered_commands(backend.client)}
                assert registered == {c["name"]: c for c in h.dc.commands()}
            catalogue = commands_on(Platform.DISCORD.value)
            assert sorted(registered) == sorted(c.name for c in catalogue)
            for command in catalogue:
                stored = registered[command.name]
                assert stored["description"] == command.description(i18n, default_language)
                assert stored["description_localizations"] == localizations(
                    i18n, functools.partial(command.description, i18n)
                )
                assert stored["default_member_permissions"] == (MANAGE_GUILD if command.admins_only else None)
                assert stored.get("dm_permission", True) == (Place.PRIVATE in command.places), command.name
                options = stored["options"]
                assert [o["name"] for o in options] == [a.name for a in command.arguments]
                for option, argument in zip(options, command.arguments, strict=True):
                    key = command.option_key(argument)
                    assert option["description"] == i18n(default_language, key)
                    assert option["description_localizations"] == localizations(
                        i18n, lambda language, t=i18n, k=key: t(language, k)
                    )
                    assert bool(option.get("required")) == argument.required
                    assert [c["value"] for c in option.get("choices") or []] == list(argument.choices)
            answer = registered["answer"]["description_localizations"]
            assert answer == (
                {"zh-CN": "讲师回答问题", "zh-TW": "讲师回答问题"}
                if default_language == "en"
                else {"en-US": "an instructor answers", "en-GB": "an instructor answers"}
            )


async def test_help_on_discord_lists_exactly_the_registered_commands(discord_bot: DiscordHarness) -> None:
    h = discord_bot
    await h.add_course(COURSE, "AI Systems in Practice")
    await h.add_lesson(LessonDraft(COURSE, "intro", "Why learn AI systems", "Welcome.", "https://example.com/0", 0))
    assert "now follows" in await h.command("anna", f"/setup {COURSE}", admin=True)
    registered = [c["name"] for c in h.dc.commands()]
    for private in (False, True):
        listed = listed_in_help(await h.command("bob", "/help", private=private))
        assert sorted(listed) == sorted(registered)
        assert listed == [c.name for c in commands_on(Platform.DISCORD.value)]
    assert "start" not in listed  # Telegram's Start button has no Discord counterpart

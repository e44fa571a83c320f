"""The one translation layer: gettext ``.po`` catalogs, one per language, read with Babel.

Message ids are stable keys (``setup.done``) rather than English sentences, so that rewording the English text
never orphans the Chinese one. Catalogs are read once when the :class:`Translator` is built and passed to
whoever needs it; there is no module-level instance.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Iterable
from importlib import resources
from typing import Any

logger = logging.getLogger(__name__)

SUPPORTED_LANGUAGES: tuple[str, ...] = ("zh", "en")
FALLBACK_LANGUAGE = "en"


class Translator:
    """Looks up a key in a language's catalog and fills in named ``{placeholders}``."""

    def __init__(self, catalogs: dict[str, dict[str, str]], default_language: str = FALLBACK_LANGUAGE) -> None:
        if default_language not in catalogs:
            raise ValueError(f"no catalog for default language {default_language!r}")
        self._catalogs = catalogs
        self.default_language = default_language

    @classmethod
    def load(cls, default_language: str = FALLBACK_LANGUAGE) -> Translator:
        """Read the catalogs. Babel's reader is imported here, not with the module: with the dates it brings
        (and the machine's time zone it reads) that is about 50 ms, which the commands that import the core but
        say nothing translated (``studybot lesson list``) should not pay."""
        from babel.messages.pofile import read_po

        catalogs: dict[str, dict[str, str]] = {}
        folder = resources.files(__package__)
        for language in SUPPORTED_LANGUAGES:
            with folder.joinpath(f"{language}.po").open("rb") as fh:
                catalog = read_po(fh, locale=language)
            catalogs[language] = {
                str(message.id): str(message.string)
                for message in catalog
                if message.id and isinstance(message.string, str) and message.string
            }
        return cls(catalogs, default_language)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self._catalogs)

    def keys(self, language: str) -> Iterable[str]:
        return self._catalogs[language].keys()

    def normalise(self, language: str | None) -> str:
        """A supported language for ``language`` (``zh-CN`` → ``zh``), else the default."""
        if language:
            short = language.lower().replace("_", "-").split("-", 1)[0]
            if short in self._catalogs:
                return short
        return self.default_language

    def __call__(self, language: str | None, key: str, /, **params: Any) -> str:
        lang = self.normalise(language)
        template = self._catalogs[lang].get(key)
        if template is None:
            template = self._catalogs[FALLBACK_LANGUAGE].get(key)
        if template is None:
            logger.error("missing translation key %s", key)
            return key
        try:
            return template.format(**params) if params else template
        except (KeyError, IndexError, ValueError):
            logger.exception("bad placeholders in %s/%s", lang, key)
            return template


def placeholders(template: str) -> set[str]:
    """The named fields of a template, used by tests to check that both languages take the same ones."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}

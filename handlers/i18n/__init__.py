"""The one translation layer: gettext ``.po`` catalogs, one per language, read with Babel.

Message ids are stable keys (``setup.done``) rather than English sentences, so that rewording the English text
never orphans the Chinese one. Catalogs are read once when the :class:`Translator` is built and passed to
whoever needs it; there is no module-level instance.

A count's noun follows the count where a language inflects it. A placeholder written
``{count:# question|# questions}`` is filled with the form for the count's plural category in CLDR's rules for
the language (Babel's): the first form for "one", the last for every other, ``#`` standing for the number ("1
question", "2 questions"). gettext's own plurals (``msgid_plural``) take one number per message, and a message
such as /stats counts seven things. Chinese does not inflect, so its templates keep plain ``{count}``.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Callable, Iterable
from importlib import resources
from typing import Any

logger = logging.getLogger(__name__)

SUPPORTED_LANGUAGES: tuple[str, ...] = ("zh", "en")
FALLBACK_LANGUAGE = "en"
FORMS = "|"  # separates a placeholder's plural forms: {count:# question|# questions}
NUMBER = "#"  # where the number goes in a plural form


class _Filler(string.Formatter):
    """``str.format`` with plural forms (see the module's docstring) for templates that have them."""

    def __init__(self, category: Callable[[int], str]) -> None:
        self._category = category

    def format_field(self, value: Any, format_spec: str) -> str:
        if FORMS not in format_spec:
            return str(super().format_field(value, format_spec))
        forms = format_spec.split(FORMS)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"plural forms need a whole number, not {value!r}")
        form = forms[0] if self._category(value) == "one" else forms[-1]
        return form.replace(NUMBER, str(value))


class Translator:
    """Looks up a key in a language's catalog and fills in named ``{placeholders}``."""

    def __init__(self, catalogs: dict[str, dict[str, str]], default_language: str = FALLBACK_LANGUAGE) -> None:
        if default_language not in catalogs:
            raise ValueError(f"no catalog for default language {default_language!r}")
        self._catalogs = catalogs
        self.default_language = default_language
        self._fillers: dict[str, _Filler] = {}

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
            if not params:
                return template
            if FORMS in template:
                return self._filler(lang).format(template, **params)
            return template.format(**params)
        except (KeyError, IndexError, ValueError):
            logger.exception("bad placeholders in %s/%s", lang, key)
            return template

    def _filler(self, language: str) -> _Filler:
        """The formatter with ``language``'s plural rule, made at its first plural (Babel's locale data is read
        then, not when the catalogs are)."""
        filler = self._fillers.get(language)
        if filler is None:
            from babel import Locale

            filler = self._fillers[language] = _Filler(Locale.parse(language).plural_form)
        return filler


def placeholders(template: str) -> set[str]:
    """The named fields of a template, used by tests to check that both languages take the same ones."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}

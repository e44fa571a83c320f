"""Secrets out of everything studybot prints or logs: tokens and the webhook secret become ``***``.

The Bot API carries the token in every URL, so any library that logs a URL (python-telegram-bot's "Set Bot API
URL" at DEBUG, httpx's requests) or an error that quotes one (a proxy's "Bad Gateway … /bot<token>/getMe")
would print it. Rather than trusting every logger, every line is cleaned where it leaves: one filter on the
root logger's handlers (:func:`install`), which sees the records of third-party loggers too, and
:class:`Redactor` for what the command line prints itself (``studybot doctor``'s reports, start-up errors).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import quote

MASK = "***"


class Redactor:
    """Replaces each secret, as written or URL-encoded, with :data:`MASK`.

    A Telegram token is ``<bot id>:<secret>``: the part after the colon is masked on its own too, since it is
    the secret part and may appear without the id. The bot id alone is public (it is the bot's user id).
    """

    def __init__(self, secrets: Iterable[str | None]) -> None:
        variants: set[str] = set()
        for secret in secrets:
            if not secret:
                continue
            forms = [secret]
            _, colon, tail = secret.partition(":")
            if colon and tail:
                forms.append(tail)
            for form in forms:
                variants.update((form, quote(form, safe="")))
        # Longest first, so a whole token is masked as one rather than leaving its id in front of the mask.
        alternatives = sorted(variants, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, alternatives))) if alternatives else None

    def __call__(self, text: str) -> str:
        return text if self._pattern is None else self._pattern.sub(MASK, text)


class RedactSecrets(logging.Filter):
    """Masks secrets in a record's message, exception and stack text before any handler formats it."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__("")
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: the handler reports it, with nothing formatted to leak
            return True
        record.msg, record.args = self.redactor(message), None
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when it is set: format the traceback once here, cleaned.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor(record.stack_info)
        return True


def install(redactor: Redactor, logger: logging.Logger | None = None) -> RedactSecrets:
    """Put one :class:`RedactSecrets` on each handler of ``logger`` (the root logger by default).

    On the handlers, not the logger: a logger's filters see only records logged on that very logger, a
    handler's see every record that reaches it, including those propagated from ``telegram``, ``httpx``,
    ``discord`` and ``aiohttp`` at any level.
    """
    target = logger or logging.getLogger()
    guard = RedactSecrets(redactor)
    for handler in target.handlers:
        handler.addFilter(guard)
    return guard

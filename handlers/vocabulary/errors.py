"""Domain errors. Each carries an i18n key so the router can answer in the group's language."""

from __future__ import annotations

from typing import Any


class StudybotError(Exception):
    """An error a user caused and can fix; ``key`` names the translated explanation."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


class UsageError(StudybotError):
    """Bad or missing arguments."""


class NotPermitted(StudybotError):
    """The actor may not do this here."""


class DeliveryError(Exception):
    """A backend could not deliver an action. Subclasses tell the core what to do about it."""


class ChatUnavailable(DeliveryError):
    """The bot was removed from the chat or may no longer post there: the group is marked inactive."""


class RecipientUnreachable(DeliveryError):
    """A private message could not be delivered (the user never opened a chat with the bot, or closed DMs)."""


class TransientDeliveryError(DeliveryError):
    """Network trouble or flood control that outlasted the backend's retries; the work stays pending."""


class MissingPermissions(DeliveryError):
    """The bot is still in the chat but lacks a permission to post there (Discord's 403 Missing Permissions).

    Unlike :class:`ChatUnavailable` the group stays active: it is marked as needing an admin's attention and
    the next lesson is tried there again.
    """


class CronError(ValueError):
    """A crontab expression the schedule cannot take, said as parts the core can translate: ``problem`` is one
    of :data:`CRON_PROBLEMS`, ``field`` one of :data:`CRON_FIELDS` (or None) and ``value`` the text at fault.
    Its message stays a plain English reason for logs and for callers that only need a ValueError."""

    def __init__(self, message: str, problem: str, field: str | None = None, value: str = "") -> None:
        super().__init__(message)
        self.problem = problem
        self.field = field
        self.value = value


CRON_PROBLEMS = ("field", "backwards", "both_days", "never", "count")
CRON_FIELDS = ("minute", "hour", "day", "month", "weekday")

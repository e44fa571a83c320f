"""The narrow ports a platform backend may be given, besides the dispatch it sends core events to.

Why apart from :mod:`handlers.ports`: these are not what the core's handlers need but what an adapter needs
from the house, and each is as small as its one caller. A backend is never handed the core's ``Services``
(an import-linter contract holds that): what it learns it learns through these reads, and everything it
changes goes through core events (a message deleted while the bot was away is a
:class:`~handlers.vocabulary.events.MessageDeleted` like any other), except the one write below whose rule lives in the
store itself.

The SQLite store implements all of them structurally; bot/'s wiring passes it in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import Enum
from typing import Protocol

from handlers.vocabulary.domain import (
    ChatRef,
    Course,
    Group,
    Lesson,
    LessonPost,
    Member,
    MessageRef,
    Question,
    ReactionFix,
)


class CourseCatalog(Protocol):
    """What a command's option box offers while a member types (Discord's autocomplete): courses, and the
    lessons of the course a chat follows."""

    async def list_courses(self) -> list[Course]: ...
    async def get_group(self, chat: ChatRef) -> Group | None: ...
    async def list_lessons(self, course_slug: str) -> list[Lesson]: ...


class CatchUpStore(Protocol):
    """What a backend whose platform does not replay missed events reads at start to catch up after downtime,
    and the reconciliation of a post's likes with what the platform reports now."""

    async def recent_lesson_posts(self, platform: str, since: datetime) -> list[LessonPost]:
        """Lesson posts sent on ``platform`` at or after ``since``, oldest first: where members may have written
        while the bot was offline."""
        ...

    async def last_message_id(self, chat: ChatRef) -> str | None:
        """The newest message id kept in ``chat`` (in its thread when ``chat.thread_id`` is set): where reading a
        chat's history back starts."""
        ...

    async def recent_questions(self, platform: str, since: datetime) -> list[Question]:
        """Questions and comments on ``platform`` created at or after ``since`` that still have their message."""
        ...

    async def reconcile_reactions(
        self, ref: MessageRef, reactions: Sequence[tuple[Member, str]], at: datetime
    ) -> ReactionFix | None:
        """Make the kept reactions of the post at ``ref`` exactly ``reactions`` (members' only: the backend has
        left bots out), under the store's one like rule, in one transaction; None when ``ref`` is not a post."""
        ...


class UpdateDelivery(Enum):
    """What a webhook worker learns when it records an update (:meth:`UpdateLog.begin_update`)."""

    FIRST = "first"  # this worker handles it now
    HANDLED = "handled"  # handled before: answer 200 and do nothing
    IN_PROGRESS = "in progress"  # another worker began it and may still be at it: let the platform retry later


class UpdateLog(Protocol):
    """Webhook updates by id, shared by every worker process on the database, so that an update the platform
    delivers again (its answer timed out) is handled once. The backend gives its bot's id."""

    async def begin_update(self, bot_id: str, update_id: int, now: datetime, stale_after: timedelta) -> UpdateDelivery:
        """Record the update as begun by this worker unless it was handled, or begun by another less than
        ``stale_after`` ago (a worker that died mid-update is taken over after that)."""
        ...

    async def finish_update(self, bot_id: str, update_id: int, now: datetime) -> None:
        """The update's effect is committed: a redelivery is answered without handling it again."""
        ...

    async def forget_updates(self, before: datetime) -> None:
        """Drop what was received before ``before``, once the platform no longer redelivers it."""
        ...

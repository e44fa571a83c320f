"""What the core needs to tell people (issue 16): who follows answers, each course's reminder setting and the
questions already reminded, where answers were posted, and answers reused for a new duplicate."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from handlers.vocabulary.domain import Member, MessageRef, Question


class NotifyStore(Protocol):
    async def set_follow(self, platform: str, user_id: str, on: bool, at: datetime) -> None:
        """``/follow on|off``: a private notice when a question the member liked is answered."""
        ...

    async def follows(self, platform: str, user_id: str) -> bool: ...
    async def following_likers(self, question_ids: Sequence[int]) -> list[Member]:
        """The members who liked any of the questions and follow answers, each once."""
        ...

    async def set_remind_days(self, course_slug: str, days: int | None) -> None:
        """``/remind <days>``, or None for off."""
        ...

    async def remind_days(self, course_slug: str) -> int | None: ...
    async def reminder_courses(self) -> list[tuple[str, int]]:
        """(course, days) of every course with reminders on."""
        ...

    async def reminder_candidates(self, course_slug: str, asked_before: datetime, limit: int) -> list[Question]:
        """Unanswered first copies asked before ``asked_before``, liked (themselves or through a copy), never
        reminded; oldest first."""
        ...

    async def claim_reminder(self, question_id: int, course_slug: str, at: datetime) -> bool:
        """Record that the question is reminded now; False when it already was (by anyone, ever)."""
        ...

    async def reminders_to_deliver(
        self, course_slug: str, platform: str, since: datetime, limit: int
    ) -> list[Question]:
        """The course's questions reminded since ``since`` whose reminder is not yet delivered on ``platform``
        (not claimed there), oldest reminder first."""
        ...

    async def claim_reminder_delivery(self, question_id: int, platform: str, at: datetime) -> bool:
        """Record that the question's reminder is being sent on ``platform``; False when it already was."""
        ...

    async def reminded_among(self, question_ids: Sequence[int]) -> set[int]: ...
    async def record_answer_post(self, question_id: int, ref: MessageRef, at: datetime) -> None:
        """The message an answer to the question was posted as."""
        ...

    async def answer_post(self, question_ids: Sequence[int], platform: str, chat_id: str) -> MessageRef | None:
        """An answer message of one of the questions on ``platform``: in ``chat_id`` when there is one there."""
        ...

    async def reuse_answer(self, question_id: int, source_id: int, answer: str, at: datetime) -> None:
        """The new question is answered with ``source_id``'s answer (marked answered, the reuse recorded)."""
        ...

    async def reused_answer_of(self, question_id: int) -> int | None:
        """The question whose answer was reused for this one, unless it was reopened since."""
        ...

    async def reopen_question(self, question_id: int, at: datetime) -> bool:
        """The asker said the reused answer did not help: the question leaves its cluster (as ``/split`` records
        it) and is open again. False when there was no reused answer to take back."""
        ...

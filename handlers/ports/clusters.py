"""What the core needs to know and change about clusters of near-duplicate questions (issue 12).

A cluster is the questions of a course that ask the same thing; its first question (lowest id) is its root and
every other member's ``duplicate_of`` is the root's id. Its likes are the distinct members who liked any of its
questions plus their imported likes, so one member liking two copies counts once. The detector places a new
question when it is stored; ``/merge`` and ``/split`` correct it, and those decisions outlive re-clustering.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from handlers.vocabulary.domain import Question


class DupesMode(StrEnum):
    """Per group: merge and tell the asker (default), merge silently, or leave the group's questions alone."""

    ON = "on"
    QUIET = "quiet"
    OFF = "off"


@dataclass(frozen=True, slots=True)
class Cluster:
    root: int
    questions: tuple[Question, ...]  # the members not deleted, earliest first
    likes: int  # distinct members who liked any member, plus imported likes

    @property
    def shown(self) -> Question:
        """The clearest wording: the most liked copy, the earliest on a tie."""
        return min(self.questions, key=lambda q: (-q.total_likes, q.id))

    def others(self, question_id: int) -> tuple[Question, ...]:
        return tuple(q for q in self.questions if q.id != question_id)


class ClusterStore(Protocol):
    async def cluster_of(self, question_id: int) -> Cluster | None:
        """The cluster of the question (alone, a cluster of one); None when the question is unknown."""
        ...

    async def merge_questions(self, first: int, second: int, at: datetime) -> None:
        """One cluster out of the two questions' clusters, recorded so that it outlives re-clustering."""
        ...

    async def split_question(self, question_id: int, at: datetime) -> None:
        """The question leaves its cluster and stays apart from its members, recorded the same way."""
        ...

    async def dupes_mode(self, group_id: int) -> DupesMode: ...
    async def set_dupes_mode(self, group_id: int, mode: DupesMode) -> None: ...

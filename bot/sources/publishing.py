"""Which newly imported lessons are posted to the groups, so that importing a back catalogue never floods them.

A lesson without a release time (or with one already past) is published at the scheduler's next look, to every
group that follows its course. Importing a folder of 2,030 old lessons used to post all 2,030 to every group
within a minute. So after each import run (`studybot lesson add`, one scan of ``LESSONS_DIR``), of the lessons
that run created and that are due now, only the newest per course is left to be published (``latest``, the
default); the others join the back catalogue: marked published without a post, still postable with ``/lesson``.
The run stores its new due lessons already so marked ("held") and releases the chosen ones at its end, so a
bot running meanwhile cannot post them half-way, and a run killed part-way posts nothing.
``all`` leaves every one to be published, ``none`` none. Lessons with a release time still to come keep it:
a schedule is not a flood. (The per-group hourly cap in :func:`handlers.features.lessons.publish_due_lessons` is the
safety net behind this.)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the command line's parser reads PUBLISH_CHOICES without paying for the core's types
    from handlers.ports import SourceStore
    from handlers.vocabulary.domain import Lesson

PUBLISH_CHOICES = ("latest", "all", "none")


@dataclass(slots=True)
class Publication:
    """What an import run leaves to be posted, per course, and what it shelved into the back catalogue."""

    to_post: dict[str, list[Lesson]] = field(default_factory=dict)  # newest first
    shelved: dict[str, list[Lesson]] = field(default_factory=dict)
    scheduled: dict[str, list[Lesson]] = field(default_factory=dict)
    groups: dict[str, int] = field(default_factory=dict)  # groups following each course with something to post

    def describe(self) -> list[str]:
        """One line per course, for the command's summary."""
        lines = []
        for course in sorted(set(self.to_post) | set(self.shelved) | set(self.scheduled)):
            parts = []
            if posting := self.to_post.get(course):
                more = f" and {len(posting) - 1} more" if len(posting) > 1 else ""
                parts.append(f"«{posting[0].title}»{more} will be posted to {self.groups[course]} group(s)")
            if shelved := self.shelved.get(course):
                parts.append(f"{len(shelved)} kept in the back catalogue (post one with /lesson)")
            if scheduled := self.scheduled.get(course):
                parts.append(f"{len(scheduled)} scheduled for their release time")
            lines.append(f"{course}: " + "; ".join(parts))
        return lines


def newest_first(lesson: Lesson) -> tuple[datetime, int, int]:
    """The order of "latest" everywhere (Store.latest_lesson): release or creation time, number, id."""
    return (lesson.release_at or lesson.created_at, lesson.number if lesson.number is not None else -1, lesson.id)


def holds(mode: str) -> bool:
    """Whether an import run in ``mode`` stores its new due lessons held (see SourceStore.import_lesson)."""
    if mode not in PUBLISH_CHOICES:
        raise ValueError(f"publish mode {mode!r} is not one of {', '.join(PUBLISH_CHOICES)}")
    return mode != "all"


async def settle_new_lessons(store: SourceStore, created: Iterable[Lesson], mode: str, now: datetime) -> Publication:
    """Release to the scheduler the run's new due lessons that ``mode`` posts; the others stay in the back
    catalogue. Returns what will be posted where.

    The run stored its new due lessons held (unless ``mode`` is ``all``), so the running bot cannot start a
    flood while the run is still importing; a run killed before this step leaves them all in the catalogue.
    ``created`` are the lessons the run stored for the first time.
    """
    holds(mode)
    result = Publication()
    due: dict[str, list[Lesson]] = {}
    for lesson in created:
        waiting = result.scheduled if lesson.release_at is not None and lesson.release_at > now else due
        waiting.setdefault(lesson.course_slug, []).append(lesson)
    for course, lessons in due.items():
        lessons.sort(key=newest_first, reverse=True)
        posted = {"latest": 1, "all": len(lessons), "none": 0}[mode]
        if mode == "latest":
            await store.release_lessons([lesson.id for lesson in lessons[:posted]])
        if lessons[:posted]:
            result.to_post[course] = lessons[:posted]
            result.groups[course] = len(await store.groups_following(course))
        if lessons[posted:]:
            result.shelved[course] = lessons[posted:]
    return result

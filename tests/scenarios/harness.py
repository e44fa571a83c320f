"""A backend-neutral way to act out user stories, and its console implementation.

A story says what people do ("alice replies to the lesson post", "bob reacts 👍") and what they then see.
Each backend provides a harness that turns those acts into that platform's input and reads back what the bot
said, so the same stories run on the console here and on Telegram and Discord through their local servers.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bot.app import App, open_app
from bot.config import Settings
from bot.console import CONTINUATION, ConsoleBackend
from handlers.vocabulary.domain import Course, Lesson, LessonDraft
from handlers.vocabulary.events import DigestDue, LessonPublished, RemindersDue
from tests.clock import TestClock


@dataclass(frozen=True, slots=True)
class Handle:
    """A message as the harness can point at it again."""

    key: str
    text: str


class StudyGroupHarness(Protocol):
    clock: TestClock
    app: App

    async def add_course(self, slug: str, title: str) -> Course: ...
    async def add_lesson(self, draft: LessonDraft) -> Lesson: ...
    async def publish(self, lesson: Lesson) -> None: ...
    async def say(self, user: str, text: str, *, reply_to: Handle | None = None) -> Handle: ...
    async def command(
        self, user: str, text: str, *, admin: bool = False, private: bool = False, reply_to: Handle | None = None
    ) -> str: ...
    async def react(self, user: str, message: Handle, emoji: str) -> None: ...
    async def unreact(self, user: str, message: Handle, emoji: str) -> None: ...
    async def edit(self, user: str, message: Handle, text: str) -> None: ...
    async def delete(self, user: str, message: Handle) -> None: ...
    async def digest_due(self, course: str) -> None: ...
    async def reminders_due(self) -> None: ...
    async def use_group(self, name: str) -> None:
        """Act in the study group ``name`` from now on ("main" is the first): messages, commands without a
        reply and what :meth:`group_messages` and :meth:`lesson_post` read are that group's."""
        ...

    def lesson_post(self, title: str) -> Handle: ...
    def group_messages(self) -> list[str]: ...
    def replies_to(self, message: Handle) -> list[str]:
        """The bot's messages in the current group that reply to ``message`` (the platform shows them under it and
        tells its author)."""
        ...

    def direct_messages(self, user: str) -> list[str]: ...
    def direct_charts(self, user: str) -> list[bytes]:
        """The pictures (PNG bytes) the bot sent ``user`` privately, in order."""
        ...


_LABELLED = re.compile(r"^(m\d+) (\S+?)(?: ↪ \S+)?(?: \(only you see this\))?: (.*)$", re.S)
_REPLY = re.compile(r"^m\d+ (\S+?) ↪ (\S+)(?: \(only you see this\))?: (.*)$", re.S)
_DM = re.compile(r"^✉ studybot → (\S+): (.*)$", re.S)


def blocks(text: str) -> list[str]:
    """The console's output as one string per message (continuation lines are indented)."""
    result: list[str] = []
    for line in text.splitlines():
        if line.startswith(CONTINUATION) and result:
            result[-1] += "\n" + line[len(CONTINUATION) :]
        elif line:
            result.append(line)
    return result


class CoreSetup:
    """What every harness does straight through the core: setting up courses and lessons, publishing a lesson
    (as an import or a release would) and making a digest due (as the schedule would)."""

    app: App
    clock: TestClock

    async def add_course(self, slug: str, title: str) -> Course:
        return await self.app.store.upsert_course(Course(slug=slug, title=title, language="en"), self.clock.now())

    async def add_lesson(self, draft: LessonDraft) -> Lesson:
        lesson, _ = await self.app.store.upsert_lesson(draft, self.clock.now())
        return lesson

    async def publish(self, lesson: Lesson) -> None:
        await self.app.dispatcher.dispatch(LessonPublished(lesson.id, self.clock.now()))

    async def digest_due(self, course: str) -> None:
        await self.app.dispatcher.dispatch(DigestDue(course, self.clock.now()))

    async def reminders_due(self) -> None:
        """What the scheduler hands the core at every wake-up (``bot.scheduler.Scheduler._reminders``)."""
        await self.app.dispatcher.dispatch(RemindersDue(self.clock.now()))


class ConsoleHarness(CoreSetup):
    """Acts stories out by typing into the real console backend, exactly as a person would."""

    def __init__(self, app: App, backend: ConsoleBackend, out: io.StringIO, clock: TestClock) -> None:
        self.app, self.backend, self.out, self.clock = app, backend, out, clock
        self._read = 0
        self._me: tuple[str, bool] | None = None
        self._group = "main"

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls, settings: Settings, clock: TestClock, charts_dir: Path | None = None
    ) -> AsyncIterator[ConsoleHarness]:
        out = io.StringIO()
        charts_dir = charts_dir or settings.database_path.parent / "charts"
        backend = ConsoleBackend(out, clock, session="t", charts_dir=charts_dir)
        async with open_app(settings, {backend.platform: backend}, clock) as app:
            await app.scheduler.tick()  # what start-up does, without arming a real timer
            yield cls(app, backend, out, clock)

    # typing -------------------------------------------------------------------------------------------------
    def _new_output(self) -> list[str]:
        text = self.out.getvalue()
        fresh, self._read = text[self._read :], len(text)
        return blocks(fresh)

    async def type(self, line: str) -> list[str]:
        self._new_output()
        await self.backend.handle_line(line, self.app.dispatcher.dispatch)
        return self._new_output()

    async def _become(self, user: str, admin: bool) -> None:
        if self._me != (user, admin):
            await self.type(f":as {user}{' admin' if admin else ''}")
            self._me = (user, admin)

    async def use_group(self, name: str) -> None:
        await self.type(f":group {name}")
        self._group = name

    async def publish(self, lesson: Lesson) -> None:
        self._new_output()
        await super().publish(lesson)
        self._new_output()

    # acts ---------------------------------------------------------------------------------------------------
    async def say(self, user: str, text: str, *, reply_to: Handle | None = None) -> Handle:
        await self._become(user, False)
        line = f":reply {reply_to.key} {text}" if reply_to else text
        output = await self.type(line)
        match = _LABELLED.match(output[0])
        assert match, output
        return Handle(match.group(1), text)

    def _bot_here(self, name: str) -> bool:
        """``name`` is the bot's, written in the current group (the console shows other groups as bot@group)."""
        return name == ("studybot" if self._group == "main" else f"studybot@{self._group}")

    async def command(
        self, user: str, text: str, *, admin: bool = False, private: bool = False, reply_to: Handle | None = None
    ) -> str:
        await self._become(user, admin)
        if private:
            line = f":dm {text}"
        elif reply_to:
            line = f":reply {reply_to.key} {text}"
        else:
            line = text
        output = await self.type(line)
        replies = []
        for item in output[1:]:
            labelled = _LABELLED.match(item)
            dm = _DM.match(item)
            if labelled and labelled.group(2).partition("@")[0] == "studybot":
                replies.append(labelled.group(3))
            elif dm and dm.group(1) == user:
                replies.append(dm.group(2))
        return "\n".join(replies)

    async def react(self, user: str, message: Handle, emoji: str) -> None:
        await self._become(user, False)
        await self.type(f":react {message.key} {emoji}")

    async def unreact(self, user: str, message: Handle, emoji: str) -> None:
        await self._become(user, False)
        await self.type(f":unreact {message.key} {emoji}")

    async def edit(self, user: str, message: Handle, text: str) -> None:
        await self._become(user, False)
        await self.type(f":edit {message.key} {text}")

    async def delete(self, user: str, message: Handle) -> None:
        await self._become(user, False)
        await self.type(f":delete {message.key}")

    # what people see ----------------------------------------------------------------------------------------
    def _lines(self) -> list[str]:
        return blocks(self.out.getvalue())

    def group_messages(self) -> list[str]:
        return [m.group(3) for line in self._lines() if (m := _LABELLED.match(line)) and self._bot_here(m.group(2))]

    def replies_to(self, message: Handle) -> list[str]:
        return [
            m.group(3)
            for line in self._lines()
            if (m := _REPLY.match(line)) and self._bot_here(m.group(1)) and m.group(2) == message.key
        ]

    def lesson_post(self, title: str) -> Handle:
        for line in self._lines():
            match = _LABELLED.match(line)
            if match and self._bot_here(match.group(2)) and title in match.group(3):
                return Handle(match.group(1), match.group(3))
        raise AssertionError(f"no lesson post titled {title!r} in:\n{self.out.getvalue()}")

    def direct_messages(self, user: str) -> list[str]:
        return [m.group(2) for line in self._lines() if (m := _DM.match(line)) and m.group(1) == user]

    def direct_charts(self, user: str) -> list[bytes]:
        """The console writes a chart to a file and prints its path under the message."""
        paths = [p for text in self.direct_messages(user) for p in re.findall(r"🖼 (\S+\.png)", text)]
        return [Path(path).read_bytes() for path in paths]

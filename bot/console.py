"""The console backend: a study group in the terminal, a real backend like the others.

It reads lines from any text stream, so a person can try studybot without tokens and tests or scripts can
drive it through the very same code. Each line is either a chat message, a ``/command``, or a console verb
starting with ``:`` that does what a platform's UI would (reply to, react to, edit or delete a message,
switch who you are). Messages are labelled ``m1``, ``m2``… so you can point at them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import tempfile
import threading
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import TextIO

from handlers.ports import Clock
from handlers.vocabulary.actions import Action, Chart, DirectMessage, Post, PostLesson, Reply
from handlers.vocabulary.content import to_plain_text
from handlers.vocabulary.domain import ChatRef, Member, MessageRef, Platform
from handlers.vocabulary.events import (
    CommandInvoked,
    DigestDue,
    Dispatch,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
    ReactionAdded,
    ReactionRemoved,
    ReactionsCleared,
)

logger = logging.getLogger(__name__)

PLATFORM = Platform.CONSOLE.value
GROUP_CHAT_ID = "study-group"
MAIN_GROUP = "main"
BOT_NAME = "studybot"
CONTINUATION = "    "

HELP = """\
Console verbs (anything else is a message to the group; /commands work as in a chat):
  :as NAME [admin]        become NAME (a learner, or an admin of this group with 'admin')
  :reply mN TEXT          reply to message mN (TEXT may be a /command, e.g. :reply m4 /instructor)
  :react mN EMOJI         react to mN          :unreact mN EMOJI    take the reaction back
  :clear mN               remove every reaction from mN
  :edit mN TEXT           edit your message    :delete mN           delete it
  :dm TEXT                write to the bot in private (e.g. :dm /answer 3 Because…)
  :group NAME             write in another study group from now on (:group main for the first one)
  :digest COURSE          deliver COURSE's digest now, as the schedule would
  :whoami   :help   :quit"""


def _in(name: str, chat: ChatRef) -> str:
    """Who wrote, with the study group when it is not the first one (``alice@second``), so that a terminal
    with two groups shows where each message is."""
    prefix = f"{GROUP_CHAT_ID}:"
    return f"{name}@{chat.chat_id.removeprefix(prefix)}" if chat.chat_id.startswith(prefix) else name


@dataclass(frozen=True, slots=True)
class ConsoleMessage:
    label: str
    ref: MessageRef
    author: Member


class ConsoleBackend:
    """Outbox and event source for one terminal study group."""

    platform = PLATFORM

    def __init__(
        self,
        out: TextIO,
        clock: Clock,
        *,
        user: str = "you",
        session: str | None = None,
        charts_dir: Path | None = None,
    ) -> None:
        self._out = out
        # Where a digest's chart is written (the terminal cannot show it): beside the database, or a temp folder.
        self._charts_dir = charts_dir or Path(tempfile.gettempdir()) / "studybot-charts"
        self._clock = clock
        # Message ids must not collide with those stored by an earlier run on the same database.
        self._session = session or clock.now().strftime("%Y%m%d%H%M%S%f")
        self._numbers = count(1)
        self._messages: dict[str, ConsoleMessage] = {}
        self._bot = Member(PLATFORM, BOT_NAME, BOT_NAME, is_bot=True)
        self.member = self._member(user)
        self.is_admin = True  # whoever starts the console owns its group
        # A second group lets one terminal try what spans groups (a question asked again elsewhere, issue 12).
        self._group = MAIN_GROUP

    # identity ---------------------------------------------------------------------------------------------
    @staticmethod
    def _member(name: str) -> Member:
        return Member(PLATFORM, name.lower(), name)

    @property
    def group(self) -> ChatRef:
        """The study group typed into: the first one, or the one chosen with ``:group NAME``."""
        return ChatRef(PLATFORM, GROUP_CHAT_ID if self._group == MAIN_GROUP else f"{GROUP_CHAT_ID}:{self._group}")

    def private_chat(self, user_id: str) -> ChatRef:
        return ChatRef(PLATFORM, f"dm:{user_id}")

    def _new_message(self, chat: ChatRef, author: Member) -> ConsoleMessage:
        number = next(self._numbers)
        label = f"m{number}"
        ref = MessageRef(PLATFORM, chat.chat_id, f"{self._session}-{number}", chat.thread_id)
        message = ConsoleMessage(label, ref, author)
        self._messages[label] = message
        return message

    def _print(self, text: str) -> None:
        """Write one message; its later lines are indented so each message reads as one block."""
        first, *rest = text.split("\n") or [""]
        self._out.write("".join([first, "\n", *(f"{CONTINUATION}{line}\n" for line in rest)]))
        self._out.flush()

    # Outbox -----------------------------------------------------------------------------------------------
    async def send(self, action: Action) -> MessageRef | None:
        match action:
            case PostLesson(chat=chat, content=content) | Post(chat=chat, content=content, reply_to=None):
                message = self._new_message(chat, self._bot)
                self._print(f"{message.label} {_in(BOT_NAME, chat)}: {to_plain_text(content)}")
                if isinstance(action, Post):
                    self._show_chart(action.chart, message)
                return message.ref
            case Post(chat=chat, content=content, reply_to=MessageRef() as target):
                message = self._new_message(chat, self._bot)
                text = to_plain_text(content)
                self._print(f"{message.label} {_in(BOT_NAME, chat)} ↪ {self._label_of(target)}: {text}")
                return message.ref
            case Reply(to=to, content=content, ephemeral=ephemeral):
                message = self._new_message(to.chat, self._bot)
                only_you = " (only you see this)" if ephemeral else ""
                label, text = self._label_of(to), to_plain_text(content)
                self._print(f"{message.label} {_in(BOT_NAME, to.chat)} ↪ {label}{only_you}: {text}")
                return message.ref
            case DirectMessage(user_id=user_id, content=content):
                message = self._new_message(self.private_chat(user_id), self._bot)
                self._print(f"✉ {BOT_NAME} → {user_id}: {to_plain_text(content)}")
                self._show_chart(action.chart, message)
                return message.ref
        raise TypeError(f"console cannot send {action!r}")

    def _show_chart(self, chart: Chart | None, message: ConsoleMessage) -> None:
        """Write the chart's PNG to a file and print its path, under the message it belongs to."""
        if chart is None or chart.png is None:
            return
        self._charts_dir.mkdir(parents=True, exist_ok=True)
        path = self._charts_dir / f"chart-{self._session}-{message.label}.png"
        path.write_bytes(chart.png)
        self._print(f"{CONTINUATION}🖼 {path}")

    def link_to(self, ref: MessageRef) -> str | None:
        for message in self._messages.values():
            if message.ref == ref:
                return f"console:{message.label}"
        return None

    def _label_of(self, ref: MessageRef) -> str:
        for message in self._messages.values():
            if message.ref == ref:
                return message.label
        return "(earlier message)"

    # lifecycle (the backend contract, bot.backend) -------------------------------------------------------
    async def start(self, dispatch: Dispatch) -> None:
        """Nothing to connect to: the terminal's lines are read by :meth:`run`, which is given the dispatch."""
        return None

    async def stop(self) -> None:
        """Nothing to close: every line is handled before the next is read, so none is left half-way."""
        return None

    # input ------------------------------------------------------------------------------------------------
    async def run(self, dispatch: Dispatch, source: TextIO | None = None) -> None:
        """Read lines until EOF or ``:quit``; every line is handled before the next is read."""
        stream = source or sys.stdin
        self._print(f"studybot console — you are {self.member.display_name} (admin). Type :help for help.")
        while True:
            line = await read_line(stream)
            if not line:
                break
            if not await self.handle_line(line.rstrip("\n"), dispatch):
                break

    async def handle_line(self, line: str, dispatch: Dispatch) -> bool:
        """Handle one input line; False when the user asked to quit."""
        text = line.strip()
        if not text:
            return True
        if text.startswith(":"):
            verb, _, rest = text[1:].partition(" ")
            return await self._verb(verb.lower(), rest.strip(), dispatch)
        await self._say(self.group, text, None, dispatch)
        return True

    async def _say(self, chat: ChatRef, text: str, reply_to: ConsoleMessage | None, dispatch: Dispatch) -> None:
        message = self._new_message(chat, self.member)
        now = self._clock.now()
        target_ref = reply_to.ref if reply_to else None
        if text.startswith("/"):
            name, _, args = text[1:].partition(" ")
            name = name.split("@", 1)[0]
            self._print(f"{message.label} {_in(self.member.display_name, chat)}: {text}")
            private = chat.chat_id.startswith("dm:")
            await dispatch(
                CommandInvoked(
                    ref=message.ref,
                    actor=self.member,
                    name=name.lower(),
                    args=args.strip(),
                    at=now,
                    actor_is_admin=self.is_admin and not private,
                    private=private,
                    chat_title="Console study group",
                    reply_to=target_ref,
                    target=reply_to.author if reply_to else None,
                )
            )
            return
        arrow = f" ↪ {reply_to.label}" if reply_to else ""
        self._print(f"{message.label} {_in(self.member.display_name, chat)}{arrow}: {text}")
        await dispatch(MessagePosted(message.ref, self.member, text, now, target_ref))

    def _find(self, label: str) -> ConsoleMessage | None:
        message = self._messages.get(label.lower())
        if message is None:
            self._print(f"! no message {label!r} — use the label shown before a message, like m3")
        return message

    async def _verb(self, verb: str, rest: str, dispatch: Dispatch) -> bool:
        now = self._clock.now()
        label, _, tail = rest.partition(" ")
        tail = tail.strip()
        if verb in ("quit", "exit", "q"):
            return False
        if verb == "help":
            self._print(HELP)
        elif verb == "whoami":
            role = "admin" if self.is_admin else "learner"
            self._print(f"you are {self.member.display_name} ({role})")
        elif verb == "as":
            if not label:
                self._print("! usage: :as NAME [admin]")
            else:
                self.member = self._member(label)
                self.is_admin = tail.lower() == "admin"
                self._print(f"you are now {label} ({'admin' if self.is_admin else 'learner'})")
        elif verb == "dm":
            if not rest:
                self._print("! usage: :dm TEXT")
            else:
                await self._say(self.private_chat(self.member.user_id), rest, None, dispatch)
        elif verb == "group":
            if not label:
                self._print(f"! usage: :group NAME (you are in {self._group})")
            else:
                self._group = label.lower()
                self._print(f"you now write in study group {self._group}")
        elif verb == "digest":
            if not rest:
                self._print("! usage: :digest COURSE")
            else:
                await dispatch(DigestDue(rest, now))
        elif verb in ("reply", "react", "unreact", "edit", "delete", "clear"):
            await self._message_verb(verb, label, tail, dispatch)
        else:
            self._print(f"! unknown verb :{verb} — type :help")
        return True

    async def _message_verb(self, verb: str, label: str, tail: str, dispatch: Dispatch) -> None:
        now = self._clock.now()
        needs_text = verb in ("reply", "react", "unreact", "edit")
        if not label or (needs_text and not tail):
            self._print(f"! usage: :{verb} mN{' TEXT' if needs_text else ''}")
            return
        message = self._find(label)
        if message is None:
            return
        if verb == "reply":
            await self._say(message.ref.chat, tail, message, dispatch)
        elif verb == "react":
            await dispatch(ReactionAdded(message.ref, self.member, tail, now))
            self._print(f"{self.member.display_name} reacted {tail} to {message.label}")
        elif verb == "unreact":
            await dispatch(ReactionRemoved(message.ref, self.member, tail, now))
            self._print(f"{self.member.display_name} took back {tail} from {message.label}")
        elif verb == "clear":
            await dispatch(ReactionsCleared(message.ref, now))
            self._print(f"reactions on {message.label} cleared")
        elif message.author != self.member:
            self._print(f"! {message.label} is not yours to {verb}")
        elif verb == "edit":
            await dispatch(MessageEdited(message.ref, tail, now))
            self._print(f"{message.label} edited")
        else:
            await dispatch(MessageDeleted(message.ref, now))
            self._print(f"{message.label} deleted")


async def read_line(stream: TextIO) -> str:
    """One line of ``stream`` ("" at EOF), read in a daemon thread so that waiting for it never keeps the
    process alive.

    A read in the event loop's default executor cannot be interrupted: cancelling the wait leaves the thread
    blocked in ``readline``, and ``asyncio.run`` joins that executor on the way out, so a console stopped by a
    signal would wait for someone to press Enter. A daemon thread is left behind instead, and the interpreter
    exits without it.
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[str] = loop.create_future()

    def deliver(line: str | None, error: BaseException | None) -> None:
        if done.done():  # (the wait was cancelled meanwhile)
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(line or "")

    def read() -> None:
        try:
            line, error = stream.readline(), None
        except Exception as failure:  # handed to the awaiting task, where it belongs
            line, error = None, failure
        with contextlib.suppress(RuntimeError):  # (the loop is closed: nobody waits for this line any more)
            loop.call_soon_threadsafe(deliver, line, error)

    threading.Thread(target=read, name="console-input", daemon=True).start()
    return await done

"""The Telegram backend: python-telegram-bot's Application, our polling loop, and the Outbox for Telegram.

At-least-once processing: python-telegram-bot's own Updater confirms updates to Telegram (the getUpdates
offset) as soon as it has fetched them, so a process killed before handling them would lose them. This
backend polls itself and moves the offset past an update only after the core has handled it, which means its
writes are committed (for a run of likes: kept in the store, which counts them while the next batch is fetched,
and at its next start if the process dies first). A killed process therefore loses nothing: Telegram delivers
the unconfirmed updates again and the handlers are idempotent (a redelivered message or reaction never counts
twice).

Sending goes through the Application's bot with our :class:`~bot.telegram_backend.ratelimit.TelegramRateLimiter`
(python-telegram-bot's rate limiter interface), which paces messages to Telegram's published limits (30 a
second overall, 20 a minute in one group) so that a broadcast's concurrent sends draw no 429, and waits out a
Retry-After in the one chat it concerns while the others go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from telegram import (
    ChatMemberAdministrator,
    ChatMemberOwner,
    InputFile,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, ChatMigrated, Conflict, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import Application, ApplicationBuilder

from bot.telegram_backend import translate
from bot.telegram_backend.batches import Step, reaction_runs, seconds
from bot.telegram_backend.menus import register_menus
from bot.telegram_backend.ratelimit import TelegramRateLimiter
from bot.telegram_backend.render import render_caption, render_messages
from bot.telegram_backend.webhook import WebhookServer
from handlers.i18n import Translator
from handlers.ports import Clock
from handlers.ports.backends import UpdateLog
from handlers.vocabulary.actions import Action, DirectMessage, Post, PostLesson, Reply
from handlers.vocabulary.content import Content
from handlers.vocabulary.domain import ChatRef, MessageRef
from handlers.vocabulary.errors import ChatUnavailable, DeliveryError, RecipientUnreachable, TransientDeliveryError
from handlers.vocabulary.events import AdviceDue, ChatMoved, CommandInvoked, Dispatch, Event, ReactionBurst

logger = logging.getLogger(__name__)

T = TypeVar("T")
OFFICIAL_API = "https://api.telegram.org"
ALLOWED_UPDATES = [
    "message",
    "edited_message",
    "message_reaction",
    "message_reaction_count",
    "my_chat_member",
    "chat_member",
]
ADMIN_CACHE_SECONDS = 600.0
NETWORK_ATTEMPTS = 4
REPORTS_GRACE_SECONDS = 5.0
# getUpdates answered 409 this many times within CONFLICT_WINDOW_SECONDS: another process polls with the token
# (or set a webhook), and polling ends. One 409 alone is what a restart's overlap with the old process gives.
CONFLICT_LIMIT = 3
CONFLICT_WINDOW_SECONDS = 120.0


class PollingConflict(Exception):
    """Telegram keeps answering getUpdates with 409 Conflict: another process polls with this token, or a
    webhook is set for it. Only one process may poll; several need webhook mode."""


def api_base_url(url: str) -> str:
    """``TELEGRAM_API_BASE_URL`` is the server (``https://api.telegram.org``); the library wants ``…/bot``."""
    url = url.rstrip("/")
    return url if url.endswith("/bot") else f"{url}/bot"


@dataclass(frozen=True, slots=True)
class TelegramOptions:
    token: str
    api_base_url: str = OFFICIAL_API
    poll_timeout: int = 30
    # Webhook mode (for servers): Telegram POSTs updates to webhook_url, which must reach webhook_listen.
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_listen: str = "0.0.0.0:8443"
    # 0 retries in the limiter itself would surface every 429; a few let a broadcast ride out flood control.
    max_retries: int = 5


class TelegramBackend:
    platform = translate.PLATFORM

    def __init__(self, options: TelegramOptions, i18n: Translator, clock: Clock) -> None:
        self._options = options
        self._i18n = i18n
        self._clock = clock
        self.application: Application = (
            ApplicationBuilder()
            .token(options.token)
            .base_url(api_base_url(options.api_base_url))
            .rate_limiter(TelegramRateLimiter(max_retries=options.max_retries))
            .updater(None)
            .get_updates_read_timeout(options.poll_timeout + 10)
            .build()
        )
        self._dispatch: Dispatch | None = None
        self._poller: asyncio.Task[None] | None = None
        self._webhook: WebhookServer | None = None
        self._update_log: UpdateLog | None = None
        self._admins: dict[int, tuple[float, set[int]]] = {}
        self._forums: dict[int, bool] = {}
        self._usernames: dict[str, str] = {}
        # Chats a send found had moved (a group upgraded to a supergroup), old id → new id: later sends go
        # straight to the new id, and the moves wait here for the intake to hand them to the core.
        self._moved: dict[int, int] = {}
        self._reported: asyncio.Queue[ChatMoved] = asyncio.Queue()
        self._reporter: asyncio.Task[None] | None = None
        self.username = ""
        self.confirmed_offset: int | None = None

    def use_ports(self, update_log: UpdateLog) -> None:
        """The database's record of webhook updates, shared by every worker (unused when polling)."""
        self._update_log = update_log

    # lifecycle --------------------------------------------------------------------------------------------
    async def start(self, dispatch: Dispatch) -> None:
        self._dispatch = dispatch
        self._reporter = asyncio.create_task(self._hand_over_reports(), name="telegram-reports")
        await self.application.initialize()  # getMe: fails here with InvalidToken for a bad token
        self.username = self.application.bot.username
        await self.register_commands()
        if self._options.webhook_url:
            await self._start_webhook()
            return
        await self.application.bot.delete_webhook(drop_pending_updates=False)
        self._poller = asyncio.create_task(self._poll(), name="telegram-poll")
        logger.info("telegram: polling as @%s", self.username)

    async def _start_webhook(self) -> None:
        """Updates arrive as POSTs (see :mod:`bot.telegram_backend.webhook`); every request must carry the secret
        token we registered.

        Every worker calls setWebhook with the same URL, secret and update types at its start: the call is
        idempotent (it drops no pending update), so workers need no coordination and any one of them can start
        alone. None deletes the webhook when it stops, which would cut the others off.
        """
        options = self._options
        assert options.webhook_url and options.webhook_secret  # checked by the settings
        self._webhook = WebhookServer(
            url=options.webhook_url,
            secret=options.webhook_secret,
            listen=options.webhook_listen,
            bot=self.application.bot,
            handle=self.handle_update,
            clock=self._clock,
            log=self._update_log,
        )
        await self._webhook.start()
        await self.application.bot.set_webhook(
            options.webhook_url, secret_token=options.webhook_secret, allowed_updates=ALLOWED_UPDATES
        )
        logger.info("telegram: webhook for @%s listening on %s", self.username, options.webhook_listen)

    async def stop(self) -> None:
        if self._reporter is not None:
            # A move a send learnt of is handed over before stopping (else only the next send would learn it).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(REPORTS_GRACE_SECONDS):
                    await self._reported.join()
            self._reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reporter
        if self._webhook is not None:
            await self._webhook.stop()
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError, PollingConflict):
                await self._poller
        with contextlib.suppress(Exception):
            await self.application.shutdown()
        # A start cancelled or failed half-way (getMe unanswered) left the bot's HTTP clients open but the
        # Application uninitialised, so its shutdown above did nothing; the bot's own closes them (or nothing).
        with contextlib.suppress(Exception):
            await self.application.bot.shutdown()

    async def wait(self) -> None:
        """Until the polling loop ends: when stopped, or with :class:`PollingConflict`. At once in webhook mode."""
        if self._poller is not None:
            await self._poller

    async def register_commands(self) -> None:
        await register_menus(self.application.bot, self._i18n)

    # receiving --------------------------------------------------------------------------------------------
    async def _poll(self) -> None:
        bot = self.application.bot
        offset: int | None = None
        failures = 0
        conflicts: deque[float] = deque(maxlen=CONFLICT_LIMIT)
        while True:
            try:
                updates = await bot.get_updates(
                    offset=offset, timeout=self._options.poll_timeout, allowed_updates=ALLOWED_UPDATES
                )
                failures = 0
            except RetryAfter as error:
                await asyncio.sleep(seconds(error.retry_after))
                continue
            except Conflict as error:
                conflicts.append(time.monotonic())
                if len(conflicts) == CONFLICT_LIMIT and conflicts[-1] - conflicts[0] <= CONFLICT_WINDOW_SECONDS:
                    raise PollingConflict(error.message) from error
                logger.warning("telegram: getUpdates answered 409 (%s); trying again", error.message)
                await asyncio.sleep(float(len(conflicts)))
                continue
            except (NetworkError, TimedOut) as error:
                failures += 1
                delay = min(60.0, 0.5 * 2**failures)
                logger.warning("telegram: getUpdates failed (%s); retrying in %.1f s", error, delay)
                await asyncio.sleep(delay)
                continue
            if offset is not None:
                self.confirmed_offset = offset
            # Reaction runs are translated before anything is awaited and the batch is dropped, so its Update
            # objects are freed at once rather than kept through the commit (long enough for the garbage
            # collector to promote them, which set off full collections under a burst).
            steps = [Step.of(run) for run in reaction_runs(updates)]
            del updates
            for step in steps:
                if step.update is not None:
                    await self.handle_update(step.update)
                else:
                    # A run of reactions goes to the core as one burst: applied in order, committed together.
                    await self.handle_reaction_burst(step)
                # Only now that the updates are handled (their writes committed, or kept) may Telegram forget them.
                offset = step.next_offset

    async def handle_update(self, update: Update) -> None:
        """Translate one update and hand its events to the core, which returns once their writes are committed.

        Updates go straight to the core rather than through the Application's handler groups: studybot has one
        handler for everything, and skipping the per-update CallbackContext keeps ingest close to the library's
        own rate. An unexpected error is logged with the update id and the next update is handled.
        """
        try:
            await self._on_update(update)
        except Exception:
            logger.exception("telegram: update %s could not be handled", update.update_id)

    async def handle_reaction_burst(self, step: Step) -> None:
        try:
            # Kept is enough: the poller confirms the batch at once, and the likes are counted while it fetches
            # the next one (a crash before they are counted leaves them kept, counted at the next start).
            await self._intake(ReactionBurst(step.changes, kept_is_enough=True))
        except Exception:
            logger.exception("telegram: updates %s-%s could not be handled", step.first_id, step.next_offset - 1)

    async def _on_update(self, update: Update) -> None:
        for event in await self.events_for(update):
            await self._intake(event)
            if isinstance(event, CommandInvoked):
                for advice in await self._advice_after(event):
                    await self._intake(advice)

    async def _intake(self, event: Event) -> None:
        """The one door into the core: every event of this backend, from an update or reported by a send."""
        assert self._dispatch is not None
        await self._dispatch(event)
        if isinstance(event, ChatMoved):
            self._admins.pop(int(event.old_chat_id), None)

    def _report_move(self, old_chat_id: int, new_chat_id: int) -> None:
        """A send learnt that a chat moved: later sends go to the new id at once, and the core hears of it
        through the intake after the send, never from inside it (the handler that was sending is still
        running, in the middle of its own work)."""
        self._moved[old_chat_id] = new_chat_id
        self._reported.put_nowait(ChatMoved(self.platform, str(old_chat_id), str(new_chat_id), self._clock.now()))

    async def _hand_over_reports(self) -> None:
        while True:
            event = await self._reported.get()
            try:
                await self._intake(event)
            except Exception:
                logger.exception("telegram: a reported chat move %s could not be handled", event)
            finally:
                self._reported.task_done()

    async def reports_handled(self) -> None:
        """Until every move reported by a send so far has been handed to the core (tests wait on it)."""
        await self._reported.join()

    async def events_for(self, update: Update) -> list[Event]:
        if update.message is not None:
            message = update.message
            self._remember_chat(message)
            admin = False
            if (message.text or "").startswith("/") and message.chat.type != ChatType.PRIVATE:
                admin = await self.is_admin(message)
            return translate.message_events(message, self.username, admin)
        if update.edited_message is not None:
            return translate.edited_events(update.edited_message)
        if update.message_reaction is not None:
            return translate.reaction_events(update.message_reaction)
        if update.message_reaction_count is not None:
            return translate.reaction_count_events(update.message_reaction_count)
        changed = update.my_chat_member or update.chat_member
        if changed is not None:
            self._admins.pop(changed.chat.id, None)  # someone's rights changed: ask again next time
        return []

    def _remember_chat(self, message: Message) -> None:
        self._forums[message.chat.id] = bool(message.chat.is_forum)
        if message.chat.username:
            self._usernames[str(message.chat.id)] = message.chat.username

    async def is_admin(self, message: Message) -> bool:
        """From the chat's real administrator list (cached); a message on behalf of the group is an admin's."""
        chat_id = message.chat.id
        if message.sender_chat is not None and message.sender_chat.id == chat_id:
            return True  # an anonymous administrator
        if message.from_user is None:
            return False
        cached = self._admins.get(chat_id)
        if cached is None or time.monotonic() - cached[0] > ADMIN_CACHE_SECONDS:
            try:
                admins = await self.application.bot.get_chat_administrators(chat_id)
            except (Forbidden, BadRequest) as error:
                logger.warning("telegram: cannot list admins of %s: %s", chat_id, error)
                return False
            cached = (time.monotonic(), {a.user.id for a in admins})
            self._admins[chat_id] = cached
        return message.from_user.id in cached[1]

    async def _advice_after(self, event: CommandInvoked) -> list[Event]:
        """Telegram-specific advice after some commands, what the admin must do for the bot to see enough; the
        core gives it in the group's language."""
        if event.private:
            return []
        chat = ChatRef(self.platform, event.ref.chat_id)
        now = self._clock.now()
        if event.name == "setup" and event.args and event.actor_is_admin and not await self.bot_is_admin(chat):
            return [AdviceDue(chat, "telegram.not_admin", now)]
        if event.name == "instructor" and event.actor_is_admin:
            link = f"https://t.me/{self.username}?start=instructor"
            return [AdviceDue(chat, "telegram.open_private", now, (("link", link),))]
        return []

    async def bot_is_admin(self, chat: ChatRef) -> bool:
        try:
            me = await self.application.bot.get_chat_member(int(chat.chat_id), self.application.bot.id)
        except (Forbidden, BadRequest):
            return False
        return isinstance(me, ChatMemberAdministrator | ChatMemberOwner)

    # sending (Outbox) -------------------------------------------------------------------------------------
    async def send(self, action: Action) -> MessageRef | None:
        match action:
            case PostLesson(chat=chat, lesson=lesson, content=content, opened=opened):
                if chat.thread_id is None and await self._is_forum(int(chat.chat_id)):
                    name = lesson.title[:128] or "lesson"
                    bot = self.application.bot
                    topic = await self._call(chat, lambda chat_id: bot.create_forum_topic(chat_id, name))
                    chat = ChatRef(chat.platform, chat.chat_id, str(topic.message_thread_id))
                    if opened is not None:  # the topic is open to learners before the intro is in it
                        await opened(chat)
                return await self._send_content(chat, content, None)
            case Post(chat=chat, content=content, reply_to=reply_to, chart=chart):
                return await self._send_content(chat, content, reply_to, png=chart.png if chart else None)
            case Reply(to=to, content=content):
                return await self._send_content(to.chat, content, to)
            case DirectMessage(user_id=user_id, content=content, chart=chart):
                chat = ChatRef(self.platform, user_id)
                return await self._send_content(chat, content, None, private=True, png=chart.png if chart else None)
        raise TypeError(f"telegram cannot send {action!r}")

    async def _is_forum(self, chat_id: int) -> bool:
        if chat_id not in self._forums:
            chat = await self.application.bot.get_chat(chat_id)
            self._forums[chat_id] = bool(chat.is_forum)
        return self._forums[chat_id]

    async def _send_content(
        self,
        chat: ChatRef,
        content: Content,
        reply_to: MessageRef | None,
        *,
        private: bool = False,
        png: bytes | None = None,
    ) -> MessageRef:
        """The content in messages of at most 4,096 units; with a picture (``png``, a digest's chart), a photo
        first (``sendPhoto``, uploaded) with the content's beginning as its caption (1,024 units at most)."""
        first: MessageRef | None = None
        thread = int(chat.thread_id) if chat.thread_id else None
        if png is not None:
            caption, content = render_caption(content)
            photo, bot = InputFile(png, filename="chart.png"), self.application.bot
            message = await self._call(
                chat,
                lambda chat_id: bot.send_photo(
                    chat_id, photo, caption=caption or None, parse_mode=ParseMode.HTML, message_thread_id=thread
                ),
                private=private,
            )
            first = self._ref(message, thread)
            if not content:
                return first
        for index, html in enumerate(render_messages(content)):
            reply = (
                ReplyParameters(int(reply_to.message_id), allow_sending_without_reply=True)
                if reply_to is not None and index == 0
                else None
            )

            def send(
                chat_id: int = int(chat.chat_id), text: str = html, reply: ReplyParameters | None = reply
            ) -> Awaitable[Message]:
                return self.application.bot.send_message(
                    chat_id,
                    text,
                    parse_mode=ParseMode.HTML,
                    message_thread_id=thread,
                    reply_parameters=reply,
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                )

            message = await self._call(chat, send, private=private)
            first = first or self._ref(message, thread)
        assert first is not None  # render_messages always yields at least one message
        return first

    def _ref(self, message: Message, thread: int | None) -> MessageRef:
        if thread is None:
            return translate.message_ref(message)
        return MessageRef(self.platform, str(message.chat.id), str(message.message_id), str(thread))

    async def _call(self, chat: ChatRef, request: Callable[[int], Awaitable[T]], *, private: bool = False) -> T:
        """One Bot API call (given the chat id to use) with Telegram's failure modes mapped for the core.

        A group that became a supergroup answers with its new id: the call is made again there, so the upgrade
        loses nothing, and the move is reported for the core to move the group's data (:meth:`_report_move`).
        """
        chat_id = self._moved.get(int(chat.chat_id), int(chat.chat_id))
        for attempt in range(1, NETWORK_ATTEMPTS + 1):
            try:
                return await request(chat_id)
            except Forbidden as error:
                if private:
                    raise RecipientUnreachable(str(error)) from error
                raise ChatUnavailable(str(error)) from error
            except ChatMigrated as error:
                self._report_move(chat_id, int(error.new_chat_id))
                chat_id = int(error.new_chat_id)
            except RetryAfter as error:
                # The rate limiter already retried; flood control outlasted it. Wait once more, then give up.
                if attempt == NETWORK_ATTEMPTS:
                    raise TransientDeliveryError(str(error)) from error
                await asyncio.sleep(seconds(error.retry_after))
            except (TimedOut, NetworkError) as error:
                if isinstance(error, BadRequest):
                    raise DeliveryError(f"telegram refused the message: {error.message}") from error
                if attempt == NETWORK_ATTEMPTS:
                    raise TransientDeliveryError(str(error)) from error
                await asyncio.sleep(0.5 * 2**attempt)
        raise AssertionError("unreachable")

    def link_to(self, ref: MessageRef) -> str | None:
        """t.me links exist for supergroups (``-100`` ids, private ``/c/`` links) and public chats."""
        username = self._usernames.get(ref.chat_id)
        if username:
            return f"https://t.me/{username}/{ref.message_id}"
        if ref.chat_id.startswith("-100"):
            internal = ref.chat_id[4:]
            if ref.thread_id:
                return f"https://t.me/c/{internal}/{ref.thread_id}/{ref.message_id}"
            return f"https://t.me/c/{internal}/{ref.message_id}"
        return None

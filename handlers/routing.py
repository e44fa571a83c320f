"""A small router: feature modules register handlers by event type or command name; one error boundary.

The boundary is the only place that turns exceptions into replies: a :class:`StudybotError` becomes a
translated answer to the user; anything else is logged with the platform, chat and message and the user is
told something went wrong, and the next event is handled as usual.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from handlers.ports import Store
from handlers.services import Services
from handlers.vocabulary.actions import Reply
from handlers.vocabulary.catalogue import BY_NAME, Command
from handlers.vocabulary.content import Content, plain
from handlers.vocabulary.domain import ChatRef, Group
from handlers.vocabulary.errors import DeliveryError, StudybotError, UsageError
from handlers.vocabulary.events import CommandInvoked, Event

logger = logging.getLogger(__name__)

E = TypeVar("E")
EventHandler = Callable[[Services, Any], Awaitable[None]]


CommandHandler = Callable[["CommandContext"], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Route:
    """A catalogue command and the handler that answers it."""

    command: Command
    handler: CommandHandler

    @property
    def name(self) -> str:
        return self.command.name


@dataclass(slots=True)
class CommandContext:
    """One command invocation with what most commands need already looked up."""

    services: Services
    event: CommandInvoked
    group: Group | None
    language: str
    commands: Mapping[str, Route]

    def t(self, key: str, /, **params: Any) -> str:
        return self.services.i18n(self.language, key, **params)

    def require_group(self) -> Group:
        """The command's group, which must follow a course; otherwise tell the user to run /setup."""
        if self.event.private:
            raise UsageError("error.group_only")
        if self.group is None or self.group.course_slug is None or not self.group.active:
            raise UsageError("error.not_set_up")
        return self.group

    def course_slug(self) -> str:
        slug = self.require_group().course_slug
        assert slug is not None  # checked by require_group
        return slug

    async def reply(self, content: Content | str, *, ephemeral: bool = False) -> None:
        body = plain(content) if isinstance(content, str) else content
        await self.services.outbox.send(Reply(self.event.ref, body, ephemeral=ephemeral))


class Router:
    """Collects the handlers of one feature module."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.event_handlers: dict[type, list[EventHandler]] = {}
        self.commands: dict[str, Route] = {}

    def on(self, event_type: type[E]) -> Callable[[Callable[[Services, E], Awaitable[None]]], Any]:
        def register(
            fn: Callable[[Services, E], Awaitable[None]],
        ) -> Callable[[Services, E], Awaitable[None]]:
            self.event_handlers.setdefault(event_type, []).append(fn)
            return fn

        return register

    def command(self, name: str) -> Callable[[CommandHandler], CommandHandler]:
        """Register the handler of the catalogue's command ``name``; its help text and who may run it come from
        :mod:`handlers.vocabulary.catalogue`, so a command cannot be answered without being listed there."""
        command = BY_NAME.get(name)
        if command is None:
            raise KeyError(f"/{name} is not in handlers/vocabulary/catalogue.py: add it (and its help line) first")

        def register(fn: CommandHandler) -> CommandHandler:
            if name in self.commands:
                raise ValueError(f"command /{name} registered twice in {self.name}")
            self.commands[name] = Route(command, fn)
            return fn

        return register


class Dispatcher:
    """Routes core events to the handlers of every router, in the order the routers were given.

    A handler that fails is logged, and counted in :attr:`failed_events` (the benchmarks fail a round on it),
    and the next handler runs.
    """

    def __init__(self, services: Services, routers: Iterable[Router]) -> None:
        self.services = services
        self._handlers: dict[type, list[EventHandler]] = {}
        self.commands: dict[str, Route] = {}
        self.failed_events = 0
        for router in routers:
            for event_type, handlers in router.event_handlers.items():
                self._handlers.setdefault(event_type, []).extend(handlers)
            for name, route in router.commands.items():
                if name in self.commands:
                    raise ValueError(f"command /{name} registered by two routers")
                self.commands[name] = route

    async def dispatch(self, event: Event) -> None:
        if isinstance(event, CommandInvoked):
            await self._route_command(event)
            return
        for handler in self._handlers.get(type(event), ()):
            try:
                await handler(self.services, event)
            except Exception:
                self.failed_events += 1
                logger.exception("handler %s failed on %s", handler.__name__, _describe(event))

    async def _route_command(self, event: CommandInvoked) -> None:
        route = self.commands.get(event.name.lower())
        group = None if event.private else await find_group(self.services.store, event.chat)
        language = self.services.i18n.normalise(group.language if group else None)
        ctx = CommandContext(self.services, event, group, language, self.commands)
        try:
            if route is None:
                await ctx.reply(ctx.t("error.unknown_command", command=event.name), ephemeral=True)
                return
            if route.command.refuses_non_admins and not event.actor_is_admin:
                await ctx.reply(ctx.t("error.admins_only", command=route.name), ephemeral=True)
                return
            await route.handler(ctx)
        except StudybotError as error:
            await self._reply_safely(ctx, ctx.t(error.key, **error.params))
        except DeliveryError:
            logger.exception("could not deliver the answer to %s", _describe(event))
        except Exception:
            logger.exception("command /%s failed on %s", event.name, _describe(event))
            await self._reply_safely(ctx, ctx.t("error.internal"))

    async def _reply_safely(self, ctx: CommandContext, text: str) -> None:
        try:
            await ctx.reply(text, ephemeral=True)
        except Exception:
            logger.exception("could not deliver an error reply to %s", _describe(ctx.event))


def _describe(event: Event) -> str:
    ref = getattr(event, "ref", None)
    if ref is None:
        return type(event).__name__
    return f"{type(event).__name__} platform={ref.platform} chat={ref.chat_id} message={ref.message_id}"


async def find_group(store: Store, chat: ChatRef) -> Group | None:
    """The group for ``chat``: the topic itself when it was set up as a group, else its parent chat.

    A lesson's thread (Discord) or topic (Telegram forum) lives inside the group's chat, so messages there
    carry a thread id the group itself was not set up with.
    """
    group = await store.get_group(chat)
    if group is None and chat.thread_id is not None:
        group = await store.get_group(ChatRef(chat.platform, chat.chat_id))
    return group

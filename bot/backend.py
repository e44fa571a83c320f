"""The backend contract: what the composition root needs of a platform connection, in a module of its own.

A backend is composed, not inherited (unlike Errbot's ``ErrBot(Backend, …)``): it is given the core's dispatch
when it starts and hands it core events, and it is the :class:`~handlers.ports.Outbox` for its platform, which
:class:`bot.outbox.RoutingOutbox` picks by :attr:`Backend.platform`. Telegram's, Discord's and the console's
backends implement it; :mod:`bot.platforms` and :mod:`bot.app` hold them by this type, so mypy checks each
where it is built. What a backend needs of the house besides the dispatch comes through the narrow ports of
:mod:`handlers.ports.backends`, never the core's ``Services``.
"""

from __future__ import annotations

from typing import Protocol

from handlers.vocabulary.actions import Action
from handlers.vocabulary.domain import MessageRef
from handlers.vocabulary.events import Dispatch


class Backend(Protocol):
    """A platform connection: a source of core events while started, and the Outbox for its platform."""

    @property
    def platform(self) -> str:
        """The platform's name, as in every :class:`~handlers.vocabulary.domain.MessageRef` it makes."""
        ...

    async def start(self, dispatch: Dispatch) -> None:
        """Connect, and from now on hand every event from the platform to ``dispatch``.

        Returns once connected (the console, whose input is read by its own ``run``, only remembers
        ``dispatch``). A start that fails half-way leaves nothing open, but :meth:`stop` is still safe to call.
        """
        ...

    async def stop(self) -> None:
        """Stop taking events, finish handling those taken, and close every connection; safe to call again."""
        ...

    async def send(self, action: Action) -> MessageRef | None:
        """Deliver ``action`` (see :meth:`handlers.ports.Outbox.send`)."""
        ...

    def link_to(self, ref: MessageRef) -> str | None:
        """A link that opens the message for a person, where the platform has such links."""
        ...

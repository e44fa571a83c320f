"""The web page's links (issue 17), made outside the core: signing needs the page's secret and address, which
are settings of the process that serves the page. ``Services.web_links`` is None when no page is served."""

from __future__ import annotations

from typing import Protocol

from handlers.vocabulary.domain import Member


class WebLinks(Protocol):
    async def login_link(self, member: Member, private_chat: str) -> str:
        """A signed link that logs ``member`` in for a few hours (their courses only, checked by the page).
        ``private_chat`` is the chat the link was asked for in, where the page's answers are confirmed: a
        platform's private chat with a member is not always known by the member's id (a Discord DM channel)."""
        ...

    async def share_link(self, course_slug: str) -> str:
        """The course's read-only share link, made when it has none."""
        ...

    async def revoke_share(self, course_slug: str) -> bool:
        """Turns the course's share link off; whether there was one."""
        ...

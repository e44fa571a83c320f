"""The core's :class:`handlers.ports.web.WebLinks`: signed login links and share links for the page.

No aiohttp here: the bot answers ``/web`` from this module while the page itself runs in the same process.
"""

from __future__ import annotations

from bot.web.auth import LINK_LIFETIME, Signer, Visitor
from handlers.ports import Clock
from handlers.vocabulary.domain import Member
from storage import AnyStore


class SignedWebLinks:
    def __init__(self, store: AnyStore, clock: Clock, base_url: str, secret: str | None) -> None:
        self._store, self._clock, self._base, self._secret = store, clock, base_url.rstrip("/"), secret

    async def signer(self) -> Signer:
        return Signer(self._secret or await self._store.web_secret())

    async def login_link(self, member: Member, private_chat: str) -> str:
        visitor = Visitor(member.platform, member.user_id, member.display_name, chat_id=private_chat)
        token = (await self.signer()).sign("login", visitor, self._clock.now() + LINK_LIFETIME)
        return f"{self._base}/login?t={token}"

    async def share_link(self, course_slug: str) -> str:
        token = await self._store.web_share_create(course_slug, self._clock.now())
        return f"{self._base}/share/{token}"

    async def revoke_share(self, course_slug: str) -> bool:
        had = await self._store.web_share_token(course_slug) is not None
        await self._store.web_share_revoke(course_slug)
        return had

"""Signed links and sessions for the web page: no passwords.

A login link carries a token signed with HMAC-SHA256 under the page's secret (WEB_SECRET, or one made and kept in
the database on first use). It names one member of one platform and expires after a few hours; the session
cookie it sets is signed the same way and lasts as long. A share link's token is a random string kept per course
in the database, so revoking it (``/web share off``) is deleting the row. The CSRF token of a form is an HMAC of
the session, so it needs no storage and changes with each session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

logger = logging.getLogger(__name__)

LINK_LIFETIME = timedelta(hours=4)


class WebListenError(Exception):
    """The page cannot listen on WEB_LISTEN (the port is taken, the host is not this machine's)."""


class BadToken(Exception):
    """The token is not ours (wrong, altered) or has expired; ``expired`` says which, for the page."""

    def __init__(self, expired: bool) -> None:
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


@dataclass(frozen=True, slots=True)
class Visitor:
    """Who holds a session: an instructor (platform, user id, name) or a share link's reader of one course.

    ``chat_id`` is the private chat the instructor asked for the link in, where an answer's confirmation goes. It
    is not always the user id: Telegram's private chat has the user's id, a Discord DM channel has an id of its
    own (a token without it, made before it was kept, falls back to the user id)."""

    platform: str = ""
    user_id: str = ""
    name: str = ""
    share_course: str = ""
    chat_id: str = ""

    @property
    def private_chat(self) -> str:
        return self.chat_id or self.user_id

    @property
    def is_instructor(self) -> bool:
        return not self.share_course


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Signs and checks the page's tokens with one secret; the time is passed in (the injected clock's)."""

    def __init__(self, secret: str) -> None:
        self._key = secret.encode()

    def _mac(self, kind: str, body: str) -> str:
        return _b64(hmac.new(self._key, f"{kind}.{body}".encode(), hashlib.sha256).digest())

    def sign(self, kind: str, visitor: Visitor, expires: datetime) -> str:
        payload = {
            "p": visitor.platform,
            "u": visitor.user_id,
            "n": visitor.name,
            "c": visitor.share_course,
            "h": visitor.chat_id,
            "e": int(expires.timestamp()),
        }
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        return f"{body}.{self._mac(kind, body)}"

    def verify(self, kind: str, token: str, now: datetime) -> Visitor:
        body, _, mac = token.partition(".")
        if not body or not hmac.compare_digest(mac, self._mac(kind, body)):
            raise BadToken(expired=False)
        try:
            payload = json.loads(_unb64(body))
            visitor = Visitor(
                str(payload["p"]), str(payload["u"]), str(payload["n"]), str(payload["c"]), str(payload.get("h", ""))
            )
            expires = int(payload["e"])
        except (ValueError, KeyError, TypeError) as error:
            raise BadToken(expired=False) from error
        if now.timestamp() >= expires:
            raise BadToken(expired=True)
        return visitor

    def csrf(self, session: str) -> str:
        return self._mac("csrf", session)

    def csrf_ok(self, session: str, token: str) -> bool:
        return bool(token) and hmac.compare_digest(token, self.csrf(session))

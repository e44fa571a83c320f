"""Members' text on its way in and out: what is kept, what counts as empty, what is safe to show.

Why: chat platforms pass through characters that render as nothing (U+200B and the other format characters,
the Hangul filler) or that rearrange what follows them (bidi overrides such as U+202E, which make
``txt.exe`` read as ``exe.txt``). A question made only of such characters would be an invisible entry in
``/top`` and the digest; a bidi override in an excerpt would spill over the author's name after it. So:

- :func:`kept_text` is what we store: the member's text as sent, minus NUL (which some drivers and exports
  cut strings at). Edits and exports can then still show what was really written.
- :func:`is_blank` tells a message with nothing visible in it, which is not a question (``/ask`` refuses it).
- :func:`shown_text` is what we display or export: control and bidi characters dropped, so no member's text
  can change how the text around it reads. Zero-width joiners stay: emoji sequences need them.
- :func:`safe_url` is the one rule for which links we show, whoever shows them (the lesson sources when they
  read a page or feed, each backend when it renders a link): no ``javascript:`` or ``data:`` link can reach a
  member through any path.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import urlsplit

# Explicit bidi embeddings, overrides and isolates, and the marks that act like them.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
# Characters that look like nothing although Unicode does not call them white space or format characters.
INVISIBLE_LETTERS = frozenset("\u3164\u115f\u1160\uffa0\u2800")
LINE_BREAKS = frozenset("\n\t")


def kept_text(text: str) -> str:
    """The text to store: as the member sent it, without NUL characters."""
    return text.replace("\x00", "")


def is_blank(text: str) -> bool:
    """True when nothing in ``text`` would show: only white space, format and control characters."""
    return all(
        char.isspace() or char in INVISIBLE_LETTERS or unicodedata.category(char) in ("Cf", "Cc") for char in text
    )


def shown_text(text: str) -> str:
    """``text`` without the characters that are invisible controls or reorder what follows them."""
    return "".join(char for char in text if char in LINE_BREAKS or not _hidden_control(char))


def _hidden_control(char: str) -> bool:
    return char in BIDI_CONTROLS or unicodedata.category(char) == "Cc"


SAFE_SCHEMES = frozenset({"http", "https"})


def safe_url(url: str | None) -> str | None:
    """``url`` (without surrounding white space) when a person can open it safely: http or https with a host,
    and no space or control character inside; else None."""
    if not url:
        return None
    url = url.strip()
    if any(ord(char) < 33 or char == "\x7f" for char in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in SAFE_SCHEMES and parts.netloc else None

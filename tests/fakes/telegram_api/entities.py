"""Message text as Telegram stores it: UTF-16 offsets, entity order, links, the entities Telegram finds by
itself (urls, mentions, commands...) and the clean-up after parsing (tdlib's fix_formatted_text, simplified).
"""

from __future__ import annotations

import contextlib
import copy
import ipaddress
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs

from tests.fakes.telegram_api.model import Json


class ParseError(Exception):
    """A formatting error; the Bot API answers ``Bad Request: can't parse entities: <message>``."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units -- the unit of every MessageEntity offset and length."""
    return len(text.encode("utf-16-le")) // 2


def _utf16_index(text: str) -> list[int]:
    """``result[i]`` is the UTF-16 offset of code point ``i`` (one extra entry for the end)."""
    out = [0]
    for ch in text:
        out.append(out[-1] + (2 if ord(ch) > 0xFFFF else 1))
    return out


def _utf16_slice(text: str, offset: int, length: int) -> str:
    raw = text.encode("utf-16-le")
    return raw[2 * offset : 2 * (offset + length)].decode("utf-16-le", errors="replace")


# tdlib's MessageEntity::get_type_priority: entities at the same offset and length are ordered by it.
_PRIORITY = {
    "mention": 50,
    "hashtag": 50,
    "bot_command": 50,
    "url": 50,
    "email": 50,
    "bold": 90,
    "italic": 91,
    "code": 20,
    "pre": 11,
    "pre_code": 10,
    "text_link": 49,
    "text_mention": 49,
    "cashtag": 50,
    "phone_number": 50,
    "underline": 92,
    "strikethrough": 93,
    "blockquote": 0,
    "bank_card_number": 50,
    "spoiler": 94,
    "custom_emoji": 99,
    "expandable_blockquote": 0,
}


_CONTINUOUS_USER_TYPES = frozenset({"code", "pre", "text_link", "text_mention", "custom_emoji"})


_QUOTES = frozenset({"blockquote", "expandable_blockquote"})


_AUTO_TYPES = frozenset({"mention", "hashtag", "cashtag", "bot_command", "url", "email", "phone_number"})


def _sort_key(entity: Json) -> tuple[int, int, int]:
    kind = "pre_code" if entity["type"] == "pre" and entity.get("language") else entity["type"]
    return entity["offset"], -entity["length"], _PRIORITY.get(kind, 50)


def _sort_entities(entities: list[Json]) -> list[Json]:
    return sorted(entities, key=_sort_key)


def _entity(kind: str, offset: int, length: int, **extra: Any) -> Json:
    entity: Json = {"offset": offset, "length": length, "type": kind}
    entity.update({k: v for k, v in extra.items() if v is not None})
    return entity


def _link_user_id(url: str) -> int | None:
    """tdlib's get_link_user_id: ``tg://user?id=123`` (also ``tg:user?id=``) names a user."""
    match = re.fullmatch(r"(?i)tg:(?://)?user/?\?(.*)", url.strip())
    if not match:
        return None
    ids = parse_qs(match.group(1)).get("id")
    if ids and ids[0].isdigit() and int(ids[0]) > 0:
        return int(ids[0])
    return None


def _valid_host(host: str) -> bool:
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(host)
        return True
    labels = host.split(".")
    if len(labels) < 2 or any(not label for label in labels):
        return False
    tld = labels[-1]
    return len(tld) >= 2 and all(ch.isalpha() for ch in tld)


def _checked_link(url: str) -> str | None:
    """A simplified tdlib ``LinkManager::get_checked_link``: a normalised URL, or None if invalid.

    ``telegram.org`` becomes ``http://telegram.org/`` (tdlib test vectors in
    ``test/message_entities.cpp``); a single word such as ``localhost`` is not a link.
    """
    if not url or any(ch.isspace() for ch in url):
        return None
    if re.match(r"(?i)tg:", url):
        return url
    if "://" not in url:
        url = "http://" + url
    scheme, rest = url.split("://", 1)
    scheme = scheme.lower()
    if scheme not in {"http", "https", "ton", "ftp"}:
        return None
    cut = len(rest)
    for sep in "/?#":
        pos = rest.find(sep)
        if pos != -1:
            cut = min(cut, pos)
    netloc, tail = rest[:cut], rest[cut:]
    host = netloc.rsplit("@", 1)[-1].split(":", 1)[0].lower()
    if not _valid_host(host):
        return None
    if not tail.startswith("/"):
        tail = "/" + tail
    return f"{scheme}://{netloc.lower()}{tail}"


def _link_entity(url: str, offset: int, length: int, known_users: Mapping[int, Json] | None) -> list[Json]:
    user_id = _link_user_id(url)
    if user_id is not None:
        # A text_mention carries the User object; the fake can only fill it for users it knows.
        user = (known_users or {}).get(user_id)
        return [_entity("text_mention", offset, length, user=copy.deepcopy(user))] if user else []
    checked = _checked_link(url)
    return [_entity("text_link", offset, length, url=checked)] if checked else []


def _word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _hashtag_letter(ch: str) -> bool:
    return ch.isalnum() or ch in "_\u200c\u00b7" or "\u0d80" <= ch <= "\u0dff"


_URL_RE = re.compile(r"(?i)(?<![\w@.])(?:(?:https?|ftp|tg|ton)://|www\.|t\.me/)[^\s<>\"]+")


_EMAIL_RE = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])")


def _trim_url(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1] in ".,;:!?'\"":
        end -= 1
    while end > start and text[end - 1] == ")" and text[start:end].count("(") < text[start:end].count(")"):
        end -= 1
    return end


def find_auto_entities(text: str) -> list[Json]:
    """The entities Telegram finds by itself in any message text: urls, e-mails, @mentions,
    #hashtags, $CASHTAGS and /bot_commands (with tdlib's boundary rules)."""
    spans: list[tuple[int, int, str]] = []
    for match in _URL_RE.finditer(text):
        end = _trim_url(text, match.start(), match.end())
        if end > match.start():
            spans.append((match.start(), end, "url"))
    spans.extend((m.start(), m.end(), "email") for m in _EMAIL_RE.finditer(text))
    size = len(text)
    for i, ch in enumerate(text):
        prev = text[i - 1] if i else ""
        if ch == "/" and not (prev and (_word(prev) or prev in "/<>")):
            j = i + 1
            while j < size and (text[j].isascii() and _word(text[j])):
                j += 1
            if not 1 <= j - i - 1 <= 64:
                continue
            if j < size and text[j] == "@":
                k = j + 1
                while k < size and text[k].isascii() and _word(text[k]):
                    k += 1
                if not 3 <= k - j - 1 <= 32:
                    continue
                j = k
            if j < size and (_word(text[j]) or text[j] in "/<>"):
                continue
            spans.append((i, j, "bot_command"))
        elif ch == "@" and not (prev and _word(prev)):
            j = i + 1
            while j < size and text[j].isascii() and _word(text[j]):
                j += 1
            if 4 <= j - i - 1 <= 32 and not (j < size and _word(text[j])):
                spans.append((i, j, "mention"))
        elif ch == "#" and not (prev and _hashtag_letter(prev)):
            j = i + 1
            while j < size and _hashtag_letter(text[j]):
                j += 1
            body = text[i + 1 : min(j, i + 257)]
            if body and any(c.isalpha() for c in body) and not (j < size and text[j] == "#"):
                spans.append((i, i + 1 + len(body), "hashtag"))
        elif ch == "$" and not (prev and (_hashtag_letter(prev) or prev == "$")):
            j = i + 1
            if text.startswith("1INCH", j):
                j += 5
            else:
                while j < size and "A" <= text[j] <= "Z":
                    j += 1
            if 1 <= j - i - 1 <= 8 and not (j < size and (_hashtag_letter(text[j]) or text[j] == "$")):
                spans.append((i, j, "cashtag"))
    chosen: list[tuple[int, int, str]] = []
    for start, end, kind in sorted(spans, key=lambda s: (s[2] not in ("url", "email"), s[0])):
        if all(end <= s or start >= e for s, e, _ in chosen):
            chosen.append((start, end, kind))
    index = _utf16_index(text)
    return _sort_entities([_entity(kind, index[s], index[e] - index[s]) for s, e, kind in chosen])


def _overlaps(a: Json, b: Json) -> bool:
    return a["offset"] < b["offset"] + b["length"] and b["offset"] < a["offset"] + a["length"]


def _contains(outer: Json, inner: Json) -> bool:
    return outer["offset"] <= inner["offset"] and inner["offset"] + inner["length"] <= outer["offset"] + outer["length"]


def fix_formatted_text(text: str, entities: Sequence[Json], *, detect: bool = True) -> tuple[str, list[Json]]:
    """What Telegram does after parsing (tdlib's fix_formatted_text, simplified).

    Leading and trailing white space is removed (so ``"  hi  "`` is sent as ``"hi"``), entities
    are clipped to the text, nothing stays inside code/pre ("bold, italic, ... can contain
    and can be part of any other entities, except pre and code"), block quotations are not
    nested, and the automatically found entities are added.
    """
    stripped = text.lstrip(" \t\r\n\v\f")
    lead = utf16_len(text) - utf16_len(stripped)
    stripped = stripped.rstrip(" \t\r\n\v\f")
    total = utf16_len(stripped)
    fixed: list[Json] = []
    for raw in entities:
        entity = copy.deepcopy(dict(raw))
        start = max(0, entity["offset"] - lead)
        end = min(total, entity["offset"] + entity["length"] - lead)
        if end <= start:
            continue
        entity["offset"], entity["length"] = start, end - start
        fixed.append(entity)
    fixed = _sort_entities(fixed)
    kept: list[Json] = []
    for entity in fixed:  # sorted: an enclosing entity comes before what it encloses
        if any(_contains(block, entity) for block in kept if block["type"] in ("code", "pre")):
            continue
        if entity["type"] in _QUOTES and any(_contains(q, entity) for q in kept if q["type"] in _QUOTES):
            continue
        kept.append(entity)
    if detect:
        blockers = [e for e in kept if e["type"] in _CONTINUOUS_USER_TYPES]
        for auto in find_auto_entities(stripped):
            if not any(_overlaps(auto, b) for b in blockers) and not any(
                e["type"] in _AUTO_TYPES and _overlaps(auto, e) for e in kept
            ):
                kept.append(auto)
    return stripped, _sort_entities(kept)

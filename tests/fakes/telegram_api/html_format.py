"""HTML formatting ("Formatting options" > HTML style): a line-by-line port of tdlib's ``parse_html``.

studybot sends HTML only, so this is the one parse mode the server models; Markdown and MarkdownV2 are
refused loudly (see :meth:`~tests.fakes.telegram_api.messages._Messages._formatted`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from tests.fakes.telegram_api.entities import ParseError, _entity, _link_entity, _sort_entities
from tests.fakes.telegram_api.model import Json

_HTML_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)


_HTML_NAMED = {b"lt": 0x3C, b"gt": 0x3E, b"amp": 0x26, b"quot": 0x22}


def _is_space(c: int) -> bool:
    # td::is_space counts the terminating NUL as a space; the parsers rely on it at the end of text.
    return c in (0x20, 0x09, 0x0D, 0x0A, 0x00, 0x0B)


def _is_alpha(c: int) -> bool:
    return 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A


def _is_digit(c: int) -> bool:
    return 0x30 <= c <= 0x39


def _is_hex(c: int) -> bool:
    return _is_digit(c) or 0x41 <= c <= 0x46 or 0x61 <= c <= 0x66


def _decode_html_entity(src: bytes, pos: int) -> tuple[int, int]:
    """tdlib's decode_html_entity: ``(code point, position after it)``, or ``(0, pos)``.

    The ``;`` is optional; only ``lt gt amp quot`` and numeric references are known.
    """
    n = len(src)

    def at(i: int) -> int:
        return src[i] if i < n else 0

    end = pos + 1
    res = 0
    if at(pos + 1) == 0x23:  # '#'
        end += 1
        if at(pos + 2) == 0x78:  # 'x'
            end += 1
            while _is_hex(at(end)):
                res = res * 16 + int(chr(at(end)), 16)
                end += 1
        else:
            while _is_digit(at(end)):
                res = res * 10 + at(end) - 0x30
                end += 1
        if res == 0 or res >= 0x10FFFF or end - pos >= 10:
            return 0, pos
    else:
        while _is_alpha(at(end)):
            end += 1
        res = _HTML_NAMED.get(src[pos + 1 : end], 0)
        if not res:
            return 0, pos
    if at(end) == 0x3B:
        end += 1
    return res, end


def _append_code_point(out: bytearray, code: int) -> None:
    out += chr(code).encode("utf-8", "surrogatepass")


def parse_html(
    text: str,
    *,
    strict: bool = False,
    known_users: Mapping[int, Json] | None = None,
) -> tuple[str, list[Json]]:
    """Plain text and entities (UTF-16 offsets) of an HTML-formatted text, as Telegram parses it.

    A line-by-line port of tdlib's ``parse_html`` (the Bot API server is tdlib), so error
    messages and byte offsets (of the UTF-8 input) are Telegram's.  ``strict`` additionally
    enforces the documented rule that bare ``&``/``>`` must be escaped (see the module doc).
    """
    src = text.encode("utf-8", "surrogatepass")
    n = len(src)

    def at(i: int) -> int:
        return src[i] if i < n else 0

    out = bytearray()
    utf16 = 0
    entities: list[Json] = []
    nested: list[tuple[str, str, int, int]] = []  # tag, argument, utf16 offset, byte position in out
    bad_surrogate = False
    i = 0
    while i < n:
        c = src[i]
        if c == 0x26:  # '&'
            code, after = _decode_html_entity(src, i)
            if code:
                utf16 += 2 if code > 0xFFFF else 1
                bad_surrogate |= 0xD800 <= code <= 0xDFFF
                _append_code_point(out, code)
                i = after
                continue
            if strict:
                name = re.match(rb"&#?[A-Za-z0-9]+;", src[i:])
                if name:
                    raise ParseError(f'Unsupported HTML entity "{name.group(0).decode()}" at byte offset {i}')
                raise ParseError(f'Character "&" must be escaped as "&amp;" at byte offset {i}')
        if c != 0x3C:  # not '<'
            if strict and c == 0x3E:
                raise ParseError(f'Character ">" must be escaped as "&gt;" at byte offset {i}')
            if c & 0xC0 != 0x80:
                utf16 += 2 if c >= 0xF0 else 1  # a 4-byte UTF-8 sequence is a surrogate pair
            out.append(c)
            i += 1
            continue

        begin = i
        i += 1
        if at(i) != 0x2F:  # start tag
            while not _is_space(at(i)) and at(i) != 0x3E:
                i += 1
            if at(i) == 0:
                raise ParseError(f"Unclosed start tag at byte offset {begin}")
            tag = src[begin + 1 : i].decode("utf-8", "replace").lower()
            if tag not in _HTML_TAGS:
                raise ParseError(f'Unsupported start tag "{tag}" at byte offset {begin}')
            argument = ""
            while at(i) != 0x3E:
                while at(i) != 0 and _is_space(at(i)):
                    i += 1
                if at(i) == 0x3E:
                    break
                if at(i) == 0:
                    raise ParseError(f"Unclosed start tag at byte offset {begin}")
                attr_begin = i
                while not _is_space(at(i)) and at(i) not in (0x3D, 0x3E):
                    i += 1
                attr = src[attr_begin:i]
                if not attr:
                    raise ParseError(f'Empty attribute name in the tag "{tag}" at byte offset {begin}')
                while at(i) != 0 and _is_space(at(i)):
                    i += 1
                if at(i) != 0x3D:
                    # An attribute without a value (current tdlib), as in <blockquote expandable>.
                    if tag == "blockquote" and attr == b"expandable":
                        argument = "1"
                    continue
                i += 1
                while at(i) != 0 and _is_space(at(i)):
                    i += 1
                if at(i) == 0:
                    raise ParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
                if at(i) not in (0x22, 0x27):
                    # "A name token (a sequence of letters, digits, periods, or hyphens)", case-insensitive.
                    token_begin = i
                    while _is_alpha(at(i)) or _is_digit(at(i)) or at(i) in (0x2E, 0x2D):
                        i += 1
                    value = src[token_begin:i].decode().lower()
                    if not _is_space(at(i)) and at(i) != 0x3E:
                        raise ParseError(f"Unexpected end of name token at byte offset {token_begin}")
                else:
                    quote = at(i)
                    i += 1
                    raw = bytearray()
                    while at(i) != quote and at(i) != 0:
                        if at(i) == 0x26:
                            code, after = _decode_html_entity(src, i)
                            if code:
                                _append_code_point(raw, code)
                                i = after
                                continue
                        raw.append(at(i))
                        i += 1
                    if at(i) == quote:
                        i += 1
                    value = raw.decode("utf-8", "replace")
                if at(i) == 0:
                    raise ParseError(f"Unclosed start tag at byte offset {begin}")
                if tag == "a" and attr == b"href":
                    argument = value
                elif tag == "code" and attr == b"class" and value.startswith("language-"):
                    argument = value[len("language-") :]
                elif tag == "span" and attr == b"class" and value.startswith("tg-"):
                    argument = value[len("tg-") :]
                elif tag == "tg-emoji" and attr == b"emoji-id":
                    argument = value
                elif tag == "blockquote" and attr == b"expandable":
                    argument = "1"
            if tag == "span" and argument != "spoiler":
                raise ParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {begin}')
            nested.append((tag, argument, utf16, len(out)))
            i += 1  # '>'
            continue

        # end tag
        if not nested:
            raise ParseError(f"Unexpected end tag at byte offset {begin}")
        while not _is_space(at(i)) and at(i) != 0x3E:
            i += 1
        end_tag = src[begin + 2 : i].decode("utf-8", "replace").lower()
        while _is_space(at(i)) and at(i) != 0:
            i += 1
        if at(i) != 0x3E:
            raise ParseError(f"Unclosed end tag at byte offset {begin}")
        tag, argument, offset, out_pos = nested[-1]
        if end_tag and end_tag != tag:
            raise ParseError(f'Unmatched end tag at byte offset {begin}, expected "</{tag}>", found "</{end_tag}>"')
        length = utf16 - offset
        if length > 0:
            if tag in ("i", "em"):
                entities.append(_entity("italic", offset, length))
            elif tag in ("b", "strong"):
                entities.append(_entity("bold", offset, length))
            elif tag in ("s", "strike", "del"):
                entities.append(_entity("strikethrough", offset, length))
            elif tag in ("u", "ins"):
                entities.append(_entity("underline", offset, length))
            elif tag in ("tg-spoiler", "span"):
                entities.append(_entity("spoiler", offset, length))
            elif tag == "tg-emoji":
                if not argument.isdigit() or int(argument) == 0:
                    raise ParseError("Invalid custom emoji identifier specified")
                entities.append(_entity("custom_emoji", offset, length, custom_emoji_id=str(int(argument))))
            elif tag == "a":
                url = argument or out[out_pos:].decode("utf-8", "replace")
                entities.extend(_link_entity(url, offset, length, known_users))
            elif tag == "pre":
                last = entities[-1] if entities else None
                if (
                    last
                    and last["type"] == "code"
                    and last["offset"] == offset
                    and last["length"] == length
                    and last.get("language")
                ):
                    last["type"] = "pre"
                else:
                    entities.append(_entity("pre", offset, length))
            elif tag == "code":
                last = entities[-1] if entities else None
                if (
                    last
                    and last["type"] == "pre"
                    and last["offset"] == offset
                    and last["length"] == length
                    and argument
                ):
                    last["language"] = argument
                else:
                    entities.append(_entity("code", offset, length, language=argument or None))
            elif tag == "blockquote":
                entities.append(_entity("expandable_blockquote" if argument else "blockquote", offset, length))
        nested.pop()
        i += 1  # '>'
    if nested:
        raise ParseError(f'Can\'t find end tag corresponding to start tag "{nested[-1][0]}"')
    for entity in entities:
        if entity["type"] == "code":
            entity.pop("language", None)  # "Programming language can't be specified for standalone code tags."
    if bad_surrogate:
        raise ParseError(
            "Text contains invalid Unicode characters after decoding HTML entities, "
            "check for unmatched surrogate code units"
        )
    return out.decode("utf-8"), _sort_entities(entities)

"""The first-character lookahead and dispatch of the detector's alternations: the characters are right, and a
pattern with them finds exactly what the plain alternation finds, on every question of the labelled and later
sets."""

from __future__ import annotations

import json
import re

import pytest

from handlers.text.duplicates import features
from handlers.text.duplicates.first_chars import Alternation, first_chars, with_first_chars
from handlers.text.duplicates.normalise import normalise
from tests.paths import ROOT


@pytest.mark.parametrize(
    ("pattern", "chars"),
    [
        (r"安装|重装|装", {"安", "重", "装"}),
        (r"(?:re)?install(?:s|ed)?\b", {"r", "i"}),  # an optional prefix: either may begin
        (r"(?<=gb )cards?\b|显卡", {"c", "显"}),  # a lookbehind consumes nothing
        (r"\bwhy\b|^(?:is|are)\b", {"w", "i", "a"}),
        (r"[a-c]x|y", {"a", "b", "c", "y"}),
        (r"交(?=$|[作到])", {"交"}),
    ],
)
def test_the_first_characters_of_a_pattern(pattern: str, chars: set[str]) -> None:
    assert first_chars(pattern) == chars


@pytest.mark.parametrize("pattern", [r"\d+", r"x?", r"[^a]b", r".a", r"[\u3400-\u9fff]+", r"a|"])
def test_a_pattern_whose_first_character_cannot_be_listed_has_none(pattern: str) -> None:
    assert first_chars(pattern) is None
    assert with_first_chars(pattern) == pattern


def _texts() -> list[str]:
    texts: list[str] = []
    for path in sorted((ROOT / "tests" / "data").glob("duplicates*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            texts.extend(normalise(str(value)) for key, value in row.items() if key in ("text", "a", "b"))
    return texts


def _plain(pattern: re.Pattern[str] | Alternation) -> re.Pattern[str]:
    """The detector's pattern as one alternation: an Alternation's own, or the pattern without its lookahead
    (with_first_chars wraps the pattern as ``(?=[…])(?:…)``)."""
    if isinstance(pattern, Alternation):
        return pattern.plain
    prefix = re.match(r"\(\?=\[(?:\\.|[^\]\\])*\]\)\(\?:", pattern.pattern)
    assert prefix is not None, "the pattern has no first-character lookahead"
    return re.compile(pattern.pattern[prefix.end() : -1])


@pytest.mark.parametrize("name", ["_GLOSSARY_PATTERN", "_ASK_ANY", "_THING_ANY", "_ZH_STOP", "_NAMED_KINDS"])
def test_the_lookahead_changes_no_match(name: str) -> None:
    fast = getattr(features, name)
    plain = _plain(fast)
    texts = _texts()
    assert len(texts) > 500
    for text in texts:
        found = [(m.span(), m.lastgroup) for m in fast.finditer(text)]
        assert found == [(m.span(), m.lastgroup) for m in plain.finditer(text)], text


def test_an_alternation_tries_its_branches_in_order_where_a_term_may_begin() -> None:
    branches = [r"(?P<a>安装包)", r"(?P<b>安装|装)", r"(?P<c>(?<=gb )cards?\b)", r"(?P<d>\bcar\b)", r"(?P<e>\d+)"]
    alternation = Alternation(branches)
    text = "安装包 和 安装 24gb card scar car 12 x12"
    found = [(m.group(), m.lastgroup) for m in alternation.finditer(text)]
    assert found == [("安装包", "a"), ("安装", "b"), ("24", "e"), ("card", "c"), ("car", "d"), ("12", "e")]
    assert found == [(m.group(), m.lastgroup) for m in alternation.plain.finditer(text)]
    assert alternation.sub(lambda m: f"<{m.lastgroup}>", text) == alternation.plain.sub(
        lambda m: f"<{m.lastgroup}>", text
    )
    assert alternation.sub(" ", "nothing here") == "nothing here"

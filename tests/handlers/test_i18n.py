"""The translation layer: both catalogs complete and consistent, lookups and fallbacks."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from handlers.i18n import FORMS, NUMBER, Translator, placeholders
from handlers.vocabulary.errors import CRON_FIELDS, CRON_PROBLEMS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def i18n() -> Translator:
    return Translator.load("en")


def test_both_languages_have_the_same_keys(i18n: Translator) -> None:
    assert set(i18n.keys("zh")) == set(i18n.keys("en"))


def test_both_languages_take_the_same_placeholders(i18n: Translator) -> None:
    for key in i18n.keys("en"):
        assert placeholders(i18n._catalogs["zh"][key]) == placeholders(i18n._catalogs["en"][key]), key


def test_every_key_the_code_uses_is_translated(i18n: Translator) -> None:
    used: set[str] = set()
    pattern = re.compile(
        r"""["']((?:error|lesson|ask|top|answer|digest|setup|unfollow|instructor|schedule|likes|"""
        r"""lang|stats|help|start|telegram|discord)\.[a-z_]+)["']"""
    )
    for path in [*ROOT.glob("handlers/**/*.py"), *ROOT.glob("bot/**/*.py")]:
        used.update(pattern.findall(path.read_text(encoding="utf-8")))
    assert used, "the scan found no keys: the pattern is broken"
    missing = sorted(key for key in used if key not in set(i18n.keys("en")))
    assert not missing


def test_lookup_fills_placeholders_per_language(i18n: Translator) -> None:
    assert i18n("en", "ask.recorded", id=7, lesson="Intro") == "Question #7 recorded (Intro). Others can 👍 it."
    assert i18n("zh", "ask.recorded", id=7, lesson="开篇") == "已记录问题 #7（开篇）。大家可以点 👍 支持它。"


def test_regional_and_unknown_languages_fall_back(i18n: Translator) -> None:
    assert i18n.normalise("zh-CN") == "zh"
    assert i18n.normalise("EN_us") == "en"
    assert i18n.normalise("fr") == "en"
    assert i18n.normalise(None) == "en"


def test_user_text_with_braces_is_not_interpreted(i18n: Translator) -> None:
    assert (
        i18n("en", "error.unknown_course", course="{known}", known="a")
        == "There is no course “{known}”. Known courses: a"
    )


def test_missing_key_returns_the_key_rather_than_crashing(i18n: Translator) -> None:
    assert i18n("en", "no.such.key") == "no.such.key"


def test_a_count_takes_the_form_of_its_number_in_english_and_stays_plain_in_chinese(i18n: Translator) -> None:
    assert i18n("en", "top.heading", count=1) == "Top 1 question"
    assert i18n("en", "top.heading", count=2) == "Top 2 questions"
    assert i18n("en", "top.heading", count=0) == "Top 0 questions"
    assert i18n("en", "digest.open_item", id=3, likes=1, days=1) == "#3 👍1 · 1 day open"
    assert i18n("zh", "top.heading", count=1) == i18n("zh", "top.heading", count=2).replace("2", "1")


def test_every_plural_placeholder_has_a_singular_and_a_plural_with_the_number() -> None:
    for language, catalog in Translator.load("en")._catalogs.items():
        for key, template in catalog.items():
            for _, name, spec, _ in string.Formatter().parse(template):
                if spec and FORMS in spec:
                    forms = spec.split(FORMS)
                    assert language == "en" and len(forms) == 2, (language, key)
                    assert all(NUMBER in form for form in forms), (key, name)


def test_a_plural_placeholder_given_no_whole_number_shows_the_template_rather_than_crashing(
    i18n: Translator, caplog: pytest.LogCaptureFixture
) -> None:
    assert i18n("en", "top.heading", count="many") == "Top {count:# question|# questions}"
    assert "bad placeholders in en/top.heading" in caplog.text


@pytest.mark.parametrize("language", ["en", "zh"])
def test_every_cron_problem_and_field_is_explained(i18n: Translator, language: str) -> None:
    keys = set(i18n.keys(language))
    assert {f"schedule.cron_{problem}" for problem in CRON_PROBLEMS} <= keys
    assert {f"schedule.field_{field}" for field in CRON_FIELDS} <= keys

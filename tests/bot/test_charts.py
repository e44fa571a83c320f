"""The digest chart (issue 16): a phone-sized PNG in the course's language, every glyph in the CJK font, no
picture for an empty period, and days that are the course's days across a clock change.

Warnings are errors here: matplotlib only *warns* about a glyph its font lacks (and draws an empty box), so a
warning that slipped through would be exactly the failure these tests exist to catch.
"""

from __future__ import annotations

import io
import logging
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fontTools.ttLib import TTFont
from matplotlib.font_manager import findfont
from matplotlib.text import Text
from PIL import Image

from bot.charts import (
    CJK_FONT_FAMILY,
    CJK_FONT_PACKAGE,
    HEIGHT_PX,
    LESSON_NAME_COLUMNS,
    WIDTH_PX,
    ChartFontMissing,
    ChartRenderer,
    MissingGlyphs,
    find_font,
    shorten,
)
from handlers.i18n import Translator
from handlers.vocabulary.charts import (
    MAX_LESSONS,
    Activity,
    DayCount,
    DigestChart,
    LessonCount,
    build_chart,
    chart_labels,
    local_days,
    period_dates,
    tally,
)
from tests.clock import TestClock
from tests.paths import ROOT

pytestmark = pytest.mark.filterwarnings("error")

BERLIN = "Europe/Berlin"
SHANGHAI = "Asia/Shanghai"
LESSONS = [
    LessonCount("第一课：机器学习导论与线性回归的基本概念和常见误区", 12, 40),
    LessonCount("Lesson 2: Gradient descent, momentum and Adam, explained with worked examples", 9, 30),
    LessonCount("神经网络", 5, 8),
    LessonCount("Costs: $5 or $10?", 4, 3),
]


@pytest.fixture(scope="module")
def i18n() -> Translator:
    return Translator.load()


@pytest.fixture(scope="module")
def renderer(i18n: Translator) -> ChartRenderer:
    return ChartRenderer(i18n)


def week_chart(clock: TestClock, timezone: str = SHANGHAI) -> DigestChart:
    """A week's digest ending now, busy on some days and silent on others."""
    end = clock.now()
    first, last = period_dates(end - timedelta(days=7), end, timezone)
    busy = {0: (3, 10), 2: (12, 40), 3: (5, 3), 6: (7, 25)}
    days = [DayCount(first + timedelta(days=n), *counts) for n, counts in busy.items()]
    chart = build_chart(first, last, days, LESSONS)
    assert chart is not None
    return chart


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_chart_with_chinese_and_english_titles_renders_a_phone_sized_png(
    renderer: ChartRenderer, clock: TestClock, language: str
) -> None:
    png = renderer.render_png(week_chart(clock), language)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(png)) as image:
        image.load()  # decodes every pixel: a truncated or corrupt file fails here
        assert image.format == "PNG"
        assert image.size == (WIDTH_PX, HEIGHT_PX)
        colours = {colour for _, colour in image.convert("RGB").getcolors(maxcolors=1 << 20) or []}
    assert (0x00, 0x72, 0xB2) in colours and (0xD5, 0x5E, 0x00) in colours  # both series were drawn
    assert len(png) < 300_000


def test_every_text_is_drawn_in_the_cjk_font(renderer: ChartRenderer, clock: TestClock) -> None:
    figure = renderer.draw(week_chart(clock), "zh")
    figure.canvas.draw()  # the texts as drawn, ticks made at drawing time included
    texts = [t for t in figure.findobj(Text) if t.get_visible() and t.get_text()]
    shown = {t.get_text() for t in texts}
    assert any("每日提问与点赞" in text for text in shown)
    assert {"提问", "点赞", "神经网络", "Costs: $5 or $10?"} <= shown  # dollars stay text, not TeX maths
    assert any(text.startswith("第一课") and text.endswith("…") for text in shown)
    assert len(texts) > 30
    for text in texts:
        assert findfont(text.get_fontproperties()) == str(renderer.font.path), text.get_text()
    with TTFont(renderer.font.path, fontNumber=0, lazy=True) as font:
        assert font["name"].getDebugName(1) == CJK_FONT_FAMILY
    assert renderer.font.family == CJK_FONT_FAMILY
    for text in shown:
        assert not renderer.font.missing(text), text


def test_a_lesson_title_with_characters_the_font_lacks_loses_them_not_the_chart(
    renderer: ChartRenderer, clock: TestClock, caplog: pytest.LogCaptureFixture
) -> None:
    chart = week_chart(clock)
    rocket = DigestChart(chart.first_day, chart.last_day, chart.days, (LessonCount("Launch 🚀 day", 1, 1),))
    assert renderer.font.missing("Launch 🚀 day") == "🚀"
    with caplog.at_level(logging.DEBUG, logger="bot.charts"):
        figure = renderer.draw(rocket, "en")
    figure.canvas.draw()
    shown = {t.get_text() for t in figure.findobj(Text) if t.get_visible() and t.get_text()}
    assert "Launch day" in shown
    assert not any("🚀" in text for text in shown)
    assert any("🚀" in record.getMessage() and record.levelno == logging.DEBUG for record in caplog.records)
    with Image.open(io.BytesIO(renderer.render_png(rocket, "en"))) as image:
        assert image.size == (WIDTH_PX, HEIGHT_PX)


def test_a_character_the_font_lacks_in_the_catalog_words_raises_a_clear_error(renderer: ChartRenderer) -> None:
    """Only users' lesson titles are cleaned; the chart's own words must all be drawable."""
    with pytest.raises(MissingGlyphs) as raised:
        renderer.font.require(["Questions", "Launch 🚀 day"])
    assert raised.value.characters == "🚀"
    assert raised.value.labels == ("Launch 🚀 day",)
    message = str(raised.value)
    assert CJK_FONT_FAMILY in message and "U+1F680" in message and "Launch 🚀 day" in message


def test_a_missing_font_names_the_package_to_install() -> None:
    with pytest.raises(ChartFontMissing, match=CJK_FONT_PACKAGE):
        find_font("No Such Font Family For Studybot")


def test_an_empty_period_gives_no_chart(clock: TestClock) -> None:
    first, last = period_dates(clock.now() - timedelta(days=7), clock.now(), SHANGHAI)
    assert build_chart(first, last, [], []) is None
    assert build_chart(first, last, [DayCount(first), DayCount(last, 0, 0)], [LessonCount("空", 0, 0)]) is None
    assert build_chart(first, last, [DayCount(last, likes=1)], []) is not None  # a like alone is activity


def test_days_without_activity_are_zeros_and_late_posts_widen_the_range(clock: TestClock) -> None:
    first, last = period_dates(clock.now() - timedelta(days=7), clock.now(), SHANGHAI)
    late = first - timedelta(days=2)  # a post that reached the bot after its period's digest was recorded
    chart = build_chart(first, last, [DayCount(last, 2, 1), DayCount(last, 1, 0), DayCount(late, 1, 0)], [])
    assert chart is not None
    assert [d.day for d in chart.days] == [late + timedelta(days=n) for n in range((last - late).days + 1)]
    assert chart.days[-1] == DayCount(last, 3, 1)
    assert chart.days[1] == DayCount(late + timedelta(days=1), 0, 0)
    assert (chart.questions, chart.likes) == (4, 1)


def test_lessons_beyond_the_limit_are_summed_into_one_translated_bar(
    renderer: ChartRenderer, i18n: Translator, clock: TestClock
) -> None:
    day = clock.now().date()
    lessons = [LessonCount(f"第{n}课", questions=20 - n, likes=n) for n in range(MAX_LESSONS + 3)]
    chart = build_chart(day, day, [DayCount(day, 1, 1)], lessons)
    assert chart is not None
    assert len(chart.lessons) == MAX_LESSONS and chart.other_lessons == 4
    assert chart.lessons[-1].questions == sum(20 - n for n in range(MAX_LESSONS - 1, MAX_LESSONS + 3))
    assert chart_labels(i18n, "en", chart).lesson_names[-1] == "4 other lessons"
    assert chart_labels(i18n, "zh", chart).lesson_names[-1] == "其他 4 课"
    with Image.open(io.BytesIO(renderer.render_png(chart, "zh"))) as image:
        assert image.size == (WIDTH_PX, HEIGHT_PX)


def test_a_month_long_period_still_fits(renderer: ChartRenderer, i18n: Translator, clock: TestClock) -> None:
    first, last = period_dates(clock.now() - timedelta(days=45), clock.now(), BERLIN)
    chart = build_chart(first, last, [DayCount(first + timedelta(days=n), n % 5, n % 7) for n in range(46)], LESSONS)
    assert chart is not None and len(chart.days) >= 45
    figure = renderer.draw(chart, "en")
    labelled = [t for t in figure.axes[0].get_xticklabels() if t.get_text()]
    assert 5 <= len(labelled) <= 10
    with Image.open(io.BytesIO(renderer.render_png(chart, "en"))) as image:
        assert image.size == (WIDTH_PX, HEIGHT_PX)


def test_long_titles_are_shortened_with_an_ellipsis_by_display_width() -> None:
    assert shorten("  Intro \n to  AI ") == "Intro to AI"
    latin = shorten("x" * 100)
    assert latin.endswith("…") and len(latin) == LESSON_NAME_COLUMNS
    chinese = shorten("学" * 100)
    assert chinese == "学" * ((LESSON_NAME_COLUMNS - 1) // 2) + "…"
    assert shorten("学" * (LESSON_NAME_COLUMNS // 2)) == "学" * (LESSON_NAME_COLUMNS // 2)


def first_clock_change(clock: TestClock, timezone: str) -> date:
    """The first local date, from the test clock's today on, that is not 24 hours long in ``timezone``."""
    today = clock.now().astimezone(ZoneInfo(timezone)).date()
    for day in local_days(today, today + timedelta(days=370), timezone):
        if day.stop - day.start != timedelta(hours=24):
            return day.day
    raise AssertionError(f"{timezone} changed its clocks on no day of the year after {today}")


def test_days_are_the_course_days_across_a_clock_change(clock: TestClock) -> None:
    """Around the next time Berlin changes its clocks after the test clock's now (whatever date CI moves it
    to): that day is 23 or 25 hours long, the days tile time, and a post belongs to the date on Berlin's
    clocks, not to the date of a fixed offset or of UTC."""
    zone = ZoneInfo(BERLIN)
    change = first_clock_change(clock, BERLIN)
    clock.set(datetime.combine(change + timedelta(days=2), time(9), tzinfo=zone))  # the Monday-ish digest
    end = clock.now()
    first, last = period_dates(end - timedelta(days=4), end, BERLIN)
    assert (first, last) == (change - timedelta(days=2), change + timedelta(days=2))

    days = local_days(first, last, BERLIN)
    assert [d.day for d in days] == [first + timedelta(days=n) for n in range(5)]
    assert all(a.stop == b.start for a, b in pairwise(days))
    lengths = {d.day: d.stop - d.start for d in days}
    assert lengths[change] in (timedelta(hours=23), timedelta(hours=25))
    assert all(length == timedelta(hours=24) for day, length in lengths.items() if day != change)

    def at(day: date, hour: int, minute: int) -> datetime:
        return datetime.combine(day, time(hour, minute), tzinfo=zone)

    posts = [
        (at(change, 0, 30), Activity.QUESTION),  # just after Berlin's midnight: still the previous day in UTC
        (at(change, 23, 30), Activity.QUESTION),  # late on the day: under the other offset, another date
        (at(change, 23, 45), Activity.LIKE),
        (at(change + timedelta(days=1), 0, 15), Activity.LIKE),
        (at(change - timedelta(days=1), 23, 59), Activity.LIKE),
    ]
    counts = tally(posts, BERLIN)
    assert counts == [
        DayCount(change - timedelta(days=1), 0, 1),
        DayCount(change, 2, 1),
        DayCount(change + timedelta(days=1), 0, 1),
    ]
    for moment, _ in posts:  # the store's buckets (local_days' UTC bounds) agree with tally
        (bucket,) = [d.day for d in days if d.start <= moment < d.stop]
        assert bucket == moment.date()

    chart = build_chart(first, last, counts, [LessonCount("Zeitumstellung", 2, 3)])
    assert chart is not None
    assert [(d.day, d.questions, d.likes) for d in chart.days] == [
        (first, 0, 0),
        (change - timedelta(days=1), 0, 1),
        (change, 2, 1),
        (change + timedelta(days=1), 0, 1),
        (last, 0, 0),
    ]


def test_a_period_ending_at_local_midnight_does_not_reach_into_the_next_day(clock: TestClock) -> None:
    zone = ZoneInfo(SHANGHAI)
    today = clock.now().astimezone(zone).date()
    midnight = datetime.combine(today, time(0), tzinfo=zone)
    assert period_dates(midnight - timedelta(days=7), midnight, SHANGHAI) == (
        today - timedelta(days=7),
        today - timedelta(days=1),
    )


def test_the_font_is_installed_by_the_readme_test_command_that_ci_runs() -> None:
    """The font comes from the project's own setup: README's one test command starts with the script that
    installs the Debian packages the tests need, .ci/run runs that very line, and the script installs the
    package whose font the renderer finds."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Run the tests", 1)[1]
    command = section.split("```sh\n", 1)[1].split("\n```", 1)[0]
    assert "\n" not in command and command.startswith("scripts/install-system-packages && ")
    assert command in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    script = (ROOT / "scripts" / "install-system-packages").read_text(encoding="utf-8")
    line = next(line for line in script.splitlines() if line.endswith(f"missing+=({CJK_FONT_PACKAGE})"))
    font_file = line.split("test -e ", 1)[1].split(" ", 1)[0]
    assert find_font().path.resolve() == Path(font_file).resolve()

"""Crontab semantics on top of APScheduler: weekday numbering, validation, next runs."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.cron import CrontabRules, crontab_weekdays

SUNDAY_NOV_29 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("1", "mon"),
        ("0", "sun"),
        ("7", "sun"),
        ("1-5", "mon,tue,wed,thu,fri"),
        ("5-7", "sun,fri,sat"),
        ("*/2", "sun,tue,thu,sat"),
        ("mon,wed", "mon,wed"),
        ("6-7", "sun,sat"),
        ("*", "*"),
    ],
)
def test_weekdays_mean_what_they_mean_in_crontab(field: str, expected: str) -> None:
    assert crontab_weekdays(field) == expected


def test_monday_is_one_not_tuesday() -> None:
    runs = [r.astimezone(SHANGHAI) for r in CrontabRules().next_runs("0 9 * * 1", "Asia/Shanghai", SUNDAY_NOV_29, 3)]
    assert [r.strftime("%a %H:%M") for r in runs] == ["Mon 09:00"] * 3
    assert runs[0].isoformat() == "2026-11-30T09:00:00+08:00"


def local_runs(cron: str, start: datetime, count: int) -> list[str]:
    return [r.astimezone(BERLIN).isoformat() for r in CrontabRules().next_runs(cron, "Europe/Berlin", start, count)]


def test_autumn_daylight_saving_does_not_repeat_a_run() -> None:
    # 2026-10-25 03:00 CEST → 02:00 CET: 02:30 happens twice that night; it runs once.
    assert local_runs("30 2 * * *", datetime(2026, 10, 24, 12, tzinfo=BERLIN), 3) == [
        "2026-10-25T02:30:00+02:00",
        "2026-10-26T02:30:00+01:00",
        "2026-10-27T02:30:00+01:00",
    ]


def test_spring_daylight_saving_does_not_skip_a_run() -> None:
    # 2026-03-29 02:00 CET → 03:00 CEST: 02:30 does not exist that day; it runs an hour later.
    assert local_runs("30 2 * * *", datetime(2026, 3, 28, 12, tzinfo=BERLIN), 3) == [
        "2026-03-29T03:30:00+02:00",
        "2026-03-30T02:30:00+02:00",
        "2026-03-31T02:30:00+02:00",
    ]


def test_weekly_run_keeps_its_local_time_across_the_change() -> None:
    assert local_runs("0 9 * * 0", datetime(2026, 10, 17, tzinfo=BERLIN), 3) == [
        "2026-10-18T09:00:00+02:00",
        "2026-10-25T09:00:00+01:00",
        "2026-11-01T09:00:00+01:00",
    ]


def test_sunday_as_seven() -> None:
    run = CrontabRules().next_runs("30 18 * * 7", "UTC", SUNDAY_NOV_29, 1)[0]
    assert run.strftime("%a") == "Sun"
    assert run.isoformat() == "2026-11-29T18:30:00+00:00"


@pytest.mark.parametrize(
    ("cron", "message"),
    [
        ("0 9 * *", "5 fields"),
        ("0 9 * * 1 2", "5 fields"),
        ("61 9 * * 1", "59"),
        ("0 25 * * *", "23"),
        ("0 9 * * 8", "weekday '8'"),
        ("0 9 * * funday", "weekday 'funday'"),
        ("0 9 1 * 1", "not both"),
        ("0 9 * * 5-1", "backwards"),
        ("0 9 * * sat-sun", "backwards"),
        ("0 9 31 2 *", "never"),
    ],
)
def test_bad_expressions_are_refused_with_a_reason(cron: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CrontabRules().next_runs(cron, "UTC", SUNDAY_NOV_29, 3)


def test_unknown_timezone_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown timezone"):
        CrontabRules().next_runs("0 9 * * 1", "Mars/Olympus", SUNDAY_NOV_29, 3)

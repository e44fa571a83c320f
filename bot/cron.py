"""Crontab expressions as crontab means them, on top of APScheduler 3's CronTrigger.

APScheduler numbers weekdays from Monday = 0, crontab from Sunday = 0 (and 7 is Sunday again), so
``0 9 * * 1`` passed straight to ``CronTrigger.from_crontab`` would fire on Tuesdays. We translate the
weekday field into day names, which both agree on.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

from handlers.vocabulary.errors import CronError

# crontab weekday numbers → APScheduler names
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_NAME_TO_NUMBER = {name: number for number, name in enumerate(_DAY_NAMES)}


def _day_number(token: str) -> int:
    token = token.strip().lower()
    if token in _NAME_TO_NUMBER:
        return _NAME_TO_NUMBER[token]
    if token.isdigit() and 0 <= int(token) <= 7:
        return int(token) % 7
    raise CronError(f"weekday {token!r} is not 0-7 or sun-sat", "field", "weekday", token)


def crontab_weekdays(field: str) -> str:
    """Translate a crontab day-of-week field into APScheduler's names: ``1-5`` → ``mon,tue,wed,thu,fri``."""
    if field in ("*", "?"):
        return "*"
    days: set[int] = set()
    for part in field.split(","):
        span, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"bad step {step_text!r} in weekday field", "field", "weekday", part)
            step = int(step_text)
        if span == "*":
            first, last = 0, 6
        elif "-" in span:
            low, _, high = span.partition("-")
            first, last = _day_number(low), _day_number(high)
            if high.strip() == "7":
                last = 7
            if first > last:
                raise CronError(f"weekday range {span!r} runs backwards", "backwards", "weekday", span)
        else:
            first = _day_number(span)
            last = first if not step_text else 6
        days.update(day % 7 for day in range(first, last + 1, step))
    return ",".join(_DAY_NAMES[day] for day in sorted(days))


def trigger_for(cron: str) -> CronTrigger:
    """An APScheduler trigger for a 5-field crontab expression, over naive wall-clock time (see below)."""
    fields = cron.split()
    if len(fields) != 5:
        message = f"a cron expression has 5 fields (minute hour day month weekday), got {len(fields)}"
        raise CronError(message, "count", value=str(len(fields)))
    minute, hour, day, month, weekday = fields
    day_of_week = crontab_weekdays(weekday)
    if day not in ("*", "?") and weekday not in ("*", "?"):
        raise CronError("restrict either the day of month or the weekday, not both (crontab ORs them)", "both_days")
    try:
        return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=day_of_week, timezone=UTC)
    except ValueError as error:
        # APScheduler says what is wrong but not in which field: each is tried alone to name it.
        for name, value in (("minute", minute), ("hour", hour), ("day", day), ("month", month)):
            try:
                CronTrigger(**{name: value}, timezone=UTC)
            except ValueError:
                raise CronError(f"{name} {value!r}: {error}", "field", name, value) from None
        raise


def zone_for(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {timezone!r}") from None


class CrontabRules:
    """Implements :class:`handlers.ports.CronRules`.

    Run times are found in the zone's wall-clock time, then placed in the zone. Done this way a daylight-saving
    change neither repeats nor skips a run: a wall time that happens twice (autumn) is taken once, at its
    first occurrence; one that does not exist (spring) runs an hour later, as cron does. APScheduler's own
    zone-aware search returns the autumn time twice, which would send a digest twice.
    """

    def next_runs(self, cron: str, timezone: str, after: datetime, count: int) -> list[datetime]:
        zone = zone_for(timezone)
        trigger = trigger_for(cron)
        if after.tzinfo is None:
            raise ValueError("after must be timezone-aware")
        wall_after = after.astimezone(zone).replace(tzinfo=None)
        runs: list[datetime] = []
        previous: datetime | None = None
        cursor = wall_after.replace(tzinfo=UTC) + timedelta(microseconds=1)
        while len(runs) < count:
            fire = trigger.get_next_fire_time(previous, cursor)
            if fire is None:
                break
            moment = fire.replace(tzinfo=None).replace(tzinfo=zone).astimezone(UTC)
            if moment > after and (not runs or moment > runs[-1]):
                runs.append(moment)
            previous, cursor = fire, fire + timedelta(seconds=1)
        if not runs:
            raise CronError("this expression never fires", "never")
        return runs

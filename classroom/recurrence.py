"""Recurring sessions: their dates from an RFC 5545 recurrence rule (python-dateutil's rrule, not
date arithmetic of our own) — "the last Friday of each month" is FREQ=MONTHLY;BYDAY=-1FR, "the
1st and 3rd Tuesday" FREQ=MONTHLY;BYDAY=1TU,3TU — in the bureau's time zone, less the dates
taken out of the series (its exceptions)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, get_args

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrule, rrulestr

# A series covers at most a year from its first session, and so many sessions.
HORIZON = timedelta(days=366)
MAX_OCCURRENCES = 400
FREQUENCIES = {DAILY, WEEKLY, MONTHLY, YEARLY}


class RuleError(ValueError):
    """The rule is not one a series can follow; says why."""


def parse_rule(text: str, first: datetime) -> rrule:
    """One RRULE (with or without its "RRULE:" name), starting at ``first`` (aware, local)."""
    body = text.strip().removeprefix("RRULE:")
    if not body or "\n" in body or "DTSTART" in body.upper():
        raise RuleError("give one RRULE, such as FREQ=MONTHLY;BYDAY=-1FR")
    try:
        rule = rrulestr(body, dtstart=first)
    except (ValueError, TypeError) as exc:
        raise RuleError(f"not an RFC 5545 recurrence rule: {exc}") from None
    if not isinstance(rule, rrule) or rule._freq not in FREQUENCIES:
        raise RuleError("a series repeats daily, weekly, monthly or yearly")
    return rule


def occurrences(
    text: str, first: datetime, skip: Collection[date] = (), since: date | None = None
) -> list[datetime]:
    """The series' session starts (aware, in ``first``'s zone), from ``since`` on if given, up
    to a year after ``first``; dates in ``skip`` left out. More than MAX_OCCURRENCES is refused."""
    rule = parse_rule(text, first)
    out: list[datetime] = []
    for when in rule.between(first, first + HORIZON, inc=True):
        if when.date() in skip or (since is not None and when.date() < since):
            continue
        out.append(when)
        if len(out) > MAX_OCCURRENCES:
            raise RuleError(f"more than {MAX_OCCURRENCES} sessions in a year")
    if not out:
        raise RuleError("the rule gives no session in the year from its first")
    return out


# The repeats a scheduling form offers, each an RRULE on the first session's weekday.
Preset = Literal["weekly", "biweekly", "monthly_1_3", "monthly_last"]
PRESETS: tuple[Preset, ...] = get_args(Preset)
_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def preset_rule(preset: str, first: datetime, until: date | None = None) -> str:
    """The RRULE for a form's choice: every week, every other week, the 1st and 3rd or the last
    of the first session's weekday in each month; ``until`` (inclusive) ends it."""
    day = _DAYS[first.weekday()]
    rules = {
        "weekly": "FREQ=WEEKLY",
        "biweekly": "FREQ=WEEKLY;INTERVAL=2",
        "monthly_1_3": f"FREQ=MONTHLY;BYDAY=1{day},3{day}",
        "monthly_last": f"FREQ=MONTHLY;BYDAY=-1{day}",
    }
    if preset not in rules:
        raise RuleError(f"no repeat named {preset!r}")
    rule = rules[preset]
    if until is not None:
        if until < first.date():
            raise RuleError("the series must end on or after its first session")
        # RFC 5545 wants UNTIL in UTC when the start has a zone: the end of that day, there.
        last = datetime.combine(until, time(23, 59, 59), first.tzinfo).astimezone(UTC)
        rule += f";UNTIL={last.strftime('%Y%m%dT%H%M%SZ')}"
    return rule

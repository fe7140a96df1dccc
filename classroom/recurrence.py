"""Recurring sessions: their dates from an RFC 5545 recurrence rule (python-dateutil's rrule, not
date arithmetic of our own) — "the last Friday of each month" is FREQ=MONTHLY;BYDAY=-1FR, "the
1st and 3rd Tuesday" FREQ=MONTHLY;BYDAY=1TU,3TU — in the bureau's time zone, less the dates
taken out of the series (its exceptions)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, timedelta

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

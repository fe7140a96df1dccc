"""How much of a session a person attended, and what share of its credit that earns."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import NamedTuple

from classroom.ledger.facts import AttendanceFact, PresenceFact, SessionFact
from classroom.plan.schema import Presence


class Attended(NamedTuple):
    share: float  # of the session's length, 0..1
    late_min: float
    early_min: float
    factor: float  # of the session's credit earned, 0..1
    reason: str


# Within every tolerance, as the database found it (facts.FullyPresent): full credit. Its
# measures are not carried over; nothing reads them but the credit and its reason.
PRESENT = Attended(1.0, 0.0, 0.0, 1.0, "present")


def _covered(
    session: SessionFact, rows: Iterable[AttendanceFact]
) -> list[tuple[datetime, datetime]]:
    spans = sorted(
        (max(r.check_in, session.start), min(r.check_out or session.end, session.end)) for r in rows
    )
    merged: list[tuple[datetime, datetime]] = []
    for lo, hi in spans:
        if hi <= lo:
            continue
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def _one(session: SessionFact, row: AttendanceFact, rule: Presence) -> Attended:
    """The common case, one check-in: measured here the way load.py measures it in SQL."""
    lo = max(row.check_in, session.start)
    hi = min(row.check_out or session.end, session.end)
    return judge_seconds(
        (session.end - session.start).total_seconds(),
        (lo - session.start).total_seconds(),
        (session.end - hi).total_seconds(),
        (hi - lo).total_seconds(),
        rule,
    )


def measured(session: SessionFact, p: PresenceFact, rule: Presence) -> Attended:
    return judge_seconds(
        (session.end - session.start).total_seconds(), p.late_s, p.early_s, p.covered_s, rule
    )


def judge_seconds(
    length_s: float, late_s: float, early_s: float, covered_s: float, rule: Presence
) -> Attended:
    if covered_s <= 0 or length_s <= 0:
        return Attended(0.0, 0.0, 0.0, 0.0, "absent")
    return _judge(length_s, covered_s, late_s, early_s, rule)


def _judge(
    length_s: float, covered_s: float, late_s: float, early_s: float, rule: Presence
) -> Attended:
    """Fully present: within both tolerances (which shrink with the session, Presence.
    tolerances_s), missing no more than they add up to, and present for at least the plan's
    share; else pro-rated from that share up, or nothing. load.py decides the plain cases of
    the same rule in SQL."""
    share, late, early = covered_s / length_s, late_s / 60, early_s / 60
    late_max, early_max = rule.tolerances_s(length_s)
    if (
        late_s <= late_max
        and early_s <= early_max
        and length_s - covered_s <= late_max + early_max
        and share >= rule.min_share
    ):
        return Attended(share, late, early, 1.0, "present")
    if share >= rule.min_share and rule.partial == "prorate":
        return Attended(share, late, early, share, f"partial {share:.0%}, pro-rated")
    return Attended(share, late, early, 0.0, f"partial {share:.0%}, below the rule")


def attended(session: SessionFact, rows: Iterable[AttendanceFact], rule: Presence) -> Attended:
    """Fully present within the tolerances; otherwise pro-rated (or nothing) by the plan's rule.

    Several check-in/out pairs (stepping out and back) count as the union of their spans.
    """
    rows = list(rows)
    if len(rows) == 1:
        return _one(session, rows[0], rule)
    length = session.end - session.start
    spans = _covered(session, rows)
    if not spans or length <= timedelta(0):
        return Attended(0.0, 0.0, 0.0, 0.0, "absent")
    covered = sum((hi - lo for lo, hi in spans), timedelta(0))
    late = (spans[0][0] - session.start).total_seconds()
    early = (session.end - spans[-1][1]).total_seconds()
    return _judge(length.total_seconds(), covered.total_seconds(), late, early, rule)

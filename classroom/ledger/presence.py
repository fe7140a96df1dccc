"""How much of a session a person attended, and what share of its credit that earns."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from classroom.ledger.facts import AttendanceFact, SessionFact
from classroom.plan.schema import Presence


@dataclass(frozen=True)
class Attended:
    share: float  # of the session's length, 0..1
    late_min: float
    early_min: float
    factor: float  # of the session's credit earned, 0..1
    reason: str


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
    """The common case, one check-in: the same rule as below without building spans."""
    length = (session.end - session.start).total_seconds()
    lo = max(row.check_in, session.start)
    hi = min(row.check_out or session.end, session.end)
    covered = (hi - lo).total_seconds()
    if covered <= 0 or length <= 0:
        return Attended(0.0, 0.0, 0.0, 0.0, "absent")
    return _judge(
        covered / length,
        (lo - session.start).total_seconds() / 60,
        (session.end - hi).total_seconds() / 60,
        (length - covered) / 60,
        rule,
    )


def _judge(share: float, late: float, early: float, missed: float, rule: Presence) -> Attended:
    if (
        late <= rule.late_tolerance_min
        and early <= rule.early_leave_tolerance_min
        and missed <= rule.late_tolerance_min + rule.early_leave_tolerance_min
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
    share = covered / length
    late = (spans[0][0] - session.start).total_seconds() / 60
    early = (session.end - spans[-1][1]).total_seconds() / 60
    missed = (length - covered).total_seconds() / 60
    return _judge(share, late, early, missed, rule)

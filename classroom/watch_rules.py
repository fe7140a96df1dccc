"""What watching a recording is worth, as pure functions: the union of the stretches a person
played (a stretch watched twice counts once; time skipped by seeking is never played), whether a
report could really have been played in the time it covers, and the 学时 and 学分 a recording
earns by the plan once enough of it is watched."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from classroom.db.models import SessionKind
from classroom.plan.schema import Plan, Watch

Interval = tuple[float, float]

# A player's clock and the server's differ by network jitter; a report may hold this much more
# media time than its wall time allows before it counts as played too fast.
RATE_SLACK_S = 2.0


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """The union, as sorted disjoint intervals (touching ones joined)."""
    out: list[Interval] = []
    for a, b in sorted(i for i in intervals if i[1] > i[0]):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def length(intervals: Iterable[Interval]) -> float:
    return sum(b - a for a, b in intervals)


# Media the portal served to a viewer maps to media time loosely (an MP4's bytes are spread over
# its time unevenly; a player starts a segment or a range a little before what it plays).
FETCH_SLACK_S = 2.0


def within_fetched(played: Iterable[Interval], fetched: Iterable[Interval]) -> list[Interval]:
    """The parts of ``played`` whose media the viewer's login fetched from the portal (each
    fetched stretch widened by FETCH_SLACK_S): what a player claims without having loaded the
    picture earns nothing."""
    widened = merge((a - FETCH_SLACK_S, b + FETCH_SLACK_S) for a, b in fetched)
    out: list[Interval] = []
    for a, b in merge(played):
        for c, d in widened:
            lo, hi = max(a, c), min(b, d)
            if hi > lo:
                out.append((lo, hi))
    return merge(out)


class ReportRejected(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code  # bad_interval | too_fast


def check_report(
    played: Sequence[Interval], rate: float, wall_s: float, duration_s: float, rules: Watch
) -> None:
    """Refuse a report that is not playback of this recording at an allowed speed: intervals
    outside the recording, a playback rate above the plan's, or more media time than the wall
    time since the view's previous report allows at that rate."""
    for a, b in played:
        if not (0 <= a <= b <= duration_s + 1):
            raise ReportRejected(
                "bad_interval", f"[{a:g}, {b:g}] is not within the recording (0–{duration_s:g} s)"
            )
    if rate > rules.max_speed:
        raise ReportRejected(
            "too_fast",
            f"playback at {rate:g}× is faster than the plan allows ({rules.max_speed:g}×)",
        )
    media = length(played)
    allowed = wall_s * rules.max_speed + RATE_SLACK_S
    if media > allowed:
        raise ReportRejected(
            "too_fast",
            f"{media:.1f} s of the recording in {wall_s:.1f} s is faster than "
            f"{rules.max_speed:g}× playback",
        )


@dataclass(frozen=True)
class WatchCredit:
    hours: float
    credits: float


def credit_for(plan: Plan, kind: SessionKind, minutes: float) -> WatchCredit:
    """A recording earns what its session earns by the plan: a training day's 学时 and 学分 (its
    share of a day, by length: Task.day_share), a unit
    study's 学时; any other session one 学时 per ``minutes_per_hour`` of its length (in halves),
    and a 学分 per ``hours_per_credit`` 学时."""
    rules = plan.watch
    task = plan.task_for(kind)
    if task is not None and task.hours_per_day is not None:
        share = task.day_share(minutes)  # a 20-minute "training day" is not a day's credit
        return WatchCredit(
            round(task.hours_per_day * share, 2), round((task.credits_per_day or 0.0) * share, 2)
        )
    if task is not None and task.hours_each is not None:
        return WatchCredit(task.hours_each, 0.0)
    hours = int(minutes / rules.minutes_per_hour * 2) / 2
    return WatchCredit(hours, round(hours / rules.hours_per_credit, 2))

"""Property tests: the ledger is a pure function of its events — any order, any repetition."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from classroom.db.models import SessionKind
from classroom.ledger.facts import AttendanceFact, CohortFact, CreditFact
from tests.ledger_helpers import OFFICE, PLAN, SQUAD, at, ledger, session, staff

PEOPLE = staff(SQUAD, 6, 100) + staff(OFFICE, 4, 200)
KINDS = [
    SessionKind.TRAINING_DAY,
    SessionKind.UNIT_STUDY,
    SessionKind.DRILL_TRAINING,
    SessionKind.DRILL_ASSESSMENT,
    SessionKind.PRACTICAL,
]

sessions_st = st.lists(
    st.tuples(
        st.sampled_from(KINDS),
        # one month and day often: sessions sharing a day and a month test the per-day and
        # per-month rules
        st.one_of(st.integers(1, 12), st.just(5)),
        st.one_of(st.integers(1, 28), st.just(8), st.just(9)),
        st.integers(15, 480),
        st.sampled_from([SQUAD, OFFICE, None]),
    ),
    min_size=1,
    max_size=12,
)
attendance_st = st.lists(
    st.tuples(
        st.integers(0, 11),
        st.sampled_from([p.id for p in PEOPLE]),
        st.integers(-30, 200),
        st.integers(-30, 200),
    ),
    max_size=60,
)
credits_st = st.lists(
    st.tuples(
        st.sampled_from([p.id for p in PEOPLE]),
        st.integers(-4, 30),
        st.integers(-2, 15),
        st.sampled_from(["online_import", "recording_watch", "adjustment"]),
    ),
    max_size=20,
)


COHORTS = [
    CohortFact(
        1,
        "all_staff_training",
        1,
        "",
        date(2023, 5, 8),
        date(2023, 5, 10),
        frozenset({100, 101, 200}),
    ),
    CohortFact(
        2, "all_staff_training", 2, "", date(2023, 9, 1), date(2023, 9, 5), frozenset({102})
    ),
]


def build(raw_sessions, raw_attendance, raw_credits):
    sessions = [
        session(i, kind, at(m, d), minutes, unit)
        for i, (kind, m, d, minutes, unit) in enumerate(raw_sessions)
    ]
    attendance = []
    for n, (si, pid, late, early) in enumerate(raw_attendance):
        s = sessions[si % len(sessions)]
        attendance.append(
            AttendanceFact(
                f"a{n}",
                s.id,
                pid,
                s.start + timedelta(minutes=late),
                s.end - timedelta(minutes=early),
            )
        )
    credits = [
        CreditFact(
            f"c{n}",
            pid,
            src,
            date(2023, 1 + n % 12, 1),
            h,
            c,
            "online" if src == "adjustment" else None,
        )
        for n, (pid, h, c, src) in enumerate(raw_credits)
    ]
    return sessions, attendance, credits


@settings(max_examples=60, deadline=None)
@given(sessions_st, attendance_st, credits_st, st.randoms(use_true_random=False))
def test_any_order_gives_the_same_ledger(raw_s, raw_a, raw_c, rnd: random.Random) -> None:
    sessions, attendance, credits = build(raw_s, raw_a, raw_c)
    first = ledger(PEOPLE, sessions, attendance, credits, cohorts=COHORTS)
    for seq in (sessions, attendance, credits):
        rnd.shuffle(seq)
    again = ledger(list(reversed(PEOPLE)), sessions, attendance, credits, cohorts=COHORTS[::-1])
    assert again == first


@settings(max_examples=60, deadline=None)
@given(sessions_st, attendance_st, credits_st, st.randoms(use_true_random=False))
def test_replaying_events_changes_nothing(raw_s, raw_a, raw_c, rnd: random.Random) -> None:
    sessions, attendance, credits = build(raw_s, raw_a, raw_c)
    first = ledger(PEOPLE, sessions, attendance, credits, cohorts=COHORTS)
    replayed_a = attendance + rnd.sample(attendance, k=len(attendance) // 2)
    replayed_c = credits + credits
    again = ledger(PEOPLE, sessions + sessions, replayed_a, replayed_c, cohorts=COHORTS)
    assert again == first


@settings(max_examples=40, deadline=None)
@given(sessions_st, attendance_st, credits_st)
def test_totals_are_the_sum_of_the_entries(raw_s, raw_a, raw_c) -> None:
    """Every number traces to the entries that produced it."""
    led = ledger(PEOPLE, *build(raw_s, raw_a, raw_c))
    for oy in led.officers.values():
        for p in oy.parts:
            mine = [e for e in oy.entries if e.part == p.id]
            assert abs(p.hours - sum(e.hours for e in mine)) < 1e-6
            assert abs(p.credits - sum(e.credits for e in mine)) < 1e-6
        assert oy.eligible == all(p.met for p in oy.parts) and oy.practical_days_required == 0


@settings(max_examples=60, deadline=None)
@given(sessions_st, attendance_st)
def test_no_one_earns_more_than_a_day_a_day_or_a_study_a_month(raw_s, raw_a) -> None:
    """However sessions fall: a training day's credit at most once a calendar day, a unit
    study's at most once a month, and days to make up never more than a cohort's days."""
    led = ledger(PEOPLE, *build(raw_s, raw_a, []), cohorts=COHORTS)
    day_task = PLAN.task_for(SessionKind.TRAINING_DAY)
    study_task = PLAN.task_for(SessionKind.UNIT_STUDY)
    assert day_task is not None and study_task is not None
    for oy in led.officers.values():
        by_day: dict[date, float] = defaultdict(float)
        by_month: dict[int, float] = defaultdict(float)
        for e in oy.entries:
            if e.part == day_task.part:
                by_day[e.on] += e.hours
            if e.part == study_task.part:
                by_month[e.on.month] += e.hours
        assert all(h <= (day_task.hours_per_day or 0) + 1e-6 for h in by_day.values())
        assert all(h <= (study_task.hours_each or 0) + 1e-6 for h in by_month.values())
    for c in led.cohorts:
        assert all(0 < days <= c.days_required for _, days in c.short)

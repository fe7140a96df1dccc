"""Recurring sessions: booked from an RFC 5545 rule in one request, every clash with the
classroom's other bookings named, one occurrence cancelled as an exception, the series changed
from a date on; the iCal feed carries every occurrence."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest

from classroom.runtime import Services
from tests.api_helpers import Portal, make_portal
from tests.conftest import settings_on_both_databases

pytestmark = pytest.mark.anyio

settings = pytest.fixture(settings_on_both_databases, name="settings")
TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def portal(services: Services) -> Portal:
    return await make_portal(services)


def _series(portal: Portal, **extra: object) -> dict[str, object]:
    return {
        "title": "科队学习（每月最后一个周五）",
        "kind": "unit_study",
        "course_id": 1,
        "classroom_id": portal.world.classroom_id,
        "planned_start": datetime(2027, 1, 1, 15, tzinfo=TZ).isoformat(),
        "planned_end": datetime(2027, 1, 1, 16, tzinfo=TZ).isoformat(),
        "rrule": "FREQ=MONTHLY;BYDAY=-1FR",
        **extra,
    }


def _local(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(TZ)


async def test_last_friday_of_each_month(portal: Portal) -> None:
    async with portal.as_user("trainer") as trainer:
        r = await trainer.post("/api/v1/sessions/series", json=_series(portal))
        assert r.status_code == 201, r.text
        series = r.json()
        starts = [_local(s["planned_start"]) for s in series["sessions"]]
        assert len(starts) == 12
        # each a Friday with no Friday after it in its month
        assert all(s.weekday() == 4 and (s + timedelta(days=7)).month != s.month for s in starts)
        assert [s.month for s in starts] == list(range(1, 13))
        assert {(s.hour, s.minute) for s in starts} == {(15, 0)}
        ends = [_local(s["planned_end"]) for s in series["sessions"]]
        assert all((e - s).total_seconds() == 3600 for s, e in zip(starts, ends, strict=True))
        feed = await trainer.get(
            f"/api/v1/classrooms/{portal.world.classroom_id}/schedule.ics?days=366"
        )
    events = [
        e
        for e in icalendar.Calendar.from_ical(feed.text).walk("VEVENT")
        if str(e["SUMMARY"]) == "科队学习（每月最后一个周五）"
    ]
    horizon = datetime.now(TZ) + timedelta(days=366)  # the feed's reach
    assert len(events) == len([s for s in starts if s < horizon]) >= 11


async def test_every_clash_is_named_and_nothing_booked(portal: Portal) -> None:
    async with portal.as_user("manager") as manager:
        trainer_id = (await manager.get("/api/v1/sessions")).json()[0]["trainer_id"]
        for month, day in ((3, 26), (7, 30)):  # two last Fridays of 2027, already booked
            start = datetime(2027, month, day, 15, 30, tzinfo=TZ)
            r = await manager.post(
                "/api/v1/sessions",
                json={
                    "title": f"占用{month}月",
                    "kind": "other",
                    "course_id": 1,
                    "classroom_id": portal.world.classroom_id,
                    "trainer_id": trainer_id,
                    "planned_start": start.isoformat(),
                    "planned_end": start.replace(hour=17).isoformat(),
                },
            )
            assert r.status_code == 201, r.text
        r = await manager.post(
            "/api/v1/sessions/series", json=_series(portal, trainer_id=trainer_id)
        )
        assert r.status_code == 409
        detail = r.json()["detail"]
        assert detail["code"] == "series_room_booked"
        assert [c["title"] for c in detail["clashes"]] == ["占用3月", "占用7月"]
        listed = (await manager.get("/api/v1/sessions?limit=500")).json()
    assert not [s for s in listed if s["title"].startswith("科队学习")]  # all or nothing


async def test_an_exception_and_a_change_from_a_date_on(portal: Portal) -> None:
    async with portal.as_user("trainer") as trainer:
        series = (await trainer.post("/api/v1/sessions/series", json=_series(portal))).json()
        may = next(s for s in series["sessions"] if _local(s["planned_start"]).month == 5)
        assert (await trainer.delete(f"/api/v1/sessions/{may['session_id']}")).status_code == 204
        r = await trainer.patch(
            f"/api/v1/sessions/series/{series['id']}",
            json={"since": "2027-04-01", "start_time": "09:30", "minutes": 45},
        )
        assert r.status_code == 200, r.text
        changed = r.json()
    assert changed["exdates"] == ["2027-05-28"]
    starts = [_local(s["planned_start"]) for s in changed["sessions"]]
    assert len(starts) == 11 and 5 not in [s.month for s in starts]  # the exception stays out
    assert {(s.hour, s.minute) for s in starts if s.date() < date(2027, 4, 1)} == {(15, 0)}
    assert {(s.hour, s.minute) for s in starts if s.date() >= date(2027, 4, 1)} == {(9, 30)}


async def test_rules_a_series_cannot_follow_are_refused(portal: Portal) -> None:
    async with portal.as_user("trainer") as trainer:
        for rule in ("FREQ=SOMETIMES", "FREQ=HOURLY;COUNT=3", "FREQ=DAILY\nFREQ=WEEKLY"):
            r = await trainer.post("/api/v1/sessions/series", json=_series(portal, rrule=rule))
            assert r.status_code == 422 and r.json()["detail"]["code"] == "bad_rrule", rule
        too_many = await trainer.post(
            "/api/v1/sessions/series",
            json=_series(
                portal,
                rrule="FREQ=DAILY;INTERVAL=1",
                planned_end=datetime(2027, 1, 1, 15, 30, tzinfo=TZ).isoformat(),
            ),
        )
        assert too_many.status_code == 201  # 365 days fit in the limit; a year at most
    async with portal.as_user("officer1") as officer:
        r = await officer.post("/api/v1/sessions/series", json=_series(portal))
        assert r.status_code == 403

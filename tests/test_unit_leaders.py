"""Unit leaders (科队负责人), sessions at a place, attendance by roll, one session changed.

A leader is a role scoped to units, given by the training office: the leader sees their units'
officers and compliance and nothing of other units, schedules their units' studies and drills
(at a place without a classroom too: those clash with nothing) and ticks who was there; the
roll's ticks are the attendance that the unit's compliance then counts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import icalendar
import pytest
from sqlalchemy import select

from classroom.db.models import AuditEntry
from classroom.runtime import Services
from tests.api_helpers import Portal, Rivals, make_portal, person_ids, seed_rivals
from tests.conftest import settings_on_both_databases

pytestmark = pytest.mark.anyio

settings = pytest.fixture(settings_on_both_databases, name="settings")
TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def world(services: Services) -> tuple[Portal, Rivals]:
    portal = await make_portal(services)
    return portal, await seed_rivals(portal)


def _drill(unit_id: int, day: datetime, **extra: object) -> dict[str, Any]:
    return {
        "title": "队列训练",
        "kind": "drill_training",
        "course_id": 1,
        "place": "局大院操场",
        "unit_id": unit_id,
        "planned_start": day.isoformat(),
        "planned_end": (day + timedelta(minutes=30)).isoformat(),
        **extra,
    }


async def _unit_people(client: httpx.AsyncClient, unit_id: int) -> set[int]:
    r = await client.get("/api/v1/people", params={"unit": unit_id, "active": "true"})
    assert r.status_code == 200, r.text
    return {p["id"] for p in r.json()}


async def test_a_leader_sees_their_units_and_nothing_else(world: tuple[Portal, Rivals]) -> None:
    portal, rivals = world
    officer1, officer9, me_id = await person_ids(portal, "officer1", "officer9", "leader")
    async with portal.as_user("leader") as leader:
        me = (await leader.get(f"/api/v1/people/{me_id}")).json()
        assert me["leads_unit_ids"] == [rivals.squad_id]
        listed = {p["id"] for p in (await leader.get("/api/v1/people")).json()}
        assert officer1 in listed and officer9 not in listed
        assert (await leader.get(f"/api/v1/people/{officer1}")).status_code == 200
        assert (await leader.get(f"/api/v1/people/{officer9}")).status_code == 404
        q = {"year": 2023}
        assert (
            await leader.get(f"/api/v1/compliance/units/{rivals.squad_id}", params=q)
        ).is_success
        other = await leader.get(f"/api/v1/compliance/units/{rivals.office_id}", params=q)
        assert other.status_code == 403
        mine = await leader.get(f"/api/v1/compliance/officers/{officer1}", params=q)
        assert mine.status_code == 200
        theirs = await leader.get(f"/api/v1/compliance/officers/{officer9}", params=q)
        assert theirs.status_code == 403
        bureau = (await leader.get("/api/v1/compliance/bureau", params=q)).json()
        assert {u["unit_id"] for u in bureau["units"]} == {rivals.squad_id}
        assert {o["officer_id"] for o in bureau["officers"]} <= await _unit_people(
            leader, rivals.squad_id
        )
        assert officer1 in {o["officer_id"] for o in bureau["officers"]}
        asked = await leader.get(
            "/api/v1/compliance/bureau", params={**q, "unit_id": rivals.office_id}
        )
        assert asked.status_code == 403
        page = await leader.get("/compliance", params={"year": 2023})
        assert page.status_code == 200 and "孙队员" not in page.text  # officer9: another unit
    async with portal.as_user("officer1") as officer:
        assert (await officer.get("/api/v1/compliance/bureau", params=q)).status_code == 403
        assert (await officer.get("/api/v1/people")).status_code == 403


async def test_leadership_is_given_by_the_office_and_audited(
    world: tuple[Portal, Rivals],
) -> None:
    portal, rivals = world
    (officer1,) = await person_ids(portal, "officer1")
    async with portal.as_user("manager") as manager:
        r = await manager.patch(
            f"/api/v1/people/{officer1}", json={"leads_unit_ids": [rivals.office_id]}
        )
        assert r.status_code == 200, r.text
        assert r.json()["leads_unit_ids"] == [rivals.office_id]
        bad = await manager.patch(f"/api/v1/people/{officer1}", json={"leads_unit_ids": [9999]})
        assert bad.status_code == 422 and bad.json()["detail"]["code"] == "no_such_unit"
    async with portal.as_user("officer1") as officer:
        # now the office's leader: its people, not the squad's (officer1's own unit)
        (officer9,) = await person_ids(portal, "officer9")
        listed = {p["id"] for p in (await officer.get("/api/v1/people")).json()}
        assert officer9 in listed and officer1 not in listed
        # nobody gives themself a unit
        own = await officer.patch(
            f"/api/v1/people/{officer1}", json={"leads_unit_ids": [rivals.squad_id]}
        )
        assert own.status_code == 403
    async with portal.services.sessionmaker() as db:
        entry = await db.scalar(
            select(AuditEntry)
            .where(AuditEntry.target == f"person:{officer1}", AuditEntry.action == "person.update")
            .order_by(AuditEntry.id.desc())
        )
        assert entry is not None
        assert entry.detail["before"]["leads_unit_ids"] == []
        assert entry.detail["after"]["leads_unit_ids"] == [rivals.office_id]


async def test_a_leader_schedules_their_units_drills_at_a_place(
    world: tuple[Portal, Rivals],
) -> None:
    portal, rivals = world
    day = datetime(2027, 3, 2, 8, tzinfo=TZ)
    async with portal.as_user("leader") as leader:
        r = await leader.post("/api/v1/sessions", json=_drill(rivals.squad_id, day))
        assert r.status_code == 201, r.text
        drill = r.json()
        assert drill["classroom_id"] is None and drill["place"] == "局大院操场"
        # the same ground at the same time for another squad: places clash with nothing
        again = await leader.post("/api/v1/sessions", json=_drill(rivals.squad_id, day))
        assert again.status_code == 201
        # not another unit's drill, nor a session of another kind
        other = await leader.post("/api/v1/sessions", json=_drill(rivals.office_id, day))
        assert other.status_code == 403
        lecture = await leader.post(
            "/api/v1/sessions", json=_drill(rivals.squad_id, day, kind="other")
        )
        assert lecture.status_code == 403
        # a series: drills on the 1st and 3rd Tuesday
        series = await leader.post(
            "/api/v1/sessions/series",
            json=_drill(rivals.squad_id, day, rrule="FREQ=MONTHLY;BYDAY=1TU,3TU;COUNT=6"),
        )
        assert series.status_code == 201, series.text
        assert len(series.json()["sessions"]) == 6
        # the unit's calendar feed carries them, held at the parade ground
        feed = await leader.get(
            f"/api/v1/calendar/units/{rivals.squad_id}/schedule.ics", params={"days": 366}
        )
        events = [
            e
            for e in icalendar.Calendar.from_ical(feed.text).walk("VEVENT")
            if str(e["SUMMARY"]) == "队列训练"
        ]
        assert len(events) == 8 and {str(e["LOCATION"]) for e in events} == {"局大院操场"}
        # nothing to record at a place
        rec = await leader.post(f"/api/v1/sessions/{drill['id']}/recording/start")
        assert rec.status_code in (403, 409)
    async with portal.as_user("admin") as admin:
        rec = await admin.post(f"/api/v1/sessions/{drill['id']}/recording/start")
        assert rec.status_code == 409 and rec.json()["detail"]["code"] == "no_classroom"
    async with portal.as_user("leader2") as leader2:
        assert (await leader2.delete(f"/api/v1/sessions/{drill['id']}")).status_code == 403
    for bad in (
        {"classroom_id": portal.world.classroom_id},  # both a classroom and a place
        {"place": ""},  # neither
        {"auto_record": True},  # recording at a place
    ):
        async with portal.as_user("manager") as manager:
            r = await manager.post("/api/v1/sessions", json=_drill(rivals.squad_id, day, **bad))
            assert r.status_code == 422, (bad, r.text)


async def test_the_roll_is_the_attendance_the_unit_is_judged_by(
    world: tuple[Portal, Rivals],
) -> None:
    portal, rivals = world
    q = {"year": 2023}
    march = [datetime(2023, 3, d, 8, tzinfo=TZ) for d in (7, 21)]
    async with portal.as_user("leader") as leader:
        before = (await leader.get(f"/api/v1/compliance/units/{rivals.squad_id}", params=q)).json()
        assert before["months"][2]["drills_ok"] is False
        sessions = []
        for day in march:
            r = await leader.post("/api/v1/sessions", json=_drill(rivals.squad_id, day))
            assert r.status_code == 201, r.text
            sessions.append(r.json()["id"])
        roll = (await leader.get(f"/api/v1/sessions/{sessions[0]}/attendance/roll")).json()
        squad = await _unit_people(leader, rivals.squad_id)
        listed = {line["person_id"] for line in roll["lines"]}
        assert listed and listed <= squad
        assert not any(line["present"] for line in roll["lines"])
        marks = [{"person_id": p, "present": True} for p in sorted(listed)]
        for sid in sessions:
            r = await leader.put(f"/api/v1/sessions/{sid}/attendance/roll", json={"marks": marks})
            assert r.status_code == 200, r.text
            assert r.json()["added"] == len(listed)
        # saved again: nothing doubles
        again = await leader.put(
            f"/api/v1/sessions/{sessions[0]}/attendance/roll", json={"marks": marks}
        )
        assert (again.json()["added"], again.json()["changed"]) == (0, 0)
        after = (await leader.get(f"/api/v1/compliance/units/{rivals.squad_id}", params=q)).json()
        assert after["months"][2]["drills_valid"] == 2
        assert after["months"][2]["drills_ok"] is True
        # a late arrival corrected, then someone unticked: changed and withdrawn, audited
        late = sorted(listed)[0]
        fix = [
            {
                "person_id": late,
                "present": True,
                "check_in": (march[0] + timedelta(minutes=15)).isoformat(),
            }
        ]
        r = await leader.put(f"/api/v1/sessions/{sessions[0]}/attendance/roll", json={"marks": fix})
        assert r.json()["changed"] == 1
        line = next(x for x in r.json()["lines"] if x["person_id"] == late)
        assert datetime.fromisoformat(line["check_in"]) == march[0] + timedelta(minutes=15)
        out = [{"person_id": late, "present": False}]
        r = await leader.put(f"/api/v1/sessions/{sessions[0]}/attendance/roll", json={"marks": out})
        assert r.json()["withdrawn"] == 1
        # nobody off the roster, nobody twice, nobody checked out before checking in
        (officer9,) = await person_ids(portal, "officer9")
        for bad in (
            [{"person_id": officer9, "present": True}],
            [{"person_id": late, "present": True}, {"person_id": late, "present": False}],
            [
                {
                    "person_id": late,
                    "present": True,
                    "check_in": march[0].isoformat(),
                    "check_out": (march[0] - timedelta(minutes=1)).isoformat(),
                }
            ],
        ):
            r = await leader.put(
                f"/api/v1/sessions/{sessions[0]}/attendance/roll", json={"marks": bad}
            )
            assert r.status_code == 422, r.text
    async with portal.as_user("leader2") as leader2:
        r = await leader2.put(f"/api/v1/sessions/{sessions[0]}/attendance/roll", json={"marks": []})
        assert r.status_code == 403
        assert (
            await leader2.get(f"/api/v1/sessions/{sessions[0]}/attendance/roll")
        ).status_code == 403
    async with portal.services.sessionmaker() as db:
        actions = set(
            await db.scalars(
                select(AuditEntry.action).where(AuditEntry.target == f"session:{sessions[0]}")
            )
        )
    assert {"attendance.record", "attendance.correct", "attendance.withdraw"} <= actions


async def test_one_occurrence_is_moved_and_the_series_leaves_it(
    world: tuple[Portal, Rivals],
) -> None:
    portal, rivals = world
    first = datetime(2027, 1, 5, 8, tzinfo=TZ)  # a Tuesday
    async with portal.as_user("leader") as leader:
        r = await leader.post(
            "/api/v1/sessions/series",
            json=_drill(rivals.squad_id, first, rrule="FREQ=WEEKLY;COUNT=4"),
        )
        series = r.json()
        second = series["sessions"][1]["session_id"]
        moved_to = datetime(2027, 1, 13, 9, tzinfo=TZ)
        r = await leader.patch(
            f"/api/v1/sessions/{second}",
            json={
                "planned_start": moved_to.isoformat(),
                "planned_end": (moved_to + timedelta(minutes=40)).isoformat(),
                "place": "训练基地",
            },
        )
        assert r.status_code == 200, r.text
        assert r.json()["place"] == "训练基地" and r.json()["series_id"] == series["id"]
    async with portal.as_user("manager") as manager:
        shown = (await manager.get(f"/api/v1/sessions/series/{series['id']}")).json()
        assert "2027-01-12" in shown["exdates"]
        # the series changed from the start: the moved session stays where it was put
        r = await manager.patch(
            f"/api/v1/sessions/series/{series['id']}", json={"since": "2027-01-01", "minutes": 45}
        )
        assert r.status_code == 200, r.text
        kept = (await manager.get(f"/api/v1/sessions/{second}")).json()
        assert datetime.fromisoformat(kept["planned_start"]) == moved_to
        days = sorted(
            datetime.fromisoformat(s["planned_start"]).astimezone(TZ).date().isoformat()
            for s in r.json()["sessions"]
        )
        assert days == ["2027-01-05", "2027-01-13", "2027-01-19", "2027-01-26"]
        # into a classroom at a time it is booked: refused, naming the other session
        demo = (await manager.get(f"/api/v1/sessions/{portal.world.session_id}")).json()
        r = await manager.patch(
            f"/api/v1/sessions/{second}",
            json={
                "classroom_id": portal.world.classroom_id,
                "planned_start": demo["planned_start"],
                "planned_end": demo["planned_end"],
            },
        )
        assert r.status_code == 409 and r.json()["detail"]["code"] == "room_booked"
    # a session held (attended) stays as it was
    (officer1,) = await person_ids(portal, "officer1")
    async with portal.as_user("trainer") as trainer:
        r = await trainer.post(
            f"/api/v1/sessions/{demo['id']}/attendance",
            json={"person_id": officer1, "check_in": demo["planned_start"]},
        )
        assert r.status_code == 201, r.text
        r = await trainer.patch(f"/api/v1/sessions/{demo['id']}", json={"title": "改名"})
        assert r.status_code == 409
    async with portal.as_user("manager") as manager:
        # an end before the start is the form's error, not a server's
        r = await manager.patch(
            f"/api/v1/sessions/{second}",
            json={"planned_end": (moved_to - timedelta(hours=1)).isoformat()},
        )
        assert r.status_code == 422


async def test_a_card_read_at_the_roll(world: tuple[Portal, Rivals]) -> None:
    portal, rivals = world
    officer1, officer9 = await person_ids(portal, "officer1", "officer9")
    async with portal.as_user("manager") as manager:
        for pid, card in ((officer1, "C0000101"), (officer9, "C0000109")):
            r = await manager.post(f"/api/v1/people/{pid}/cards", json={"card_no": card})
            assert r.status_code == 201, r.text
    day = datetime(2027, 3, 2, 8, tzinfo=TZ)
    async with portal.as_user("leader") as leader:
        drill = (await leader.post("/api/v1/sessions", json=_drill(rivals.squad_id, day))).json()
        url = f"/api/v1/sessions/{drill['id']}/attendance/roll/card"
        r = await leader.post(url, json={"card_no": " c0000101 "})
        assert r.status_code == 200, r.text
        line = r.json()
        assert line["person_id"] == officer1 and line["present"] and line["from_roll"]
        # read out of the session's time: it counts from the session's start
        assert datetime.fromisoformat(line["check_in"]) == day
        again = await leader.post(url, json={"card_no": "C0000101"})
        assert again.status_code == 200 and again.json()["check_in"] == line["check_in"]
        other = await leader.post(url, json={"card_no": "C0000109"})  # officer9: another unit
        assert other.status_code == 422 and other.json()["detail"]["code"] == "not_on_roster"
        unknown = await leader.post(url, json={"card_no": "C9999999"})
        assert unknown.json()["detail"]["code"] == "unknown_card"
        # the page's card field, as a USB reader types into it
        page = await leader.post(f"/sessions/{drill['id']}/roll/card", data={"card": "C9999999"})
        assert page.status_code == 422 and 'aria-describedby="card-error"' in page.text
        page = await leader.post(f"/sessions/{drill['id']}/roll/card", data={"card": "C0000101"})
        assert page.status_code == 303 and "card=already" in page.headers["location"]
    async with portal.as_user("leader2") as leader2:
        r = await leader2.post(
            f"/api/v1/sessions/{drill['id']}/attendance/roll/card", json={"card_no": "C0000101"}
        )
        assert r.status_code == 403


async def test_the_pages_move_one_occurrence_and_change_the_series(
    world: tuple[Portal, Rivals],
) -> None:
    portal, rivals = world
    first = datetime(2027, 1, 5, 8, tzinfo=TZ)
    async with portal.as_user("leader") as leader:
        r = await leader.post(
            "/api/v1/sessions/series",
            json=_drill(rivals.squad_id, first, rrule="FREQ=WEEKLY;COUNT=3"),
        )
        series = r.json()
        second = series["sessions"][1]["session_id"]
        page = await leader.get(f"/sessions/{second}")
        assert 'id="change-session"' in page.text and 'id="open-roll"' in page.text
        r = await leader.post(
            f"/sessions/{second}/edit",
            data={
                "title": "队列训练（改期）",
                "planned_start": "2027-01-14T09:00",
                "planned_end": "2027-01-14T09:40",
                "place": "训练基地",
            },
        )
        assert r.status_code == 303, r.text
        moved = (await leader.get(f"/api/v1/sessions/{second}")).json()
        assert moved["title"] == "队列训练（改期）" and moved["place"] == "训练基地"
        assert datetime.fromisoformat(moved["planned_start"]) == datetime(2027, 1, 14, 9, tzinfo=TZ)
        r = await leader.post(
            f"/sessions/series/{series['id']}/change",
            data={"since": "2027-01-01", "start_time": "07:30", "minutes": "30"},
        )
        assert r.status_code == 303, r.text
        page = await leader.get(f"/sessions/series/{series['id']}")
        table = page.text.split('id="series-sessions"')[1]
        assert table.count("07:30") == 2 and "（单独调整过）" in table  # the moved one stays
    async with portal.as_user("leader2") as leader2:
        r = await leader2.post(
            f"/sessions/series/{series['id']}/change", data={"since": "2027-01-01"}
        )
        assert r.status_code == 403

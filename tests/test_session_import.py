"""A year of sessions from one table, and the year at a glance.

Every line is checked as a booking of its own (who may, the course, the classroom's time against
the bookings and the file's own earlier lines); the file is booked whole or not at all, and sent
again books nothing twice. The calendar then counts, per task and month, what is planned and
held against what the plan asks, and what is still to schedule."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from classroom.runtime import Services
from tests.api_helpers import Portal, Rivals, make_portal, seed_rivals, workbook
from tests.conftest import settings_on_both_databases

pytestmark = pytest.mark.anyio

settings = pytest.fixture(settings_on_both_databases, name="settings")
TZ = ZoneInfo("Asia/Shanghai")
HEADER = ["标题", "类型", "课程编号", "单位", "教室", "场地", "教员", "日期", "开始", "结束"]
COURSE = "ZF-2023-01"  # the demo's course, open to the whole bureau
SQUAD, OFFICE, ROOM = "第一街镇中队", "法制科", "一号智慧教室"


@pytest.fixture
async def world(services: Services) -> tuple[Portal, Rivals]:
    portal = await make_portal(services)
    return portal, await seed_rivals(portal)


def _drills(days: list[str], unit: str = SQUAD, by: str = "") -> list[list[object]]:
    """Drills on the parade ground; ``by``: the trainer's username (blank: the importer)."""
    return [
        ["队列训练", "队列训练", COURSE, unit, "", "局大院操场", by, d, "08:00", "08:40"]
        for d in days
    ]


async def _send(
    client: httpx.AsyncClient, data: bytes, dry_run: bool = False, name: str = "s.xlsx"
) -> httpx.Response:
    return await client.post(
        "/api/v1/imports/sessions",
        params={"dry_run": "true"} if dry_run else {},
        files={"file": (name, data, "application/octet-stream")},
    )


async def _sessions(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    r = await client.get("/api/v1/sessions", params={"limit": 500})
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()
    return found


async def _count(client: httpx.AsyncClient) -> int:
    return len(await _sessions(client))


async def test_a_year_booked_whole_or_not_at_all_and_never_twice(
    world: tuple[Portal, Rivals],
) -> None:
    portal, _ = world
    lecture = [
        "执法规范讲座",
        "其他",
        COURSE,
        "",
        ROOM,
        "",
        "trainer",
        "2023-04-13",
        "14:00",
        "16:00",
    ]
    # the office books the squad's drills, led by the squad's leader
    rows = [*_drills(["2023-03-07", "2023-03-21", "2023-04-04"], by="leader"), lecture]
    bad = [
        *rows,
        ["无此课程", "其他", "NOPE-1", "", ROOM, "", "trainer", "2023-05-10", "09:00", "10:00"],
        ["同时占用", "其他", COURSE, "", ROOM, "", "trainer", "2023-04-13", "15:00", "17:00"],
        ["无地点", "其他", COURSE, "", "", "", "trainer", "2023-06-01", "09:00", "10:00"],
        ["时间错", "其他", COURSE, "", ROOM, "", "trainer", "2023-06-02", "9点", "10:00"],
    ]
    async with portal.as_user("manager") as manager:
        before = await _count(manager)
        checked = await _send(manager, workbook([HEADER, *bad]), dry_run=True)
        assert checked.status_code == 200
        refused = {r["line"]: r["message"] for r in checked.json()["refused"]}
        assert sorted(refused) == [6, 7, 8, 9], refused
        assert "NOPE-1" in refused[6]
        assert "执法规范讲座" in refused[7]  # the file's own earlier line holds the room
        assert "classroom or at a place" in refused[8]
        assert "hh:mm" in refused[9]
        r = await _send(manager, workbook([HEADER, *bad]))
        assert r.status_code == 422 and await _count(manager) == before
        r = await _send(manager, workbook([HEADER, *rows]))
        assert r.status_code == 201, r.text
        assert [a["line"] for a in r.json()["added"]] == [2, 3, 4, 5]
        assert await _count(manager) == before + 4
        again = await _send(manager, workbook([HEADER, *rows]))
        assert again.status_code == 201
        assert (again.json()["added"], again.json()["unchanged"]) == ([], 4)
        assert await _count(manager) == before + 4
        # GB18030 CSV, as Excel on Chinese Windows saves it
        csv = "\n".join(
            ",".join(map(str, x)) for x in [HEADER, *_drills(["2023-05-02"], by="leader")]
        )
        r = await _send(manager, csv.encode("gb18030"), name="s.csv")
        assert r.status_code == 201, r.text
        assert r.json()["added"][0]["start"] == "2023-05-02T08:00+08:00"
        template = await manager.get("/api/v1/imports/sessions/template", params={"format": "csv"})
        assert template.text.lstrip("\ufeff").startswith(",".join(HEADER))


async def test_a_leader_imports_their_units_drills_only(world: tuple[Portal, Rivals]) -> None:
    portal, _ = world
    async with portal.as_user("leader") as leader:
        r = await _send(leader, workbook([HEADER, *_drills(["2023-03-07"], OFFICE)]))
        assert r.status_code == 422
        assert "unit leaders their units' studies and drills" in r.json()["refused"][0]["message"]
        r = await _send(leader, workbook([HEADER, *_drills(["2023-03-07", "2023-03-21"])]))
        assert r.status_code == 201, r.text
    async with portal.as_user("officer1") as officer:
        r = await _send(officer, workbook([HEADER, *_drills(["2023-04-04"])]))
        assert r.status_code == 422


def _task(body: dict[str, Any], task_id: str) -> dict[str, Any]:
    return next(t for t in body["tasks"] if t["task_id"] == task_id)


async def test_the_year_at_a_glance(world: tuple[Portal, Rivals]) -> None:
    portal, rivals = world
    q = {"year": 2023}
    async with portal.as_user("leader") as leader:
        # the demo's squad held two drills a month from January to October
        was = _task((await leader.get("/api/v1/calendar/year", params=q)).json(), "drill_training")
        assert (was["asked"], was["to_schedule"]) == (24, 4)
        assert was["months"][10] == {"month": 11, "planned": 0, "held": 0, "asked": 2}
        r = await _send(leader, workbook([HEADER, *_drills(["2023-11-07", "2023-11-21"])]))
        assert r.status_code == 201, r.text
        squad = (await leader.get("/api/v1/calendar/year", params=q)).json()
        assert [u["id"] for u in squad["units"]] == [rivals.squad_id]
        drills = _task(squad, "drill_training")
        assert drills["months"][10] == {"month": 11, "planned": 2, "held": 0, "asked": 2}
        assert drills["to_schedule"] == 2  # December's
        # a third drill in a month counts for nothing more
        r = await _send(leader, workbook([HEADER, *_drills(["2023-11-28"])]))
        assert (
            _task((await leader.get("/api/v1/calendar/year", params=q)).json(), "drill_training")[
                "to_schedule"
            ]
            == 2
        )
        # one drill held (its roll taken): held counts it
        sessions = await _sessions(leader)
        first = next(
            s
            for s in sessions
            if s["place"] == "局大院操场"
            and datetime.fromisoformat(s["planned_start"]) == datetime(2023, 11, 7, 8, tzinfo=TZ)
        )
        roll = (await leader.get(f"/api/v1/sessions/{first['id']}/attendance/roll")).json()
        marks = [{"person_id": x["person_id"], "present": True} for x in roll["lines"]]
        r = await leader.put(
            f"/api/v1/sessions/{first['id']}/attendance/roll", json={"marks": marks}
        )
        assert r.status_code == 200
        drills = _task(
            (await leader.get("/api/v1/calendar/year", params=q)).json(), "drill_training"
        )
        assert drills["months"][10]["held"] == 1
        other = await leader.get("/api/v1/calendar/year", params={**q, "unit_id": rivals.office_id})
        assert other.status_code == 403
        page = await leader.get("/calendar", params={"year": 2023})
        assert page.status_code == 200 and "1/3" in page.text  # November: held/planned
    async with portal.as_user("manager") as manager:
        bureau = (await manager.get("/api/v1/calendar/year", params=q)).json()
        squads = 1  # the demo's one squad: the drills are asked of squads only
        assert _task(bureau, "drill_training")["asked"] == 24 * squads
        assert _task(bureau, "unit_study")["asked"] == 12 * len(bureau["units"])
        training = _task(bureau, "all_staff_training")
        assert training["asked"] == 6  # 2 cohorts of 3 days
        day = datetime(2023, 9, 4, 8, 30, tzinfo=TZ)
        r = await manager.post(
            "/api/v1/sessions",
            json={
                "title": "全员普训",
                "kind": "training_day",
                "course_id": 1,
                "classroom_id": portal.world.classroom_id,
                "trainer_id": (await manager.get("/api/v1/sessions")).json()[0]["trainer_id"],
                "planned_start": day.isoformat(),
                "planned_end": (day + timedelta(hours=3)).isoformat(),
            },
        )
        assert r.status_code == 201, r.text
        after = _task(
            (await manager.get("/api/v1/calendar/year", params=q)).json(), "all_staff_training"
        )
        assert after["months"][8]["planned"] == training["months"][8]["planned"] + 1
        assert after["to_schedule"] == max(0, training["to_schedule"] - 1)

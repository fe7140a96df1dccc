"""Cohorts (期) kept by the training office: dates, officers assigned by unit or one by one, and
the year's report of which were held and who has days to make up."""

from __future__ import annotations

import pytest

from classroom.runtime import Services
from tests.api_helpers import Portal, make_portal, seed_rivals
from tests.conftest import settings_on_both_databases

pytestmark = pytest.mark.anyio

settings = pytest.fixture(settings_on_both_databases, name="settings")


@pytest.fixture
async def portal(services: Services) -> Portal:
    return await make_portal(services)


async def test_cohorts_are_made_filled_and_reported(portal: Portal) -> None:
    async with portal.as_user("manager") as manager:
        people = (await manager.get("/api/v1/people?q=officer")).json()
        officer1 = next(p for p in people if p["username"] == "officer1")
        r = await manager.post(
            "/api/v1/cohorts",
            json={
                "year": 2023,
                "number": 2,
                "name": "第二期",
                "starts_on": "2023-10-09",
                "ends_on": "2023-10-11",
            },
        )
        assert r.status_code == 201, r.text
        cohort = r.json()
        again = await manager.post(
            "/api/v1/cohorts",
            json={"year": 2023, "number": 2, "starts_on": "2023-10-09", "ends_on": "2023-10-11"},
        )
        assert again.status_code == 409
        backwards = await manager.post(
            "/api/v1/cohorts",
            json={"year": 2023, "number": 3, "starts_on": "2023-10-11", "ends_on": "2023-10-09"},
        )
        assert backwards.status_code == 422
        filled = await manager.post(
            f"/api/v1/cohorts/{cohort['id']}/members", json={"unit_ids": [officer1["unit_id"]]}
        )
        assert filled.status_code == 200 and officer1["id"] in filled.json()["member_ids"]
        not_officer = await manager.post(
            f"/api/v1/cohorts/{cohort['id']}/members", json={"person_ids": [999_999]}
        )
        assert not_officer.status_code == 422
        fewer = await manager.post(
            f"/api/v1/cohorts/{cohort['id']}/members",
            json={"remove_person_ids": [officer1["id"]]},
        )
        assert officer1["id"] not in fewer.json()["member_ids"]
        report = (await manager.get("/api/v1/cohorts?year=2023")).json()
    assert (report["cohorts_required"], report["cohorts_held"]) == (2, 1)
    second = next(c for c in report["cohorts"] if c["number"] == 2)
    # no training day was held in its dates: not held, and all its officers owe three days
    assert (second["days_held"], second["held"], second["due"]) == (0, False, True)
    assert second["short"] and all(s["days"] == 3 for s in second["short"])
    async with portal.as_user("trainer") as trainer:
        assert (await trainer.get("/api/v1/cohorts?year=2023")).status_code == 403


async def test_the_cohort_pages_assign_print_and_offer_a_make_up(portal: Portal) -> None:
    await seed_rivals(portal)
    async with portal.as_user("manager") as manager:
        units = (await manager.get("/api/v1/units")).json()
        squad = next(u for u in units if u["name"] == "第一街镇中队")
        bad = await manager.post(
            "/cohorts",
            data={
                "year": "2023",
                "number": "2",
                "starts_on": "2024-01-08",
                "ends_on": "2024-01-10",
            },
        )
        assert bad.status_code == 422 and 'aria-describedby="cohort-error"' in bad.text
        assert 'value="2024-01-08"' in bad.text  # what was typed is kept
        # the second cohort held no day in its dates; the third runs to the year's end
        for number, first, last in (
            ("2", "2023-10-09", "2023-10-11"),
            ("3", "2023-12-27", "2023-12-31"),
        ):
            made = await manager.post(
                "/cohorts",
                data={"year": "2023", "number": number, "starts_on": first, "ends_on": last},
            )
            assert made.status_code == 303, made.text
        report = (await manager.get("/api/v1/cohorts?year=2023")).json()
        second = next(c for c in report["cohorts"] if c["number"] == 2)
        r = await manager.post(
            f"/cohorts/{second['cohort_id']}/assign", data={"units": str(squad["id"])}
        )
        assert r.status_code == 303
        squad_people = {
            p["display_name"]
            for p in (await manager.get("/api/v1/people", params={"unit": squad["id"]})).json()
            if "officer" in p["roles"] and p["active"]
        }
        roster = await manager.get(f"/cohorts/{second['cohort_id']}/roster")
        assert roster.status_code == 200
        listed = roster.text.split('id="cohort-roster"')[1]
        assert squad_people and all(name in listed for name in squad_people)
        page = await manager.get("/cohorts", params={"year": 2023})
        assert page.status_code == 200
        section = page.text.split(f'id="cohort-{second["cohort_id"]}"')[1].split("</section>")[0]
        assert f"{len(squad_people)} 人缺天数" in section
        assert "第3期 2023-12-27–2023-12-31" in section  # the make-up offered
    async with portal.as_user("leader") as leader:
        assert (await leader.get("/cohorts")).status_code == 403

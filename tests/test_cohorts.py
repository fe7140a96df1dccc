"""Cohorts (期) kept by the training office: dates, officers assigned by unit or one by one, and
the year's report of which were held and who has days to make up."""

from __future__ import annotations

import pytest

from classroom.runtime import Services
from tests.api_helpers import Portal, make_portal
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

"""The roster from the training office's own spreadsheet: a preview, then all or nothing, keyed on
the badge number, idempotent; exported in the same format (a round trip) with a template."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from classroom.db.models import Person, Unit, UnitKind
from classroom.runtime import Services
from tests.api_helpers import Portal, make_portal, workbook
from tests.conftest import settings_on_both_databases

pytestmark = pytest.mark.anyio

settings = pytest.fixture(settings_on_both_databases, name="settings")

HEADER = ["警号", "姓名", "单位", "单位类型", "角色", "入职日期", "执法人员", "电话", "邮箱"]
ROWS = [
    ["R1001", "陈一", "曹杨中队", "中队", "学员", "2019-04-01", "是", "13800000001", ""],
    ["R1002", "陈二", "曹杨中队", "", "学员", "2022-12-15", "是", "", "chen2@example.org"],
    ["R1003", "陈三", "法制科", "科室", "学员、教员", "2015-09-01", "否", "", ""],
]


@pytest.fixture
async def portal(services: Services) -> Portal:
    return await make_portal(services)


async def _post(client, what: str, data: bytes, name: str = "roster.xlsx", **params: str):  # type: ignore[no-untyped-def]
    return await client.post(f"/api/v1/roster/{what}", params=params, files={"file": (name, data)})


async def test_preview_then_all_or_nothing_then_nothing_more(portal: Portal) -> None:
    bad = workbook(
        [
            HEADER,
            *ROWS,
            ["bad badge!", "x", "", "", "", "", "", "", ""],
            ["R1004", "陈四", "不存在的中队", "", "", "", "", "", ""],
            ["R1001", "重复", "", "", "", "", "", "", ""],
            ["R1005", "陈五", "", "", "", "昨天", "", "", ""],
        ]
    )
    async with portal.as_user("manager") as manager:
        preview = await _post(manager, "preview", bad)
        assert preview.status_code == 200, preview.text
        got = preview.json()
        assert [a["badge_no"] for a in got["added"]] == ["R1001", "R1002", "R1003"], got["refused"]
        assert got["units_added"] == ["曹杨中队"]  # 法制科 is the demo's
        refused = {r["line"]: r["message"] for r in got["refused"]}
        assert sorted(refused) == [5, 6, 7, 8]
        assert "单位类型" in refused[6]
        assert "repeats line 2" in refused[7] and "not a date" in refused[8]
        applied = await _post(manager, "apply", bad)
        assert applied.status_code == 422 and len(applied.json()["errors"]) == 4
        async with portal.services.sessionmaker() as db:
            assert await db.scalar(select(Person).where(Person.badge_no == "R1001")) is None
        good = workbook([HEADER, *ROWS])
        applied = await _post(manager, "apply", good)
        assert applied.status_code == 201, applied.text
        assert len(applied.json()["added"]) == 3
        again = await _post(manager, "apply", good)
        assert again.status_code == 201
        assert (again.json()["added"], again.json()["changed"], again.json()["unchanged"]) == (
            [],
            [],
            3,
        )
    async with portal.services.sessionmaker() as db:
        two = await db.scalar(select(Person).where(Person.badge_no == "R1002"))
        three = await db.scalar(select(Person).where(Person.badge_no == "R1003"))
        unit = await db.scalar(select(Unit).where(Unit.name == "曹杨中队"))
    assert two is not None and three is not None and unit is not None
    assert unit.kind == UnitKind.SQUAD and two.unit_id == unit.id
    assert str(two.hired_on) == "2022-12-15" and two.email == "chen2@example.org"
    assert sorted(r.value for r in three.roles) == ["officer", "trainer"]
    assert three.enforcement_staff is False and two.password_hash is None


async def test_changes_and_leavers_are_shown_then_applied(portal: Portal) -> None:
    async with portal.as_user("manager") as manager:
        assert (await _post(manager, "apply", workbook([HEADER, *ROWS]))).status_code == 201
        edited = [
            [*ROWS[0][:2], "法制科", "", "", "", "", "13900000000", ""],
            [*ROWS[1][:8], "", "否"],
        ]
        preview = await _post(manager, "preview", workbook([[*HEADER, "在职"], *edited]))
        got = preview.json()
        (changed,) = got["changed"]
        assert changed["badge_no"] == "R1001"
        assert changed["fields"]["phone"] == ["13800000001", "13900000000"]
        assert [p["badge_no"] for p in got["left"]] == ["R1002"]
        # the whole roster: the officers absent from it (R1003, the demo's) are marked left too
        whole = await _post(manager, "apply", workbook([[*HEADER, "在职"], *edited]), full="true")
        assert whole.status_code == 201
        left = {p["badge_no"] for p in whole.json()["left"]}
        assert {"R1002", "R1003"} <= left and "R1001" not in left
    async with portal.services.sessionmaker() as db:
        left = set(await db.scalars(select(Person.badge_no).where(Person.active.is_(False))))
    assert {"R1002", "R1003"} <= left


async def test_export_and_template_round_trip(portal: Portal) -> None:
    async with portal.as_user("manager") as manager:
        assert (await _post(manager, "apply", workbook([HEADER, *ROWS]))).status_code == 201
        exported = await manager.get("/api/v1/roster?format=xlsx")
        assert exported.status_code == 200
        sheet = load_workbook(io.BytesIO(exported.content)).worksheets[0]
        header = [c.value for c in sheet[1]]
        assert header[:3] == ["警号", "姓名", "单位"]
        back = await _post(manager, "preview", exported.content)
        got = back.json()
        assert (got["added"], got["changed"], got["left"], got["refused"]) == ([], [], [], [])
        csv = await manager.get("/api/v1/roster?format=csv")
        gb = csv.content.decode("utf-8-sig").encode("gb18030")  # as Excel re-saves it
        assert (await _post(manager, "preview", gb, "roster.csv")).json()["changed"] == []
        template = await manager.get("/api/v1/roster/template?format=csv")
        assert template.content.decode("utf-8-sig").startswith("警号,姓名,单位,单位类型,角色")


async def test_a_manager_makes_no_managers_by_roster(portal: Portal) -> None:
    row = ["R2001", "王五", "法制科", "", "管理员", "", "", "", ""]
    async with portal.as_user("manager") as manager:
        got = (await _post(manager, "preview", workbook([HEADER, row]))).json()
    assert got["added"] == [] and "only an administrator" in got["refused"][0]["message"]
    async with portal.as_user("officer1") as officer:
        assert (await _post(officer, "preview", workbook([HEADER, row]))).status_code == 403

"""Imports as training offices really export them: CSV in UTF-8 (BOM or not) or GB18030, told
apart by rule and never guessed into mojibake; XLSX directly; rows outside every plan year and
silent corrections refused."""

from __future__ import annotations

import codecs
from datetime import date, datetime

import pytest
from sqlalchemy import select

from classroom.db.models import AuditEntry, CreditEvent
from classroom.runtime import Services
from classroom.table_file import UnreadableTable, decode_text
from tests.api_helpers import Portal, make_portal, workbook
from tests.conftest import settings_on_both_databases

pytestmark = pytest.mark.anyio

settings = pytest.fixture(settings_on_both_databases, name="settings")

HEADER = "警号,课程,学时,学分,日期\n"


@pytest.fixture
async def portal(services: Services) -> Portal:
    return await make_portal(services)


def test_utf8_and_gb18030_are_told_apart_by_rule() -> None:
    text = HEADER + "D0004,依法行政,6,3,2023-03-01\n"
    utf8 = text.encode("utf-8")
    utf8.decode("gb18030")  # valid in both: as GB18030 it reads 渚濇硶琛屾斂
    assert decode_text(utf8) == text
    assert decode_text(codecs.BOM_UTF8 + utf8) == text
    assert decode_text(text.encode("gb18030")) == text
    # GBK bytes that are valid UTF-8 too (as UTF-8 they read ȫԱ, not Chinese): it cannot be told
    # from a UTF-8 file in another script, so it is refused, not guessed
    gbk = "badge_no,course\nD0004,全员\n".encode("gb18030")
    assert gbk.decode("utf-8") == "badge_no,course\nD0004,ȫԱ\n"
    with pytest.raises(UnreadableTable, match="save it as UTF-8"):
        decode_text(gbk)
    with pytest.raises(UnreadableTable, match="save it as UTF-8"):
        decode_text("name\nПривет\n".encode())
    with pytest.raises(UnreadableTable, match="marked UTF-8"):
        decode_text(codecs.BOM_UTF8 + "依法".encode("gb18030"))


async def _courses(portal: Portal) -> list[str]:
    """The courses imported by the test's own files (not the demo's credit)."""
    async with portal.services.sessionmaker() as db:
        return sorted(
            await db.scalars(select(CreditEvent.course).where(CreditEvent.course.not_like("市局%")))
        )


async def test_gb18030_and_utf8_files_import_alike(portal: Portal) -> None:
    gb = (HEADER + "D0004,依法行政,6,3,2023-03-01\n").encode("gb18030")
    bom = codecs.BOM_UTF8 + (HEADER + "D0005,廉政教育,4,2,2023-04-02\n").encode("utf-8")
    async with portal.as_user("manager") as manager:
        for name, data in (("gb.csv", gb), ("bom.csv", bom)):
            r = await manager.post("/api/v1/imports/online", files={"file": (name, data)})
            assert r.status_code == 201 and r.json()["imported"] == 1, r.text
    assert await _courses(portal) == ["依法行政", "廉政教育"]


async def test_an_xlsx_workbook_imports_directly(portal: Portal) -> None:
    data = workbook(
        [
            ["警号", "课程", "学时", "学分", "日期"],
            ["D0004", "依法行政", 6, 3, date(2023, 3, 1)],
            ["D0005", "廉政教育", 4.5, 2, datetime(2023, 4, 2)],
            [],
            ["D0005", "群众工作", 2, 1, "2023-05-06"],
        ]
    )
    async with portal.as_user("manager") as manager:
        r = await manager.post("/api/v1/imports/online", files={"file": ("export.xlsx", data)})
        assert r.status_code == 201 and r.json()["imported"] == 3, r.text
        bad = workbook(
            [["警号", "课程", "学时", "学分", "日期"], ["D0004", "依法行政", "six", 3, 1]]
        )
        r = await manager.post("/api/v1/imports/online", files={"file": ("bad.xlsx", bad)})
        assert r.status_code == 422 and r.json()["errors"][0]["line"] == 2
        fake = b"PK\x03\x04 not really a workbook"
        r = await manager.post("/api/v1/imports/online", files={"file": ("fake.xlsx", fake)})
        assert r.status_code == 422 and "not a readable XLSX" in r.json()["detail"]
    assert await _courses(portal) == ["依法行政", "廉政教育", "群众工作"]


async def test_rows_outside_every_plan_year_are_refused_by_line(portal: Portal) -> None:
    data = (
        HEADER + "D0004,依法行政,6,3,2023-03-01\n"
        "D0004,旧课,2,1,2019-05-01\nD0005,新课,2,1,2031-01-15\n"
    ).encode()
    async with portal.as_user("manager") as manager:
        r = await manager.post("/api/v1/imports/online", files={"file": ("a.csv", data)})
    assert r.status_code == 422
    errors = {e["line"]: e["message"] for e in r.json()["errors"]}
    assert sorted(errors) == [3, 4] and "2019-05-01 is in no plan year" in errors[3]
    assert await _courses(portal) == []  # all or nothing


async def test_a_corrected_reimport_is_refused_unless_replacing(portal: Portal) -> None:
    first = (HEADER + "D0004,依法行政,6,3,2023-03-01\nD0005,廉政教育,4,2,2023-04-02\n").encode()
    fixed = (HEADER + "D0005,廉政教育,4,2,2023-04-02\nD0004,依法行政,8,4,2023-03-01\n").encode()
    async with portal.as_user("manager") as manager:
        r = await manager.post("/api/v1/imports/online", files={"file": ("may.csv", first)})
        assert r.status_code == 201
        r = await manager.post("/api/v1/imports/online", files={"file": ("fixed.csv", fixed)})
        assert r.status_code == 422
        (error,) = r.json()["errors"]
        assert error["line"] == 3
        assert (
            "8 h / 4 credits here, but 6 / 3 already imported from may.csv line 2"
            in (error["message"])
        )
        r = await manager.post(
            "/api/v1/imports/online?replace=true", files={"file": ("fixed.csv", fixed)}
        )
        assert r.status_code == 201, r.text
        assert (r.json()["imported"], r.json()["already_imported"], r.json()["replaced"]) == (
            0,
            1,
            1,
        )
    async with portal.services.sessionmaker() as db:
        hours = await db.scalar(select(CreditEvent.hours).where(CreditEvent.course == "依法行政"))
        entry = await db.scalar(
            select(AuditEntry)
            .where(AuditEntry.action == "import.online")
            .order_by(AuditEntry.id.desc())
        )
    assert hours == 8
    assert entry is not None
    (replaced,) = entry.detail["replaced"]  # type: ignore[misc]
    assert replaced["was"] == [6, 3] and replaced["now"] == [8, 4] and replaced["line"] == 3

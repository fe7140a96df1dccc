"""A plan file edited into a broken state does not take the portal's compliance pages down: the
last good version stays in force and managers are told what is wrong with the file; a year that
never had a good version answers 503, saying why."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from classroom.runtime import Services
from classroom.settings import Settings
from storage.seaweed import S3Connection
from tests.api_helpers import Portal, make_portal
from tests.conftest import ROOT, make_settings

pytestmark = pytest.mark.anyio


@pytest.fixture
def settings(tmp_path: Path, s3: S3Connection, bucket: str) -> Settings:
    plans = tmp_path / "plans"
    plans.mkdir()
    shutil.copy(ROOT / "plans" / "2023.toml", plans / "2023.toml")
    settings = make_settings(tmp_path / "var", s3, bucket)
    settings.plans_dir = plans
    return settings


@pytest.fixture
async def portal(services: Services) -> Portal:
    return await make_portal(services)


def _break(path: Path, mtime_step: int) -> str:
    """min_minutes = -40: broken; the mtime moved on, as an editor's save moves it."""
    broken = path.read_text(encoding="utf-8").replace("min_minutes = 40", "min_minutes = -40")
    path.write_text(broken, encoding="utf-8")
    st = path.stat()
    os.utime(path, (st.st_atime, st.st_mtime + mtime_step))
    line = next(n for n, ln in enumerate(broken.splitlines(), 1) if "min_minutes = -40" in ln)
    return f"{path}:{line}: tasks[3].min_minutes"


async def test_a_broken_plan_file_keeps_the_last_good_version(
    portal: Portal, settings: Settings
) -> None:
    path = settings.plans_dir / "2023.toml"
    async with portal.as_user("manager") as manager:
        good = await manager.get("/api/v1/compliance/bureau?year=2023")
        assert good.status_code == 200
        where = _break(path, 10)
        kept = await manager.get("/api/v1/compliance/bureau?year=2023")
        assert kept.status_code == 200 and kept.json() == good.json()
        page = await manager.get("/compliance?year=2023")
        assert page.status_code == 200
        assert "磁盘上的 2023 年度培训计划文件有误" in page.text and where in page.text
    assert portal.services.plans.problem(2023) is not None
    # mended: in force again, and the warning gone
    path.write_text((ROOT / "plans" / "2023.toml").read_text(encoding="utf-8"), encoding="utf-8")
    os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 20))
    async with portal.as_user("manager") as manager:
        page = await manager.get("/compliance?year=2023")
    assert page.status_code == 200 and "plan-problem" not in page.text


async def test_a_plan_never_read_well_is_503_saying_why(portal: Portal, settings: Settings) -> None:
    where = _break(settings.plans_dir / "2023.toml", 10)
    async with portal.as_user("manager") as manager:
        api = await manager.get("/api/v1/compliance/bureau?year=2023")
        page = await manager.get("/compliance?year=2023")
    assert api.status_code == 503
    assert (
        api.json()["detail"]["code"] == "plan_unavailable"
        and where in api.json()["detail"]["problem"]
    )
    assert page.status_code == 503
    assert "2023 年度培训计划文件有误" in page.text and where in page.text

"""The recordings library: each recording told apart (title, course, trainer, picture, what
it means to the viewer), searched and filtered, live sessions linked, and an officer's
recordings still to watch."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from classroom.db.models import (
    Attendance,
    AttendanceSource,
    Recording,
    RecordingState,
    Session,
    SessionKind,
    SessionStudyItem,
    WatchProgress,
)
from classroom.recordings import object_prefix
from classroom.runtime import Services
from storage.object_store import ObjectNotFound, sha256_file
from tests.api_helpers import Portal, make_portal, person_ids, seed_rivals
from tests.recording_helpers import clip, past_recording

pytestmark = pytest.mark.anyio
TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def portal(services: Services) -> Portal:
    return await make_portal(services)


async def _library(portal: Portal, tmp_path: Path) -> dict[str, int]:
    """Four recordings: two of the demo course (one by each trainer, one covering study item
    3, in the squad, watched to credit by officer1; one attended by officer1), one of the
    office-only course, one still processing; and a live session."""
    rivals = await seed_rivals(portal)
    trainer, trainer2, officer1 = await person_ids(portal, "trainer", "trainer2", "officer1")
    mp4 = clip(tmp_path / "lecture.mp4", 12)
    key = f"library-test/{time.time_ns()}.mp4"
    portal.services.store.put_file(key, mp4, "video/mp4")
    async with portal.services.sessionmaker() as db:
        demo = await db.get(Session, portal.world.session_id)
        assert demo is not None

        async def add(title: str, course: int, who: int, days: int, **more: object) -> int:
            return await past_recording(
                db,
                course_id=course,
                classroom_id=demo.classroom_id or 0,
                trainer_id=who,
                kind=SessionKind.UNIT_STUDY,
                title=title,
                hours=1,
                duration_s=12.0,
                object_key=key,
                size_bytes=mp4.stat().st_size,
                sha256=sha256_file(mp4),
                days_ago=days,
                **more,  # type: ignore[arg-type]
            )

        ids = {
            "law": await add("执法规范化讲座", demo.course_id, trainer, 3, unit_id=rivals.squad_id),
            "drive": await add("警车驾驶安全", demo.course_id, trainer2, 10),
            "office": await add("法制科内部复盘", rivals.restricted_course_id, trainer, 5),
            "attended": await add("现场急救演练", demo.course_id, trainer, 20),
        }
        law = await db.get(Session, (await db.get(Recording, ids["law"])).session_id)  # type: ignore[union-attr]
        assert law is not None
        db.add(SessionStudyItem(session_id=law.id, item_no=3))
        db.add(
            WatchProgress(
                recording_id=ids["drive"], person_id=officer1, intervals=[[0, 6]], watched_s=6.0
            )
        )
        held = await db.get(Recording, ids["attended"])
        assert held is not None
        start = datetime.now(UTC) - timedelta(days=20)
        db.add(
            Attendance(
                session_id=held.session_id,
                person_id=officer1,
                check_in=start,
                check_out=start + timedelta(hours=1),
                source=AttendanceSource.TRAINER,
                event_uid="library-test-attended",
            )
        )
        busy = Recording(session_id=law.id, state=RecordingState.PROCESSING)
        now_live = Recording(session_id=portal.world.session_id, state=RecordingState.RECORDING)
        db.add_all([busy, now_live])
        await db.commit()
        ids["busy"] = busy.id
    return ids


def _rows(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-recording="(\d+)"', page)]


async def test_the_library_finds_and_marks_recordings(portal: Portal, tmp_path: Path) -> None:
    ids = await _library(portal, tmp_path)
    (trainer2,) = await person_ids(portal, "trainer2")
    async with portal.as_user("officer1") as officer:
        api = "/api/v1/recordings"
        mine = {r["id"] for r in (await officer.get(api)).json()}
        assert ids["office"] not in mine and {ids["law"], ids["drive"]} <= mine  # not open
        found = (await officer.get(api, params={"q": "驾驶"})).json()
        assert [r["id"] for r in found] == [ids["drive"]]
        by = (await officer.get(api, params={"trainer_id": trainer2})).json()
        assert [r["id"] for r in by] == [ids["drive"]]
        item = (await officer.get(api, params={"item": 3})).json()
        assert {r["id"] for r in item} == {ids["law"], ids["busy"]}
        day = (datetime.now(TZ) - timedelta(days=10)).date().isoformat()
        dated = (await officer.get(api, params={"since": day, "until": day})).json()
        assert [r["id"] for r in dated] == [ids["drive"]]
        # Still to watch: available, not credited, not attended (the attended one is out).
        todo = {r["id"] for r in (await officer.get(api, params={"to_watch": "true"})).json()}
        assert {ids["law"], ids["drive"]} <= todo and ids["attended"] not in todo
        assert ids["busy"] not in todo
        bad = await officer.get(api, params={"since": "yesterday"})
        assert bad.status_code == 422

        page = (await officer.get("/recordings")).text
        assert "执法规范化讲座" in page and "警车驾驶安全" in page and "法制科内部复盘" not in page
        assert "已看 50%" in page and "已现场参加" in page and "待观看" in page
        assert f'data-live="{portal.world.session_id}"' in page  # live now, linked
        assert 'name="to_watch"' in page
        filtered = (await officer.get("/recordings", params={"q": "驾驶", "page": 1})).text
        assert _rows(filtered) == [ids["drive"]] and 'value="驾驶"' in filtered
        none = (await officer.get("/recordings", params={"q": "没有这样的课"})).text
        assert "没有符合条件的录播" in none

    async with portal.as_user("manager") as manager:
        page = (await manager.get("/recordings")).text
        assert "法制科内部复盘" in page and 'name="to_watch"' not in page

        # A picture of each: made from the camera's video once, then kept in the store.
        r = await manager.get(f"/api/v1/recordings/{ids['law']}/thumbnail.jpg")
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
        (tmp_path / "t.jpg").write_bytes(r.content)
        with Image.open(tmp_path / "t.jpg") as picture:
            assert picture.size[0] == 256
        async with portal.services.sessionmaker() as db:
            rec = await db.get(Recording, ids["law"])
            assert rec is not None
            kept = portal.services.store.stat(f"{object_prefix(rec)}thumbnail.jpg")
        assert kept.size == len(r.content)
        again = await manager.get(f"/api/v1/recordings/{ids['law']}/thumbnail.jpg")
        assert again.content == r.content
        busy = await manager.get(f"/api/v1/recordings/{ids['busy']}/thumbnail.jpg")
        assert busy.status_code == 409
    async with portal.as_user("officer1") as officer:
        refused = await officer.get(f"/api/v1/recordings/{ids['office']}/thumbnail.jpg")
        assert refused.status_code == 403


async def test_a_recording_without_video_has_no_picture(portal: Portal) -> None:
    (trainer,) = await person_ids(portal, "trainer")
    async with portal.services.sessionmaker() as db:
        demo = await db.get(Session, portal.world.session_id)
        assert demo is not None
        rid = await past_recording(
            db,
            course_id=demo.course_id,
            classroom_id=demo.classroom_id or 0,
            trainer_id=trainer,
            kind=SessionKind.UNIT_STUDY,
            title="丢失的视频",
            hours=1,
            duration_s=30.0,
            object_key="library-test/missing.mp4",
        )
        await db.commit()
    async with portal.as_user("manager") as manager:
        for _ in range(2):  # the second asks no ffmpeg again
            r = await manager.get(f"/api/v1/recordings/{rid}/thumbnail.jpg")
            assert r.status_code == 404
    async with portal.services.sessionmaker() as db:
        rec = await db.get(Recording, rid)
        assert rec is not None
        with pytest.raises(ObjectNotFound):
            portal.services.store.stat(f"{object_prefix(rec)}thumbnail.jpg")


async def test_the_filter_forms_empty_choices_filter_nothing(portal: Portal) -> None:
    blank = {k: "" for k in ("course_id", "trainer_id", "unit_id", "item", "since", "until")}
    async with portal.as_user("manager") as manager:
        everything = (await manager.get("/api/v1/recordings")).json()
        r = await manager.get("/api/v1/recordings", params=blank)
        assert r.status_code == 200 and r.json() == everything
        assert (await manager.get("/recordings", params=blank)).status_code == 200
        assert (await manager.get("/api/v1/recordings", params={"item": "x"})).status_code == 422

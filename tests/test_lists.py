"""Sessions and recordings come a page at a time, newest first: the API by limit and offset, the
portal's pages fifty at a time with links to older and newer ones."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from classroom.db.models import Classroom, Recording, RecordingState, Session, SessionKind
from classroom.runtime import Services
from tests.api_helpers import Portal, make_portal
from web.schemas import PAGE_SIZE

pytestmark = pytest.mark.anyio


@pytest.fixture
async def portal(services: Services) -> Portal:
    """The demo world and 130 more sessions, 40 of them in a second classroom, and a recording
    for each session; some share a start, which the order must still settle."""
    portal = await make_portal(services)
    t0 = datetime(2025, 3, 1, 1, 0, tzinfo=UTC)
    async with services.sessionmaker() as db:
        room2 = Classroom(name="二号教室")
        db.add(room2)
        await db.flush()
        demo = await db.get(Session, portal.world.session_id)
        assert demo is not None
        for i in range(130):
            start = t0 + timedelta(days=i // 2)  # two a day, at the same time
            db.add(
                Session(
                    course_id=demo.course_id,
                    classroom_id=room2.id if i % 13 < 4 else demo.classroom_id,
                    trainer_id=demo.trainer_id,
                    kind=SessionKind.OTHER,
                    title=f"s{i}",
                    planned_start=start,
                    planned_end=start + timedelta(minutes=45),
                )
            )
        await db.flush()
        for sid in await db.scalars(select(Session.id)):
            db.add(Recording(session_id=sid, state=RecordingState.AVAILABLE))
        await db.commit()
    return portal


async def test_the_api_pages_sessions_and_recordings(portal: Portal) -> None:
    async with portal.services.sessionmaker() as db:
        ordered = [
            (s.planned_start, s.id, s.classroom_id) for s in await db.scalars(select(Session))
        ]
    ordered.sort(reverse=True)
    async with portal.as_user("manager") as manager:
        seen: list[int] = []
        while batch := (
            await manager.get("/api/v1/sessions", params={"limit": 30, "offset": len(seen)})
        ).json():
            assert len(batch) <= 30
            seen += [s["id"] for s in batch]
        assert seen == [sid for _, sid, _ in ordered]  # newest first, none twice, none left out
        default = (await manager.get("/api/v1/sessions")).json()
        assert len(default) == 100
        async with portal.services.sessionmaker() as db:
            room2 = await db.scalar(select(Classroom.id).where(Classroom.name == "二号教室"))
        r = await manager.get("/api/v1/sessions", params={"classroom_id": room2, "limit": 500})
        assert [s["id"] for s in r.json()] == [sid for _, sid, room in ordered if room == room2]
        for bad in ({"limit": 0}, {"limit": 501}, {"offset": -1}):
            assert (await manager.get("/api/v1/sessions", params=bad)).status_code == 422

        recs = (await manager.get("/api/v1/recordings", params={"limit": 7})).json()
        assert len(recs) == 7 and recs == sorted(recs, key=lambda r: -r["id"])
        rest = (await manager.get("/api/v1/recordings", params={"limit": 500, "offset": 7})).json()
        assert len(recs) + len(rest) == len(ordered)


async def test_the_pages_show_fifty_with_older_and_newer(portal: Portal) -> None:
    async with portal.services.sessionmaker() as db:
        total = len((await db.scalars(select(Session.id))).all())
    last = -(-total // PAGE_SIZE)
    async with portal.as_user("trainer") as trainer:
        for path in ("/sessions", "/recordings"):
            shown = set()
            for page in range(1, last + 1):
                html = (await trainer.get(path, params={"page": page})).text
                rows = set(re.findall(rf'href="({path}/\d+)"', html))
                assert len(rows) == (PAGE_SIZE if page < last else total - PAGE_SIZE * (last - 1))
                assert not rows & shown
                shown |= rows
                assert ('id="older"' in html) == (page < last)
                assert ('id="newer"' in html) == (page > 1)
            assert len(shown) == total
            assert (await trainer.get(path, params={"page": 0})).status_code == 422
            beyond = (await trainer.get(path, params={"page": last + 1})).text
            assert 'id="newer"' in beyond and 'id="older"' not in beyond

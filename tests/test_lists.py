"""Sessions and recordings come a page at a time: the API newest first by limit and offset, the
portal's pages fifty rows each with links to the previous and next pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from classroom.db.models import Classroom, Recording, RecordingState, Session, SessionKind
from classroom.runtime import Services
from tests.api_helpers import Portal, make_portal
from web.schemas import PAGE_SIZE

pytestmark = pytest.mark.anyio


@pytest.fixture
async def portal(services: Services) -> Portal:
    """The demo world, 130 more sessions in 2025 (40 in a second classroom, two at a time: the
    order must settle ties) and three to come, and a recording for each session."""
    portal = await make_portal(services)
    t0 = datetime(2025, 3, 1, 1, 0, tzinfo=UTC)
    async with services.sessionmaker() as db:
        room2 = Classroom(name="二号教室")
        db.add(room2)
        await db.flush()
        demo = await db.get(Session, portal.world.session_id)
        assert demo is not None
        soon = datetime.now(UTC).replace(microsecond=0)
        planned = [  # two a day, at the same time; then three to come, booked out of order
            (f"s{i}", t0 + timedelta(days=i // 2), room2.id if i % 13 < 4 else demo.classroom_id)
            for i in range(130)
        ] + [(f"in {d} days", soon + timedelta(days=d), room2.id) for d in (3, 1, 2)]
        for title, start, room in planned:
            db.add(
                Session(
                    course_id=demo.course_id,
                    classroom_id=room,
                    trainer_id=demo.trainer_id,
                    kind=SessionKind.OTHER,
                    title=title,
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


async def _walk(client: httpx.AsyncClient, path: str, **params: str) -> list[str]:
    """Every row of a paged list, page by page, checking each page's links on the way."""
    shown: list[str] = []
    page = 1
    while True:
        html = (await client.get(path, params={**params, "page": page})).text
        rows = re.findall(rf'href="({path}/\d+)"', html)
        more = 'id="next-page"' in html
        assert len(rows) == PAGE_SIZE or not more
        assert ('id="prev-page"' in html) == (page > 1)
        shown += rows
        if not more:
            return shown
        page += 1


async def test_the_pages_show_fifty_at_a_time(portal: Portal) -> None:
    """Sessions: today's and later ones soonest first, the earlier ones latest first;
    recordings newest first."""
    today = datetime.now(ZoneInfo("Asia/Shanghai")).replace(hour=0, minute=0, second=0)
    async with portal.services.sessionmaker() as db:
        sessions = [
            (s.planned_start, s.id, s.planned_end) for s in await db.scalars(select(Session))
        ]
        recordings = sorted((await db.scalars(select(Recording.id))).all(), reverse=True)
    upcoming = [f"/sessions/{i}" for _, i, end in sorted(sessions) if end >= today]
    past = [f"/sessions/{i}" for _, i, end in sorted(sessions, reverse=True) if end < today]
    assert len(upcoming) >= 3 and len(past) > PAGE_SIZE * 2
    async with portal.as_user("trainer") as trainer:
        assert await _walk(trainer, "/sessions") == upcoming
        assert await _walk(trainer, "/sessions", when="past") == past
        assert await _walk(trainer, "/recordings") == [f"/recordings/{i}" for i in recordings]
        for path in ("/sessions", "/recordings"):
            assert (await trainer.get(path, params={"page": 0})).status_code == 422
            beyond = (await trainer.get(path, params={"page": 99})).text
            assert 'id="prev-page"' in beyond and 'id="next-page"' not in beyond
        assert (await trainer.get("/sessions", params={"when": "soon"})).status_code == 422

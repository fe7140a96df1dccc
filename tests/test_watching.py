"""Credit for watching a recording, through the API on a real database: overlapping stretches
count once, skipped time never counts, playback faster than the plan allows is refused, a hidden
page counts nothing, two tabs at once are one, and 90% watched becomes one credit event in the
officer's year. Wall time is the server's: tests move a view's last report back instead of
sleeping."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from classroom.db.models import (
    Attendance,
    AttendanceSource,
    Course,
    CourseAudience,
    CreditEvent,
    CreditSourceKind,
    Person,
    Recording,
    SessionKind,
    Unit,
    UnitKind,
    WatchView,
)
from classroom.runtime import Services
from classroom.settings import Settings
from classroom.watch_rules import FETCH_SLACK_S
from storage.seaweed import S3Connection
from tests.api_helpers import Portal, make_portal
from tests.conftest import ROOT, make_settings
from tests.recording_helpers import past_recording

pytestmark = pytest.mark.anyio

DURATION = 600.0  # a 10-minute recording: 540 s watched is 90%
BYTES_PER_S = 1000
MEDIA_BYTES = int(DURATION) * BYTES_PER_S
YEAR = datetime.now(UTC).year


@pytest.fixture
def settings(tmp_path: Path, s3: S3Connection, bucket: str, db_url: str) -> Settings:
    """This year's plan is 2023's rules under this year's number (credit is dated today); on
    SQLite and PostgreSQL."""
    plans = tmp_path / "plans"
    plans.mkdir()
    text = (ROOT / "plans" / "2023.toml").read_text(encoding="utf-8")
    (plans / f"{YEAR}.toml").write_text(text.replace("year = 2023", f"year = {YEAR}"), "utf-8")
    s = make_settings(tmp_path / "var", s3, bucket, database={"url": db_url})
    return s.model_copy(update={"plans_dir": plans})


@pytest.fixture
async def portal(services: Services) -> Portal:
    return await make_portal(services)


async def _recording(portal: Portal, unit_only: bool = False) -> int:
    """An available recording of a training day (district-wide, or one unit's only)."""
    async with portal.services.sessionmaker() as db:
        trainer = await db.scalar(select(Person).where(Person.username == "trainer"))
        assert trainer is not None
        session_unit = None
        if unit_only:
            other = Unit(name="另一中队", kind=UnitKind.SQUAD)
            db.add(other)
            await db.flush()
            session_unit = other.id
        audience = [CourseAudience(unit_id=session_unit)] if session_unit else []
        course = Course(code=f"W{uuid.uuid4().hex[:8]}", title="回放课程", audience_rows=audience)
        db.add(course)
        await db.flush()
        rec = await past_recording(
            db,
            course_id=course.id,
            classroom_id=portal.world.classroom_id,
            trainer_id=trainer.id,
            unit_id=session_unit,
            kind=SessionKind.TRAINING_DAY,
            title="依法行政专题",
            hours=8,
            duration_s=DURATION,
            days_ago=2,
            size_bytes=MEDIA_BYTES,
        )
        key = (await db.get(Recording, rec)).object_key  # type: ignore[union-attr]
        await db.commit()
    assert key is not None
    # Bytes the portal can serve: a stand-in MP4, BYTES_PER_S of it for each second.
    portal.services.store.put_bytes(key, bytes(MEDIA_BYTES), "video/mp4")
    return rec


async def _elapse(portal: Portal, view: str, seconds: float) -> None:
    """As if ``seconds`` of wall time passed since the view's last report."""
    async with portal.services.sessionmaker() as db:
        v = await db.get(WatchView, view)
        assert v is not None
        await db.execute(
            update(WatchView)
            .where(WatchView.id == view)
            .values(last_report_at=v.last_report_at - timedelta(seconds=seconds))
        )
        await db.commit()


class Player:
    def __init__(self, portal: Portal, client: httpx.AsyncClient, rec: int, view: str) -> None:
        self.portal, self.client, self.rec, self.view = portal, client, rec, view

    async def fetch(self, a: float, b: float) -> None:
        """Load media time ``a``–``b`` of the MP4 through the portal, as a player does."""
        first, last = int(a * BYTES_PER_S), min(int(b * BYTES_PER_S), MEDIA_BYTES) - 1
        r = await self.client.get(
            f"/api/v1/recordings/{self.rec}/media", headers={"Range": f"bytes={first}-{last}"}
        )
        assert r.status_code == 206 and len(r.content) == last - first + 1, r.status_code

    async def report(
        self,
        played: list[tuple[float, float]],
        after_s: float,
        rate: float = 1.0,
        fetch: bool = True,
        **kw: object,
    ) -> httpx.Response:
        """Report ``played``, having fetched its media first (``fetch``), as a player would."""
        for a, b in played if fetch else []:
            if 0 <= a < b <= DURATION:
                await self.fetch(a, b)
        await _elapse(self.portal, self.view, after_s)
        return await self.client.post(
            f"/api/v1/recordings/{self.rec}/views/{self.view}/progress",
            json={"played": played, "rate": rate, **kw},
        )


async def _player(portal: Portal, client: httpx.AsyncClient, rec: int) -> Player:
    r = await client.post(f"/api/v1/recordings/{rec}/views")
    assert r.status_code == 201, r.text
    assert r.json()["required_s"] == 540 and r.json()["max_speed"] == 2
    return Player(portal, client, rec, r.json()["view_id"])


@pytest.fixture
async def officer(portal: Portal) -> AsyncIterator[httpx.AsyncClient]:
    async with portal.as_user("officer1") as c:
        yield c


async def _online(client: httpx.AsyncClient) -> tuple[float, float]:
    me = (await client.get(f"/api/v1/compliance/me?year={YEAR}")).json()
    part = next(p for p in me["parts"] if p["id"] == "online")
    return part["hours"], part["credits"]


async def test_overlaps_count_once_and_seeking_skips(
    portal: Portal, officer: httpx.AsyncClient
) -> None:
    p = await _player(portal, officer, await _recording(portal))
    r = await p.report([(0, 100)], after_s=100)
    assert r.status_code == 200 and r.json()["watched_s"] == 100 and r.json()["counted_s"] == 100
    r = await p.report([(50, 150)], after_s=100)  # rewound 50 s: only 50 s are new
    assert r.json()["watched_s"] == 150 and r.json()["counted_s"] == 50
    # A seek from 160 to 400: the player reports the stretches either side, never the gap.
    r = await p.report([(150, 160), (400, 430)], after_s=40)
    assert r.json()["watched_s"] == 190 and not r.json()["credited"]
    # Claiming the gap as played in the time of one short report is too fast.
    r = await p.report([(160, 400)], after_s=30)
    assert r.status_code == 422 and r.json()["detail"]["code"] == "too_fast"
    assert (await p.report([], after_s=1)).json()["watched_s"] == 190  # nothing was added


async def test_progress_without_fetching_the_video_earns_nothing(
    portal: Portal, officer: httpx.AsyncClient
) -> None:
    """A script posting progress at up to 2× without loading a byte of the video: nothing counts;
    what counts is only what the portal served this login (give or take a player's slack)."""
    rec = await _recording(portal)
    p = await _player(portal, officer, rec)
    for start in range(0, 600, 100):
        r = await p.report([(start, start + 100)], after_s=50, rate=2.0, fetch=False)
        assert r.status_code == 200 and r.json()["counted_s"] == 0, r.text
    assert r.json()["watched_s"] == 0 and not r.json()["credited"]
    await p.fetch(0, 200)  # loads 200 s, claims all 600
    r = await p.report([(0, 600)], after_s=600, fetch=False)
    assert r.json()["watched_s"] == 200 + FETCH_SLACK_S and not r.json()["credited"]
    # Another login's fetches count for nobody else.
    async with portal.as_user("officer2") as other:
        await Player(portal, other, rec, "").fetch(0, 600)
    assert (await p.report([(200, 600)], after_s=400, fetch=False)).json()["counted_s"] == 0
    # Played after all, the same stretches count.
    assert (await p.report([(200, 600)], after_s=400)).json()["credited"]


async def test_faster_than_the_plan_allows_is_refused(
    portal: Portal, officer: httpx.AsyncClient
) -> None:
    p = await _player(portal, officer, await _recording(portal))
    r = await p.report([(0, 40)], after_s=10, rate=4.0)
    assert r.status_code == 422 and r.json()["detail"]["code"] == "too_fast"
    assert "4×" in r.json()["detail"]["message"]
    # A player lying about its rate: 40 s in 10 s of wall time (a refused report's wall time
    # is spent with it, so it cannot be claimed again).
    r = await p.report([(0, 40)], after_s=10, rate=1.0)
    assert r.status_code == 422 and r.json()["detail"]["code"] == "too_fast"
    r = await p.report([(0, 40)], after_s=20, rate=2.0)  # 2× is allowed by the plan
    assert r.status_code == 200 and r.json()["watched_s"] == 40
    for bad in ([(-5, 10)], [(30, 20)], [(590, 700)]):
        r = await p.report(bad, after_s=60)
        assert r.status_code == 422 and r.json()["detail"]["code"] == "bad_interval", bad


async def test_a_hidden_page_counts_nothing(portal: Portal, officer: httpx.AsyncClient) -> None:
    p = await _player(portal, officer, await _recording(portal))
    r = await p.report([(0, 60)], after_s=60, visible=False)
    assert r.status_code == 200 and r.json()["watched_s"] == 0 and r.json()["counted_s"] == 0
    r = await p.report([(60, 120)], after_s=60)
    assert r.json()["watched_s"] == 60


async def test_two_tabs_at_once_count_as_one(portal: Portal, officer: httpx.AsyncClient) -> None:
    rec = await _recording(portal)
    first = await _player(portal, officer, rec)
    assert (await first.report([(0, 30)], after_s=30)).json()["watched_s"] == 30
    second = await _player(portal, officer, rec)  # another tab: the newest view counts
    r = await first.report([(30, 60)], after_s=30)
    assert r.status_code == 409 and r.json()["detail"]["code"] == "superseded"
    r = await second.report([(200, 230)], after_s=30)
    assert r.status_code == 200 and r.json()["watched_s"] == 60
    async with portal.as_user("officer2") as other:  # someone else's view is not yours
        r = await other.post(
            f"/api/v1/recordings/{rec}/views/{second.view}/progress", json={"played": []}
        )
        assert r.status_code == 404


async def test_ninety_percent_watched_is_credited_once(
    portal: Portal, officer: httpx.AsyncClient
) -> None:
    rec = await _recording(portal)
    before = await _online(officer)
    p = await _player(portal, officer, rec)
    r = await p.report([(0, 530)], after_s=530)
    assert r.json()["credited"] is False
    r = await p.report([(530, 540)], after_s=10)
    assert r.json()["credited"] is True and r.json()["watched_s"] == 540
    r = await p.report([(540, 600)], after_s=60)  # watching on adds no second credit
    assert r.json()["watched_s"] == 600
    async with portal.services.sessionmaker() as db:
        events = list(
            await db.scalars(
                select(CreditEvent).where(CreditEvent.source == CreditSourceKind.RECORDING_WATCH)
            )
        )
        officer1 = await db.scalar(select(Person.id).where(Person.username == "officer1"))
    assert [(e.hours, e.credits, e.person_id) for e in events] == [(8, 4, officer1)]
    assert events[0].event_uid == f"watch:{rec}:{officer1}"
    # A training day earns 8 学时 4 学分, into the plan's online part, on the officer's page.
    assert await _online(officer) == (before[0] + 8, before[1] + 4)
    again = await _player(portal, officer, rec)  # a new view starts from what was watched
    assert (await officer.get(f"/api/v1/recordings/{rec}")).status_code == 200
    assert again.view


async def test_no_credit_for_a_session_attended_nor_for_staff(portal: Portal) -> None:
    rec = await _recording(portal)
    async with portal.services.sessionmaker() as db:
        r = await db.get(Recording, rec)
        officer2 = await db.scalar(select(Person).where(Person.username == "officer2"))
        assert r is not None and officer2 is not None
        db.add(
            Attendance(
                event_uid="att-1",
                session_id=r.session_id,
                person_id=officer2.id,
                check_in=r.session.planned_start,
                source=AttendanceSource.KIOSK,
                reason="card",
            )
        )
        await db.commit()
    for who in ("officer2", "manager"):
        async with portal.as_user(who) as c:
            p = await _player(portal, c, rec)
            r = await p.report([(0, 600)], after_s=600)
            assert r.status_code == 200, r.text
            assert r.json()["watched_s"] == 600 and r.json()["creditable"] is False
            assert r.json()["credited"] is False
            # Why, as the player says it: a manager did not attend, they are not an officer.
            assert r.json()["attended"] is (who == "officer2")


async def test_who_may_watch_and_who_sees_the_statistics(
    portal: Portal, officer: httpx.AsyncClient
) -> None:
    rec = await _recording(portal)
    closed = await _recording(portal, unit_only=True)  # another unit's course
    p = await _player(portal, officer, rec)
    await p.report([(0, 300)], after_s=300)
    for path in ("", "/media", "/watch-stats"):
        assert (await officer.get(f"/api/v1/recordings/{closed}{path}")).status_code == 403
    assert (await officer.post(f"/api/v1/recordings/{closed}/views")).status_code == 403
    listed = {r["id"] for r in (await officer.get("/api/v1/recordings")).json()}
    assert rec in listed and closed not in listed
    assert (await officer.get(f"/api/v1/recordings/{rec}/watch-stats")).status_code == 403
    async with portal.client() as anonymous:
        assert (await anonymous.post(f"/api/v1/recordings/{rec}/views")).status_code == 401
        r = await anonymous.post(f"/api/v1/recordings/{rec}/views/{p.view}/progress", json={})
        assert r.status_code == 401
    for staff in ("trainer", "admin"):
        async with portal.as_user(staff) as c:
            code = (await c.get(f"/api/v1/recordings/{rec}/watch-stats")).status_code
            assert code == (403 if staff == "trainer" else 200)
    async with portal.as_user("manager") as manager:
        stats = (await manager.get(f"/api/v1/recordings/{rec}/watch-stats")).json()
        assert (await manager.get(f"/api/v1/recordings/{closed}")).status_code == 200
        page = (await manager.get(f"/recordings/{rec}")).text
    assert "观看统计" in page and "张队员" in page and "50.0%" in page
    officer_page = (await officer.get(f"/recordings/{rec}")).text
    assert "观看统计" not in officer_page and 'id="watch"' in officer_page
    assert stats["viewers"] == 1 and stats["completed"] == 0
    assert stats["watchers"][0]["name"] == "张队员" and stats["watchers"][0]["share"] == 0.5
    assert stats["watchers"][0]["enough"] is False

"""Recording on schedule: the agent's decision, its cache, the portal's schedule API, the
trainer's early start / pause / resume / extend, and the iCalendar feed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import icalendar
import pytest

from classroom.agent.schedule import ScheduleCache, decide
from classroom.protocol.messages import RecordingState, ScheduleEntry
from classroom.runtime import Services
from tests.api_helpers import Portal, cancel_seeded_session, make_portal

T0 = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)
PRE, POST = timedelta(minutes=1), timedelta(minutes=2)


def planned(
    rid: int = 1,
    state: str = "pending",
    paused: bool = False,
    start: timedelta = timedelta(0),
    end: timedelta = timedelta(hours=1),
    ptz_preset: int | None = 3,
) -> ScheduleEntry:
    return ScheduleEntry(
        session_id=rid,
        title=f"s{rid}",
        start=T0 + start,
        end=T0 + end,
        recording_id=rid,
        object_prefix=f"p{rid}/",
        state=RecordingState(state),
        paused=paused,
        ptz_preset=ptz_preset,
    )


def at(minutes: float, **kw: set[int]) -> tuple[list[int], list[int]]:
    d = decide(
        [planned()],
        T0 + timedelta(minutes=minutes),
        running=kw.get("running", set()),
        finished=kw.get("finished", set()),
        paused=kw.get("paused", set()),
        preroll=PRE,
        postroll=POST,
    )
    return [e.recording_id for e in d.start], [e.recording_id for e in d.stop]


def test_starts_with_the_pre_roll_and_not_before() -> None:
    assert at(-1.01) == ([], [])
    assert at(-1) == ([1], [])
    assert at(30) == ([1], [])  # the agent restarted mid-session: record the rest


def test_stops_after_the_post_roll() -> None:
    assert at(61.99, running={1}) == ([], [])
    assert at(62, running={1}) == ([], [1])
    assert at(62) == ([], [])  # nothing runs: nothing to stop


def test_started_by_hand_early_keeps_running_into_its_window() -> None:
    assert at(-30, running={1}) == ([], [])
    assert at(10, running={1}) == ([], [])


def test_stopped_here_is_never_started_again() -> None:
    assert at(30, finished={1}) == ([], [])
    assert at(70, finished={1}) == ([], [])


def test_paused_is_not_restarted_but_is_stopped_at_the_end() -> None:
    assert at(30, paused={1}) == ([], [])
    assert at(62, paused={1}) == ([], [1])
    d = decide([planned(paused=True)], T0, set(), set(), set(), PRE, POST)
    assert d.start == ()  # the portal says paused: the cache carries that too


def test_one_camera_records_one_session_at_a_time() -> None:
    """A schedule cached from before double bookings were refused, or a recording started by
    hand: never two encoders on the camera. The session in its window keeps the camera; one in
    its post-roll hands it to the next session's pre-roll."""
    a = planned(1)  # 06:00-07:00
    b = planned(2, start=timedelta(minutes=30), end=timedelta(hours=2), ptz_preset=None)
    c = planned(3, start=timedelta(hours=1), end=timedelta(hours=2), ptz_preset=None)

    def plan(
        entries: list[ScheduleEntry], minutes: float, running: set[int]
    ) -> tuple[list[int], list[int]]:
        d = decide(entries, T0 + timedelta(minutes=minutes), running, set(), set(), PRE, POST)
        return [e.recording_id for e in d.start], [e.recording_id for e in d.stop]

    assert plan([b, a], 40, set()) == ([1], [])  # both due: the earlier one
    assert plan([a, b], 40, {1}) == ([], [])  # a in its window keeps the camera
    assert plan([a, b], 60.5, {1}) == ([2], [1])  # a in its post-roll: handed over to b
    assert plan([a, c], 59.5, {1}) == ([], [])  # c's pre-roll waits for a's planned end
    assert plan([a, c], 60, {1}) == ([3], [1])
    assert plan([a, b], 40, {9}) == ([], [])  # started by hand, not on this schedule: kept
    assert plan([a, b], 40, {2}) == ([], [])


@pytest.mark.parametrize("state", ["processing", "available", "failed"])
def test_finished_on_the_portal_is_not_started(state: str) -> None:
    d = decide([planned(state=state)], T0, set(), set(), set(), PRE, POST)
    assert d.start == ()


def test_cache_round_trip_and_replaced_whole(tmp_path: Path) -> None:
    cache = ScheduleCache(tmp_path / "schedule.json")
    assert cache.load() == ([], None)
    entries = [planned(1), planned(2, state="recording")]
    cache.save(entries, T0)
    assert cache.load() == (entries, T0)
    cache.save(entries[:1], T0 + timedelta(seconds=1))
    assert cache.load()[0] == entries[:1]
    assert not list(tmp_path.glob("*.tmp"))


# --- the portal's side -------------------------------------------------------------------------

pytestmark = pytest.mark.anyio


@pytest.fixture
async def portal(services: Services) -> Portal:
    portal = await make_portal(services)
    await cancel_seeded_session(portal)  # each test books the classroom itself
    return portal


def _body(portal: Portal, start: datetime, minutes: int = 45, **kw: object) -> dict[str, object]:
    return {
        "title": "交通法规, 第2讲; 复习",
        "kind": "other",
        "course_id": 1,
        "classroom_id": portal.world.classroom_id,
        "planned_start": start.isoformat(),
        "planned_end": (start + timedelta(minutes=minutes)).isoformat(),
        **kw,
    }


async def test_who_may_schedule_sessions(portal: Portal) -> None:
    soon = datetime.now(UTC) + timedelta(hours=1)
    async with portal.as_user("officer1") as officer:
        r = await officer.post("/api/v1/sessions", json=_body(portal, soon))
        assert r.status_code == 403
    async with portal.as_user("trainer") as trainer:
        r = await trainer.post("/api/v1/sessions", json=_body(portal, soon, auto_record=True))
        assert r.status_code == 201, r.text
        assert r.json()["auto_record"] is True
        me = r.json()["trainer_id"]
        r = await trainer.post("/api/v1/sessions", json=_body(portal, soon, trainer_id=me + 100))
        assert r.status_code == 403  # not for someone else
    async with portal.as_user("manager") as manager:
        later = soon + timedelta(hours=1)
        r = await manager.post("/api/v1/sessions", json=_body(portal, later, trainer_id=me))
        assert r.status_code == 201
        bad = await manager.post("/api/v1/sessions", json=_body(portal, soon, minutes=-5))
        assert bad.status_code == 422 and "planned_end" in bad.text
        naive = _body(portal, soon) | {"planned_start": "2026-11-26T08:00:00"}
        assert (await manager.post("/api/v1/sessions", json=naive)).status_code == 422
        gone = await manager.post("/api/v1/sessions", json=_body(portal, soon, course_id=999))
        assert gone.status_code == 422 and "course" in gone.text


async def _scheduled(portal: Portal, start: datetime, **kw: object) -> int:
    async with portal.as_user("trainer") as trainer:
        r = await trainer.post("/api/v1/sessions", json=_body(portal, start, **kw))
        assert r.status_code == 201, r.text
        sid: int = r.json()["id"]
        return sid


async def test_agent_schedule_lists_its_auto_recorded_sessions_with_stable_recordings(
    portal: Portal,
) -> None:
    now = datetime.now(UTC)
    sid = await _scheduled(portal, now + timedelta(minutes=5), auto_record=True, ptz_preset=3)
    await _scheduled(portal, now + timedelta(minutes=50))  # not recorded on schedule
    await _scheduled(portal, now + timedelta(days=8), auto_record=True)  # beyond a week
    async with portal.agent() as agent:
        first = (await agent.get("/api/v1/agent/schedule")).json()
        again = (await agent.get("/api/v1/agent/schedule")).json()
    assert [e["session_id"] for e in first] == [sid]
    assert first == again  # the recording is made once
    (e,) = first
    assert e["state"] == "pending" and e["ptz_preset"] == 3 and not e["paused"]
    assert e["object_prefix"] == f"recordings/session-{sid}/recording-{e['recording_id']}/"
    async with portal.as_user("trainer") as trainer:
        r = await trainer.get("/api/v1/agent/schedule")
    assert r.status_code == 401  # a person's login is not a device token


async def test_reports_from_the_agent_move_forward_only(portal: Portal) -> None:
    start = datetime.now(UTC) - timedelta(minutes=1)
    sid = await _scheduled(portal, start, auto_record=True)
    async with portal.agent() as agent:
        (e,) = (await agent.get("/api/v1/agent/schedule")).json()
        rid = e["recording_id"]
        at = (start + timedelta(seconds=5)).isoformat()
        r = await agent.post(f"/api/v1/agent/recordings/{rid}/started", json={"at": at})
        assert r.json()["state"] == "recording"
        end = (start + timedelta(minutes=50)).isoformat()
        r = await agent.post(f"/api/v1/agent/recordings/{rid}/stopped", json={"at": end})
        assert r.json()["state"] == "processing"
        # Delivered twice, or late: nothing moves back.
        r = await agent.post(f"/api/v1/agent/recordings/{rid}/started", json={"at": at})
        assert r.json()["state"] == "processing"
        bad = await agent.post(f"/api/v1/agent/recordings/{rid}/started", json={"at": "noon"})
        assert bad.status_code == 422
    async with portal.as_user("trainer") as trainer:
        s = (await trainer.get(f"/api/v1/sessions/{sid}")).json()
    assert datetime.fromisoformat(s["actual_start"]) == start + timedelta(seconds=5)
    assert datetime.fromisoformat(s["actual_end"]) == start + timedelta(minutes=50)


async def test_another_classrooms_recording_is_not_the_agents(portal: Portal) -> None:
    async with portal.agent() as agent:
        r = await agent.post("/api/v1/agent/recordings/9999/started", json={"at": T0.isoformat()})
    assert r.status_code == 404


async def test_start_early_pause_resume_and_extend(portal: Portal) -> None:
    start = datetime.now(UTC) + timedelta(minutes=20)  # the classroom's window is open
    sid = await _scheduled(portal, start, auto_record=True)
    async with portal.agent() as agent:
        (e,) = (await agent.get("/api/v1/agent/schedule")).json()
    async with portal.as_user("trainer") as trainer:
        base = f"/api/v1/sessions/{sid}"
        assert (await trainer.post(f"{base}/recording/pause")).status_code == 409  # not yet
        early = (await trainer.post(f"{base}/recording/start")).json()
        assert early["id"] == e["recording_id"]  # the scheduled recording, started early
        again = (await trainer.post(f"{base}/recording/start")).json()
        assert again["id"] == early["id"]
        async with portal.agent() as agent:
            cmds = (await agent.get("/api/v1/agent/commands")).json()
            assert [c["kind"] for c in cmds] == ["start_recording"]  # one, though pressed twice
            await agent.post(f"/api/v1/agent/commands/{cmds[0]['id']}/ack", json={"ok": True})
        for _ in range(2):  # pausing twice is one pause
            r = await trainer.post(f"{base}/recording/pause")
            assert r.status_code == 200 and r.json()["paused"] is True
        r = await trainer.post(f"{base}/recording/resume")
        assert r.json()["paused"] is False and r.json()["state"] == "recording"
        async with portal.agent() as agent:
            cmds = (await agent.get("/api/v1/agent/commands")).json()
        assert [c["kind"] for c in cmds] == ["pause_recording", "resume_recording"]
        r = await trainer.post(f"{base}/extend", json={"minutes": 30})
        assert r.status_code == 200
        assert datetime.fromisoformat(r.json()["planned_end"]) == start + timedelta(minutes=75)
        assert (await trainer.post(f"{base}/extend", json={"minutes": 0})).status_code == 422
    async with portal.agent() as agent:
        (e,) = (await agent.get("/api/v1/agent/schedule")).json()
    assert datetime.fromisoformat(e["end"]) == start + timedelta(minutes=75)
    async with portal.as_user("officer1") as officer:
        for path in ("recording/pause", "recording/resume"):
            assert (await officer.post(f"/api/v1/sessions/{sid}/{path}")).status_code == 403
        r = await officer.post(f"/api/v1/sessions/{sid}/extend", json={"minutes": 5})
        assert r.status_code == 403


async def test_a_classroom_records_one_session_at_a_time(portal: Portal) -> None:
    """Start in a classroom whose camera records another session is refused (409, naming it);
    once that session is past its planned end (running over, or in its post-roll) Start hands
    the camera over: the other recording is told to stop first, then this one to start."""
    # Windows wide enough to let b start 55 minutes early and c 10 minutes after its end: the
    # camera's hand-over is what is tested here (the windows are test_authorization's).
    portal.services.settings.kiosk.open_before_min = 60
    portal.services.settings.agent.postroll_s = 900
    now = datetime.now(UTC)
    a = await _scheduled(portal, now - timedelta(minutes=5), minutes=60)
    b = await _scheduled(portal, now + timedelta(minutes=55), minutes=60)  # started early
    c = await _scheduled(portal, now - timedelta(minutes=70), minutes=60)  # ended 10 min ago

    async def kinds() -> list[tuple[str, int]]:
        async with portal.agent() as agent:
            cmds = (await agent.get("/api/v1/agent/commands")).json()
        return [(cmd["kind"], cmd["session_id"]) for cmd in cmds]

    async with portal.as_user("trainer") as trainer:
        assert (await trainer.post(f"/api/v1/sessions/{a}/recording/start")).status_code == 202
        r = await trainer.post(f"/api/v1/sessions/{b}/recording/start")
        assert r.status_code == 409 and f"session {a}" in r.json()["detail"]
        assert await kinds() == [("start_recording", a)]
        assert (await trainer.post(f"/api/v1/sessions/{a}/recording/stop")).status_code == 202
        # a is on its way out: c may start; c ended on the plan, so b then takes the camera.
        assert (await trainer.post(f"/api/v1/sessions/{c}/recording/start")).status_code == 202
        r = await trainer.post(f"/api/v1/sessions/{b}/recording/start")
        assert r.status_code == 202 and r.json()["session_id"] == b
        again = await trainer.post(f"/api/v1/sessions/{b}/recording/start")
        assert again.json()["id"] == r.json()["id"]  # pressed twice: one recording
    assert await kinds() == [
        ("start_recording", a),
        ("stop_recording", a),
        ("start_recording", c),
        ("stop_recording", c),
        ("start_recording", b),
    ]


async def test_icalendar_feed(portal: Portal) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    long_title = "执法规范化建设专题培训：" + "现场执法记录仪使用规范与案例剖析" * 3
    sid = await _scheduled(portal, start, title=long_title)
    room = portal.world.classroom_id
    async with portal.as_user("trainer") as trainer:
        r = await trainer.get(f"/api/v1/classrooms/{room}/schedule.ics")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/calendar")
        assert (await trainer.get("/api/v1/classrooms/999/schedule.ics")).status_code == 404
        assert (
            await trainer.get(f"/api/v1/classrooms/{room}/schedule.ics?days=0")
        ).status_code == 422
    raw = r.content
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))  # folded by octets (RFC 5545 3.1)
    assert raw.endswith(b"END:VCALENDAR\r\n")
    cal = icalendar.Calendar.from_ical(raw)
    events = {str(ev["UID"]): ev for ev in cal.walk("VEVENT")}
    ev = events[f"session-{sid}@testserver"]
    assert str(ev["SUMMARY"]) == long_title
    assert ev.decoded("DTSTART") == start
    assert ev.decoded("DTEND") == start + timedelta(minutes=45)
    escaped = await _scheduled(portal, start + timedelta(hours=1), title="a, b; c\\d")
    async with portal.as_user("manager") as manager:
        cal = icalendar.Calendar.from_ical(
            (await manager.get(f"/api/v1/classrooms/{room}/schedule.ics")).content
        )
    titles = {str(e["UID"]): str(e["SUMMARY"]) for e in cal.walk("VEVENT")}
    assert titles[f"session-{escaped}@testserver"] == "a, b; c\\d"
    async with portal.as_user("officer1") as officer:
        assert (await officer.get(f"/api/v1/classrooms/{room}/schedule.ics")).status_code == 403
    async with portal.agent() as agent:
        assert (await agent.get(f"/api/v1/classrooms/{room}/schedule.ics")).status_code == 401

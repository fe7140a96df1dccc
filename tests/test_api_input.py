"""Bad input gets a clear 4xx, never a 500, and changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from pydantic import TypeAdapter

from classroom.runtime import Services
from classroom.settings import Settings
from tests.api_helpers import Portal, make_portal
from web.app import create_app

pytestmark = pytest.mark.anyio


@pytest.fixture
async def portal(services: Services) -> Portal:
    return await make_portal(services)


async def test_malformed_json_is_a_clear_422(portal: Portal) -> None:
    async with portal.client() as c:
        r = await c.post(
            "/api/v1/auth/login",
            content=b'{"username": "trainer", "password": ',
            headers={"content-type": "application/json"},
        )
    assert r.status_code == 422
    assert "JSON" in r.json()["detail"]


async def test_missing_and_extra_fields_are_named(portal: Portal) -> None:
    async with portal.client() as c:
        missing = await c.post("/api/v1/auth/login", json={"username": "trainer"})
        extra = await c.post(
            "/api/v1/auth/login", json={"username": "a", "password": "b", "admin": True}
        )
    assert missing.status_code == 422 and "password" in missing.json()["detail"]
    assert extra.status_code == 422 and "admin" in extra.json()["detail"]


async def test_unknown_ids_are_404_with_the_id(portal: Portal) -> None:
    async with portal.as_user("trainer") as c:
        for path in ("/api/v1/sessions/999", "/api/v1/recordings/999"):
            r = await c.get(path)
            assert r.status_code == 404 and "999" in r.json()["detail"]
        r = await c.post("/api/v1/sessions/999/recording/start")
        assert r.status_code == 404
        r = await c.get("/api/v1/sessions/not-a-number")
        assert r.status_code == 422
    async with portal.agent() as agent:
        r = await agent.post("/api/v1/agent/commands/999/ack", json={"ok": True})
        assert r.status_code == 404


async def test_numbers_past_the_database_s_integer_are_422_not_500(portal: Portal) -> None:
    """2**63 fits no database integer: found in a path, a query, a JSON body or a form, it is a
    422 naming the field (SQLite's driver overflowed and PostgreSQL's refused: a 500), while the
    largest integer there is, 2**63 - 1, is looked up and simply not found."""
    huge, largest = 2**63, 2**63 - 1
    w = portal.world
    async with portal.as_user("admin") as c:
        for path in (
            f"/api/v1/sessions/{huge}",
            f"/api/v1/recordings?session_id={huge}",
            f"/api/v1/classrooms/{huge}/schedule.ics",
            f"/api/v1/compliance/officers/{huge}?year=2026",
            f"/sessions/{huge}",
            f"/compliance?unit={huge}",
        ):
            r = await c.get(path, headers={"Accept": "application/json"})
            assert r.status_code == 422, (path, r.status_code, r.text[:300])
        for path in (f"/api/v1/sessions/{largest}", f"/sessions/{largest}"):
            r = await c.get(path, headers={"Accept": "application/json"})
            assert r.status_code == 404, (path, r.status_code)
        body = {
            "course_id": huge,
            "classroom_id": w.classroom_id,
            "title": "x",
            "starts_at": "2026-12-01T09:00:00+08:00",
            "ends_at": "2026-12-01T10:00:00+08:00",
        }
        r = await c.post("/api/v1/sessions", json=body)
        assert r.status_code == 422 and "course_id" in r.text, r.text[:300]
        r = await c.post(f"/sessions/{w.session_id}/attendance", data={"person_id": str(huge)})
        assert r.status_code == 422, r.text[:300]
    async with portal.agent() as agent:
        r = await agent.post(
            "/api/v1/agent/checkin",
            json={
                "event_uid": "6f1c1f0e-8a47-4d1e-9f43-0c6c1a9b7f10",
                "method": "face",
                "person_id": huge,
                "at": "2026-12-01T09:00:00+08:00",
            },
        )
        assert r.status_code == 422 and "person_id" in r.text


def test_every_integer_a_request_carries_is_bounded(settings: Settings) -> None:
    """Every route, API and pages, in paths, queries, headers, cookies, JSON bodies and forms:
    each integer it accepts has an upper bound (at most the databases' integer), so no number a
    client sends can overflow a driver (the 422 above, for every route there is or will be)."""
    app = create_app(settings=settings)

    def routes(within: list[Any]) -> Iterator[Any]:
        for r in within:
            if hasattr(r, "dependant"):
                yield r
            inner = getattr(r, "original_router", None)  # FastAPI includes routers lazily
            if inner is not None:
                yield from routes(inner.routes)

    def dependants(d: Any) -> Iterator[Any]:
        yield d
        for sub in d.dependencies:
            yield from dependants(sub)

    def unbounded(schema: dict[str, Any], defs: dict[str, Any], seen: frozenset[str]) -> bool:
        ref = schema.get("$ref", "").rsplit("/", 1)[-1]
        if ref:
            return ref not in seen and unbounded(defs[ref], defs, seen | {ref})
        if schema.get("type") == "integer" and not {"maximum", "exclusiveMaximum"} & set(schema):
            return True
        nested = [*schema.get("anyOf", []), *schema.get("allOf", []), *schema.get("oneOf", [])]
        nested += [
            s for k in ("items", "additionalProperties") if isinstance(s := schema.get(k), dict)
        ]
        nested += list(schema.get("properties", {}).values())
        return any(unbounded(s, defs, seen) for s in nested)

    checked, loose = 0, []
    for route in routes(app.routes):
        checked += 1
        for d in dependants(route.dependant):
            params = [*d.path_params, *d.query_params, *d.header_params, *d.cookie_params]
            for f in [*params, *d.body_params]:
                info = f.field_info
                meta = info.metadata
                annotation = Annotated[(info.annotation, *meta)] if meta else info.annotation
                js = TypeAdapter(annotation).json_schema()
                if unbounded(js, js.get("$defs", {}), frozenset()):
                    loose.append(f"{route.path} {f.name}")
    assert checked > 90  # the walk reached the routers' routes
    assert loose == []


async def test_oversized_bodies_are_413(portal: Portal) -> None:
    limit = portal.services.settings.web.max_body_bytes
    big = b"x" * (limit + 1)
    async with portal.client() as c:
        declared = await c.post(
            "/api/v1/auth/login", content=big, headers={"content-type": "application/json"}
        )

        async def chunks():  # no Content-Length: the limit must still hold
            for i in range(0, len(big), 65536):
                yield big[i : i + 65536]

        streamed = await c.post(
            "/api/v1/auth/login", content=chunks(), headers={"content-type": "application/json"}
        )
    for r in (declared, streamed):
        assert r.status_code == 413
        assert str(limit) in r.json()["detail"]


async def test_stop_without_recording_is_409(portal: Portal) -> None:
    async with portal.as_user("trainer") as c:
        r = await c.post(f"/api/v1/sessions/{portal.world.session_id}/recording/stop")
    assert r.status_code == 409
    assert "no recording in progress" in r.json()["detail"]


async def test_agent_upload_report_is_validated_and_checked_against_the_store(
    portal: Portal,
) -> None:
    sid = portal.world.session_id
    async with portal.as_user("trainer") as trainer:
        rec = (await trainer.post(f"/api/v1/sessions/{sid}/recording/start")).json()
    async with portal.agent() as agent:
        bad = await agent.post(
            f"/api/v1/agent/recordings/{rec['id']}/upload",
            json={
                "object_key": "../../etc/passwd",
                "duration_s": -1,
                "size_bytes": 1,
                "sha256": "zz",
            },
        )
        assert bad.status_code == 422
        not_processing = await agent.post(
            f"/api/v1/agent/recordings/{rec['id']}/upload",
            json={
                "object_key": "recordings/x.mp4",
                "duration_s": 1,
                "size_bytes": 1,
                "sha256": "0" * 64,
            },
        )
        assert not_processing.status_code == 409
    async with portal.as_user("trainer") as trainer:
        still = (await trainer.get(f"/api/v1/recordings/{rec['id']}")).json()
    assert still["state"] == "pending" and still["sha256"] is None


async def test_media_of_a_recording_not_yet_available_is_409(portal: Portal) -> None:
    sid = portal.world.session_id
    async with portal.as_user("trainer") as trainer:
        rec = (await trainer.post(f"/api/v1/sessions/{sid}/recording/start")).json()
        r = await trainer.get(f"/api/v1/recordings/{rec['id']}/media")
    assert r.status_code == 409


async def test_bad_range_is_416(portal: Portal) -> None:
    from fastapi import HTTPException

    from web.media import parse_range

    assert parse_range("bytes=0-99", 1000) == (0, 99)
    assert parse_range("bytes=900-", 1000) == (900, 999)
    assert parse_range("bytes=-100", 1000) == (900, 999)
    assert parse_range("bytes=0-5000", 1000) == (0, 999)
    for bad in ("bytes=1000-", "bytes=5-2", "bytes=0-1,5-6", "items=0-1", "bytes=-"):
        with pytest.raises(HTTPException) as exc:
            parse_range(bad, 1000)
        assert exc.value.status_code == 416

"""An in-process portal over real SQLite and a real S3 server, seeded with the demo world."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from classroom.runtime import Services
from classroom.seed import DEMO_LOGINS, DemoWorld, seed_demo
from web.app import create_app


@dataclass
class Portal:
    services: Services
    world: DemoWorld
    transport: httpx.ASGITransport

    def client(self, **kw: object) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.transport, base_url="http://testserver", **kw)  # type: ignore[arg-type]

    @asynccontextmanager
    async def as_user(self, username: str) -> AsyncIterator[httpx.AsyncClient]:
        async with self.client() as c:
            await self.log_in(c, username)
            yield c

    @staticmethod
    async def log_in(client: httpx.AsyncClient, username: str) -> None:
        password = DEMO_LOGINS[username][1]
        r = await client.post(
            "/api/v1/auth/login", json={"username": username, "password": password}
        )
        assert r.status_code == 200, r.text

    def agent(self, token: str | None = None) -> httpx.AsyncClient:
        return self.client(headers={"Authorization": f"Bearer {token or self.world.agent_token}"})


async def make_portal(services: Services) -> Portal:
    async with services.sessionmaker() as db:
        world = await seed_demo(db)
    return Portal(services, world, httpx.ASGITransport(app=create_app(services)))


async def cancel_seeded_session(portal: Portal) -> None:
    """The demo world books its classroom from now for two hours; a test that books the
    classroom itself first cancels that session, as a manager would."""
    async with portal.as_user("manager") as manager:
        r = await manager.delete(f"/api/v1/sessions/{portal.world.session_id}")
        assert r.status_code == 204, r.text


async def book_session(
    client: httpx.AsyncClient,
    classroom: int,
    start: datetime,
    minutes: int,
    title: str = "交通法规",
    **kw: object,
) -> httpx.Response:
    """POST a session of ``minutes`` from ``start`` (kind "other", course 1 unless ``kw`` says
    otherwise) with ``client``'s login; the answer is the caller's to check."""
    body = {
        "title": title,
        "kind": "other",
        "course_id": 1,
        "classroom_id": classroom,
        "planned_start": start.isoformat(),
        "planned_end": (start + timedelta(minutes=minutes)).isoformat(),
        **kw,
    }
    return await client.post("/api/v1/sessions", json=body)

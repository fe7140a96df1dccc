"""Failed logins are throttled per account and per client address, with growing delays kept in
the database (so every process of the portal sees them); a blocked login costs no hashing. On
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from classroom import login_throttle
from classroom.db.models import LoginFailure
from classroom.db.types import utcnow
from classroom.runtime import Services
from tests.api_helpers import Portal, make_portal
from tests.conftest import settings_on_both_databases
from web.app import create_app

pytestmark = pytest.mark.anyio


settings = pytest.fixture(settings_on_both_databases, name="settings")


@pytest.fixture
async def portal(services: Services) -> Portal:
    return await make_portal(services)


async def _login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    body = {"username": username, "password": password}
    return await client.post("/api/v1/auth/login", json=body)


async def _unblock(portal: Portal) -> None:
    """As if the delay had passed."""
    async with portal.services.sessionmaker() as db:
        past = utcnow() - timedelta(seconds=1)
        await db.execute(update(LoginFailure).values(blocked_until=past))
        await db.commit()


async def test_forty_wrong_passwords_then_the_right_one(portal: Portal) -> None:
    async with portal.client() as c:
        codes = [(await _login(c, "trainer", f"wrong-{i}")).status_code for i in range(40)]
        assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}
        right = await _login(c, "trainer", "trainer-demo-pw")
        assert right.status_code == 429
        assert right.json()["detail"]["code"] == "login_blocked"
        assert int(right.headers["Retry-After"]) >= 1
        # another account from another address is not held up by trainer's
        other = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(portal.services), client=("10.9.9.9", 1)),
            base_url="http://testserver",
        )
        async with other:
            assert (await _login(other, "officer1", "officer-demo-pw")).status_code == 200
        await _unblock(portal)
        assert (await _login(c, "trainer", "trainer-demo-pw")).status_code == 200
    async with portal.services.sessionmaker() as db:  # a success clears the account
        keys = set(await db.scalars(select(LoginFailure.key)))
        assert "user:trainer" not in keys and "addr:127.0.0.1" in keys


async def test_each_failure_past_the_free_ones_doubles_the_delay(portal: Portal) -> None:
    waits = []
    async with portal.client() as c:
        for _ in range(8):
            r = await _login(c, "officer2", "wrong")
            assert r.status_code == 401
            async with portal.services.sessionmaker() as db:
                row = await db.get(LoginFailure, "user:officer2")
                assert row is not None
                waits.append(
                    (row.blocked_until - row.last_failure_at) if row.blocked_until else None
                )
            await _unblock(portal)
    assert waits[:4] == [None] * 4
    assert waits[4:] == [timedelta(seconds=s) for s in (2, 4, 8, 16)]
    assert login_throttle.delay_after(100, 5) == login_throttle.MAX_DELAY


async def test_one_address_trying_many_accounts_is_blocked(portal: Portal) -> None:
    async with portal.client() as c:
        for i in range(login_throttle.ADDRESS_FREE):
            assert (await _login(c, f"guess{i}", "x")).status_code == 401
        r = await _login(c, "officer3", "officer-demo-pw")
        assert r.status_code == 429


async def test_the_block_holds_in_every_process_of_the_portal(portal: Portal) -> None:
    """Two apps over one database: what one counted, the other refuses."""
    async with portal.client() as first:
        for _ in range(login_throttle.ACCOUNT_FREE):
            await _login(first, "officer1", "wrong")
    second = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(portal.services), client=("10.1.1.1", 1)),
        base_url="http://testserver",
    )
    async with second:
        assert (await _login(second, "officer1", "officer-demo-pw")).status_code == 429
        page = await second.post(
            "/login", data={"username": "officer1", "password": "officer-demo-pw"}
        )
    assert page.status_code == 429 and "秒后再试" in page.text
    assert 'value="officer1"' in page.text  # what was typed is kept

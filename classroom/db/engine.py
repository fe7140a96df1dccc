"""Async engine and session factory; SQLite gets the pragmas it needs to behave."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine.url import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

# PostgreSQL sessions' own settings, for the engine and for raw asyncpg pools alike.
PG_SERVER_SETTINGS = {"plan_cache_mode": "force_custom_plan"}


def create_engine(url: str, echo: bool = False, pool_size: int = 10) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    # asyncpg prepares every statement; after five runs PostgreSQL may switch a prepared statement
    # to a generic plan, which for "this officer's attendance" scans the whole year (20× slower,
    # measured by bench/compliance.py). Planning each run costs well under a millisecond.
    return create_async_engine(
        url,
        echo=echo,
        pool_pre_ping=True,
        # A burst beyond the pool opens more, but keeping fewer open than the usual concurrency
        # means connecting and closing under load (seen at 32 kiosks: a reconnect every few taps).
        pool_size=pool_size,
        max_overflow=pool_size,
        connect_args={"server_settings": PG_SERVER_SETTINGS},
    )


async def create_pg_pool(url: str, size: int) -> asyncpg.Pool:
    """A plain asyncpg pool on the same database, for the few hot paths that skip SQLAlchemy."""
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    pool: asyncpg.Pool = await asyncpg.create_pool(
        dsn, min_size=1, max_size=size, server_settings=PG_SERVER_SETTINGS, reset=_keep
    )
    return pool


async def _keep(conn: asyncpg.Connection) -> None:
    """No reset between uses (asyncpg's default costs a round trip each time): its users run
    single statements in autocommit and leave no session state — no LISTEN, locks or SET."""


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)

"""The running portal's resources: database, object store (embedded if none is configured)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from classroom.card_tap import TapBatcher
from classroom.compliance import PlanBook
from classroom.db.engine import create_engine, create_pg_pool, session_factory
from classroom.db.migrate import upgrade
from classroom.faces.service import FaceService
from classroom.live_broker import LiveBroker
from classroom.recordings import CommandSignal
from classroom.settings import Settings
from classroom.store_connection import configured_connection, embedded_store_dir
from storage.object_store import ObjectStore
from storage.seaweed import EmbeddedSeaweed, EmbeddedStoreError

log = structlog.get_logger(__name__)


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    store: ObjectStore
    commands: CommandSignal
    plans: PlanBook
    # Each classroom's newest preview JPEG and when it came: a confidence monitor, not a record,
    # so it lives in memory (a restarted portal shows the next one a few seconds later).
    previews: dict[int, tuple[bytes, datetime]] = field(default_factory=dict)
    live: LiveBroker = field(default_factory=LiveBroker)  # WHEP requests on their way to agents
    # PostgreSQL only: the kiosks' card taps, batched on a plain asyncpg pool (classroom.card_tap).
    taps: TapBatcher | None = None
    faces: FaceService = field(init=False)  # from settings.faces

    def __post_init__(self) -> None:
        f = self.settings.faces
        self.faces = FaceService(f.match_threshold, f.match_margin)

    def end_long_polls(self) -> None:
        """Answer the agents' pending long polls at once: the portal is stopping."""
        self.commands.close()
        self.live.close()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.web.timezone)


@asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[ObjectStore]:
    """The configured object store, or an embedded SeaweedFS for as long as the context lasts."""
    conn = configured_connection(settings)
    seaweed: EmbeddedSeaweed | None = None
    if conn is None:
        seaweed = EmbeddedSeaweed(embedded_store_dir(settings))
        try:
            conn = await asyncio.to_thread(seaweed.start)
        except EmbeddedStoreError as exc:
            log.error("object_store.start_failed", reason=str(exc))  # on the portal's stderr
            raise
    try:
        store = ObjectStore(conn, settings.storage.bucket, settings.storage.region)
        await asyncio.to_thread(store.ensure_bucket)
        yield store
    finally:
        if seaweed is not None:
            await asyncio.to_thread(seaweed.stop)


@asynccontextmanager
async def open_database(settings: Settings, migrate: bool = True) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(
        settings.database_url, settings.database.echo, settings.database.pool_size
    )
    try:
        if migrate:
            await upgrade(engine)
        yield engine
    finally:
        await engine.dispose()


@asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    async with open_database(settings) as engine, open_store(settings) as store:
        plans = PlanBook(settings.plans_dir)
        svc = Services(settings, engine, session_factory(engine), store, CommandSignal(), plans)
        pool = None
        if engine.dialect.name == "postgresql":
            pool = await create_pg_pool(settings.database_url, settings.database.pool_size)
            svc.taps = TapBatcher(pool)
        try:
            yield svc
        finally:
            if svc.taps is not None:
                await svc.taps.close()
            if pool is not None:
                await pool.close()

"""Real parts for the tests: a SeaweedFS S3 server, SQLite and PostgreSQL, ffmpeg, the portal."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from minio.deleteobjects import DeleteObject
from minio.error import S3Error
from sqlalchemy.engine.url import make_url

from classroom.runtime import Services, open_services
from classroom.settings import Settings, load_settings
from storage.object_store import ObjectStore
from storage.ports import free_port
from storage.seaweed import EmbeddedSeaweed, S3Connection
from tests.live_stack import LiveStack, build_stack

PG_URL = os.environ.get(
    "CLASSROOM_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Connection]:
    with EmbeddedSeaweed(tmp_path_factory.mktemp("s3"), volume_size_mb=128) as conn:
        yield conn


@pytest.fixture
def weed(tmp_path: Path) -> Iterator[EmbeddedSeaweed]:
    """A store of the test's own, to stop, hang (SIGSTOP) and start again on the same port."""
    store = EmbeddedSeaweed(tmp_path / "s3", s3_port=free_port())
    store.start()
    try:
        yield store
    finally:
        if store._proc is not None and store._proc.poll() is None:
            os.kill(store._proc.pid, signal.SIGCONT)  # a test that hung it may have failed
        store.stop()


@pytest.fixture
def bucket(s3: S3Connection) -> Iterator[str]:
    """A bucket name of the test's own; the bucket, if the test made it, goes with the test (each
    takes volumes of the one store the whole run shares)."""
    name = f"test-{secrets.token_hex(6)}"
    yield name
    client = ObjectStore(s3, name).client
    try:
        if not client.bucket_exists(name):
            return
        for up in client._list_multipart_uploads(name).uploads:
            if up.object_name and up.upload_id:
                client._abort_multipart_upload(name, up.object_name, up.upload_id)
        objects = client.list_objects(name, recursive=True)
        doomed = [DeleteObject(o.object_name) for o in objects if o.object_name]
        failed = list(client.remove_objects(name, doomed))
        if not failed:
            client.remove_bucket(name)
    except S3Error as exc:  # a leftover bucket only costs the run some room
        warnings.warn(f"bucket {name} left behind: {exc}", stacklevel=1)


@pytest.fixture
def store(s3: S3Connection, bucket: str) -> ObjectStore:
    st = ObjectStore(s3, bucket)
    st.ensure_bucket()
    return st


def _pg_admin_dsn() -> str:
    return make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(_pg_admin_dsn())
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"classroom_test_{secrets.token_hex(4)}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each data-layer test runs on both databases; an unreachable PostgreSQL fails, never skips."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


ROOT = Path(__file__).resolve().parent.parent


def make_settings(data_dir: Path, s3: S3Connection, bucket: str, **extra: object) -> Settings:
    return load_settings(
        data_dir=data_dir,
        plans_dir=ROOT / "plans",
        storage={
            "endpoint": s3.endpoint,
            "access_key": s3.access_key,
            "secret_key": s3.secret_key,
            "bucket": bucket,
        },
        **extra,
    )


@pytest.fixture
def settings(tmp_path: Path, s3: S3Connection, bucket: str) -> Settings:
    return make_settings(tmp_path / "var", s3, bucket)


def settings_on_both_databases(
    tmp_path: Path, s3: S3Connection, bucket: str, db_url: str
) -> Settings:
    """A module's ``settings`` fixture for its tests to run on SQLite and on PostgreSQL:
    ``settings = pytest.fixture(settings_on_both_databases, name="settings")``."""
    return make_settings(tmp_path / "var", s3, bucket, database={"url": db_url})


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    async with open_services(settings) as svc:
        yield svc


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory, s3: S3Connection) -> Iterator[LiveStack]:
    """The portal and an agent as separate processes, on a real S3 server; shared by the
    end-to-end and browser tests."""
    stack = build_stack(tmp_path_factory.mktemp("live"), s3, f"live-{secrets.token_hex(4)}")
    with stack.running():
        yield stack

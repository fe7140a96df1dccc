"""The data layer, on SQLite and on PostgreSQL: migrations, models, and the recording life cycle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from classroom.db.engine import create_engine, session_factory
from classroom.db.migrate import current_revision, downgrade, head_revision, upgrade
from classroom.db.models import (
    AgentCommand,
    CommandKind,
    CommandState,
    DeviceKind,
    Person,
    Recording,
    RecordingState,
    Role,
    Session,
)
from classroom.devices import create_device, device_for_token, revoke_device, rotate_device_token
from classroom.people import (
    PersonError,
    authenticate,
    close_login_session,
    create_person,
    open_login_session,
    person_for_login_token,
)
from classroom.recordings import (
    RecordingConflict,
    UploadReport,
    complete_command,
    object_prefix,
    pending_commands,
    recordings_in_state,
    report_upload,
    request_start,
    request_stop,
)
from classroom.seed import seed_demo
from storage.object_store import ObjectStore

pytestmark = pytest.mark.anyio


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(db_url)
    await upgrade(eng)
    yield eng
    await eng.dispose()


@pytest.fixture
async def db(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with session_factory(engine)() as session:
        yield session


async def test_migrations_reach_head_and_are_idempotent(engine: AsyncEngine) -> None:
    assert await current_revision(engine) == head_revision() == "0017"
    await upgrade(engine)  # a second run changes nothing and does not fail

    def tables(conn: object) -> set[str]:
        return set(inspect(conn).get_table_names())

    async with engine.connect() as conn:
        names = await conn.run_sync(tables)
    assert {
        "units",
        "people",
        "person_roles",
        "classrooms",
        "devices",
        "courses",
        "sessions",
        "recordings",
        "agent_commands",
        "login_sessions",
    } <= names


async def test_command_kinds_migrate_both_ways(engine: AsyncEngine) -> None:
    """0003 widens the CHECK on command kinds (and drops one-command-per-kind); both directions
    run on SQLite and PostgreSQL, and the CHECK still refuses what it does not know."""
    insert = (
        "INSERT INTO agent_commands (classroom_id, kind, recording_id, state, created_at) "
        "VALUES (1, '{}', 1, 'pending', '2026-11-26 00:00:00')"
    )
    await downgrade(engine, "0002")
    await upgrade(engine)
    async with engine.begin() as conn:
        for sql in (
            "INSERT INTO classrooms (id, name, location) VALUES (1, 'r', '')",
            "INSERT INTO courses (id, code, title, description) VALUES (1, 'c', 'c', '')",
            "INSERT INTO people (id, username, display_name, active, enforcement_staff, "
            "created_at) VALUES (1, 'u', 'u', true, true, '2026-11-26 00:00:00')",
            "INSERT INTO sessions (id, course_id, classroom_id, trainer_id, kind, title, "
            "planned_start, planned_end) VALUES (1, 1, 1, 1, 'other', 't', "
            "'2026-11-26 00:00:00', '2026-11-26 01:00:00')",
            "INSERT INTO recordings (id, session_id, state, segment_keys, created_at) "
            "VALUES (1, 1, 'recording', '[]', '2026-11-26 00:00:00')",
        ):
            await conn.execute(text(sql))
        for kind in ("pause_recording", "resume_recording", "pause_recording"):
            await conn.execute(text(insert.format(kind)))
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(text(insert.format("explode")))
    await downgrade(engine, "0002")  # pause/resume rows go; the old CHECK comes back
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(text(insert.format("pause_recording")))
    await upgrade(engine)


async def test_ids_of_deleted_sessions_and_recordings_are_never_given_again(
    engine: AsyncEngine,
) -> None:
    """0007 rebuilds sessions and recordings on SQLite (AUTOINCREMENT) under rows that others
    refer to: the rows stay, foreign keys stay enforced, and an id deleted is not given again."""
    async with session_factory(engine)() as db:  # made at the head, kept through the downgrade
        world = await seed_demo(db)
        rec = Recording(session_id=world.session_id, state=RecordingState.PENDING)
        db.add(rec)
        await db.commit()
        rec_id = rec.id
    await downgrade(engine, "0006")
    async with engine.connect() as conn:
        before = {
            t: (await conn.execute(text(f"SELECT count(*) FROM {t}"))).scalar()
            for t in ("sessions", "recordings", "attendance", "session_study_items")
        }
    await upgrade(engine)
    async with engine.connect() as conn:
        for table, count in before.items():
            assert (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar() == count
    with pytest.raises(IntegrityError):  # still enforced after the rebuild
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO recordings (session_id, state, segment_keys, created_at) "
                    "VALUES (999999, 'pending', '[]', '2026-11-26 00:00:00')"
                )
            )
    async with session_factory(engine)() as db:
        session = await db.get(Session, world.session_id)
        assert session is not None
        await db.execute(text(f"DELETE FROM recordings WHERE id = {rec_id}"))
        await db.delete(session)
        await db.commit()
        again = Session(
            course_id=session.course_id,
            classroom_id=session.classroom_id,
            trainer_id=session.trainer_id,
            kind=session.kind,
            title="again",
            planned_start=session.planned_start,
            planned_end=session.planned_end,
        )
        db.add(again)
        await db.flush()
        fresh = Recording(session_id=again.id, state=RecordingState.PENDING)
        db.add(fresh)
        await db.commit()
        assert again.id > world.session_id and fresh.id > rec_id


async def test_models_and_migrations_agree(engine: AsyncEngine) -> None:
    """Nothing in the models is missing from the migrations (autogenerate finds no change)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from classroom.db.models import Base

    def diff(conn: object) -> list[object]:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})  # type: ignore[arg-type]
        return list(compare_metadata(ctx, Base.metadata))

    async with engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_person_roles_and_password_login(db: AsyncSession) -> None:
    await create_person(db, "li", "李教员", [Role.TRAINER, Role.OFFICER], "correct horse")
    await db.commit()
    person = await authenticate(db, "li", "correct horse")
    assert person is not None and person.roles == {Role.TRAINER, Role.OFFICER}
    assert person.password_hash is not None and person.password_hash.startswith("$argon2id$")
    assert await authenticate(db, "li", "wrong password") is None
    assert await authenticate(db, "nobody", "correct horse") is None
    with pytest.raises(PersonError, match="taken"):
        await create_person(db, "li", "again", [Role.OFFICER], "another password")
    with pytest.raises(PersonError, match="at least"):
        await create_person(db, "short", "x", [Role.OFFICER], "1234")


async def test_login_sessions_expire_and_close(db: AsyncSession) -> None:
    person = await create_person(db, "wang", "王", [Role.MANAGER], "manager password")
    token = await open_login_session(db, person, timedelta(hours=1))
    stale = await open_login_session(db, person, timedelta(seconds=-1))
    await db.commit()
    found = await person_for_login_token(db, token)
    assert found is not None and found.id == person.id
    assert await person_for_login_token(db, stale) is None
    assert await person_for_login_token(db, token + "x") is None
    await close_login_session(db, token)
    await db.commit()
    assert await person_for_login_token(db, token) is None


async def test_device_tokens_are_hashed_and_revocable(db: AsyncSession) -> None:
    world = await seed_demo(db)
    device, token = await create_device(db, world.classroom_id, DeviceKind.KIOSK, "door kiosk")
    await db.commit()
    assert token not in device.token_hash and len(device.token_hash) == 64
    found = await device_for_token(db, token)
    assert found is not None and found.id == device.id
    await revoke_device(db, device)
    await db.commit()
    assert await device_for_token(db, token) is None
    new = await rotate_device_token(db, device)
    assert await device_for_token(db, new) is not None
    assert await device_for_token(db, token) is None


async def test_datetimes_come_back_as_utc(db: AsyncSession) -> None:
    world = await seed_demo(db)
    session = await db.get(Session, world.session_id)
    assert session is not None
    shanghai = datetime(2023, 3, 1, 9, 0, tzinfo=UTC).astimezone(ZoneInfo("Asia/Shanghai"))
    session.planned_start = shanghai
    await db.commit()
    db.expire_all()
    again = await db.get(Session, world.session_id)
    assert again is not None
    assert again.planned_start == datetime(2023, 3, 1, 9, 0, tzinfo=UTC)
    assert again.planned_start.tzinfo is not None


async def test_unique_username_enforced_by_the_database(db: AsyncSession) -> None:
    db.add(Person(username="dup", display_name="a"))
    db.add(Person(username="dup", display_name="b"))
    with pytest.raises(IntegrityError):
        await db.commit()


async def test_seed_is_idempotent(db: AsyncSession) -> None:
    first = await seed_demo(db)
    second = await seed_demo(db)
    assert (first.classroom_id, first.session_id) == (second.classroom_id, second.session_id)
    assert first.agent_token != second.agent_token  # rotated: the old demo token is dead
    assert await device_for_token(db, first.agent_token) is None
    count = len(list(await db.scalars(select(Person))))
    assert count == 6


async def test_recording_life_cycle(db: AsyncSession, store: ObjectStore, tmp_path: Path) -> None:
    world = await seed_demo(db)
    session = await db.get(Session, world.session_id)
    assert session is not None
    trainer = session.trainer
    rec = await request_start(db, session, trainer)
    assert await request_start(db, session, trainer) is rec  # idempotent
    await db.commit()
    cmds = await pending_commands(db, world.classroom_id)
    assert [c.kind for c in cmds] == [CommandKind.START_RECORDING]
    await complete_command(db, cmds[0], ok=True)
    await complete_command(db, cmds[0], ok=True)  # a repeated ack changes nothing
    assert rec.state == RecordingState.RECORDING
    assert [
        r.id for r in await recordings_in_state(db, world.classroom_id, RecordingState.RECORDING)
    ] == [rec.id]

    await request_stop(db, session)
    await request_stop(db, session)  # a second stop adds no second command
    stops = await pending_commands(db, world.classroom_id)
    assert [c.kind for c in stops] == [CommandKind.STOP_RECORDING]
    await complete_command(db, stops[0], ok=True)
    assert rec.state == RecordingState.PROCESSING
    with pytest.raises(RecordingConflict):
        await request_stop(db, session)

    media = tmp_path / "recording.mp4"
    media.write_bytes(b"not really a video, but bytes with a hash" * 100)
    key = object_prefix(rec) + "recording.mp4"
    info = store.put_file(key, media, "video/mp4")
    assert info.sha256 is not None
    wrong = UploadReport(key, [], 1.0, info.size, "0" * 64)
    with pytest.raises(RecordingConflict, match="sha256"):
        await report_upload(db, rec, wrong, store)
    outside = UploadReport("recordings/elsewhere.mp4", [], 1.0, info.size, info.sha256)
    with pytest.raises(RecordingConflict, match="must start with"):
        await report_upload(db, rec, outside, store)
    good = UploadReport(key, [], 1.0, info.size, info.sha256)
    await report_upload(db, rec, good, store)
    await db.commit()
    assert rec.state == RecordingState.AVAILABLE and rec.sha256 == info.sha256
    done = await db.scalars(select(AgentCommand).where(AgentCommand.recording_id == rec.id))
    assert {c.state for c in done} == {CommandState.DONE}


async def test_failed_start_marks_recording_failed(db: AsyncSession) -> None:
    world = await seed_demo(db)
    session = await db.get(Session, world.session_id)
    assert session is not None
    rec = await request_start(db, session, session.trainer)
    (cmd,) = await pending_commands(db, world.classroom_id)
    await complete_command(db, cmd, ok=False, error="camera unplugged")
    assert rec.state == RecordingState.FAILED and rec.error == "camera unplugged"
    again = await request_start(db, session, session.trainer)  # a new attempt is a new recording
    assert again.id != rec.id and again.state == RecordingState.PENDING
    assert isinstance(again, Recording)

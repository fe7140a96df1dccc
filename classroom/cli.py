"""The `classroom` command line. Exit codes: 0 done, 1 failed, 2 bad usage or settings."""

from __future__ import annotations

import asyncio
import enum
import getpass
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

import typer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from classroom import cli_base
from classroom.agent.cli import app as agent_app
from classroom.attendance_import import import_attendance
from classroom.compliance import (
    NoPlan,
    PlanBook,
    PlanUnavailable,
    bureau_year,
    default_as_of,
    officer_rows,
    to_csv,
    to_xlsx,
    unit_rows,
)
from classroom.courses import CourseFields, course_json, known_study_items, save_course
from classroom.csv_import import ImportRejected, ImportResult
from classroom.db.engine import session_factory
from classroom.db.migrate import current_revision, head_revision
from classroom.db.models import (
    Classroom,
    Course,
    Device,
    DeviceKind,
    Person,
    Role,
    SessionKind,
    SquadType,
    Unit,
    UnitKind,
)
from classroom.devices import create_device, revoke_device
from classroom.faces.cli import app as faces_app
from classroom.ledger.compute import YearLedger
from classroom.online_import import import_online
from classroom.organisation import OrgError, UnitFields, add_classroom, save_unit, unit_json
from classroom.people import PersonError, create_person
from classroom.plan.loader import PlanError, load_plan
from classroom.plan.show import describe_plan, table
from classroom.runtime import open_database
from classroom.settings import Settings

app = typer.Typer(
    help="Smart Classroom: lecture capture and training credits.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
user_app = typer.Typer(help="People who log in to the portal.", no_args_is_help=True)
device_app = typer.Typer(
    help="Classroom agents and kiosks, and their tokens.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(device_app, name="device")
plan_app = typer.Typer(help="Training plans (one TOML file per year).", no_args_is_help=True)
report_app = typer.Typer(help="Reports.", no_args_is_help=True)
import_app = typer.Typer(help="Imports of outside records.", no_args_is_help=True)
app.add_typer(plan_app, name="plan")
app.add_typer(report_app, name="report")
app.add_typer(import_app, name="import")
devices_app = typer.Typer(help="Capture hardware on this machine.", no_args_is_help=True)
app.add_typer(devices_app, name="devices")
app.add_typer(agent_app, name="agent")
app.add_typer(faces_app, name="faces")

_T = TypeVar("_T")


class ReportFormat(enum.StrEnum):
    TABLE = "table"
    CSV = "csv"
    XLSX = "xlsx"
    JSON = "json"


@app.callback()
def main(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="TOML settings file (also CLASSROOM_CONFIG)."),
    ] = None,
) -> None:
    cli_base.CONFIG["path"] = config


def _settings() -> Settings:
    return cli_base.settings()


def _run(coro: Coroutine[Any, Any, _T]) -> _T:
    return cli_base.run(coro)


def _added(what: str, key: str, label: str, make: Coroutine[Any, Any, int], as_json: bool) -> None:
    """Run ``make`` (it adds something through classroom/organisation.py's rules and returns
    its id), and say what was added: a line, or JSON (``{"id", key: label}``); a refusal is
    exit code 1 with its reason."""
    try:
        new_id = _run(make)
    except OrgError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps({"id": new_id, key: label}, ensure_ascii=False))
    else:
        typer.echo(f"added {what} {label} (id {new_id})")


def _fail(message: str, code: int = 1) -> typer.Exit:
    return cli_base.fail(message, code)


async def _manager(db: AsyncSession, username: str) -> Person:
    """The manager or admin a command acts as (``--as``): the audit names them."""
    actor = await db.scalar(select(Person).where(Person.username == username))
    if actor is None or not actor.has_role(Role.MANAGER, Role.ADMIN):
        raise _fail(f"{username!r} is not a manager or admin")
    return actor


@app.command()
def serve() -> None:
    """Run the portal (and the embedded object store unless one is configured)."""
    from classroom.server import portal_server

    settings = _settings()

    async def _serve() -> None:
        from classroom.lifecycle import stop_event_on_signals

        stop = stop_event_on_signals()
        server = portal_server(settings)
        task = asyncio.create_task(server.serve())
        await asyncio.wait({task, asyncio.create_task(stop.wait())}, return_when="FIRST_COMPLETED")
        server.should_exit = True
        await task
        if not server.started:  # its start-up failed, and said why on stderr
            raise typer.Exit(1)

    _run(_serve())


@app.command()
def demo() -> None:
    """Seed demo data, then run the portal and one simulated classroom until Ctrl-C."""
    from classroom.demo import run_demo

    _run(run_demo(_settings()))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database to the newest schema."""
    settings = _settings()

    async def _upgrade() -> str | None:
        async with open_database(settings) as engine:
            return await current_revision(engine)

    rev = _run(_upgrade())
    typer.echo(f"database at revision {rev} (head {head_revision()})")


@user_app.command("add")
def user_add(
    username: str,
    name: Annotated[str, typer.Option("--name", help="Display name.")],
    role: Annotated[list[Role], typer.Option("--role", help="Repeat for several roles.")],
    unit: Annotated[int | None, typer.Option("--unit", help="Unit id.")] = None,
    badge: Annotated[str | None, typer.Option("--badge", help="Badge number (警号).")] = None,
    hired_on: Annotated[
        datetime | None,
        typer.Option("--hired-on", formats=["%Y-%m-%d"], help="First day in service."),
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="Cannot log in (e.g. most officers).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Add a person. The password is prompted for, or read from stdin; never an argument."""
    settings = _settings()
    password: str | None = None
    if not no_password:
        if password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass("Password: ")

    async def _add() -> int:
        async with open_database(settings) as engine, session_factory(engine)() as db:
            person = await create_person(
                db, username, name, role, password, unit_id=unit, badge_no=badge
            )
            if hired_on is not None:
                person.hired_on = hired_on.date()
            await db.commit()
            return person.id

    try:
        person_id = _run(_add())
    except PersonError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps({"id": person_id, "username": username}))
    else:
        typer.echo(f"added {username} (id {person_id})")


unit_app = typer.Typer(help="The bureau's units (departments and squads).", no_args_is_help=True)
app.add_typer(unit_app, name="unit")


@unit_app.command("add")
def unit_add(
    name: str,
    kind: Annotated[UnitKind, typer.Option("--kind", help="department or squad.")],
    as_user: Annotated[str, typer.Option("--as", help="The manager or admin (audit).")],
    squad_type: Annotated[
        SquadType | None, typer.Option("--squad-type", help="A squad's type.")
    ] = None,
    parent: Annotated[int | None, typer.Option("--parent", help="Parent unit id.")] = None,
    adjacent: Annotated[
        bool, typer.Option("--adjacent-district", help="Borders another district.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Add a unit (audited as the manager or admin named by --as)."""
    settings = _settings()

    async def _add() -> int:
        async with open_database(settings) as engine, session_factory(engine)() as db:
            actor = await _manager(db, as_user)
            fields = UnitFields(name, kind, squad_type, adjacent, parent)
            unit = await save_unit(db, actor, None, fields)
            await db.commit()
            return unit.id

    _added("unit", "name", name, _add(), as_json)


@unit_app.command("list")
def unit_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print the units as JSON.")] = False,
) -> None:
    """The units, active and deactivated."""
    settings = _settings()

    async def _list() -> list[dict[str, Any]]:
        async with open_database(settings) as engine, session_factory(engine)() as db:
            units = await db.scalars(select(Unit).order_by(Unit.name))
            return [{"id": u.id, **unit_json(u)} for u in units]

    units = _run(_list())
    if as_json:
        typer.echo(json.dumps(units, ensure_ascii=False))
        return
    for u in units:
        extra = "" if u["active"] else "  (deactivated)"
        typer.echo(f"{u['id']:>4}  {u['name']}  {u['kind']}{extra}")


classroom_app = typer.Typer(
    help="Classrooms (their devices: classroom device).", no_args_is_help=True
)
app.add_typer(classroom_app, name="classroom")


@classroom_app.command("add")
def classroom_add(
    name: str,
    as_user: Annotated[str, typer.Option("--as", help="The manager or admin (audit).")],
    location: Annotated[str, typer.Option("--location", help="Where it is.")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Add a classroom (audited as the manager or admin named by --as)."""
    settings = _settings()

    async def _add() -> int:
        async with open_database(settings) as engine, session_factory(engine)() as db:
            actor = await _manager(db, as_user)
            room = await add_classroom(db, actor, name, location)
            await db.commit()
            return room.id

    _added("classroom", "name", name, _add(), as_json)


@classroom_app.command("list")
def classroom_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print the classrooms as JSON.")] = False,
) -> None:
    """The classrooms, with their devices."""
    settings = _settings()

    async def _list() -> list[dict[str, Any]]:
        async with open_database(settings) as engine, session_factory(engine)() as db:
            devices = list(await db.scalars(select(Device).order_by(Device.id)))
            return [
                {
                    "id": r.id,
                    "name": r.name,
                    "location": r.location,
                    "devices": [
                        {
                            "id": d.id,
                            "kind": d.kind.value,
                            "name": d.name,
                            "revoked": bool(d.revoked_at),
                        }
                        for d in devices
                        if d.classroom_id == r.id
                    ],
                }
                for r in await db.scalars(select(Classroom).order_by(Classroom.name))
            ]

    rooms = _run(_list())
    if as_json:
        typer.echo(json.dumps(rooms, ensure_ascii=False))
        return
    for r in rooms:
        kinds = ", ".join(f"{d['kind']} {d['name']}" for d in r["devices"] if not d["revoked"])
        typer.echo(f"{r['id']:>4}  {r['name']}  {r['location']}  [{kinds or 'no devices'}]")


course_app = typer.Typer(
    help="Courses: task, study items, audience, trainers.", no_args_is_help=True
)
app.add_typer(course_app, name="course")


@course_app.command("add")
def course_add(
    code: str,
    title: str,
    as_user: Annotated[str, typer.Option("--as", help="The manager or admin (audit).")],
    kind: Annotated[
        SessionKind | None, typer.Option("--kind", help="The plan's task its sessions serve.")
    ] = None,
    item: Annotated[
        list[int] | None, typer.Option("--item", help="A study-list item it covers (repeat).")
    ] = None,
    unit: Annotated[
        list[int] | None, typer.Option("--unit", help="A unit it is for (repeat; none: all).")
    ] = None,
    trainer: Annotated[
        list[str] | None, typer.Option("--trainer", help="A trainer's username (repeat).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Add a course (audited as the manager or admin named by --as)."""
    settings = _settings()

    async def _add() -> int:
        async with open_database(settings) as engine, session_factory(engine)() as db:
            actor = await _manager(db, as_user)
            names = trainer or []
            found = {
                p.username: p.id
                for p in await db.scalars(select(Person).where(Person.username.in_(names)))
            }
            if missing := sorted(set(names) - set(found)):
                raise _fail(f"no such person: {', '.join(missing)}")
            fields = CourseFields(
                code=code,
                title=title,
                kind=kind,
                study_items=item or [],
                audience_unit_ids=unit or [],
                trainer_ids=[found[n] for n in names],
            )
            known = known_study_items(PlanBook(settings.plans_dir))
            course = await save_course(db, actor, None, fields, known)
            await db.commit()
            return course.id

    _added("course", "code", code, _add(), as_json)


@course_app.command("list")
def course_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print the courses as JSON.")] = False,
) -> None:
    """The courses."""
    settings = _settings()

    async def _list() -> list[dict[str, Any]]:
        async with open_database(settings) as engine, session_factory(engine)() as db:
            courses = await db.scalars(select(Course).order_by(Course.code))
            return [{"id": c.id, **course_json(c)} for c in courses]

    courses = _run(_list())
    if as_json:
        typer.echo(json.dumps(courses, ensure_ascii=False))
        return
    for c in courses:
        typer.echo(f"{c['id']:>4}  {c['code']}  {c['title']}  {c['kind'] or 'any task'}")


@device_app.command("add")
def device_add(
    classroom: Annotated[int, typer.Option("--classroom", help="Classroom id.")],
    name: Annotated[str, typer.Option("--name")],
    kind: Annotated[DeviceKind, typer.Option("--kind")] = DeviceKind.AGENT,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Register a device and print its token (shown this once only)."""
    settings = _settings()

    async def _add() -> tuple[int, str]:
        async with open_database(settings) as engine, session_factory(engine)() as db:
            if await db.get(Classroom, classroom) is None:
                raise _fail(f"classroom {classroom} not found")
            device, token = await create_device(db, classroom, kind, name)
            await db.commit()
            return device.id, token

    device_id, token = _run(_add())
    if as_json:
        typer.echo(json.dumps({"id": device_id, "token": token}))
    else:
        typer.echo(f"device {device_id} token (store it now, it is not kept): {token}")


@device_app.command("revoke")
def device_revoke(device_id: int) -> None:
    """Revoke a device's token at once."""
    settings = _settings()

    async def _revoke() -> bool:
        async with open_database(settings) as engine, session_factory(engine)() as db:
            device = await db.scalar(select(Device).where(Device.id == device_id))
            if device is None:
                return False
            await revoke_device(db, device)
            await db.commit()
            return True

    if not _run(_revoke()):
        raise _fail(f"device {device_id} not found")
    typer.echo(f"device {device_id} revoked")


@plan_app.command("check")
def plan_check(file: Path) -> None:
    """Validate a plan file; every problem is printed as FILE:LINE: field: what is wrong."""
    try:
        plan = load_plan(file)
    except PlanError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"{file}: ok ({plan.year}, {len(plan.tasks)} tasks, {len(plan.study_items)} study items)"
    )


@plan_app.command("show")
def plan_show(
    year: Annotated[int, typer.Option("--year", help="The plan's year.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
) -> None:
    """Print a year's plan readably (or as JSON)."""
    settings = _settings()
    try:
        plan = PlanBook(settings.plans_dir).get(year)
    except (NoPlan, PlanUnavailable) as exc:
        raise _fail(str(exc)) from None
    if as_json:
        typer.echo(plan.model_dump_json(indent=2))
        return
    typer.echo(describe_plan(plan))


@report_app.command("compliance")
def report_compliance(
    year: Annotated[int, typer.Option("--year")],
    unit: Annotated[int | None, typer.Option("--unit", help="Only this unit's officers.")] = None,
    fmt: Annotated[ReportFormat, typer.Option("--format")] = ReportFormat.TABLE,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to FILE.")] = None,
    behind_only: Annotated[bool, typer.Option("--behind-only")] = False,
) -> None:
    """Who meets the year's quota and who is short, per officer (and per unit in XLSX/JSON)."""
    settings = _settings()
    tz = ZoneInfo(settings.web.timezone)
    try:
        plan = PlanBook(settings.plans_dir).get(year)
    except (NoPlan, PlanUnavailable) as exc:
        raise _fail(str(exc)) from None

    async def _ledger() -> YearLedger:
        async with open_database(settings) as engine, session_factory(engine)() as db:
            return await bureau_year(db, plan, tz, default_as_of(year, tz))

    ledger = _run(_ledger())
    officers = officer_rows(ledger, unit, behind_only)
    units = [u for u in unit_rows(ledger, behind_only) if unit in (None, u["unit_id"])]
    if fmt == ReportFormat.XLSX:
        if output is None:
            raise _fail("--format xlsx needs --output FILE", 2)
        output.write_bytes(to_xlsx([("officers", officers), ("units", units)]))
        typer.echo(f"wrote {output} ({len(officers)} officers, {len(units)} units)", err=True)
        return
    if fmt == ReportFormat.CSV:
        text = to_csv(officers)
    elif fmt == ReportFormat.JSON:
        text = json.dumps(
            {"year": year, "as_of": ledger.as_of.isoformat(), "officers": officers, "units": units},
            ensure_ascii=False,
            indent=2,
        )
    else:
        text = table(
            officers,
            [
                "badge_no",
                "name",
                "unit",
                "total_hours",
                "total_credits",
                "shortfall_hours",
                "shortfall_credits",
                "eligible",
            ],
        )
    if output is None:
        typer.echo(text, nl=not text.endswith("\n"))
    else:
        output.write_text(text, encoding="utf-8")


ImportFn = Callable[[AsyncSession, bytes, str, Person, Settings], Awaitable[ImportResult]]


def _import_file(file: Path, as_user: str, do_import: ImportFn) -> None:
    """Run one CSV import as ``as_user`` (who must be a manager or admin; the audit names them)."""
    settings = _settings()

    async def _import() -> ImportResult:
        async with open_database(settings) as engine, session_factory(engine)() as db:
            actor = await _manager(db, as_user)
            result = await do_import(db, file.read_bytes(), file.name, actor, settings)
            await db.commit()
            return result

    try:
        r = _run(_import())
    except ImportRejected as exc:
        for line, message in exc.problems:
            typer.echo(f"{file}:{line}: {message}", err=True)
        raise typer.Exit(1) from None
    replaced = f", {r.replaced} replaced" if r.replaced else ""
    typer.echo(
        f"{file}: {r.rows} rows, {r.imported} imported, {r.already} already imported{replaced}"
    )


AS_MANAGER = typer.Option("--as", help="The manager doing the import (audit).")


@import_app.command("online")
def import_online_cmd(
    file: Path,
    as_user: Annotated[str, AS_MANAGER],
    replace: Annotated[
        bool,
        typer.Option(
            "--replace", help="Replace rows imported before with other values (a corrected export)."
        ),
    ] = False,
) -> None:
    """Import the city platform's online training (CSV in UTF-8 or GB18030, or XLSX): all rows
    or none."""
    _import_file(
        file,
        as_user,
        lambda db, data, name, actor, settings: import_online(
            db, data, name, actor, PlanBook(settings.plans_dir).years(), replace
        ),
    )


@import_app.command("attendance")
def import_attendance_cmd(file: Path, as_user: Annotated[str, AS_MANAGER]) -> None:
    """Import check-ins (session_id, badge_no, check_in, check_out): all rows or none."""
    _import_file(
        file,
        as_user,
        lambda db, data, name, actor, settings: import_attendance(
            db, data, name, actor, ZoneInfo(settings.web.timezone)
        ),
    )


@devices_app.command("list")
def devices_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Video devices (V4L2: webcams, HDMI capture) and audio cards (ALSA) on this machine."""
    from dataclasses import asdict

    from hardware.discovery import audio_cards, video_devices

    videos, cards = video_devices(), audio_cards()
    if as_json:
        typer.echo(
            json.dumps(
                {"video": [asdict(v) for v in videos], "audio": [asdict(a) for a in cards]},
                ensure_ascii=False,
            )
        )
        return
    typer.echo("video devices:" if videos else "video devices: none")
    for v in videos:
        typer.echo(f"  {v.path}  {v.name}")
    typer.echo("audio cards:" if cards else "audio cards: none")
    for a in cards:
        typer.echo(f"  {a.alsa}  {a.id}  {a.name}")


@devices_app.command("probe")
def devices_probe(
    source: str,
    fmt: Annotated[
        str | None, typer.Option("--format", "-f", help="Input format (v4l2, lavfi, …).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Open a device, file or stream URL and report its codec, size and rate."""
    from hardware.discovery import ProbeError, probe

    try:
        result = probe(source, fmt)
    except ProbeError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(result.as_dict()))
        return
    typer.echo(f"{result.url} ({result.format})")
    for st in result.streams:
        if st.kind == "video":
            typer.echo(f"  video {st.codec} {st.width}x{st.height} {st.fps} fps")
        else:
            typer.echo(f"  audio {st.codec} {st.sample_rate} Hz {st.channels} ch")


if __name__ == "__main__":  # pragma: no cover
    app()

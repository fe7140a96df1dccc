"""The roster: people and their units from the XLSX or CSV a training office keeps, keyed on the
badge number. First a preview (who is added, changed, marked left; which units are new; which
lines are refused and why), then the same file applied all or nothing; applying it again changes
nothing. Exported in the same format, so export → edit → import is a round trip.

Columns (header required, any order; Chinese or English names): 警号 badge_no, 姓名 name, 单位
unit, 单位类型 unit_kind (科室/中队, only for a unit not yet known), 角色 roles (学员 officer, 教员
trainer; several with 、 or spaces), 入职日期 hired_on, 执法人员 enforcement_staff (是/否), 电话
phone, 邮箱 email, 在职 active (是/否: 否 marks the person left).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from classroom.audit import audit
from classroom.csv_import import ImportRejected, rows
from classroom.db.models import Person, PersonRole, Role, Unit, UnitKind
from classroom.organisation import grantable, person_json

# Column → its Chinese header, in the order the export and the template write them.
HEADERS = {
    "badge_no": "警号",
    "name": "姓名",
    "unit": "单位",
    "unit_kind": "单位类型",
    "roles": "角色",
    "hired_on": "入职日期",
    "enforcement_staff": "执法人员",
    "phone": "电话",
    "email": "邮箱",
    "active": "在职",
}
ALIASES = {zh: en for en, zh in HEADERS.items()}
REQUIRED = ("badge_no", "name")
ROLE_NAMES = {"学员": Role.OFFICER, "教员": Role.TRAINER, "管理员": Role.MANAGER}
ROLE_LABELS = {
    Role.OFFICER: "学员",
    Role.TRAINER: "教员",
    Role.MANAGER: "管理员",
    Role.ADMIN: "admin",
}
UNIT_KINDS = {"科室": UnitKind.DEPARTMENT, "中队": UnitKind.SQUAD}
UNIT_LABELS = {UnitKind.DEPARTMENT: "科室", UnitKind.SQUAD: "中队"}
YES, NO = {"是", "yes", "y", "true", "1"}, {"否", "no", "n", "false", "0"}
BADGE = re.compile(r"^[0-9A-Za-z-]{1,32}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{1,63}$")
PHONE = re.compile(r"^\+?[0-9 -]{5,32}$")
COMPARED = ("name", "unit_id", "roles", "hired_on", "enforcement_staff", "phone", "email", "active")


@dataclass
class RosterPlan:
    """What applying the file would do (and, applied, what it did)."""

    added: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)  # {"badge_no", "line", "fields"}
    left: list[dict[str, Any]] = field(default_factory=list)  # marked left (在职 否, or absent)
    units_added: list[str] = field(default_factory=list)
    unchanged: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)
    new_units: dict[str, UnitKind] = field(default_factory=dict)  # name → kind, to add

    def summary(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "changed": self.changed,
            "left": self.left,
            "units_added": self.units_added,
            "unchanged": self.unchanged,
            "refused": [{"line": n, "message": m} for n, m in self.refused],
        }


@dataclass(frozen=True)
class _Row:
    line: int
    badge_no: str
    name: str
    unit: str | None
    unit_kind: UnitKind | None
    roles: frozenset[Role] | None
    hired_on: date | None
    enforcement_staff: bool | None
    phone: str | None
    email: str | None
    active: bool | None


def _yes_no(value: str, column: str) -> bool | None:
    v = value.strip().lower()
    if not v:
        return None
    if v in YES:
        return True
    if v in NO:
        return False
    raise ValueError(f"{column} {value!r} is not 是 or 否")


def _parse(line: int, row: dict[str, str]) -> _Row:
    badge = row["badge_no"].strip()
    if not BADGE.match(badge):
        raise ValueError(f"badge number {badge!r} is not 1–32 letters, digits or dashes")
    name = row["name"].strip()
    if not 1 <= len(name) <= 100:
        raise ValueError("name must be 1–100 characters")
    unit_kind = None
    if kind := row.get("unit_kind", "").strip():
        if kind not in UNIT_KINDS and kind not in UnitKind._value2member_map_:
            raise ValueError(f"unit kind {kind!r} is not 科室 or 中队")
        unit_kind = UNIT_KINDS.get(kind) or UnitKind(kind)
    roles = None
    if text := row.get("roles", "").strip():
        names = [n for n in re.split(r"[、,，;\s]+", text) if n]
        try:
            roles = frozenset(ROLE_NAMES.get(n) or Role(n.lower()) for n in names)
        except ValueError:
            raise ValueError(f"roles {text!r}: known are 学员, 教员, 管理员") from None
    hired = None
    if text := row.get("hired_on", "").strip():
        try:
            hired = date.fromisoformat(text.replace("/", "-")[:10])
        except ValueError:
            raise ValueError(f"hired_on {text!r} is not a date (YYYY-MM-DD)") from None
    phone = row.get("phone", "").strip() or None
    if phone and not PHONE.match(phone):
        raise ValueError(f"phone {phone!r} is not a telephone number")
    email = row.get("email", "").strip() or None
    if email and not EMAIL.match(email):
        raise ValueError(f"email {email!r} is not an e-mail address")
    return _Row(
        line,
        badge,
        name,
        row.get("unit", "").strip() or None,
        unit_kind,
        roles,
        hired,
        _yes_no(row.get("enforcement_staff", ""), "enforcement_staff"),
        phone,
        email,
        _yes_no(row.get("active", ""), "active"),
    )


def _current(p: Person) -> dict[str, Any]:
    """A person as the roster compares them: organisation.person_json, the name as ``name``."""
    now = person_json(p)
    now["name"] = now.pop("display_name")
    return now


async def plan_roster(
    db: AsyncSession, data: bytes, actor: Person, full: bool = False
) -> tuple[RosterPlan, list[tuple[_Row, Person | None, dict[str, Any]]]]:
    """The plan for ``data``, and per row the person it matches (None: new) and the values it
    would have. ``full``: the file is the whole roster — officers with a badge number who are not
    in it are marked left."""
    plan = RosterPlan()
    parsed: list[_Row] = []
    seen: dict[str, int] = {}
    for line, row in rows(data, REQUIRED, ALIASES):
        try:
            if isinstance(row, str):
                raise ValueError(row)
            r = _parse(line, row)
            if r.badge_no in seen:
                raise ValueError(f"badge number {r.badge_no} repeats line {seen[r.badge_no]}")
        except ValueError as exc:
            plan.refused.append((line, str(exc)))
            continue
        seen[r.badge_no] = line
        parsed.append(r)
    people = {
        p.badge_no: p
        for p in await db.scalars(select(Person).where(Person.badge_no.is_not(None)))
        if p.badge_no
    }
    units = {u.name: u for u in await db.scalars(select(Unit))}
    new_units = plan.new_units
    may = grantable(actor)
    taken = set(await db.scalars(select(Person.username)))
    out: list[tuple[_Row, Person | None, dict[str, Any]]] = []
    for r in parsed:
        person = people.get(r.badge_no)
        unit_id: int | str | None = person.unit_id if person else None
        if r.unit is not None:
            if r.unit in units:
                unit_id = units[r.unit].id
            elif r.unit_kind is not None or r.unit in new_units:
                new_units.setdefault(r.unit, r.unit_kind or UnitKind.SQUAD)
                unit_id = f"new:{r.unit}"
            else:
                plan.refused.append(
                    (r.line, f"unit {r.unit!r} is not known: give its 单位类型 to add it")
                )
                continue
        roles = r.roles if r.roles is not None else (person.roles if person else {Role.OFFICER})
        want = {
            "name": r.name,
            "unit_id": unit_id,
            "roles": sorted(x.value for x in roles),
            "hired_on": r.hired_on.isoformat()
            if r.hired_on
            else (person.hired_on.isoformat() if person and person.hired_on else None),
            "enforcement_staff": r.enforcement_staff
            if r.enforcement_staff is not None
            else (person.enforcement_staff if person else True),
            "phone": r.phone if r.phone is not None else (person.phone if person else None),
            "email": r.email if r.email is not None else (person.email if person else None),
            "active": r.active if r.active is not None else (person.active if person else True),
        }
        diff: dict[str, list[Any]] = {}
        if person is not None:
            now = _current(person)
            diff = {k: [now[k], want[k]] for k in COMPARED if now[k] != want[k]}
        beyond = (set(roles) | (set(person.roles) if person else set())) - may
        if beyond and (person is None or diff):
            plan.refused.append(
                (
                    r.line,
                    "only an administrator makes or changes people with the role "
                    + ", ".join(sorted(b.value for b in beyond)),
                )
            )
            continue
        if person is None:
            if r.badge_no.lower() in taken:
                plan.refused.append((r.line, f"username {r.badge_no.lower()!r} is taken"))
                continue
            taken.add(r.badge_no.lower())
            plan.added.append({"line": r.line, "badge_no": r.badge_no, "name": r.name})
        else:
            if not diff:
                plan.unchanged += 1
            elif diff.keys() == {"active"} and want["active"] is False:
                plan.left.append({"line": r.line, "badge_no": r.badge_no, "name": r.name})
            else:
                plan.changed.append({"line": r.line, "badge_no": r.badge_no, "fields": diff})
        out.append((r, person, want))
    if full:
        listed = {r.badge_no for r in parsed}
        for badge, person in sorted(people.items()):
            if badge not in listed and person.active and person.has_role(Role.OFFICER):
                if set(person.roles) - may:
                    continue  # not this actor's to change
                plan.left.append({"line": None, "badge_no": badge, "name": person.display_name})
                out.append((_absent(badge), person, {**_current(person), "active": False}))
    plan.units_added = sorted(new_units)
    return plan, out


def _absent(badge: str) -> _Row:
    return _Row(0, badge, "", None, None, None, None, None, None, None, False)


async def apply_roster(
    db: AsyncSession, data: bytes, filename: str, actor: Person, full: bool = False
) -> RosterPlan:
    """Apply the file, all or nothing (ImportRejected with every refused line); audited as one
    entry with every change's before and after."""
    plan, out = await plan_roster(db, data, actor, full)
    if plan.refused:
        raise ImportRejected(sorted(plan.refused))
    made = {
        name: Unit(name=name, kind=kind, adjacent_district=False, active=True)
        for name, kind in plan.new_units.items()
    }
    db.add_all(made.values())
    await db.flush()
    for r, person, want in out:
        unit_id = want["unit_id"]
        if isinstance(unit_id, str):
            unit_id = made[unit_id.removeprefix("new:")].id
        roles = [Role(x) for x in want["roles"]]
        if person is None:
            person = Person(username=r.badge_no.lower(), badge_no=r.badge_no, display_name=r.name)
            person.role_rows = [PersonRole(role=x) for x in roles]
            db.add(person)
        elif sorted(x.value for x in person.roles) != want["roles"]:
            person.role_rows = [PersonRole(role=x) for x in roles]
        if r.line:  # a row of the file (not one marked left for being absent from it)
            person.display_name = want["name"]
        person.unit_id = unit_id
        person.hired_on = date.fromisoformat(want["hired_on"]) if want["hired_on"] else None
        person.enforcement_staff = want["enforcement_staff"]
        person.phone, person.email, person.active = want["phone"], want["email"], want["active"]
    await db.flush()
    await audit(
        db,
        actor,
        "roster.import",
        f"file:{filename[:100]}",
        added=len(plan.added),
        changed=plan.changed,
        left=plan.left,
        units_added=plan.units_added,
    )
    return plan


async def roster_rows(db: AsyncSession) -> list[dict[str, Any]]:
    """Everyone with a badge number, in the import's columns (Chinese headers)."""
    units = {u.id: u for u in await db.scalars(select(Unit))}
    out = []
    for p in await db.scalars(
        select(Person).where(Person.badge_no.is_not(None)).order_by(Person.badge_no)
    ):
        unit = units.get(p.unit_id) if p.unit_id is not None else None
        out.append(
            {
                HEADERS["badge_no"]: p.badge_no,
                HEADERS["name"]: p.display_name,
                HEADERS["unit"]: unit.name if unit else "",
                HEADERS["unit_kind"]: UNIT_LABELS[unit.kind] if unit else "",
                HEADERS["roles"]: "、".join(ROLE_LABELS[r] for r in sorted(p.roles)),
                HEADERS["hired_on"]: p.hired_on.isoformat() if p.hired_on else "",
                HEADERS["enforcement_staff"]: "是" if p.enforcement_staff else "否",
                HEADERS["phone"]: p.phone or "",
                HEADERS["email"]: p.email or "",
                HEADERS["active"]: "是" if p.active else "否",
            }
        )
    return out


def template_columns() -> Sequence[str]:
    return list(HEADERS.values())

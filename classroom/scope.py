"""Who sees and runs what over the units.

Managers and administrators see the whole bureau. A unit leader (科队负责人, ``UnitLeader`` rows
given by managers and admins) sees the officers and the compliance of the units they lead, and
schedules and takes the attendance of those units' studies and drills — nothing of other units.
Leading is never something a person can give themself: it is a row only the training office
writes, so a leader cannot widen their own reach by creating a session or a course."""

from __future__ import annotations

from classroom.db.models import Person, Role, Session, SessionKind

# The sessions a unit runs for itself (the plan's 科队学习 and 队列训练/考核).
UNIT_SESSION_KINDS = frozenset(
    {SessionKind.UNIT_STUDY, SessionKind.DRILL_TRAINING, SessionKind.DRILL_ASSESSMENT}
)


def bureau_wide(person: Person) -> bool:
    return person.has_role(Role.MANAGER, Role.ADMIN)


def leads(person: Person, unit_id: int | None) -> bool:
    return unit_id is not None and unit_id in person.led_unit_ids


def sees_unit(person: Person, unit_id: int | None) -> bool:
    """The unit's officers and compliance: the training office, or the unit's leader."""
    return bureau_wide(person) or leads(person, unit_id)


def unit_scope(person: Person) -> frozenset[int] | None:
    """The units whose people and compliance ``person`` sees; None: all of them."""
    return None if bureau_wide(person) else person.led_unit_ids


def leads_session(person: Person, kind: SessionKind, unit_id: int | None) -> bool:
    """A study or drill of a unit ``person`` leads: they schedule it, lead it and take its
    attendance."""
    return kind in UNIT_SESSION_KINDS and leads(person, unit_id)


def runs_session(person: Person, session: Session) -> bool:
    """Takes its attendance and says what it covered: the session's trainer, the leader of its
    unit for the unit's studies and drills, or an admin."""
    return (
        person.has_role(Role.ADMIN)
        or (person.has_role(Role.TRAINER) and session.trainer_id == person.id)
        or leads_session(person, session.kind, session.unit_id)
    )

"""What a ledger entry came from, as a person reads it: the session's or recording's title with
a link to it, an imported course's name, a training day's date — not the ledger's reference."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from classroom.db.models import CreditEvent, Recording, Session


@dataclass(frozen=True)
class Source:
    label: str
    href: str | None = None


def _number(text: str) -> int | None:
    return int(text) if text.isdigit() else None


async def entry_sources(db: AsyncSession, refs: Iterable[str]) -> dict[str, Source]:
    """Each reference ("session:12", "training_day:2026-03-04", "credit:<event uid>",
    "adjustment:<event uid>") that can be named; the rest are left out."""
    out: dict[str, Source] = {}
    sessions: dict[str, int] = {}
    watched: dict[str, int] = {}
    credits: dict[str, str] = {}
    for ref in set(refs):
        kind, _, rest = ref.partition(":")
        if kind == "session" and (sid := _number(rest)) is not None:
            sessions[ref] = sid
        elif kind == "training_day":
            out[ref] = Source(rest)
        elif kind == "credit":
            # A watched recording's credit is keyed "watch:<recording>:<person>" (watching.py).
            what, _, tail = rest.partition(":")
            if what == "watch" and (rid := _number(tail.partition(":")[0])) is not None:
                watched[ref] = rid
            else:
                credits[ref] = rest
    if sessions:
        titles = {
            r[0]: r[1]
            for r in await db.execute(
                select(Session.id, Session.title).where(Session.id.in_(set(sessions.values())))
            )
        }
        out |= {
            ref: Source(titles[sid], f"/sessions/{sid}")
            for ref, sid in sessions.items()
            if sid in titles
        }
    if watched:
        of_recording = {
            r[0]: r[1]
            for r in await db.execute(
                select(Recording.id, Session.title)
                .join(Session, Session.id == Recording.session_id)
                .where(Recording.id.in_(set(watched.values())))
            )
        }
        out |= {
            ref: Source(of_recording[rid], f"/recordings/{rid}")
            for ref, rid in watched.items()
            if rid in of_recording
        }
    if credits:
        courses = {
            r[0]: r[1]
            for r in await db.execute(
                select(CreditEvent.event_uid, CreditEvent.course).where(
                    CreditEvent.event_uid.in_(set(credits.values()))
                )
            )
        }
        out |= {ref: Source(courses[uid]) for ref, uid in credits.items() if courses.get(uid)}
    return out

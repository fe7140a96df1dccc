"""Live Q&A: the viewers of a session ask questions while it runs; its trainer (or a manager or
admin) sees them as they come and marks them answered. Questions are kept with the session, so a
trainer who reloads the console, or reads them after the lecture, loses none."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from classroom.db.models import LiveQuestion, Person, Role, Session
from classroom.db.types import utcnow

MAX_QUESTION_CHARS = 500
# A viewer may ask this many questions a minute: enough for a real one, not for a flood.
PER_MINUTE = 5


class QuestionRefused(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code  # empty | too_long | too_many | ended | not_found | not_allowed


@dataclass(frozen=True)
class QuestionView:
    id: int
    text: str
    name: str
    asked_at: datetime
    answered: bool

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "text": self.text,
            "name": self.name,
            "asked_at": self.asked_at.isoformat(),
            "answered": self.answered,
        }


def may_moderate(person: Person, session: Session) -> bool:
    """The session's trainer, a manager or an admin."""
    return session.trainer_id == person.id or person.has_role(Role.MANAGER, Role.ADMIN)


def _view(q: LiveQuestion, name: str) -> QuestionView:
    return QuestionView(q.id, q.text, name, q.asked_at, q.answered_at is not None)


async def questions(db: AsyncSession, session_id: int) -> list[QuestionView]:
    rows = await db.execute(
        select(LiveQuestion, Person.display_name)
        .join(Person, Person.id == LiveQuestion.person_id)
        .where(LiveQuestion.session_id == session_id)
        .order_by(LiveQuestion.id)
    )
    return [_view(q, name) for q, name in rows]


async def ask(db: AsyncSession, session: Session, person: Person, text: str) -> QuestionView:
    text = " ".join(text.split())  # one line, no runs of blanks
    if not text:
        raise QuestionRefused("empty", "a question needs some text")
    if len(text) > MAX_QUESTION_CHARS:
        raise QuestionRefused("too_long", f"a question is at most {MAX_QUESTION_CHARS} characters")
    if session.actual_end is not None:
        raise QuestionRefused("ended", "this session has ended")
    now = utcnow()
    recent = await db.scalar(
        select(func.count())
        .select_from(LiveQuestion)
        .where(
            LiveQuestion.session_id == session.id,
            LiveQuestion.person_id == person.id,
            LiveQuestion.asked_at > now - timedelta(minutes=1),
        )
    )
    if (recent or 0) >= PER_MINUTE:
        raise QuestionRefused("too_many", f"at most {PER_MINUTE} questions a minute")
    q = LiveQuestion(session_id=session.id, person_id=person.id, text=text, asked_at=now)
    db.add(q)
    await db.flush()
    return _view(q, person.display_name)


async def mark_answered(
    db: AsyncSession, session: Session, person: Person, question_id: int
) -> None:
    if not may_moderate(person, session):
        raise QuestionRefused("not_allowed", "only the session's trainer marks questions answered")
    q = await db.get(LiveQuestion, question_id)
    if q is None or q.session_id != session.id:
        raise QuestionRefused("not_found", "no such question in this session")
    if q.answered_at is None:
        q.answered_at = utcnow()
        q.answered_by_id = person.id
        await db.flush()

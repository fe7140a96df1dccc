"""When a session's classroom is its trainer's to control: cameras, recording, PTZ, the console.

From the time its kiosk opens (``open_before`` ahead of the planned start, as for check-in) to its
planned end plus the agent's post-roll. Outside it the
classroom belongs to whoever teaches there then: a booking made for next week gives no hold on
the room today. Managers and admins may act outside it by saying so (an override, audited).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from classroom.db.models import Session


@dataclass(frozen=True)
class ControlWindow:
    opens: datetime
    closes: datetime

    def holds(self, now: datetime) -> bool:
        return self.opens <= now <= self.closes


def control_window(session: Session, open_before: timedelta, postroll: timedelta) -> ControlWindow:
    # The planned end, even after an early Stop: a trainer who stopped by mistake starts again.
    return ControlWindow(session.planned_start - open_before, session.planned_end + postroll)


class OutsideWindow(ValueError):
    """A control asked for outside the session's window."""

    def __init__(self, session: Session, window: ControlWindow) -> None:
        self.session_id, self.window = session.id, window
        super().__init__(self.described(UTC)["message"])

    def described(self, tz: tzinfo) -> dict[str, object]:
        opens, closes = (
            t.astimezone(tz).isoformat(timespec="minutes")
            for t in (self.window.opens, self.window.closes)
        )
        return {
            "code": "outside_window",
            "message": f"session {self.session_id}'s classroom can be controlled only from "
            f"{opens} to {closes}",
            "session_id": self.session_id,
            "opens": opens,
            "closes": closes,
        }

"""What the agent knows about itself, for the heartbeat, `classroom agent status` and /metrics:
alerts raised and cleared, recorder faults, the microphone's level, the last segment."""

from __future__ import annotations

import json
import os
from collections import deque
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from streaming.levels import AudioLevel

STATES = ("idle", "recording", "uploading", "offline-queueing", "fault")
ALERTS = (
    "recorder_fault",
    "disk_low",
    "capture_refused",
    "no_audio",
    "card_reader",
    "portal_unreachable",
    "store_unreachable",
)
# Alerts that make the agent's state "fault": someone must act.
FAULTS = {"recorder_fault", "disk_low", "capture_refused"}


@dataclass(frozen=True)
class Alert:
    code: str  # recorder_fault | disk_low | capture_refused | no_audio
    message: str
    since: str  # ISO 8601, UTC


def iso_utc(when: datetime) -> str:
    return when.astimezone(UTC).isoformat()


class Link:
    """Whether the agent reaches one of its peers (the portal, the object store), and since when:
    what the status says of it is what the last try saw, not what the agent last hoped."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.reachable: bool | None = None  # None: not tried yet
        self.since: datetime | None = None

    def answered(self, now: datetime | None = None) -> None:
        if self.reachable is not True:
            self.reachable, self.since = True, now or datetime.now(UTC)

    def failed(self, now: datetime | None = None) -> None:
        if self.reachable is not False:
            self.reachable, self.since = False, now or datetime.now(UTC)

    def down_for(self, now: datetime) -> timedelta:
        if self.reachable is not False or self.since is None:
            return timedelta(0)
        return now - self.since


class Health:
    def __init__(
        self,
        silence_alert_s: float,
        silence_dbfs: float = -50.0,
        unreachable_alert_s: float = 60.0,
    ) -> None:
        self.portal, self.store = Link("portal"), Link("store")
        self.unreachable_alert = timedelta(seconds=unreachable_alert_s)
        self.silence_alert = timedelta(seconds=silence_alert_s)
        self.silence_dbfs = silence_dbfs
        self.alerts: dict[str, Alert] = {}
        self.faults: deque[dict[str, Any]] = deque(maxlen=10)
        self.audio: AudioLevel | None = None
        self.last_segment_at: datetime | None = None
        self._silent_since: datetime | None = None
        self.segments_total = 0
        self.faults_total = 0

    def raise_alert(self, code: str, message: str, now: datetime | None = None) -> None:
        old = self.alerts.get(code)
        since = old.since if old else iso_utc(now or datetime.now(UTC))
        self.alerts[code] = Alert(code, message, since)

    def clear(self, code: str) -> None:
        self.alerts.pop(code, None)

    def fault(self, message: str, log_tail: list[str], now: datetime | None = None) -> None:
        when = now or datetime.now(UTC)
        self.faults_total += 1
        self.faults.append({"at": iso_utc(when), "message": message, "log_tail": log_tail[-20:]})
        self.raise_alert("recorder_fault", message, when)

    def segment(self, level: AudioLevel | None, now: datetime | None = None) -> None:
        """A valid segment arrived: the recorder works; judge the microphone by its audio."""
        now = now or datetime.now(UTC)
        self.segments_total += 1
        self.last_segment_at = now
        self.clear("recorder_fault")
        if level is None:
            return
        self.audio = level
        if level.peak_dbfs >= self.silence_dbfs:
            self._silent_since = None
            self.clear("no_audio")
            return
        if self._silent_since is None:
            self._silent_since = now - timedelta(seconds=level.seconds)
        silent_for = now - self._silent_since
        if silent_for >= self.silence_alert:
            seconds = silent_for.total_seconds()
            message = f"no audio above {self.silence_dbfs:.0f} dBFS for {seconds:.0f} s"
            self.raise_alert("no_audio", message, self._silent_since)

    def check_links(self, now: datetime | None = None) -> None:
        """An alert for each peer unreachable for longer than ``unreachable_alert``, naming since
        when; cleared once it answers."""
        now = now or datetime.now(UTC)
        for link in (self.portal, self.store):
            code = f"{link.name}_unreachable"
            if link.down_for(now) >= self.unreachable_alert and link.since is not None:
                self.raise_alert(code, f"{link.name} unreachable since {iso_utc(link.since)}")
            else:
                self.clear(code)

    def links_json(self) -> dict[str, Any]:
        return {
            f"{link.name}_{key}": value
            for link in (self.portal, self.store)
            for key, value in (
                ("reachable", link.reachable),
                ("since", iso_utc(link.since) if link.since else None),
            )
        }

    def recording_stopped(self) -> None:
        self._silent_since = None
        self.clear("no_audio")


def state_of(
    recording: bool, uploads: int, reports: int, portal_reachable: bool | None, alerts: set[str]
) -> str:
    if alerts & FAULTS:
        return "fault"
    if recording:
        return "recording"
    if portal_reachable is False and (uploads or reports):
        return "offline-queueing"
    if uploads:
        return "uploading"
    return "idle"


def write_status(path: Path, status: dict[str, Any]) -> None:
    """Atomically, so `classroom agent status` never reads half a file."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(status, ensure_ascii=False, indent=1))
    os.replace(tmp, path)


def read_status(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    return data


def alerts_json(alerts: dict[str, Alert]) -> list[dict[str, str]]:
    return [asdict(a) for a in sorted(alerts.values(), key=lambda a: a.code)]

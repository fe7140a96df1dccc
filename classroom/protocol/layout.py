"""Where a recording's objects live in the object store: the one home of these keys, for the
agent that writes them and the portal that reads them. Everything of a recording is under its
prefix:

    segments/r0001-00000.ts …      the camera's segments (streaming.recorder.segment_name)
    index.m3u8                     the camera's HLS playlist over them
    recording.mp4                  the camera's joined MP4
    screen/segments/…, screen/index.m3u8, screen.mp4   the slides, where captured
    composite.mp4                  camera and slides side by side, where asked for
    chapters.json, chapters/000.jpg …   where the slides change, a picture each
    thumbnail.jpg                  the library's picture (made by the portal)
"""

from __future__ import annotations

from typing import Literal

Track = Literal["camera", "screen"]
_TRACK_DIR: dict[Track, str] = {"camera": "", "screen": "screen/"}


def recording_prefix(session_id: int, recording_id: int) -> str:
    """Everything of one recording: its segments, MP4s, playlists and chapters."""
    return f"recordings/session-{session_id}/recording-{recording_id}/"


def segments_prefix(prefix: str, track: Track = "camera") -> str:
    return f"{prefix}{_TRACK_DIR[track]}segments/"


def playlist_key(prefix: str, track: Track = "camera") -> str:
    return f"{prefix}{_TRACK_DIR[track]}index.m3u8"


def chapter_picture_key(prefix: str, number: int) -> str:
    return f"{prefix}chapters/{number:03d}.jpg"


CHAPTERS = "chapters.json"
THUMBNAIL = "thumbnail.jpg"


def live_hls_prefix(recording_id: int) -> str:
    """Where the agent publishes a recording's live HLS while it runs (removed at its end)."""
    return f"live/{recording_id}/"

"""Where a recording's objects live in the object store: the one home of these keys, for the
agent that writes them and the portal that reads them."""

from __future__ import annotations


def recording_prefix(session_id: int, recording_id: int) -> str:
    """Everything of one recording: its segments, MP4s, playlists and chapters."""
    return f"recordings/session-{session_id}/recording-{recording_id}/"


def live_hls_prefix(recording_id: int) -> str:
    """Where the agent publishes a recording's live HLS while it runs (removed at its end)."""
    return f"live/{recording_id}/"

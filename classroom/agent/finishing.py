"""After Stop, in two steps, each ending in a report to the portal:

1. Playable. The segments were uploaded as they closed; what is left of them goes up, and the
   HLS playlists over them are written from the durations noted as each was accepted
   (streaming/recorder.py) and uploaded. The portal lets people watch at once. Nothing here
   grows with the recording's length but the playlist's text: no segment is read again, and one
   the journal holds as verified is not sent or asked about again.
2. Whole. The joined MP4s (camera, screen, composite) and the chapters are made and uploaded,
   every segment is checked in the store, and one report says it all.

The finishing step of the agent's loops, in a module of its own: it needs the uploader, the
health board and the outbox, nothing else of the agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from classroom.agent.health import Health
from classroom.agent.reports import Report
from classroom.agent.store_calls import in_store_thread
from classroom.protocol.layout import (
    CHAPTERS,
    chapter_picture_key,
    playlist_key,
    segments_prefix,
)
from classroom.protocol.layout import Track as LayoutTrack
from classroom.protocol.messages import (
    Failure,
    GapReport,
    Playable,
    Track,
    Uploaded,
    recording_path,
)
from storage.multipart import ResumableUploader, UploadCancelled
from storage.object_store import ObjectInfo
from streaming.child import NO_SPACE
from streaming.finalize import FinalizeError, compose_side_by_side, join_segments
from streaming.gaps import recording_gaps
from streaming.media_check import InvalidMedia, MediaInfo, check_media
from streaming.recorder import accept_left_over, noted_durations
from streaming.vod import VodSegment, hls_playlist, scene_changes, thumbnail

log = structlog.get_logger(__name__)

# How often a recording whose finishing ran out of disk looks for room again.
SPACE_POLL_S = 2.0


class NoSpace(Exception):
    """Finishing a recording ran out of disk: it waits for ``needed`` bytes, then goes on."""

    def __init__(self, needed: int) -> None:
        super().__init__(f"no space left to finish: {needed} bytes needed")
        self.needed = needed


def out_of_space(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is the disk being full: ENOSPC, or ffmpeg saying so."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno == errno.ENOSPC:
            return True
        if NO_SPACE in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def track_of(key: str, info: ObjectInfo) -> Track:
    return Track(object_key=key, size_bytes=info.size, sha256=info.sha256)


@dataclass
class Finisher:
    ffmpeg: str
    uploader: ResumableUploader
    health: Health
    report: Report
    free_bytes: Callable[[], int]
    need_audio: bool  # the recording has a microphone: its segments must carry audio
    composite: bool  # camera and screen side by side, made after the session

    async def upload(self, key: str, path: Path, content_type: str) -> ObjectInfo:
        """Queue the file in the journal and upload it (resumably; until the store has it whole)."""
        await asyncio.to_thread(self.uploader.enqueue, key, path, content_type)  # the journal
        return await in_store_thread(self.uploader.upload, key)

    async def finish(self, recording_id: int, workdir: Path, prefix: str) -> bool:
        """Finish the recording, waiting for disk space as long as it takes; True once the
        portal has been told it is uploaded (retention may then delete the local copy)."""
        while True:
            try:
                return await self._finish(recording_id, workdir, prefix)
            except NoSpace as exc:
                await self._wait_for_space(recording_id, exc.needed)

    async def _finish(self, recording_id: int, workdir: Path, prefix: str) -> bool:
        # What the camera closed while no one was there to accept it (killed mid-recording, then
        # stopped while down) belongs to the recording too.
        await accept_left_over(workdir, need_audio=self.need_audio)
        await accept_left_over(workdir / "screen", need_audio=False)
        segments = sorted((workdir / "segments").glob("*.ts"))
        screen = sorted((workdir / "screen" / "segments").glob("*.ts"))
        try:
            if not segments:
                raise RuntimeError("no valid segment was recorded")
            seg_keys = await self._in_store(segments_prefix(prefix), segments)
            screen_keys = await self._in_store(segments_prefix(prefix, "screen"), screen)
            gaps = [GapReport.of(g) for g in await asyncio.to_thread(recording_gaps, workdir)]
            listed, listed_screen = await self._listed(segments), await self._listed(screen)
            seconds = sum(s.duration_s for s in listed)
            playlists = await self._extra(
                recording_id, "hls", lambda: self._playlist(workdir, listed, prefix, "camera")
            )
            if listed_screen:
                playlists |= await self._extra(
                    recording_id,
                    "screen_hls",
                    lambda: self._playlist(workdir, listed_screen, prefix, "screen"),
                )
            if "hls" in playlists:
                playable = Playable(
                    segment_keys=seg_keys,
                    duration_s=round(seconds, 3),
                    tracks=playlists,
                    gaps=gaps,
                )
                await self.report(recording_path(recording_id, "playable"), playable)
                log.info("agent.recording_playable", recording=recording_id, seconds=seconds)
            final = workdir / "recording.mp4"
            info = await self._joined(segments, final)
            for seg, key in zip(segments + screen, seg_keys + screen_keys, strict=True):
                await self.upload(key, seg, "video/mp2t")  # each checked in the store
            key = f"{prefix}recording.mp4"
            stored = await self.upload(key, final, "video/mp4")
            tracks = await self._screen_tracks(recording_id, workdir, prefix, final, screen)
        except UploadCancelled:
            log.warning("agent.upload_deferred", recording=recording_id)
            return False
        except Exception as exc:
            if out_of_space(exc):  # nothing is wrong with the recording: wait, then finish
                needed = sum(seg.stat().st_size for seg in segments) + 16 * 1024**2
                raise NoSpace(needed) from exc
            log.exception("agent.finish_failed", recording=recording_id)
            failure = Failure(error=f"{type(exc).__name__}: {exc}"[:4000])
            await self.report(recording_path(recording_id, "failure"), failure)
            return False
        uploaded = Uploaded(
            object_key=key,
            segment_keys=seg_keys,
            duration_s=round(info.duration_s, 3),
            size_bytes=stored.size,
            sha256=stored.sha256,
            tracks={**tracks, **playlists},
            gaps=gaps,
        )
        await self.report(recording_path(recording_id, "upload"), uploaded)
        log.info("agent.recording_uploaded", recording=recording_id, key=key, size=stored.size)
        return True

    async def _in_store(self, prefix: str, segments: list[Path]) -> list[str]:
        """Each segment's key, once the store has it: those the journal holds as uploaded and
        verified (most of them, sent as they closed) are not sent or asked about again."""
        keys = [f"{prefix}{seg.name}" for seg in segments]
        done = await asyncio.to_thread(self.uploader.journal.done_under, prefix)
        for key, seg in zip(keys, segments, strict=True):
            if key not in done:
                await self.upload(key, seg, "video/mp2t")
        return keys

    async def _listed(self, segments: list[Path]) -> list[VodSegment]:
        """The segments with their durations, as noted at their acceptance (a segment without a
        note is read once)."""
        if not segments:
            return []
        noted = await asyncio.to_thread(noted_durations, segments[0].parent)
        listed = []
        for seg in segments:
            seconds = noted.get(seg.name)
            if seconds is None:
                seconds = (await asyncio.to_thread(check_media, seg, need_audio=False)).duration_s
            listed.append(VodSegment(seg.name, seconds))
        return listed

    async def _playlist(
        self, workdir: Path, listed: list[VodSegment], prefix: str, track: LayoutTrack
    ) -> tuple[str, ObjectInfo]:
        """An HLS playlist over the uploaded segments."""
        path = workdir / ("hls.m3u8" if track == "camera" else "screen_hls.m3u8")
        path.write_text(hls_playlist(listed), encoding="utf-8")
        key = playlist_key(prefix, track)
        return key, await self.upload(key, path, "application/vnd.apple.mpegurl")

    async def _wait_for_space(self, recording_id: int, needed: int) -> None:
        """A recording's finishing (the join) needs room on the disk: alerted, and resumed by
        itself once someone has freed it (or retention has)."""
        log.warning("agent.finish_waits_for_space", recording=recording_id, needed=needed)
        while (free := self.free_bytes()) < needed:
            self.health.raise_alert(
                "disk_low",
                f"recording {recording_id} waits to be finished: {free / 1024**2:.0f} MiB free, "
                f"{needed / 1024**2:.0f} MiB needed",
            )
            await asyncio.sleep(SPACE_POLL_S)
        self.health.clear("disk_low")
        log.info("agent.finish_resumed", recording=recording_id)

    async def _screen_tracks(
        self, recording_id: int, workdir: Path, prefix: str, camera: Path, segments: list[Path]
    ) -> dict[str, Any]:
        """Join and upload the screen track and its chapters, and make the composite if asked;
        the composite is a convenience: if it fails, the recording is still complete without it."""
        if not segments:
            return {}
        screen = workdir / "screen.mp4"
        await self._joined(segments, screen)
        made = {"screen": screen}
        extras = await self._chapters(recording_id, workdir, prefix, screen)
        if self.composite:
            composite = workdir / "composite.mp4"
            try:
                if not composite.exists():
                    await compose_side_by_side(self.ffmpeg, camera, screen, composite)
                made["composite"] = composite
            except FinalizeError as exc:
                log.warning("agent.composite_failed", recording=recording_id, error=str(exc)[:300])
        tracks = {}
        for name, path in made.items():
            key = f"{prefix}{path.name}"
            tracks[name] = track_of(key, await self.upload(key, path, "video/mp4"))
        return tracks | extras

    async def _chapters(
        self, recording_id: int, workdir: Path, prefix: str, screen: Path
    ) -> dict[str, Any]:
        """Chapters where the slides change, each with a thumbnail (a convenience, as _hls)."""
        folder = workdir / "chapters"

        async def make() -> tuple[str, ObjectInfo]:
            folder.mkdir(exist_ok=True)
            starts = await scene_changes(self.ffmpeg, screen)
            for i, start in enumerate(starts):
                thumb = folder / f"{i:03d}.jpg"
                await thumbnail(self.ffmpeg, screen, start + 0.5, thumb)
                await self.upload(chapter_picture_key(prefix, i), thumb, "image/jpeg")
            listing = folder / "chapters.json"
            listing.write_text(json.dumps([{"start_s": s} for s in starts]), encoding="utf-8")
            key = f"{prefix}{CHAPTERS}"
            return key, await self.upload(key, listing, "application/json")

        return await self._extra(recording_id, "chapters", make)

    @staticmethod
    async def _extra(
        recording_id: int, name: str, make: Callable[[], Awaitable[tuple[str, ObjectInfo]]]
    ) -> dict[str, Any]:
        """A convenience made after the recording (a playlist, chapters), uploaded like the rest;
        if it cannot be made, the recording is whole without it."""
        try:
            key, info = await make()
        except UploadCancelled:
            raise
        except Exception as exc:
            log.warning(
                "agent.extra_failed", recording=recording_id, extra=name, error=str(exc)[:300]
            )
            return {}
        return {name: track_of(key, info)}

    async def _joined(self, segments: list[Path], final: Path) -> MediaInfo:
        """The joined MP4: the one already made (before a restart) if it is whole, else anew."""
        if final.exists():
            with contextlib.suppress(InvalidMedia):
                return await asyncio.to_thread(check_media, final, need_audio=False)
        return await join_segments(self.ffmpeg, segments, final)

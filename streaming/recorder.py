"""Record a camera and a microphone into short MPEG-TS segments, validated before acceptance.

Frigate's pattern: ffmpeg writes into ``cache/run-N/``; its segment list (CSV) names a segment only
after its last byte is written, so each listed segment is checked with PyAV and then moved to
``segments/``. A segment that does not decode goes to ``rejected/`` and is never uploaded.

The output is ffmpeg's tee muxer with one branch today; live WebRTC and HLS (later steps) add
branches to the same encode instead of a second encoder on the same camera.

If ffmpeg dies while recording, the segments it closed are kept and it is restarted with back-off
in a new run directory; the runs of one recording are joined in order at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import ffmpeg
import structlog

from hardware.sources import CameraSource, FfmpegInput, MicSource
from streaming.child import NO_SPACE, FfmpegProcess
from streaming.gaps import RunEnd, run_ended, run_seen, run_started
from streaming.media_check import InvalidMedia, MediaInfo, check_media
from streaming.tasks import settled

log = structlog.get_logger(__name__)

POLL_S = 0.25


@dataclass(frozen=True)
class EncodeSettings:
    segment_seconds: int = 4
    fps: int = 30
    video_bitrate: str = "2500k"
    x264_preset: str = "veryfast"
    segment_timeout_s: float = 15.0


@dataclass(frozen=True)
class Segment:
    path: Path
    run: int
    seq: int
    media: MediaInfo


@dataclass
class RecorderFault:
    message: str
    log_tail: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LiveBranches:
    """Where the one encode also goes while recording: an MPEG-TS stream over UDP on loopback
    (H.264 + Opus, read by the WebRTC relay) and 2-second HLS segments for large audiences.
    Both branches may fail without stopping the recording (``onfail=ignore``)."""

    udp_port: int | None = None
    hls_dir: Path | None = None


SegmentHandler = Callable[[Segment], Awaitable[None]]
FaultHandler = Callable[[RecorderFault], None]


def ffmpeg_input(src: FfmpegInput) -> ffmpeg.nodes.FilterableStream:
    opts: dict[str, object] = dict(src.options)
    size = opts.get("video_size")
    if isinstance(size, str):
        # ffmpeg-python writes an input's video_size as "{0}x{1}" of it: a "1280x720" string
        # would become "1x2". A (width, height) pair comes out right.
        width, height = size.split("x")
        opts["video_size"] = (int(width), int(height))
    if src.realtime:
        opts["re"] = None
    return ffmpeg.input(src.url, **opts)


def build_command(
    ffmpeg_exe: str,
    camera: CameraSource,
    mic: MicSource | None,
    run_dir: Path,
    enc: EncodeSettings,
    live: LiveBranches | None = None,
) -> list[str]:
    cam = camera.ffmpeg_input()
    video = ffmpeg_input(cam).video
    streams = [video]
    audio = ffmpeg_input(mic.ffmpeg_input()).audio if mic is not None else None
    if audio is not None:
        streams.append(audio)
    recorded = ",".join(str(i) for i in range(len(streams)))  # video + AAC
    live = live or LiveBranches()
    webrtc = "0"
    if audio is not None and live.udp_port is not None:
        streams.append(audio)  # encoded a second time, as Opus: WebRTC has no AAC
        webrtc = "0,2"
    gop = max(1, enc.fps)  # one keyframe a second: segments cut on time, new viewers start fast
    branches = [
        f"[select=\\'{recorded}\\':f=segment"
        f":segment_time={enc.segment_seconds}:segment_format=mpegts"
        f":segment_list={run_dir / 'list.csv'}:segment_list_type=csv:onfail=abort]"
        f"{run_dir / 'seg_%05d.ts'}"
    ]
    if live.hls_dir is not None:
        branches.append(
            f"[select=\\'{recorded}\\':f=hls:hls_time=2:hls_list_size=6"
            ":hls_flags=delete_segments+independent_segments+omit_endlist:onfail=ignore"
            # Named after the run: a restarted ffmpeg numbers its segments from 0 again, and a
            # name must never stand for two different segments (players, the store's copy).
            f":hls_segment_filename={live.hls_dir / (run_dir.name + '-%05d.ts')}]"
            f"{live.hls_dir / 'live.m3u8'}"
        )
    if live.udp_port is not None:
        branches.append(
            # Each packet out at once, and each video frame's length in its PES header: the
            # reader hands a frame on when it is complete, not when the next one begins.
            f"[select=\\'{webrtc}\\':f=mpegts:onfail=ignore:flush_packets=1"
            ":omit_video_pes_length=0]"
            f"udp://127.0.0.1:{live.udp_port}?pkt_size=1316"
        )
    encode: dict[str, object] = {
        "c:v": "libx264",
        "preset": enc.x264_preset,
        "tune": "zerolatency",
        "profile:v": "baseline",
        "pix_fmt": "yuv420p",
        "g": gop,
        "keyint_min": gop,
        "sc_threshold": 0,
        "b:v": enc.video_bitrate,
        "maxrate": enc.video_bitrate,
        "bufsize": enc.video_bitrate,
        "bsf:v": "dump_extra=freq=keyframe",
    }
    # An IP camera's H.264 is kept as it is: no encoder, a fraction of the CPU. Segments then cut
    # at the camera's own keyframes; SPS/PPS are still repeated for the live branch.
    copy = {"c:v": "copy", "bsf:v": "dump_extra=freq=keyframe"}
    out_opts: dict[str, object] = {"format": "tee", **(copy if cam.copy_video else encode)}
    if live.udp_port is not None:
        # Packets go out as they are encoded instead of waiting to be interleaved with the
        # audio encoders' (a frame and more): ~35 ms of live latency. Each stream stays in order.
        out_opts["max_interleave_delta"] = 1
    if audio is not None:
        out_opts.update({"c:a:0": "aac", "b:a:0": "96k", "ar": 48000})
        if webrtc != "0":
            out_opts.update({"c:a:1": "libopus", "b:a:1": "64k"})
    out = ffmpeg.output(*streams, "|".join(branches), **out_opts)
    args: list[str] = out.global_args("-hide_banner", "-nostats", "-loglevel", "warning").compile(
        cmd=ffmpeg_exe
    )
    return args


def left_over(workdir: Path) -> list[tuple[int, int, Path]]:
    """(run, sequence, path) of each segment a run's list names (it was closed) that is still in
    the run's cache: never accepted, as when the agent was killed before it could be."""
    found = []
    for run_dir in sorted((workdir / "cache").glob("run-*")):
        try:
            run = int(run_dir.name[4:])
            lines = (run_dir / "list.csv").read_text().splitlines()
        except (ValueError, OSError):
            continue
        for seq, line in enumerate(ln for ln in lines if ln.strip()):
            path = run_dir / line.split(",", 1)[0]
            if path.is_file():
                found.append((run, seq, path))
    return found


# An accepted segment's name: its run (one ffmpeg process) and its place in the run. The store
# keeps the name, the playlists list it, and the portal serves only names of this shape.
SEGMENT_NAME = re.compile(r"r\d{4}-\d{5}\.ts")  # match whole names (fullmatch)


def segment_name(run: int, seq: int) -> str:
    return f"r{run:04d}-{seq:05d}.ts"


async def place_segment(
    workdir: Path, path: Path, run: int, seq: int, need_audio: bool
) -> Segment | Path | None:
    """Check a closed segment with PyAV: valid, it moves to ``segments/`` as run and sequence say
    (the Segment); invalid, to ``rejected/`` (its new path); gone, None."""
    try:
        media = await asyncio.to_thread(check_media, path, need_audio=need_audio)
    except (InvalidMedia, FileNotFoundError) as exc:
        log.warning("recorder.segment_rejected", path=str(path), reason=str(exc))
        if not path.exists():
            return None
        dest = workdir / "rejected" / f"r{run:04d}-{path.name}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        path.replace(dest)
        return dest
    dest = workdir / "segments" / segment_name(run, seq)
    dest.parent.mkdir(parents=True, exist_ok=True)
    path.replace(dest)
    _note_duration(dest, media.duration_s)
    log.info("recorder.segment", path=dest.name, duration_s=round(media.duration_s, 2))
    return Segment(dest, run, seq, media)


DURATIONS = "durations.csv"  # beside the accepted segments: "name,seconds" a line


def _note_duration(segment: Path, seconds: float) -> None:
    """What the check measured, kept for the playlist made at the end (which then need not read
    every segment again). Best effort: a segment without a note is read then."""
    try:
        with (segment.parent / DURATIONS).open("a", encoding="utf-8") as notes:
            notes.write(f"{segment.name},{seconds:.6f}\n")
    except OSError as exc:  # a full disk: the segment is kept, its note is not
        log.warning("recorder.duration_not_noted", path=segment.name, error=str(exc)[:200])


def noted_durations(segments_dir: Path) -> dict[str, float]:
    """The accepted segments' durations as noted (a line cut short by a crash is skipped)."""
    try:
        text = (segments_dir / DURATIONS).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    noted = {}
    for line in text.split("\n")[:-1]:  # the last piece has no newline: cut short, or empty
        name, _, seconds = line.partition(",")
        with contextlib.suppress(ValueError):
            noted[name] = float(seconds)
    return noted


async def accept_left_over(workdir: Path, need_audio: bool) -> list[Segment]:
    """What ``left_over`` finds, checked and placed: for finishing a recording whose recorder
    will not run again."""
    placed = [
        await place_segment(workdir, path, run, seq, need_audio)
        for run, seq, path in left_over(workdir)
    ]
    return [p for p in placed if isinstance(p, Segment)]


class SegmentRecorder:
    """Runs (and re-runs) ffmpeg for one recording; hands each valid segment to ``on_segment``."""

    def __init__(
        self,
        ffmpeg_exe: str,
        camera: CameraSource,
        mic: MicSource | None,
        workdir: Path,
        enc: EncodeSettings,
        on_segment: SegmentHandler | None = None,
        on_fault: FaultHandler | None = None,
        live: LiveBranches | None = None,
    ) -> None:
        self.ffmpeg_exe = ffmpeg_exe
        self.live = live or LiveBranches()
        self.camera = camera
        self.mic = mic
        self.workdir = workdir
        self.enc = enc
        self.on_segment = on_segment
        self.on_fault = on_fault
        self.segments: list[Segment] = []
        self.rejected: list[Path] = []
        self.faults: list[RecorderFault] = []
        self._stopping = asyncio.Event()
        self._stop_reason = RunEnd.STOPPED
        self._proc: FfmpegProcess | None = None
        self._task: asyncio.Task[None] | None = None
        self._run = self._last_run_on_disk()

    @property
    def segments_dir(self) -> Path:
        return self.workdir / "segments"

    def _last_run_on_disk(self) -> int:
        runs = [int(p.name[4:]) for p in (self.workdir / "cache").glob("run-*") if p.is_dir()]
        return max(runs, default=0)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        if self.running:
            return
        for sub in ("cache", "segments", "rejected"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        self._stopping.clear()
        await self._accept_left_over()
        await self._spawn()
        self._task = asyncio.create_task(self._supervise(), name=f"recorder:{self.workdir.name}")

    async def _spawn(self) -> None:
        self._run += 1
        run_dir = self.workdir / "cache" / f"run-{self._run:04d}"
        run_dir.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(run_started, run_dir, datetime.now(UTC))
        if self.live.hls_dir is not None:
            self.live.hls_dir.mkdir(parents=True, exist_ok=True)
        args = build_command(self.ffmpeg_exe, self.camera, self.mic, run_dir, self.enc, self.live)
        self._proc = FfmpegProcess(args)
        await self._proc.start()

    async def _supervise(self) -> None:
        backoff = 1.0
        while True:
            assert self._proc is not None
            run_dir = self.workdir / "cache" / f"run-{self._run:04d}"
            seen = 0
            wait_task = asyncio.create_task(self._proc.wait())
            last_progress = asyncio.get_running_loop().time()
            stalled = False
            while not wait_task.done():
                await asyncio.wait({wait_task}, timeout=POLL_S)
                accepted = await self._collect(run_dir, seen)
                if accepted:
                    seen += accepted
                    last_progress = asyncio.get_running_loop().time()
                    backoff = 1.0
                elif (
                    not self._stopping.is_set()
                    and asyncio.get_running_loop().time() - last_progress
                    > self.enc.segment_timeout_s
                ):
                    self._fault(f"no segment for {self.enc.segment_timeout_s:.0f} s")
                    stalled = True
                    await self._proc.stop(grace_s=2)
            seen += await self._collect(run_dir, seen)
            if self._stopping.is_set() and not stalled:
                await asyncio.to_thread(run_ended, run_dir, self._stop_reason)
                return
            await asyncio.to_thread(run_ended, run_dir, self._why_ended(stalled))
            if self._stopping.is_set():
                return
            self._fault(f"ffmpeg exited with code {self._proc.returncode}")
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)
            if self._stopping.is_set():
                return
            await self._spawn()

    def _why_ended(self, stalled: bool) -> RunEnd:
        if any(NO_SPACE in line for line in (self._proc.tail if self._proc else ())):
            return RunEnd.DISK_FULL
        return RunEnd.STALLED if stalled else RunEnd.FAILED

    def _fault(self, message: str) -> None:
        tail = list(self._proc.tail) if self._proc else []
        fault = RecorderFault(message, tail)
        self.faults.append(fault)
        log.error("recorder.fault", message=message, log_tail=tail[-5:])
        if self.on_fault is not None:
            self.on_fault(fault)

    async def _collect(self, run_dir: Path, seen: int) -> int:
        """Accept the segments listed in the run's CSV after the first ``seen``; return how many."""
        listing = run_dir / "list.csv"
        try:
            lines = [ln for ln in listing.read_text().splitlines() if ln.strip()]
        except FileNotFoundError:
            return 0
        read_at = datetime.now(UTC)
        fresh = lines[seen:]
        if fresh:
            await asyncio.to_thread(run_seen, run_dir, fresh[-1], read_at)
        for line in fresh:
            name = line.split(",", 1)[0]
            await self._accept(run_dir / name, seen)
            seen += 1
        return len(fresh)

    async def _accept(self, path: Path, seq: int, run: int | None = None) -> None:
        placed = await place_segment(
            self.workdir, path, run or self._run, seq, self.mic is not None
        )
        if isinstance(placed, Path):
            self.rejected.append(placed)
            return
        if placed is None:
            return
        self.segments.append(placed)
        if self.on_segment is not None:
            await self.on_segment(placed)

    async def _accept_left_over(self) -> None:
        """Segments an earlier run closed but no one accepted (the agent was killed in between):
        checked and accepted, in order, before the next run starts."""
        for run, seq, path in left_over(self.workdir):
            await self._accept(path, seq, run)

    async def stop(self, reason: RunEnd = RunEnd.STOPPED) -> list[Segment]:
        """Stop ffmpeg gracefully (the open segment is closed and accepted) and return all.
        ``reason`` is kept beside the run: a pause or a stop leaves no gap, a shutdown does."""
        self._stop_reason = reason
        self._stopping.set()
        if self._proc is not None:
            await self._proc.stop()
        if self._task is not None:
            # If whoever stops us is cancelled, the supervisor still accepts the last segments
            # (and a second stop() waits for it again).
            await settled(self._task)
        return self.segments

    def discard_cache(self) -> None:
        shutil.rmtree(self.workdir / "cache", ignore_errors=True)

"""Build and run an agent from settings: the wiring shared by `classroom agent` and the demo."""

from __future__ import annotations

import asyncio

import httpx

from classroom.agent.cancel import cancel_and_wait
from classroom.agent.client import PortalClient
from classroom.agent.config import AgentConfig
from classroom.agent.local import UPLOADS, agent_workdir
from classroom.agent.runner import Agent
from classroom.settings import Settings
from classroom.store_connection import (
    agent_connection,
    configured_connection,
    embedded_store_dir,
)
from hardware.cameras import FileCamera, NetworkCamera, ScreenCamera, V4L2Camera
from hardware.card_reader import SerialCardReader
from hardware.mics import AlsaMic, PulseMic
from hardware.ptz import ptz_from_url
from hardware.sources import CameraSource, MicSource
from hardware.synthetic import SyntheticCamera, SyntheticMic, SyntheticScreen
from storage.multipart import Backoff, ResumableUploader
from storage.object_store import ObjectStore
from storage.ratelimit import RateLimit
from storage.seaweed import read_connection
from storage.upload_journal import UploadJournal
from streaming.ffmpeg_bin import resolve_ffmpeg
from streaming.recorder import EncodeSettings


def encode_settings(settings: Settings) -> EncodeSettings:
    m = settings.media
    return EncodeSettings(
        segment_seconds=m.segment_seconds,
        fps=m.fps,
        video_bitrate=m.video_bitrate,
        x264_preset=m.x264_preset,
        segment_timeout_s=m.segment_timeout_s,
    )


async def build_agent(
    settings: Settings,
    classroom_id: int,
    portal_url: str,
    token: str,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Agent:
    store = ObjectStore(
        agent_connection(settings), settings.storage.bucket, settings.storage.region
    )
    config = AgentConfig(
        classroom_id=classroom_id,
        workdir=agent_workdir(settings.data_dir, classroom_id).resolve(),
        ffmpeg=resolve_ffmpeg(settings.media.ffmpeg),
        encode=encode_settings(settings),
        poll_wait_s=settings.agent.poll_wait_s,
        preroll_s=settings.agent.preroll_s,
        postroll_s=settings.agent.postroll_s,
        schedule_refresh_s=settings.agent.schedule_refresh_s,
        report_retry_max_s=settings.agent.retry_backoff_max_s,
        heartbeat_s=settings.agent.heartbeat_s,
        preview_s=settings.agent.preview_s,
        silence_alert_s=settings.agent.silence_alert_s,
        unreachable_alert_s=settings.agent.unreachable_alert_s,
        min_free_bytes=settings.agent.min_free_mb * 1024**2,
        retention_days=settings.agent.retention_days,
        metrics_port=settings.agent.metrics_port,
        composite=settings.media.composite,
        live=settings.live.enabled,
        live_max_viewers=settings.live.webrtc_max_viewers,
        gallery_sync_s=settings.agent.gallery_sync_s,
    )
    camera = camera_from_setting(
        settings.media.camera,
        settings.media.video_size,
        settings.media.fps,
        settings.media.rtsp_transport,
    )
    portal = PortalClient(portal_url, token, settings.agent.retry_backoff_max_s, transport)
    journal = UploadJournal(config.workdir / UPLOADS)
    kbps = settings.agent.upload_kbps
    uploader = ResumableUploader(
        store,
        journal,
        backoff=Backoff(cap_s=settings.agent.retry_backoff_max_s),
        limit=RateLimit(kbps * 1000 / 8) if kbps else None,
        workers=settings.agent.upload_parts_in_flight or None,
    )
    m = settings.media
    return Agent(
        config,
        portal,
        store,
        camera,
        mic_from_setting(m.mic),
        uploader,
        ptz_from_url(m.ptz),
        screen_from_setting(m.screen, m.screen_size, m.screen_fps),
        SerialCardReader(m.card_reader, m.card_reader_baud) if m.card_reader else None,
        door_from_setting(m.door_camera),
        find_store=None
        if configured_connection(settings)
        else lambda: read_connection(embedded_store_dir(settings)),
    )


def camera_from_setting(
    value: str, size: str, fps: int, rtsp_transport: str = "tcp"
) -> CameraSource:
    if value.startswith("v4l2:"):
        return V4L2Camera(value.removeprefix("v4l2:"), size, fps)
    if value.startswith("screen:"):
        return ScreenCamera(value.removeprefix("screen:") or ":0.0", size, fps)
    if value.startswith(("rtsp://", "udp://")):
        return NetworkCamera(value, rtsp_transport=rtsp_transport)
    return SyntheticCamera(size=size, fps=fps)


def door_from_setting(value: str) -> CameraSource | None:
    """The door camera: frames are scaled to 640×480 for the face networks whatever it sends."""
    if not value:
        return None
    if value.startswith("file:"):
        return FileCamera(value.removeprefix("file:"))
    return camera_from_setting(value, "1280x720", 10)


def screen_from_setting(value: str, size: str, fps: int) -> CameraSource | None:
    if not value:
        return None
    if value == "synthetic":
        return SyntheticScreen(size=size, fps=fps)
    return camera_from_setting(value, size, fps)


def mic_from_setting(value: str) -> MicSource | None:
    if value == "none":
        return None
    if value.startswith("alsa:"):
        return AlsaMic(value.removeprefix("alsa:"))
    if value.startswith("pulse:"):
        return PulseMic(value.removeprefix("pulse:"))
    if value == "silent":
        return SyntheticMic(silent=True)
    return SyntheticMic()


async def run_until_stopped(agent: Agent, stop: asyncio.Event) -> None:
    """Run the agent until ``stop`` is set, then stop recordings and finish uploads in order."""
    task = asyncio.create_task(agent.run())
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await cancel_and_wait(stopper, task)
        await agent.shutdown()
        await agent.portal.aclose()
    if task.done() and not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]

"""Capture devices: discovery, probing, and an IP camera recorded by stream copy."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import av
import pytest

from hardware.cameras import NetworkCamera, ScreenCamera, V4L2Camera
from hardware.discovery import ProbeError, audio_cards, probe, video_devices
from hardware.mics import AlsaMic, PulseMic
from streaming.ffmpeg_bin import resolve_ffmpeg
from streaming.recorder import EncodeSettings, SegmentRecorder, build_command
from streaming.standin import camera_encode, rtsp_camera, udp_camera


def test_video_devices_and_audio_cards_are_read_from_sysfs_and_procfs(tmp_path: Path) -> None:
    for n, name in ((0, "HD Pro Webcam C920"), (2, "USB3 HDMI Capture"), (10, "later")):
        node = tmp_path / "sys" / "class" / "video4linux" / f"video{n}"
        node.mkdir(parents=True)
        (node / "name").write_text(name + "\n")
    cards = tmp_path / "proc" / "asound"
    cards.mkdir(parents=True)
    (cards / "cards").write_text(
        " 0 [PCH            ]: HDA-Intel - HDA Intel PCH\n"
        "                      HDA Intel PCH at 0xf7f10000 irq 32\n"
        " 1 [C920           ]: USB-Audio - HD Pro Webcam C920\n"
        "                      HD Pro Webcam C920 at usb-0000:00:14.0-2, high speed\n"
    )
    videos = video_devices(tmp_path / "sys")
    assert [(v.path, v.name) for v in videos] == [
        ("/dev/video0", "HD Pro Webcam C920"),
        ("/dev/video2", "USB3 HDMI Capture"),
        ("/dev/video10", "later"),
    ]
    found = audio_cards(tmp_path / "proc")
    assert [(a.alsa, a.id, a.name) for a in found] == [
        ("hw:0,0", "PCH", "HDA-Intel - HDA Intel PCH"),
        ("hw:1,0", "C920", "USB-Audio - HD Pro Webcam C920"),
    ]
    assert video_devices(tmp_path / "nowhere") == [] and audio_cards(tmp_path / "none") == []


def test_probe_reports_codec_size_and_rate(tmp_path: Path) -> None:
    gen = probe("testsrc2=size=640x360:rate=25", "lavfi")
    assert (gen.streams[0].kind, gen.streams[0].width, gen.streams[0].height) == ("video", 640, 360)
    assert gen.streams[0].fps == 25
    clip = tmp_path / "clip.mp4"
    subprocess.run(
        [
            resolve_ffmpeg(),
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=15",
            "-f",
            "lavfi",
            "-i",
            "sine=sample_rate=48000",
            "-t",
            "1",
            "-c:v",
            "libx264",
            "-c:a",
            "aac",
            str(clip),
        ],
        check=True,
    )
    info = probe(str(clip))
    kinds = {s.kind: s for s in info.streams}
    assert kinds["video"].codec == "h264" and kinds["video"].fps == 15
    assert kinds["audio"].sample_rate == 48000 and kinds["audio"].channels == 1
    with pytest.raises(ProbeError, match="cannot open"):
        probe(str(tmp_path / "missing.mp4"))


def test_cli_devices_list_and_probe(tmp_path: Path) -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "classroom.cli", "devices", "list", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0
    assert set(json.loads(listed.stdout)) == {"video", "audio"}
    probed = subprocess.run(
        [
            sys.executable,
            "-m",
            "classroom.cli",
            "devices",
            "probe",
            "-f",
            "lavfi",
            "testsrc2=size=320x240:rate=10",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probed.returncode == 0 and json.loads(probed.stdout)["streams"][0]["width"] == 320
    bad = subprocess.run(
        [sys.executable, "-m", "classroom.cli", "devices", "probe", "/nope"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1 and "cannot open" in bad.stderr


def test_device_inputs_name_the_right_ffmpeg_demuxers(tmp_path: Path) -> None:
    v4l2 = V4L2Camera("/dev/video2", "1920x1080", 30, "mjpeg").ffmpeg_input()
    assert (v4l2.url, v4l2.options["f"], v4l2.options["input_format"]) == (
        "/dev/video2",
        "v4l2",
        "mjpeg",
    )
    assert ScreenCamera(":1.0").ffmpeg_input().options["f"] == "x11grab"
    rtsp = NetworkCamera("rtsp://10.0.0.9/stream1").ffmpeg_input()
    assert rtsp.copy_video and rtsp.options["rtsp_transport"] == "tcp"
    assert AlsaMic("hw:1,0").ffmpeg_input().options["f"] == "alsa"
    assert PulseMic().ffmpeg_input().options["f"] == "pulse"
    args = build_command(
        "ffmpeg", NetworkCamera("rtsp://10.0.0.9/s"), None, tmp_path, EncodeSettings()
    )
    assert "copy" in args and "libx264" not in args  # no encoder for an IP camera
    v4l2_args = build_command(
        "ffmpeg", V4L2Camera("/dev/video2", "1920x1080"), None, tmp_path, EncodeSettings()
    )
    assert "libx264" in v4l2_args
    size = v4l2_args.index("-video_size")
    assert v4l2_args[size + 1] == "1920x1080"  # not ffmpeg-python's "1x9" of a string
    screen_args = build_command("ffmpeg", ScreenCamera(":1.0"), None, tmp_path, EncodeSettings())
    assert screen_args[screen_args.index("-video_size") + 1] == "1920x1080"


TEST_PATTERN = ["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25"]


@pytest.mark.slow
@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["rtsp", "udp"])
async def test_ip_camera_is_recorded_by_stream_copy(tmp_path: Path, kind: str) -> None:
    """A stand-in IP camera serves RTSP (through an RTSP server, RTP over UDP) or sends MPEG-TS;
    the recorder keeps its H.264 as it is (no encoder runs) and the segments decode."""
    publish = rtsp_camera if kind == "rtsp" else udp_camera
    async with publish(TEST_PATTERN, camera_encode(25)) as url:
        cam = NetworkCamera(url, rtsp_transport="udp")
        rec = SegmentRecorder(
            resolve_ffmpeg(), cam, None, tmp_path, EncodeSettings(segment_seconds=1)
        )
        await rec.start()
        await asyncio.sleep(4)
        segments = await rec.stop()
    assert len(segments) >= 2 and not rec.faults, rec.faults
    run_log = " ".join(build_command(resolve_ffmpeg(), cam, None, tmp_path, EncodeSettings()))
    assert "-c:v copy" in run_log or "-vcodec copy" in run_log, run_log
    with av.open(str(segments[1].path)) as c:
        v = c.streams.video[0]
        assert (v.codec_context.name, v.codec_context.width, v.codec_context.height) == (
            "h264",
            640,
            360,
        )
        assert sum(1 for _ in c.decode(v)) >= 20


def test_devices_are_chosen_by_settings() -> None:
    from classroom.agent.launch import camera_from_setting, mic_from_setting
    from classroom.settings import SettingsError, load_settings
    from hardware.synthetic import SyntheticCamera, SyntheticMic

    assert camera_from_setting("v4l2:/dev/video2", "1280x720", 30) == V4L2Camera(
        "/dev/video2", "1280x720", 30
    )
    assert camera_from_setting("screen:", "1920x1080", 15) == ScreenCamera(":0.0", "1920x1080", 15)
    assert camera_from_setting("rtsp://cam/1", "x", 1) == NetworkCamera("rtsp://cam/1")
    assert isinstance(camera_from_setting("synthetic", "640x360", 25), SyntheticCamera)
    assert mic_from_setting("alsa:hw:1,0") == AlsaMic("hw:1,0")
    assert mic_from_setting("pulse:default") == PulseMic("default")
    assert mic_from_setting("none") is None and isinstance(
        mic_from_setting("synthetic"), SyntheticMic
    )
    with pytest.raises(SettingsError, match="CLASSROOM_MEDIA__CAMERA"):
        load_settings(media={"camera": "/dev/video0"})

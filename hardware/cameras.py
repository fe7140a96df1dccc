"""Real camera drivers: USB/HDMI capture (V4L2), the local screen (x11grab), IP cameras."""

from __future__ import annotations

from dataclasses import dataclass

from hardware.sources import FfmpegInput


@dataclass(frozen=True)
class V4L2Camera:
    """A USB webcam or an HDMI capture card at /dev/videoN."""

    device: str = "/dev/video0"
    size: str = "1280x720"
    fps: int = 30
    input_format: str = ""  # e.g. "mjpeg" for webcams that only reach 720p30 compressed
    name: str = "v4l2-camera"

    def ffmpeg_input(self) -> FfmpegInput:
        opts: dict[str, str | int | float] = {
            "f": "v4l2",
            "video_size": self.size,
            "framerate": self.fps,
            "thread_queue_size": 512,
        }
        if self.input_format:
            opts["input_format"] = self.input_format
        return FfmpegInput(self.device, opts)


@dataclass(frozen=True)
class ScreenCamera:
    """The classroom PC's screen (slides) through X11."""

    display: str = ":0.0"
    size: str = "1920x1080"
    fps: int = 15
    draw_mouse: bool = True
    name: str = "screen"

    def ffmpeg_input(self) -> FfmpegInput:
        return FfmpegInput(
            self.display,
            {
                "f": "x11grab",
                "video_size": self.size,
                "framerate": self.fps,
                "draw_mouse": int(self.draw_mouse),
            },
        )


@dataclass(frozen=True)
class NetworkCamera:
    """An IP camera's own H.264 stream, kept as it is (stream copy: no encoder at all).

    RTSP over TCP by default (no lost packets on a busy classroom LAN; ``rtsp_transport="udp"``
    for cameras and relays that only offer RTP over UDP); an MPEG-TS URL (``udp://…``) works the
    same way.
    """

    url: str
    copy: bool = True
    timeout_s: float = 5.0
    name: str = "ip-camera"
    rtsp_transport: str = "tcp"

    def ffmpeg_input(self) -> FfmpegInput:
        opts: dict[str, str | int | float] = {}
        if self.url.startswith("rtsp://"):
            opts["rtsp_transport"] = self.rtsp_transport
            opts["timeout"] = int(self.timeout_s * 1_000_000)
        elif self.url.startswith("udp://"):
            opts["f"] = "mpegts"
        return FfmpegInput(self.url, opts, copy_video=self.copy)


@dataclass(frozen=True)
class FileCamera:
    """A video file played as a camera, looped at its own pace: a door camera's stand-in for
    demonstrations and tests (a real one is a V4L2 or IP camera)."""

    path: str
    name: str = "file-camera"

    def ffmpeg_input(self) -> FfmpegInput:
        return FfmpegInput(self.path, {"stream_loop": -1}, realtime=True)

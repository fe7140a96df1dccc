"""A finished recording for players: the HLS playlist over stored segments (a discontinuity where
the agent restarted), and chapters where slides change, found by ffmpeg's scene detection in a
real encoded screen track."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from hardware.synthetic import SyntheticScreen
from streaming.ffmpeg_bin import resolve_ffmpeg
from streaming.vod import VodSegment, hls_playlist, scene_changes, thumbnail

pytestmark = pytest.mark.anyio


def test_the_playlist_lists_the_segments_and_marks_restarts() -> None:
    text = hls_playlist(
        [
            VodSegment("r0001-00000.ts", 4.0),
            VodSegment("r0001-00001.ts", 3.2),
            VodSegment("r0002-00000.ts", 4.1),
        ]
    )
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U" and "#EXT-X-TARGETDURATION:5" in lines
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in lines and lines[-1] == "#EXT-X-ENDLIST"
    assert [x for x in lines if x.endswith(".ts")] == [
        "r0001-00000.ts",
        "r0001-00001.ts",
        "r0002-00000.ts",
    ]
    # The restart: one discontinuity, right before the second run's first segment.
    at = lines.index("#EXT-X-DISCONTINUITY")
    assert lines.count("#EXT-X-DISCONTINUITY") == 1 and lines[at + 2] == "r0002-00000.ts"
    assert "#EXTINF:3.200," in lines
    with pytest.raises(ValueError):
        hls_playlist([])


@pytest.mark.slow
async def test_chapters_start_where_the_slides_change(tmp_path: Path) -> None:
    ffmpeg = resolve_ffmpeg()
    src = SyntheticScreen(size="640x360", fps=5, slide_s=3).ffmpeg_input()
    screen = tmp_path / "screen.mp4"
    encode = ["-t", "10", "-c:v", "libx264", "-preset", "ultrafast", str(screen)]
    await asyncio.to_thread(
        subprocess.run,
        [ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", src.url, *encode],
        check=True,
        timeout=60,
    )
    starts = await scene_changes(ffmpeg, screen, min_gap_s=1.0)
    assert starts[0] == 0 and len(starts) == 4, starts  # slides 1–4: at 0, 3, 6, 9 s
    assert all(abs(got - want) < 0.5 for got, want in zip(starts, (0, 3, 6, 9), strict=True))
    # Changes closer together than the minimum make one chapter.
    assert await scene_changes(ffmpeg, screen, min_gap_s=4.0) == [0.0, starts[2]]
    thumb = tmp_path / "t.jpg"
    await thumbnail(ffmpeg, screen, starts[1] + 0.5, thumb)
    assert thumb.read_bytes()[:2] == b"\xff\xd8"

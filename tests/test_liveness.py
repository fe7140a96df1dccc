"""The head-turn challenge on landmark sequences: a turn to the side asked passes, a still face
(a photo) or a turn to the other side fails, a face much narrower than its frontal frame (a flat
photo slanted) does not count, and the window closes. Then on a real man's head turning in two
webcam recordings: his turn passes to the side he turned and not the other, and a photo of him
shown as the attacks do never passes."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from classroom.faces.engine import Face, FaceEngine
from classroom.faces.liveness import (
    MIN_BREADTH,
    WINDOW_S,
    HeadTurnChallenge,
    Pose,
    pose,
    seen_pose,
    yaw,
)
from tests.face_helpers import both_ways_turn, one_way_turn, photo_attacks, screen_attacks


def run(side: int, yaws: list[float], step: float = 0.2) -> str:
    """Frames of these yaws, every face as broad as the first."""
    c = HeadTurnChallenge(person_id=1, started=0.0, side=side)
    state = "pending"
    for i, y in enumerate(yaws):
        state = c.feed(Pose(y, (1.6, 0.9)), i * step)
        if state != "pending":
            break
    return state


def test_a_turn_to_the_side_asked_passes() -> None:
    assert run(+1, [0.02, 0.05, 0.15, 0.28]) == "passed"
    assert run(-1, [0.0, -0.12, -0.31]) == "passed"


def test_a_photo_held_still_never_passes() -> None:
    assert run(+1, [0.03] * 40) == "failed"  # the window closes: 40 × 0.2 s > 6 s


def test_the_wrong_side_or_no_frontal_start_does_not_pass() -> None:
    assert run(+1, [0.0, -0.35, -0.4] + [0.0] * 30) == "failed"
    assert run(+1, [0.3] * 40) == "failed"  # already turned (a turned photo): no frontal start


def test_the_window() -> None:
    c = HeadTurnChallenge(person_id=1, started=0.0, side=1)
    assert c.feed(Pose(0.0, (1.6, 0.9)), 1.0) == "pending"
    assert c.feed(Pose(0.3, (1.6, 0.9)), WINDOW_S + 0.1) == "failed"
    assert HeadTurnChallenge(1, 0.0, side=1).direction == "left"  # their left: image right
    assert HeadTurnChallenge(1, 0.0, side=-1).direction == "right"


def test_either_side_for_a_door_camera_with_no_screen_to_ask() -> None:
    assert run(0, [0.02, 0.25]) == "passed"
    assert run(0, [0.0, -0.25]) == "passed"
    assert run(0, [0.03] * 40) == "failed"  # still
    assert run(0, [0.3] * 40) == "failed"  # turned from the start (a turned photo)
    assert HeadTurnChallenge(1, 0.0, side=0).direction == "either"


def face(points: list[tuple[float, float]], roll_deg: float = 0.0) -> Face:
    """Landmarks (right eye, left eye, nose, mouth corners) rolled about the eyes' midpoint."""
    a = math.radians(roll_deg)
    cx, cy = (points[0][0] + points[1][0]) / 2, (points[0][1] + points[1][1]) / 2
    turned = tuple(
        (
            cx + (x - cx) * math.cos(a) - (y - cy) * math.sin(a),
            cy + (x - cx) * math.sin(a) + (y - cy) * math.cos(a),
        )
        for x, y in points
    )
    return Face((0.0, 0.0, 100.0, 100.0), turned, 0.9, None)


def test_a_face_rolled_in_its_plane_shows_no_turn() -> None:
    """A photo tilted 30° moves its nose 0.35 eye distances sideways in the image: that is no
    turn. A real turn (the nose off the eyes' midpoint along their line) reads the same rolled."""
    frontal = [(40.0, 50.0), (80.0, 50.0), (60.0, 78.0), (45.0, 95.0), (75.0, 95.0)]
    turned = [(40.0, 50.0), (80.0, 50.0), (70.0, 78.0), (47.0, 95.0), (77.0, 95.0)]
    for roll in (-35.0, -25.0, 0.0, 25.0, 35.0):
        assert abs(yaw(face(frontal, roll))) < 1e-9
        assert math.isclose(yaw(face(turned, roll)), 0.25)


def test_the_turn_is_counted_from_the_persons_own_frontal_yaw() -> None:
    assert run(+1, [0.08, 0.20] + [0.20] * 30) == "failed"  # 0.12 from where they looked
    assert run(+1, [-0.06, 0.10]) == "passed"  # 0.16 from where they looked


def test_a_slow_turn_counts_from_where_they_looked_straight() -> None:
    """The frames on the way out are frontal too (under 0.10): counted from the latest of them
    (0.09), a turn to 0.16 would read 0.07; from the median of the frontal frames, 0.16."""
    slow = [0.0] * 5 + [0.03, 0.06, 0.09, 0.12, 0.16]
    assert run(+1, slow) == "passed"
    assert run(+1, [0.0] * 5 + [0.03, 0.06, 0.09, 0.12] + [0.12] * 30) == "failed"


def test_a_turn_on_a_face_much_narrower_than_its_frontal_one_does_not_count() -> None:
    """A flat photo slanted 55-60° can read as a turn, but looks far narrower than a head turned
    that much: it does not pass; a real turn's narrowing (0.91 at least in the test videos)
    does."""
    frontal = Pose(0.02, (1.6, 0.9))
    for side, turn in ((+1, 0.25), (-1, -0.25), (0, 0.3)):
        slanted = HeadTurnChallenge(1, 0.0, side=side)
        slanted.feed(frontal, 0.0)
        narrow = Pose(turn, (1.6 * 0.6, 0.9 * 0.95))
        assert narrow.narrowing(frontal) == pytest.approx(0.6)
        assert all(slanted.feed(narrow, 0.2 * i) == "pending" for i in range(1, 20))
        real = HeadTurnChallenge(1, 0.0, side=side)
        real.feed(frontal, 0.0)
        turned = Pose(turn, (1.6 * 0.85, 0.9 * (MIN_BREADTH + 0.01)))
        assert real.feed(turned, 0.2) == "passed"


def test_breadth_is_the_eyes_spread_over_their_height_above_nose_and_mouth() -> None:
    frontal = [(40.0, 50.0), (80.0, 50.0), (60.0, 70.0), (45.0, 90.0), (75.0, 90.0)]
    for roll in (-30.0, 0.0, 30.0):
        seen = pose(face(frontal, roll))
        assert seen.breadth == pytest.approx((2.0, 1.0))  # 40 across, 20 and 40 below the eyes
    squeezed = [(45.0, 50.0), (75.0, 50.0), (60.0, 70.0), (48.0, 90.0), (72.0, 90.0)]
    assert pose(face(squeezed)).narrowing(pose(face(frontal))) == pytest.approx(0.75)


@pytest.fixture(scope="module")
def engine() -> FaceEngine:
    return FaceEngine()


def seen(engine: FaceEngine, frame: np.ndarray) -> Pose | None:
    found = engine.detect(frame)
    return seen_pose(engine, frame, found[0]) if found else None


def challenged(engine: FaceEngine, frames: list[np.ndarray], side: int, width: int = 640) -> bool:
    """Whether these frames, five a second, pass the challenge; at the door camera's 640×480 or
    the kiosk's 480×360."""
    c = HeadTurnChallenge(person_id=1, started=0.0, side=side)
    for i, frame in enumerate(frames):
        if width != frame.shape[1]:
            frame = cv2.resize(frame, (width, width * 3 // 4), interpolation=cv2.INTER_AREA)
        got = seen(engine, frame)
        if got is not None and c.feed(got, 0.2 * i) == "passed":
            return True
    return False


@pytest.mark.parametrize("width", [640, 480])
def test_a_real_head_turn_passes_to_the_side_turned(engine: FaceEngine, width: int) -> None:
    """A man at his webcam: in one recording he turns about 15° to his right and then his left,
    in the other only to his left (the image's right). Each passes the side he turned, and the
    mirror image of the one-way turn passes the other side: the turn reads alike either way."""
    both = both_ways_turn()
    for side in (1, -1, 0):
        assert challenged(engine, both, side, width), side
    one = one_way_turn()
    assert challenged(engine, one, +1, width) and challenged(engine, one, 0, width)
    assert not challenged(engine, one, -1, width)
    mirrored = [cv2.flip(frame, 1) for frame in one]
    assert challenged(engine, mirrored, -1, width)
    assert not challenged(engine, mirrored, +1, width)


def test_the_turn_reads_the_same_rolled_or_nearer(engine: FaceEngine) -> None:
    """Read on the level cut-out at one size: the same frame rolled 15–30° or seen at 0.6–1.4
    times the size reads within 0.06 of itself (the landmarks of the frame as it is were off by
    up to 0.2 between sizes)."""
    one = one_way_turn()
    for frame in (one[0], one[13]):
        straight = seen(engine, frame)
        assert straight is not None
        for roll, scale in ((-30, 1.0), (-15, 1.0), (15, 1.0), (30, 1.0), (0, 0.6), (0, 1.4)):
            m = cv2.getRotationMatrix2D((320, 240), roll, scale)
            moved = seen(engine, cv2.warpAffine(frame, m, (640, 480), borderValue=(40, 40, 40)))
            assert moved is not None and abs(moved.yaw - straight.yaw) < 0.06, (roll, scale)


def test_a_photo_of_him_never_passes(engine: FaceEngine) -> None:
    """A frame of him looking straight, printed and held up rolled, turned or bent, or shown on
    a phone held straight and then moved: no side passes."""
    front = one_way_turn()[0]
    shown = [(front, attack) for attack in photo_attacks(front)] + screen_attacks(front)
    for first, attack in shown:
        for side in (1, -1, 0):
            assert not challenged(engine, [first, first, attack, attack], side)

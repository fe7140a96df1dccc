"""The head-turn challenge on landmark sequences: a turn to the side asked passes, a still face
(a photo) or a turn to the other side fails, a face much narrower than its frontal frame (a flat
photo slanted) does not count, and the window closes."""

from __future__ import annotations

import math

import pytest

from classroom.faces.engine import Face
from classroom.faces.liveness import MIN_BREADTH, WINDOW_S, HeadTurnChallenge, Pose, pose, yaw


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
    assert run(+1, [0.08, 0.25] + [0.25] * 30) == "failed"  # 0.17 from where they looked
    assert run(+1, [-0.08, 0.15]) == "passed"  # 0.23 from where they looked


def test_a_turn_on_a_face_much_narrower_than_its_frontal_one_does_not_count() -> None:
    """A flat photo slanted 55-60° can read as a turn, but looks far narrower than a head turned
    that much: it does not pass; a real turn's narrowing (the shipped poses: 0.76 at least)
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

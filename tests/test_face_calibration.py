"""Calibrating face matching on labelled photos: identities from the pairs, the rates at a
threshold, the threshold for a target, and `classroom faces calibrate` on the shipped photos."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from classroom.faces.calibration import (
    CalibrationError,
    Scores,
    labels,
    rates,
    read_pairs,
    threshold_for,
)
from tests.face_helpers import FACES
from tests.test_cli import run


def test_identities_follow_the_same_pairs_and_differ_where_said() -> None:
    said = [("a1", "a2", True), ("a2", "a3", True), ("b1", "b2", True), ("a3", "b1", False)]
    lab = labels([*said, ("c1", "a1", True)])
    assert len({lab.identity[p] for p in ("a1", "a2", "a3", "c1")}) == 1
    assert lab.identity["b1"] == lab.identity["b2"] != lab.identity["a1"]
    assert lab.different == {frozenset((lab.identity["a1"], lab.identity["b1"]))}
    with pytest.raises(CalibrationError, match="said to differ"):
        labels([("a1", "a2", True), ("a2", "a3", True), ("a3", "a1", False)])


def test_the_pairs_file_says_which_line_is_wrong(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("file_x,file_y,Decision\na.jpg,b.jpg,Yes\n\nb.jpg,c.jpg,perhaps\n")
    with pytest.raises(CalibrationError, match=r"pairs.csv:4: decision 'perhaps'"):
        read_pairs(pairs)
    pairs.write_text("file_x,file_y,Decision\na.jpg,b.jpg,Same\nb.jpg,c.jpg,0\n")
    assert read_pairs(pairs) == [("a.jpg", "b.jpg", True), ("b.jpg", "c.jpg", False)]


def test_rates_and_the_threshold_for_a_target() -> None:
    scores = Scores(
        genuine=np.array([0.45, 0.6, 0.7, 0.8]),
        impostor=np.array([0.1, 0.2, 0.25, 0.3, 0.38, 0.41, 0.05, 0.0, 0.12, 0.15]),
    )
    at = rates(scores, 0.363)
    assert (at.false_match, at.false_non_match) == (0.2, 0.0)
    assert rates(scores, 0.5).false_non_match == 0.25
    assert threshold_for(scores, 0.0) == 0.411  # above every impostor pair
    assert threshold_for(scores, 0.1) == 0.381  # one of ten may pass
    assert rates(scores, threshold_for(scores, 0.1)).false_match == 0.1


def test_calibrate_on_the_shipped_photos(tmp_path: Path) -> None:
    """Three photos of one man and one of another: three genuine pairs, three impostor pairs,
    each photo found and no stranger taken at the shipped operating point; a photo without a face
    and a path outside the folder are refused with exit status 1."""
    folder = tmp_path / "photos"
    shutil.copytree(FACES, folder)
    pairs = folder / "pairs.csv"
    pairs.write_text(
        "file_x,file_y,Decision\n"
        "obama.jpg,obama2.jpg,Yes\nobama2.jpg,obama_partial_face.jpg,Yes\nobama.jpg,biden.jpg,No\n"
    )
    r = run(tmp_path, "faces", "calibrate", str(pairs), "--json")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert (got["photos"], got["identities"]) == (4, 2)
    assert (got["genuine_pairs"], got["impostor_pairs"]) == (3, 3)
    assert got["configured"]["false_match"] == got["configured"]["false_non_match"] == 0
    assert got["impostor_highest"] < got["configured"]["threshold"] < got["genuine_lowest"]
    found = got["configured_identification"]
    assert (found["shown"], found["found"], found["strangers_taken"]) == (2, 2, 0)

    kiosk = run(tmp_path, "faces", "calibrate", str(pairs), "--probe-face-px", "90", "--json")
    assert kiosk.returncode == 0, kiosk.stderr
    assert json.loads(kiosk.stdout)["genuine_pairs"] == 6  # each way: enrolled against probe

    (folder / "blank.png").write_bytes((FACES / "LICENSE").read_bytes())
    pairs.write_text("file_x,file_y,Decision\nobama.jpg,blank.png,No\n")
    bad = run(tmp_path, "faces", "calibrate", str(pairs))
    assert bad.returncode == 1 and "blank.png: not a JPEG or PNG image" in bad.stderr
    pairs.write_text("file_x,file_y,Decision\nobama.jpg,../../etc/passwd,No\n")
    outside = run(tmp_path, "faces", "calibrate", str(pairs))
    assert outside.returncode == 1 and "outside" in outside.stderr

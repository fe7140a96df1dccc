"""Where the shipped model (SFace, OpenCV Zoo's block-quantized int8) decides that two faces are
one person: cosine similarity at least MATCH_THRESHOLD, and the best person ahead of the next by
MATCH_MARGIN (else the kiosk asks for the card).

Calibrated on labelled photos with `classroom faces calibrate` (docs/benchmarks.md, "Face
matching"): OpenCV's figure for the full-precision model, 0.363, let 0.2–0.45% of impostor
pairs through, and took 1–2 of 61 strangers for someone enrolled; at 0.42, 0.1% or none and no
stranger, while no genuine pair scored below 0.455. A bureau re-calibrates on its own people the
same way and sets ``[faces] match_threshold`` / ``match_margin``."""

MATCH_THRESHOLD = 0.42
MATCH_MARGIN = 0.05

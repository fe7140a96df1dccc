"""`make bench` / `python -m bench`: run every benchmark and print one table.

Each benchmark reports its candidate against a baseline measured in the same run, as a ratio, so
the numbers mean the same on a faster or a busier machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench import (
    agent_import,
    capture,
    checkin,
    compliance,
    faces,
    faults,
    live,
    liveness,
    login_flood,
    playback,
    roster,
    segment_check,
    stop_playable,
    upload,
)
from bench.common import Result, print_table

BENCHES = {
    "playback": playback.run,
    "segment_check": segment_check.run,
    "compliance": compliance.run,
    "upload": upload.run,
    "capture": capture.run,
    "faces": faces.run,
    "checkin": checkin.run,
    "login_flood": login_flood.run,
    "live": live.run,
    "faults": faults.run,
    "roster": roster.run,
    "agent_import": agent_import.run,
    "liveness": liveness.run,
    "stop_playable": stop_playable.run,
}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", choices=[[], *BENCHES], help="default: all")
    args = parser.parse_args()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="classroom-bench-") as tmp:
        for name in args.names or list(BENCHES):
            print(f"running {name} …", file=sys.stderr, flush=True)
            results.extend(BENCHES[name](Path(tmp) / name))
    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Rules about the source itself that a linter does not check."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("hardware", "streaming", "storage", "classroom", "web")


def test_no_asyncio_wait_for() -> None:
    """In Python 3.11 ``asyncio.wait_for`` loses a cancellation that arrives as the awaited thing
    finishes (CPython gh-86296): an agent told to stop then kept polling for ever. The code uses
    ``async with asyncio.timeout(…)``, which keeps it."""
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "asyncio.wait_for(" in line
    ]
    assert offenders == []

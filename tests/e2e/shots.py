"""Where browser tests save screenshots: var/screenshots/ by default (gitignored), so a test
run leaves the checkout clean; `FLOWDESK_SCREENSHOTS=docs/screenshots make test` refreshes
the pictures the README and docs show."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("FLOWDESK_SCREENSHOTS", REPO / "var" / "screenshots"))
if not SCREENSHOTS.is_absolute():
    SCREENSHOTS = REPO / SCREENSHOTS
SCREENSHOTS.mkdir(parents=True, exist_ok=True)

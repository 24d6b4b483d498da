"""Entry point for `python -m bpmn`."""

from __future__ import annotations

import sys

from bpmn.cli import main

sys.exit(main())

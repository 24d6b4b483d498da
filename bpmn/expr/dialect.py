"""The expression dialects found in real BPMN models."""

from __future__ import annotations

from enum import StrEnum


class Dialect(StrEnum):
    JUEL = "juel"
    FEEL = "feel"
    PYTHON = "python"

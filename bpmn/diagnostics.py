"""Diagnostics: what is wrong with a model, where, and how bad it is."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding about a model file.

    `code` is stable (tools and tests match on it); `message` is for people.
    """

    severity: Severity
    code: str
    message: str
    element_id: str | None = None
    line: int | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def as_dict(self) -> dict[str, object]:
        return {
            "severity": str(self.severity),
            "code": self.code,
            "message": self.message,
            "element_id": self.element_id,
            "line": self.line,
        }

    def format(self, source: str) -> str:
        """`file:line: element_id: code: message`, the CLI's one-line form."""
        line = self.line if self.line is not None else 0
        element = self.element_id or "-"
        return f"{source}:{line}: {element}: {self.code}: {self.message}"


def error(code: str, message: str, element_id: str | None = None,
          line: int | None = None) -> Diagnostic:
    return Diagnostic(Severity.ERROR, code, message, element_id, line)


def warning(code: str, message: str, element_id: str | None = None,
            line: int | None = None) -> Diagnostic:
    return Diagnostic(Severity.WARNING, code, message, element_id, line)

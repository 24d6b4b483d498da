"""Typed domain errors: each has a stable `code` and the HTTP status it maps to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bpmn.diagnostics import Diagnostic


class EngineError(Exception):
    """Base of every error the engine raises on purpose. Mapped to HTTP in one place."""

    code: str = "engine.error"
    http_status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True, slots=True)
class FileDiagnostics:
    """What the loader found in one uploaded file."""

    source: str
    diagnostics: tuple[Diagnostic, ...]

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.diagnostics)

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "diagnostics": [d.as_dict() for d in self.diagnostics]}


class DeploymentInvalid(EngineError):
    """At least one file of a deployment has an error; nothing was deployed."""

    code = "deployment.invalid"
    http_status = 400

    def __init__(self, diagnostics: Sequence[FileDiagnostics]) -> None:
        self.diagnostics: tuple[FileDiagnostics, ...] = tuple(diagnostics)
        errors = [
            d.format(f.source) for f in self.diagnostics for d in f.diagnostics if d.is_error
        ]
        summary = "; ".join(errors[:3])
        if len(errors) > 3:
            summary += f" (and {len(errors) - 3} more)"
        super().__init__(f"deployment refused: {summary}" if summary else "deployment refused")

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "files": [f.as_dict() for f in self.diagnostics]}


class AuditIsAppendOnly(EngineError):
    """Something tried to change or delete an audit row; history is never rewritten."""

    code = "audit.append-only"
    http_status = 403

    def __init__(self, operation: str) -> None:
        self.operation = operation
        super().__init__(f"audit events are append-only: {operation} refused")


class AuditNeedsTransaction(EngineError):
    """An audit append ran outside a transaction, so it could not commit with its cause."""

    code = "audit.no-transaction"
    http_status = 500

    def __init__(self) -> None:
        super().__init__(
            "audit events must be appended inside the transaction of the change they record"
        )

"""Errors raised by the expression language, and the sandbox limits they enforce."""

from __future__ import annotations

# Sandbox limits. They are module constants so that the engine and the tests can read them.
MAX_TEXT_LENGTH = 10_000
MAX_NESTING = 100
MAX_STEPS = 200_000
MAX_SIZE = 1_000_000  # characters of a string, items of a list or context
MAX_INT_BITS = 4096
MAX_PATTERN_LENGTH = 256
MAX_MATCH_INPUT = 100_000


def _where(text: str | None, position: int) -> str:
    if text is None or "\n" not in text[:position]:
        return f"column {position + 1}"
    line = text.count("\n", 0, position) + 1
    column = position - text.rfind("\n", 0, position)
    return f"line {line}, column {column}"


class ExpressionError(Exception):
    """The text is not a valid expression or script (a syntax error, or over a size limit).

    `position` is the 0-based character offset of the problem in the text, or None.
    """

    def __init__(self, message: str, position: int | None = None, text: str | None = None):
        self.message = message
        self.position = position
        human = message if position is None else f"{message} at {_where(text, position)}"
        super().__init__(human)


class EvaluationError(Exception):
    """Evaluating a valid expression failed: unknown variable or function, type error, limit."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


class SoftError(EvaluationError):
    """A type or value error that FEEL turns into null and the other dialects raise."""


class LimitExceeded(EvaluationError):
    """A sandbox limit was hit; never turned into null, in any dialect."""

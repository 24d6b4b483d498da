"""Tokenizer shared by the JUEL, FEEL and Python dialects."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .dialect import Dialect
from .errors import ExpressionError

# Longest first, so that "**" wins over "*".
_OPERATORS = (
    "===",
    "**",
    "//",
    "==",
    "!=",
    "<=",
    ">=",
    "&&",
    "||",
    "..",
    "+",
    "-",
    "*",
    "/",
    "%",
    "<",
    ">",
    "=",
    "!",
    "?",
    ":",
    ".",
    ",",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "@",
)
_OPERATORS_BY_FIRST: dict[str, tuple[str, ...]] = {}
for _op in _OPERATORS:
    _OPERATORS_BY_FIRST[_op[0]] = (*_OPERATORS_BY_FIRST.get(_op[0], ()), _op)
# The characters _is_name_char accepts after the first: letters and digits of any script,
# '_' and '$'.
_NAME_TAIL = re.compile(r"[^\W]*(?:[$][^\W]*)*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "0": "\0"}
_MAX_NUMBER_LENGTH = 400


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "number", "string", "name", "op", "end"
    value: object
    pos: int
    end: int
    space_before: bool = False

    def is_op(self, *ops: str) -> bool:
        return self.kind == "op" and self.value in ops

    def is_word(self, *words: str) -> bool:
        return self.kind == "name" and self.value in words

    def describe(self) -> str:
        if self.kind == "end":
            return "end of expression"
        if self.kind == "string":
            return "string literal"
        return repr(self.value) if self.kind == "op" else f"'{self.value}'"


def _is_digit(ch: str) -> bool:
    return "0" <= ch <= "9"  # str.isdigit() also accepts '²', which int() refuses


def _is_name_start(ch: str) -> bool:
    return ch.isalpha() or ch in "_$"


def _is_name_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_$"


class Lexer:
    """Turns `text[start:stop]` into tokens; positions are offsets into the whole text."""

    def __init__(self, text: str, dialect: Dialect, start: int = 0, stop: int | None = None):
        self.text = text
        self.dialect = dialect
        self.start = start
        self.stop = len(text) if stop is None else stop

    def error(self, message: str, pos: int) -> ExpressionError:
        return ExpressionError(message, pos, self.text)

    def tokens(self) -> list[Token]:
        text, i, stop = self.text, self.start, self.stop
        out: list[Token] = []
        space = False
        while True:
            i, skipped = self._skip_space(i)
            space = space or skipped
            if i >= stop:
                out.append(Token("end", None, stop, stop, space))
                return out
            ch = text[i]
            prev_is_value = bool(out) and (
                out[-1].kind in ("number", "string", "name") or out[-1].is_op(")", "]", "}")
            )
            if _is_digit(ch) or (
                ch == "." and i + 1 < stop and _is_digit(text[i + 1]) and not prev_is_value
            ):
                token = self._number(i)
            elif ch in "\"'":
                token = self._string(i)
            elif _is_name_start(ch):
                match = _NAME_TAIL.match(text, i + 1, stop)
                j = match.end() if match else i + 1
                token = Token("name", text[i:j], i, j)
            else:
                for op in _OPERATORS_BY_FIRST.get(ch, ()):
                    if text.startswith(op, i) and i + len(op) <= stop:
                        token = Token("op", op, i, i + len(op))
                        break
                else:
                    raise self.error(f"unexpected character {ch!r}", i)
            if space:
                token = Token(token.kind, token.value, token.pos, token.end, True)
            out.append(token)
            space = False
            i = token.end

    def _skip_space(self, i: int) -> tuple[int, bool]:
        text, stop = self.text, self.stop
        start = i
        while i < stop:
            ch = text[i]
            if ch.isspace():
                i += 1
            elif self.dialect is Dialect.FEEL and text.startswith("//", i):
                end = text.find("\n", i, stop)
                i = stop if end < 0 else end
            elif self.dialect is Dialect.FEEL and text.startswith("/*", i):
                end = text.find("*/", i + 2, stop)
                if end < 0:
                    raise self.error("unterminated comment", i)
                i = end + 2
            elif self.dialect is Dialect.PYTHON and ch == "#":
                end = text.find("\n", i, stop)
                i = stop if end < 0 else end
            else:
                break
        return i, i > start

    def _number(self, i: int) -> Token:
        text, stop = self.text, self.stop
        j = i
        underscores = self.dialect is Dialect.PYTHON
        while j < stop and (_is_digit(text[j]) or (text[j] == "_" and underscores)):
            j += 1
        is_float = False
        if j < stop and text[j] == "." and j + 1 < stop and _is_digit(text[j + 1]):
            is_float = True
            j += 1
            while j < stop and _is_digit(text[j]):
                j += 1
        elif (
            j < stop
            and text[j] == "."
            and self.dialect is Dialect.PYTHON
            and not text.startswith("..", j)
            and not (j + 1 < stop and _is_name_start(text[j + 1]))
        ):
            is_float = True  # Python "1." is a float
            j += 1
        if j < stop and text[j] in "eE":
            k = j + 1
            if k < stop and text[k] in "+-":
                k += 1
            if k < stop and _is_digit(text[k]):
                is_float = True
                j = k
                while j < stop and _is_digit(text[j]):
                    j += 1
        raw = text[i:j].replace("_", "")
        if j - i > _MAX_NUMBER_LENGTH:
            raise self.error("number literal too long", i)
        if j < stop and _is_name_char(text[j]) and self.dialect is not Dialect.JUEL:
            raise self.error(f"unexpected character {text[j]!r} in number", j)
        if j < stop and text[j] in "lLdDfF" and self.dialect is Dialect.JUEL:
            # Java literal suffixes (10L, 1.5d) appear in Camunda models.
            is_float = is_float or text[j] in "dDfF"
            j += 1
        if not raw or (not _is_digit(raw[-1]) and raw[-1] != "."):
            raise self.error("malformed number", i)
        value: object
        if is_float:
            number = float(raw)
            if not math.isfinite(number):
                raise self.error("number out of range", i)
            value = number
        else:
            value = int(raw)
        return Token("number", value, i, j)

    def _string(self, i: int) -> Token:
        text, stop = self.text, self.stop
        quote = text[i]
        j = i + 1
        chunks: list[str] = []
        while True:
            # Jump to the next quote or backslash instead of walking character by character.
            close = text.find(quote, j, stop)
            if close < 0:
                raise self.error("unterminated string", i)
            backslash = text.find("\\", j, close)
            if backslash < 0:
                chunks.append(text[j:close])
                return Token("string", "".join(chunks), i, close + 1)
            chunks.append(text[j:backslash])
            j = backslash
            if j + 1 >= stop:
                raise self.error("unterminated string", i)
            nxt = text[j + 1]
            if nxt == "u" and j + 6 <= stop:
                digits = text[j + 2 : j + 6]
                if all(c in "0123456789abcdefABCDEF" for c in digits):
                    chunks.append(chr(int(digits, 16)))
                    j += 6
                    continue
            chunks.append(_ESCAPES.get(nxt, nxt))
            j += 2

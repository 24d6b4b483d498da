"""Parsers for the three surface dialects (JUEL, FEEL, Python), all producing one syntax tree."""

from __future__ import annotations

import keyword

from .dialect import Dialect
from .errors import MAX_NESTING, ExpressionError
from .lexer import Lexer, Token
from .nodes import (
    Between,
    Binary,
    Call,
    Conditional,
    ContextExpr,
    Index,
    InTests,
    Iteration,
    ListExpr,
    Literal,
    Logical,
    Member,
    MethodCall,
    Name,
    Node,
    RangeExpr,
    Slice,
    Template,
    Unary,
    UnaryTest,
    children,
)

_JUEL_KEYWORDS = frozenset(
    {"and", "or", "not", "eq", "ne", "lt", "gt", "le", "ge", "empty", "div", "mod"}
    | {"true", "false", "null", "instanceof"}
)
_FEEL_KEYWORDS = frozenset(
    {"and", "or", "if", "then", "else", "for", "in", "return", "some", "every", "satisfies"}
    | {"between", "true", "false", "null"}
)
_PYTHON_KEYWORDS = frozenset(keyword.kwlist)

# FEEL built-in names that contain a keyword, so they cannot be read as one multi-word name.
_FEEL_NAMES_WITH_KEYWORDS = ("years and months duration", "date and time", "get or else")

_LITERALS = {
    Dialect.JUEL: {"true": True, "false": False, "null": None},
    Dialect.FEEL: {"true": True, "false": False, "null": None},
    Dialect.PYTHON: {"True": True, "False": False, "None": None},
}

_COMPARISONS = frozenset({"==", "!=", "<", ">", "<=", ">="})

# (precedence, operator in the tree, tokens consumed)
_Op = tuple[int, str, int]

_JUEL_BINARY: dict[str, tuple[int, str]] = {
    "||": (1, "or"),
    "or": (1, "or"),
    "&&": (2, "and"),
    "and": (2, "and"),
    "==": (3, "=="),
    "eq": (3, "=="),
    "!=": (3, "!="),
    "ne": (3, "!="),
    "<": (4, "<"),
    "lt": (4, "<"),
    ">": (4, ">"),
    "gt": (4, ">"),
    "<=": (4, "<="),
    "le": (4, "<="),
    ">=": (4, ">="),
    "ge": (4, ">="),
    "+": (5, "+"),
    "-": (5, "-"),
    "*": (6, "*"),
    "/": (6, "/"),
    "div": (6, "/"),
    "%": (6, "%"),
    "mod": (6, "%"),
}
_FEEL_BINARY: dict[str, tuple[int, str]] = {
    "or": (1, "or"),
    "and": (2, "and"),
    "=": (3, "=="),
    "!=": (3, "!="),
    "<": (3, "<"),
    ">": (3, ">"),
    "<=": (3, "<="),
    ">=": (3, ">="),
    "between": (3, "between"),
    "in": (3, "in"),
    "+": (5, "+"),
    "-": (5, "-"),
    "*": (6, "*"),
    "/": (6, "/"),
}
_PYTHON_BINARY: dict[str, tuple[int, str]] = {
    "or": (1, "or"),
    "and": (2, "and"),
    "==": (4, "=="),
    "!=": (4, "!="),
    "<": (4, "<"),
    ">": (4, ">"),
    "<=": (4, "<="),
    ">=": (4, ">="),
    "in": (4, "in"),
    "is": (4, "is"),
    "+": (5, "+"),
    "-": (5, "-"),
    "*": (6, "*"),
    "/": (6, "/"),
    "//": (6, "//"),
    "%": (6, "%"),
}
_FEEL_TEST_OPS = (("<=", "<="), (">=", ">="), ("<", "<"), (">", ">"), ("!=", "!="), ("=", "=="))
_PYTHON_NOT = 3
_FEEL_COMPARISON = 3


class Parser:
    """A precedence-climbing parser over one dialect's tokens."""

    def __init__(self, text: str, dialect: Dialect, start: int = 0, stop: int | None = None):
        self.text = text
        self.dialect = dialect
        self.tokens = Lexer(text, dialect, start, stop).tokens()
        self.i = 0
        self.depth = 0
        self.keywords = {
            Dialect.JUEL: _JUEL_KEYWORDS,
            Dialect.FEEL: _FEEL_KEYWORDS,
            Dialect.PYTHON: _PYTHON_KEYWORDS,
        }[dialect]
        self.binary_ops = {
            Dialect.JUEL: _JUEL_BINARY,
            Dialect.FEEL: _FEEL_BINARY,
            Dialect.PYTHON: _PYTHON_BINARY,
        }[dialect]

    # --- token helpers ----------------------------------------------------------------

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        if token.kind != "end":
            self.i += 1
        return token

    def error(self, message: str, token: Token | None = None) -> ExpressionError:
        token = token or self.peek()
        return ExpressionError(message, token.pos, self.text)

    def unexpected(self, token: Token | None = None) -> ExpressionError:
        token = token or self.peek()
        return self.error(f"unexpected {token.describe()}", token)

    def expect_op(self, op: str) -> Token:
        token = self.peek()
        if not token.is_op(op):
            raise self.error(f"expected '{op}' but found {token.describe()}", token)
        return self.advance()

    def expect_word(self, word: str) -> Token:
        token = self.peek()
        if not token.is_word(word):
            raise self.error(f"expected '{word}' but found {token.describe()}", token)
        return self.advance()

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.error(f"expression nested deeper than {MAX_NESTING} levels")

    # --- grammar ----------------------------------------------------------------------

    def parse_all(self) -> Node:
        if self.peek().kind == "end":
            raise self.error("empty expression")
        node = self.expression()
        if self.peek().kind != "end":
            raise self.unexpected()
        return node

    def expression(self) -> Node:
        self.enter()
        try:
            if self.dialect is Dialect.JUEL:
                node = self.binary(1)
                if self.peek().is_op("?"):
                    pos = self.advance().pos
                    then = self.expression()
                    self.expect_op(":")
                    return Conditional(pos, node, then, self.expression())
                return node
            if self.dialect is Dialect.PYTHON:
                node = self.binary(1)
                if self.peek().is_word("if"):
                    pos = self.advance().pos
                    test = self.binary(1)
                    self.expect_word("else")
                    return Conditional(pos, test, node, self.expression())
                return node
            return self.binary(1)
        finally:
            self.depth -= 1

    def binary_op(self) -> _Op | None:
        token = self.peek()
        if token.kind not in ("op", "name"):
            return None
        if self.dialect is Dialect.PYTHON and token.kind == "name":
            if token.value == "not" and self.peek(1).is_word("in"):
                return (4, "not in", 2)
            if token.value == "is" and self.peek(1).is_word("not"):
                return (4, "is not", 2)
        found = self.binary_ops.get(str(token.value))
        if found is None:
            return None
        return (found[0], found[1], 1)

    def binary(self, min_prec: int) -> Node:
        token = self.peek()
        if self.dialect is Dialect.PYTHON and token.is_word("not") and min_prec <= _PYTHON_NOT:
            self.enter()
            try:
                self.advance()
                left: Node = Unary(token.pos, "not", self.binary(_PYTHON_NOT))
            finally:
                self.depth -= 1
        else:
            left = self.unary()
        last_comparison: Node | None = None
        while True:
            found = self.binary_op()
            if found is None or found[0] < min_prec:
                return left
            prec, op, count = found
            op_token = self.peek()
            for _ in range(count):
                self.advance()
            if op == "between":
                low = self.binary(prec + 1)
                self.expect_word("and")
                left = Between(op_token.pos, left, low, self.binary(prec + 1))
                continue
            if op == "in" and self.dialect is Dialect.FEEL:
                left = InTests(op_token.pos, left, self.feel_tests())
                continue
            right = self.binary(prec + 1)
            if op in ("and", "or"):
                left = Logical(op_token.pos, op, left, right)
                last_comparison = None
            elif self.dialect is Dialect.PYTHON and prec == 4:
                # Python chains comparisons: a < b < c means a < b and b < c.
                if last_comparison is not None:
                    link = Binary(op_token.pos, op, last_comparison, right)
                    left = Logical(op_token.pos, "and", left, link)
                else:
                    left = Binary(op_token.pos, op, left, right)
                last_comparison = right
            else:
                left = Binary(op_token.pos, op, left, right)
                last_comparison = None

    def unary(self) -> Node:
        token = self.peek()
        op: str | None = None
        if token.is_op("-"):
            op = "neg"
        elif token.is_op("+") and self.dialect is not Dialect.FEEL:
            op = "pos"
        elif self.dialect is Dialect.JUEL and (token.is_op("!") or token.is_word("not")):
            op = "not"
        elif self.dialect is Dialect.JUEL and token.is_word("empty"):
            op = "empty"
        if op is None:
            return self.power()
        self.enter()
        try:
            self.advance()
            return Unary(token.pos, op, self.unary())
        finally:
            self.depth -= 1

    def power(self) -> Node:
        base = self.postfix(self.primary())
        if self.dialect is not Dialect.JUEL and self.peek().is_op("**"):
            token = self.advance()
            self.enter()
            try:
                return Binary(token.pos, "**", base, self.unary())
            finally:
                self.depth -= 1
        return base

    def postfix(self, node: Node) -> Node:
        while True:
            token = self.peek()
            if token.is_op("."):
                self.advance()
                name = self.peek()
                if name.kind != "name":
                    raise self.error(f"expected a name after '.' but found {name.describe()}")
                self.advance()
                if self.peek().is_op("("):
                    node = MethodCall(name.pos, node, str(name.value), self.arguments())
                else:
                    node = Member(name.pos, node, str(name.value))
            elif token.is_op("["):
                self.advance()
                self.enter()
                try:
                    node = self.subscript(node, token)
                finally:
                    self.depth -= 1
            else:
                return node

    def subscript(self, node: Node, token: Token) -> Node:
        if self.dialect is Dialect.PYTHON:
            start = None if self.peek().is_op(":") else self.expression()
            if self.peek().is_op(":"):
                self.advance()
                stop = None if self.peek().is_op("]") else self.expression()
                self.expect_op("]")
                return Slice(token.pos, node, start, stop)
            self.expect_op("]")
            assert start is not None  # noqa: S101 - a missing start always has a ':'
            return Index(token.pos, node, start)
        index = self.expression()
        self.expect_op("]")
        return Index(token.pos, node, index)

    def arguments(self) -> tuple[Node, ...]:
        self.expect_op("(")
        self.enter()
        try:
            args: list[Node] = []
            while not self.peek().is_op(")"):
                arg = self.expression()
                if self.dialect is Dialect.PYTHON and self.peek().is_word("for") and not args:
                    arg = self.comprehension(arg)  # any(x > 1 for x in xs)
                args.append(arg)
                if not self.peek().is_op(","):
                    break
                self.advance()
            self.expect_op(")")
            return tuple(args)
        finally:
            self.depth -= 1

    def primary(self) -> Node:
        token = self.peek()
        if token.kind in ("number", "string"):
            self.advance()
            return Literal(token.pos, token.value)
        if token.kind == "name":
            return self.name_or_call()
        if token.kind == "op":
            self.enter()
            try:
                if token.is_op("("):
                    return self.parenthesised()
                if token.is_op("["):
                    return self.bracketed()
                if token.is_op("{") and self.dialect is not Dialect.JUEL:
                    return self.braced()
                if token.is_op("@") and self.dialect is Dialect.FEEL:
                    self.advance()
                    literal = self.peek()
                    if literal.kind != "string":
                        raise self.error("expected a string after '@'")
                    self.advance()
                    return Call(token.pos, "@", (Literal(literal.pos, literal.value),))
                if token.is_op("]") and self.dialect is Dialect.FEEL:
                    self.advance()  # ]1..10] is a range open at its low end
                    return self.feel_range(self.binary(_FEEL_COMPARISON + 1), token, False)
            finally:
                self.depth -= 1
        raise self.unexpected(token)

    def name_or_call(self) -> Node:
        token = self.peek()
        word = str(token.value)
        if word in _LITERALS[self.dialect]:
            self.advance()
            return Literal(token.pos, _LITERALS[self.dialect][word])
        if self.dialect is Dialect.FEEL:
            special = self.feel_keyword_form(token)
            if special is not None:
                return special
            word = self.feel_name()
        elif word in self.keywords:
            raise self.unexpected(token)
        else:
            self.advance()
        if self.peek().is_op("("):
            return Call(token.pos, word, self.arguments())
        return Name(token.pos, word)

    def feel_name(self) -> str:
        """A FEEL name may be several words: `Vacation Approval`, `string length`."""
        for candidate in _FEEL_NAMES_WITH_KEYWORDS:
            words = candidate.split()
            if all(self.peek(k).is_word(w) for k, w in enumerate(words)) and self.peek(
                len(words)
            ).is_op("("):
                for _ in words:
                    self.advance()
                return candidate
        first = self.advance()
        if first.value in self.keywords:
            raise self.unexpected(first)
        # XPath conditions in BPMN models call bpmn:getDataObject('name') (BPMN 2.0.2 §10.4).
        if (
            first.value == "bpmn"
            and self.peek().is_op(":")
            and not self.peek().space_before
            and self.peek(1).kind == "name"
            and not self.peek(1).space_before
            and self.peek(2).is_op("(")
        ):
            self.advance()
            return str(self.advance().value)
        words = [str(first.value)]
        while self.peek().kind == "name" and self.peek().value not in self.keywords:
            words.append(str(self.advance().value))
        return " ".join(words)

    def feel_keyword_form(self, token: Token) -> Node | None:
        if token.is_word("if"):
            self.advance()
            self.enter()
            try:
                test = self.expression()
                self.expect_word("then")
                then = self.expression()
                self.expect_word("else")
                return Conditional(token.pos, test, then, self.expression())
            finally:
                self.depth -= 1
        if token.is_word("for", "some", "every"):
            self.advance()
            self.enter()
            try:
                bindings = [self.feel_binding()]
                while self.peek().is_op(","):
                    self.advance()
                    bindings.append(self.feel_binding())
                self.expect_word("return" if token.value == "for" else "satisfies")
                body = self.expression()
                return Iteration(token.pos, str(token.value), tuple(bindings), body)
            finally:
                self.depth -= 1
        return None

    def feel_binding(self) -> tuple[str, Node]:
        if self.peek().kind != "name" or self.peek().value in self.keywords:
            raise self.error(f"expected a name but found {self.peek().describe()}")
        name = self.feel_name()
        self.expect_word("in")
        source = self.expression()
        if self.peek().is_op(".."):
            token = self.advance()
            source = RangeExpr(token.pos, source, self.expression())
        return name, source

    def feel_tests(self) -> tuple[Node, ...]:
        """The right side of FEEL `in`: one test, or a parenthesised list of tests."""
        if self.peek().is_op("(") and not self._looks_like_range():
            self.advance()
            self.enter()
            try:
                tests = [self.feel_test()]
                while self.peek().is_op(","):
                    self.advance()
                    tests.append(self.feel_test())
                self.expect_op(")")
            finally:
                self.depth -= 1
            return tuple(tests)
        return (self.feel_test(),)

    def _looks_like_range(self) -> bool:
        depth = 0
        for token in self.tokens[self.i :]:
            if token.is_op("(", "[", "{"):
                depth += 1
            elif token.is_op(")", "]", "}"):
                depth -= 1
                if depth == 0:
                    return False
            elif token.is_op("..") and depth == 1:
                return True
            elif token.is_op(",") and depth == 1:
                return False
        return False

    def feel_test(self) -> Node:
        token = self.peek()
        for op, name in _FEEL_TEST_OPS:
            if token.is_op(op):
                self.advance()
                return UnaryTest(token.pos, name, self.binary(_FEEL_COMPARISON + 1))
        value = self.binary(_FEEL_COMPARISON + 1)
        if self.peek().is_op(".."):
            dots = self.advance()
            return RangeExpr(dots.pos, value, self.binary(_FEEL_COMPARISON + 1))
        return value

    def feel_range(self, low: Node, start: Token, low_closed: bool) -> Node:
        self.expect_op("..")
        high = self.binary(_FEEL_COMPARISON + 1)
        end = self.peek()
        if end.is_op("]"):
            high_closed = True
        elif end.is_op(")", "["):
            high_closed = False
        else:
            raise self.error(f"expected ']' or ')' to end the range but found {end.describe()}")
        self.advance()
        return RangeExpr(start.pos, low, high, low_closed, high_closed)

    def parenthesised(self) -> Node:
        start = self.advance()
        if self.dialect is Dialect.PYTHON and self.peek().is_op(")"):
            self.advance()
            return ListExpr(start.pos, ())
        node = self.expression()
        if self.dialect is Dialect.FEEL and self.peek().is_op(".."):
            return self.feel_range(node, start, False)
        if self.dialect is Dialect.PYTHON and self.peek().is_word("for"):
            node = self.comprehension(node)
        elif self.dialect is Dialect.PYTHON and self.peek().is_op(","):
            items = [node]
            while self.peek().is_op(","):
                self.advance()
                if self.peek().is_op(")"):
                    break
                items.append(self.expression())
            node = ListExpr(start.pos, tuple(items))
        self.expect_op(")")
        return node

    def bracketed(self) -> Node:
        start = self.advance()
        if self.peek().is_op("]"):
            self.advance()
            return ListExpr(start.pos, ())
        first = self.expression()
        if self.dialect is Dialect.FEEL and self.peek().is_op(".."):
            return self.feel_range(first, start, True)
        if self.dialect is Dialect.PYTHON and self.peek().is_word("for"):
            node = self.comprehension(first)
            self.expect_op("]")
            return node
        items = [first]
        while self.peek().is_op(","):
            self.advance()
            if self.peek().is_op("]"):
                break
            items.append(self.expression())
        self.expect_op("]")
        return ListExpr(start.pos, tuple(items))

    def braced(self) -> Node:
        start = self.advance()
        entries: list[tuple[Node, Node]] = []
        set_items: list[Node] = []
        while not self.peek().is_op("}"):
            key_token = self.peek()
            if self.dialect is Dialect.FEEL:
                if key_token.kind == "string":
                    self.advance()
                    key: Node = Literal(key_token.pos, key_token.value)
                elif key_token.kind == "name":
                    key = Literal(key_token.pos, self.feel_name())
                else:
                    raise self.error(f"expected a context key but found {key_token.describe()}")
                self.expect_op(":")
                entries.append((key, self.expression()))
            else:
                key = self.expression()
                if not entries and self.peek().is_op(",", "}"):
                    set_items.append(key)  # {1, 2}: a set, read as a list
                else:
                    if set_items:
                        raise self.unexpected()
                    self.expect_op(":")
                    entries.append((key, self.expression()))
            if not self.peek().is_op(","):
                break
            self.advance()
        self.expect_op("}")
        if set_items:
            return ListExpr(start.pos, tuple(set_items))
        return ContextExpr(start.pos, tuple(entries))

    def comprehension(self, element: Node) -> Node:
        start = self.peek()
        bindings: list[tuple[str, Node]] = []
        condition: Node | None = None
        while self.peek().is_word("for"):
            self.advance()
            target = self.peek()
            if target.kind != "name" or target.value in self.keywords:
                raise self.error(f"expected a name but found {target.describe()}")
            self.advance()
            self.expect_word("in")
            bindings.append((str(target.value), self.binary(_PYTHON_NOT + 2)))
            while self.peek().is_word("if"):
                self.advance()
                test = self.binary(_PYTHON_NOT)
                condition = test if condition is None else Logical(test.pos, "and", condition, test)
        return Iteration(start.pos, "for", tuple(bindings), element, condition)


def parse_tokens(text: str, dialect: Dialect, start: int = 0, stop: int | None = None) -> Node:
    """Parse `text[start:stop]` as one expression of `dialect` (no JUEL template handling)."""
    return Parser(text, dialect, start, stop).parse_all()


def parse_template(text: str, start: int, stop: int) -> Node:
    """A JUEL text: `${expr}` alone is the expression; mixed with text it is a Template."""
    parts: list[Node] = []
    literal: list[str] = []
    literal_pos = start
    i = start
    while i < stop:
        ch = text[i]
        if ch == "\\" and text.startswith(("${", "#{"), i + 1):
            literal.append(text[i + 1 : i + 3])
            i += 3
            continue
        if ch in "$#" and i + 1 < stop and text[i + 1] == "{":
            end = _closing_brace(text, i + 2, stop)
            if end < 0:
                Lexer(text, Dialect.JUEL, i + 2, stop).tokens()  # a precise error if it has one
                raise ExpressionError(f"unterminated '{ch}{{'", i, text)
            if literal:
                parts.append(Literal(literal_pos, "".join(literal)))
                literal = []
            parts.append(Parser(text, Dialect.JUEL, i + 2, end).parse_all())
            i = end + 1
            literal_pos = i
            continue
        literal.append(ch)
        i += 1
    if literal:
        parts.append(Literal(literal_pos, "".join(literal)))
    if not parts:
        raise ExpressionError("empty expression", start, text)
    if len(parts) == 1:
        return parts[0]
    return Template(start, tuple(parts))


def _closing_brace(text: str, i: int, stop: int) -> int:
    depth = 0
    quote: str | None = None
    while i < stop:
        ch = text[i]
        if quote is not None:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return -1


def tree_depth(root: Node) -> int:
    """The depth of the tree, computed without recursion."""
    deepest = 0
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children(node))
    return deepest

"""The expression syntax tree: frozen dataclasses shared by every dialect."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True, slots=True)
class Node:
    """Base of every syntax tree node; `pos` is the 0-based offset in the source text."""

    pos: int


@dataclass(frozen=True, slots=True)
class Literal(Node):
    value: object


@dataclass(frozen=True, slots=True)
class Name(Node):
    name: str


@dataclass(frozen=True, slots=True)
class Template(Node):
    """JUEL composite text: literal parts and ${...} parts joined into one string."""

    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Unary(Node):
    op: str  # "not", "neg", "pos", "empty"
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary(Node):
    op: str  # "+ - * / // % ** == != < > <= >= in not in is is not"
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Logical(Node):
    op: str  # "and", "or"
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Conditional(Node):
    test: Node
    then: Node
    otherwise: Node


@dataclass(frozen=True, slots=True)
class ListExpr(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class ContextExpr(Node):
    """A FEEL context or a Python dict literal; FEEL entries may use earlier keys."""

    entries: tuple[tuple[Node, Node], ...]


@dataclass(frozen=True, slots=True)
class Member(Node):
    """`obj.name`: a key lookup in a context/dict, never a Python attribute."""

    obj: Node
    name: str


@dataclass(frozen=True, slots=True)
class Index(Node):
    """`obj[index]`; in FEEL also a filter when the bracket is not a number."""

    obj: Node
    index: Node


@dataclass(frozen=True, slots=True)
class Slice(Node):
    obj: Node
    start: Node | None
    stop: Node | None


@dataclass(frozen=True, slots=True)
class Call(Node):
    """A call of a whitelisted function by name."""

    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class MethodCall(Node):
    """`obj.name(args)`: resolved against a small whitelist of value methods."""

    obj: Node
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class RangeExpr(Node):
    low: Node
    high: Node
    low_closed: bool = True
    high_closed: bool = True


@dataclass(frozen=True, slots=True)
class UnaryTest(Node):
    """A FEEL unary test on the right of `in`, like `< 5`."""

    op: str
    operand: Node


@dataclass(frozen=True, slots=True)
class InTests(Node):
    """FEEL `value in (test, test, ...)`: true when any test holds."""

    value: Node
    tests: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Between(Node):
    value: Node
    low: Node
    high: Node


@dataclass(frozen=True, slots=True)
class Iteration(Node):
    """FEEL `for`/`some`/`every` and Python comprehensions.

    kind is "for" (collect `body`), "some" or "every" (test `body`); `condition` filters.
    """

    kind: str
    bindings: tuple[tuple[str, Node], ...]
    body: Node
    condition: Node | None = None


def children(node: Node) -> tuple[Node, ...]:
    """The direct sub-nodes of `node`, in source order."""
    out: list[Node] = []
    for field in fields(node):
        value = getattr(node, field.name)
        if isinstance(value, Node):
            out.append(value)
        elif isinstance(value, tuple):
            for item in value:
                if isinstance(item, Node):
                    out.append(item)
                elif isinstance(item, tuple):
                    out.extend(part for part in item if isinstance(part, Node))
    return tuple(out)

"""One small expression language for BPMN conditions and scripts: JUEL, FEEL and Python fronts.

Expressions are parsed by our own parser into a tree of frozen dataclasses and evaluated over
JSON-like values (None, bool, int, float, str, list, dict) plus dates, times and durations.
Nothing here calls eval/exec, imports modules or reads Python attributes: `a.b` is a key
lookup, and calls reach only the whitelist in `functions.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from .dialect import Dialect
from .errors import MAX_NESTING, MAX_TEXT_LENGTH, EvaluationError, ExpressionError, LimitExceeded
from .evaluator import Evaluator, compiled
from .nodes import Call, ContextExpr, Index, Iteration, Literal, MethodCall, Name, Node, children
from .parser import parse_template, parse_tokens, tree_depth
from .script import Script, parse_script, run_script, script_dialect
from .values import RangeValue, YearsMonths

__all__ = [
    "Dialect",
    "EvaluationError",
    "Expression",
    "ExpressionError",
    "LimitExceeded",
    "RangeValue",
    "Script",
    "YearsMonths",
    "detect_dialect",
    "evaluate",
    "parse_expression",
    "parse_script",
    "run_script",
    "script_dialect",
]


@dataclass(frozen=True, slots=True)
class Expression:
    """A parsed expression: its source text, dialect, tree and the variables it reads."""

    text: str
    dialect: Dialect
    node: Node
    variables: frozenset[str]


def detect_dialect(text: str, expression_language: str | None = None) -> Dialect:
    """Which dialect a condition text is written in. The first rule that matches wins:

    1. `${` or `#{` anywhere in the text: JUEL (Camunda 7, Flowable, Activiti).
    2. The text starts with `=` (after whitespace): FEEL (Camunda 8 / Zeebe).
    3. `expression_language` (the element's or the definitions' URI or name) containing
       "python": PYTHON; containing "feel": FEEL; containing "juel": JUEL;
       containing "xpath": FEEL (XPath is the BPMN default language; the conditions drawing
       tools write under it use `=`, `and`/`or`, `not(...)` and `bpmn:getDataObject('x')`,
       which the FEEL front end reads).
    4. Otherwise PYTHON: bare text with no language is how SpiffWorkflow models are written.
    """
    if "${" in text or "#{" in text:
        return Dialect.JUEL
    if text.lstrip().startswith("="):
        return Dialect.FEEL
    language = (expression_language or "").lower()
    if "python" in language:
        return Dialect.PYTHON
    if "feel" in language:
        return Dialect.FEEL
    if "juel" in language:
        return Dialect.JUEL
    if "xpath" in language:
        return Dialect.FEEL
    return Dialect.PYTHON


def parse_expression(
    text: str, dialect: Dialect | None = None, *, expression_language: str | None = None
) -> Expression:
    """Parse `text` (surrounding whitespace ignored); `dialect` None means detect_dialect.

    JUEL text is a template: exactly one `${...}` is that expression's value, text mixed
    with `${...}` parts is a string. A FEEL text may start with `=`. Raises ExpressionError.
    """
    if len(text) > MAX_TEXT_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_TEXT_LENGTH:,} characters")
    if dialect is None:
        dialect = detect_dialect(text, expression_language)
    start = len(text) - len(text.lstrip())
    stop = len(text.rstrip())
    if start >= stop:
        raise ExpressionError("empty expression", 0, text)
    if dialect is Dialect.JUEL:
        node = parse_template(text, start, stop)
    else:
        if dialect is Dialect.FEEL and text[start] == "=":
            start += 1
        node = parse_tokens(text, dialect, start, stop)
    if tree_depth(node) > MAX_NESTING:
        raise ExpressionError(f"expression nested deeper than {MAX_NESTING} levels", 0, text)
    return Expression(text, dialect, node, frozenset(free_variables(node, dialect)))


def evaluate(
    expr: Expression, variables: Mapping[str, object], *, now: datetime | None = None
) -> object:
    """Evaluate a parsed expression; `now` is the clock for now()/today(). Raises
    EvaluationError (LimitExceeded, a subclass, when a sandbox limit is hit)."""
    try:
        fn = compiled(expr.node, expr.dialect)
        if fn is not None:
            return fn(variables)
        return Evaluator(expr.dialect, variables, now).run(expr.node)
    except EvaluationError:
        raise
    except RecursionError as exc:
        raise LimitExceeded("value nested too deeply") from exc
    except (ArithmeticError, ValueError, TypeError, IndexError, KeyError) as exc:
        # Defence in depth: the operators check types first; this keeps the contract.
        raise EvaluationError(f"cannot evaluate: {exc}") from exc


def free_variables(node: Node, dialect: Dialect, bound: frozenset[str] = frozenset()) -> set[str]:
    """Names the expression reads from its variables (over-approximated, never missing one)."""
    if isinstance(node, Name):
        return set() if node.name in bound else {node.name}
    if isinstance(node, MethodCall) and isinstance(node.obj, Name) and node.obj.name == "execution":
        found: set[str] = set()
        if node.args and isinstance(node.args[0], Literal) and isinstance(node.args[0].value, str):
            found.add(node.args[0].value)
        for arg in node.args:
            found |= free_variables(arg, dialect, bound)
        return found
    if (
        isinstance(node, Call)
        and node.name == "getDataObject"
        and node.args
        and isinstance(node.args[0], Literal)
        and isinstance(node.args[0].value, str)
    ):
        return {node.args[0].value}
    if isinstance(node, Iteration):
        found = set()
        inner = bound
        for name, source in node.bindings:
            found |= free_variables(source, dialect, inner)
            inner = inner | {name}
        found |= free_variables(node.body, dialect, inner)
        if node.condition is not None:
            found |= free_variables(node.condition, dialect, inner)
        return found
    if isinstance(node, ContextExpr) and dialect is Dialect.FEEL:
        found = set()
        inner = bound
        for key, value in node.entries:
            found |= free_variables(value, dialect, inner)
            if isinstance(key, Literal) and isinstance(key.value, str):
                inner = inner | {key.value}
        return found
    if isinstance(node, Index) and dialect is Dialect.FEEL:
        return free_variables(node.obj, dialect, bound) | free_variables(
            node.index, dialect, bound | {"item"}
        )
    found = set()
    for child in children(node):
        found |= free_variables(child, dialect, bound)
    return found

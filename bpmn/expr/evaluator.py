"""Evaluates a syntax tree over JSON-like values, counting steps and enforcing the sandbox."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime, time, timedelta

from .dialect import Dialect
from .errors import MAX_SIZE, MAX_STEPS, EvaluationError, LimitExceeded, SoftError
from .functions import CallContext, lookup_function, lookup_method
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
)
from .operators import (
    arithmetic,
    compare,
    compare_any,
    equals,
    in_range,
    juel_bool,
    juel_number,
    negate,
    python_contains,
    truthy,
)
from .values import (
    RangeValue,
    YearsMonths,
    category,
    check_size,
    is_number,
    juel_string,
    parse_temporal,
)

_MISSING = object()

# Properties a FEEL/JUEL path may read from temporal values: an explicit list, never getattr.
_TEMPORAL_PROPERTIES: dict[str, Callable[[object], object]] = {
    "year": lambda v: v.year if isinstance(v, date) else _MISSING,
    "month": lambda v: v.month if isinstance(v, date) else _MISSING,
    "day": lambda v: v.day if isinstance(v, date) else _MISSING,
    "weekday": lambda v: v.isoweekday() if isinstance(v, date) else _MISSING,
    "hour": lambda v: v.hour if isinstance(v, datetime | time) else _MISSING,
    "minute": lambda v: v.minute if isinstance(v, datetime | time) else _MISSING,
    "second": lambda v: v.second if isinstance(v, datetime | time) else _MISSING,
    "days": lambda v: v.days if isinstance(v, timedelta) else _MISSING,
    "hours": lambda v: v.seconds // 3600 if isinstance(v, timedelta) else _MISSING,
    "minutes": lambda v: v.seconds % 3600 // 60 if isinstance(v, timedelta) else _MISSING,
    "seconds": lambda v: v.seconds % 60 if isinstance(v, timedelta) else _MISSING,
    "years": lambda v: int(v.months / 12) if isinstance(v, YearsMonths) else _MISSING,
    "months": lambda v: (
        v.months - int(v.months / 12) * 12 if isinstance(v, YearsMonths) else _MISSING
    ),
}

# Camunda's `execution` object: the reads a condition may do on it.
_EXECUTION_READS = frozenset({"getVariable", "getVariableLocal", "hasVariable", "hasVariableLocal"})


class Evaluator:
    """One evaluation: the variables, the dialect's rules, the clock and the step budget."""

    def __init__(self, dialect: Dialect, variables: Mapping[str, object], now: datetime | None):
        self.dialect = dialect
        self.variables = variables
        self.scopes: list[Mapping[str, object]] = []
        self.context = CallContext(dialect, now)
        self.steps = 0
        self.lenient = dialect is Dialect.FEEL

    def run(self, node: Node) -> object:
        return self.eval(node)

    def eval(self, node: Node) -> object:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise LimitExceeded(f"expression took more than {MAX_STEPS:,} steps")
        handler = _HANDLERS[type(node)]
        if self.lenient:
            try:
                return handler(self, node)
            except SoftError:
                return None  # FEEL: a type error yields null
        return handler(self, node)

    # --- names ------------------------------------------------------------------------

    def lookup(self, name: str) -> object:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        if name in self.variables:
            return self.variables[name]
        return _MISSING

    def is_bound(self, name: str) -> bool:
        return self.lookup(name) is not _MISSING

    def _name(self, node: Name) -> object:
        value = self.lookup(node.name)
        if value is _MISSING:
            if self.dialect is Dialect.FEEL:
                return None
            raise EvaluationError(f"unknown variable '{node.name}'")
        return value

    def _literal(self, node: Literal) -> object:
        return node.value

    def _template(self, node: Template) -> object:
        out: list[str] = []
        size = 0
        for part in node.parts:
            text = juel_string(self.eval(part))
            size += len(text)
            if size > MAX_SIZE:
                raise LimitExceeded(f"result too large (over {MAX_SIZE:,} characters)")
            out.append(text)
        return "".join(out)

    # --- operators --------------------------------------------------------------------

    def _unary(self, node: Unary) -> object:
        value = self.eval(node.operand)
        if node.op == "neg":
            return negate(value, self.dialect)
        if node.op == "pos":
            if self.dialect is Dialect.JUEL:
                return negate(negate(value, self.dialect), self.dialect)
            if not is_number(value):
                raise SoftError(f"bad operand type for unary +: {category(value)}")
            return value
        if node.op == "empty":
            return value is None or (isinstance(value, str | list | dict) and len(value) == 0)
        # not
        if self.dialect is Dialect.JUEL:
            return not juel_bool(value)
        return not truthy(value)

    def _binary(self, node: Binary) -> object:
        op = node.op
        left = self.eval(node.left)
        right = self.eval(node.right)
        if op in ("==", "!=", "<", ">", "<=", ">="):
            return compare_any(op, left, right, self.dialect)
        if op == "in":
            return python_contains(right, left)
        if op == "not in":
            return not python_contains(right, left)
        if op in ("is", "is not"):
            same = type(left) is type(right) and left == right
            return same if op == "is" else not same
        return arithmetic(op, left, right, self.dialect)

    def _logical(self, node: Logical) -> object:
        left = self.eval(node.left)
        if self.dialect is Dialect.PYTHON:
            if node.op == "and":
                return self.eval(node.right) if truthy(left) else left
            return left if truthy(left) else self.eval(node.right)
        if self.dialect is Dialect.JUEL:
            if node.op == "and":
                return juel_bool(left) and juel_bool(self.eval(node.right))
            return juel_bool(left) or juel_bool(self.eval(node.right))
        # FEEL three-valued logic (DMN 1.3 §10.3.2.5): non-booleans count as null.
        stop = node.op == "or"
        if left is stop:
            return stop
        right = self.eval(node.right)
        if right is stop:
            return stop
        if left is (not stop) and right is (not stop):
            return not stop
        return None

    def _conditional(self, node: Conditional) -> object:
        test = self.eval(node.test)
        if self.dialect is Dialect.JUEL:
            holds = juel_bool(test)
        elif self.dialect is Dialect.PYTHON:
            holds = truthy(test)
        else:
            holds = test is True
        return self.eval(node.then if holds else node.otherwise)

    def _between(self, node: Between) -> object:
        value = self.eval(node.value)
        low, high = self.eval(node.low), self.eval(node.high)
        return compare(">=", value, low, self.dialect) and compare("<=", value, high, self.dialect)

    def _in_tests(self, node: InTests) -> object:
        value = self.eval(node.value)
        return any(self._passes(value, test) for test in node.tests)

    def _passes(self, value: object, test: Node) -> bool:
        try:
            if isinstance(test, UnaryTest):
                return compare_any(test.op, value, self.eval(test.operand), self.dialect)
            expected = self.eval(test)
            if isinstance(expected, RangeValue):
                return in_range(value, expected, self.dialect)
            if isinstance(expected, list):
                return any(self._same(value, item) for item in expected)
            if isinstance(expected, bool) and not isinstance(value, bool):
                return expected
            return self._same(value, expected)
        except SoftError:
            return False

    def _same(self, left: object, right: object) -> bool:
        try:
            return equals(left, right, self.dialect)
        except SoftError:
            return False

    def _unary_test(self, node: UnaryTest) -> object:
        raise SoftError("a unary test is only allowed after 'in'")

    def _range(self, node: RangeExpr) -> object:
        low, high = self.eval(node.low), self.eval(node.high)
        if category(low) != category(high) and low is not None and high is not None:
            raise SoftError(f"range ends differ: {category(low)} and {category(high)}")
        return RangeValue(low, high, node.low_closed, node.high_closed)

    # --- data -------------------------------------------------------------------------

    def _list(self, node: ListExpr) -> object:
        return check_size([self.eval(item) for item in node.items])

    def _context(self, node: ContextExpr) -> object:
        out: dict[str, object] = {}
        self.scopes.append(out)  # FEEL context entries may use the entries before them
        try:
            for key_node, value_node in node.entries:
                key = self.eval(key_node)
                if not isinstance(key, str):
                    if self.dialect is Dialect.PYTHON and (is_number(key) or isinstance(key, bool)):
                        key = str(key)  # JSON objects have string keys
                    else:
                        raise SoftError(f"a key must be a string, got {category(key)}")
                out[key] = self.eval(value_node)
        finally:
            self.scopes.pop()
        return check_size(out)

    def _member(self, node: Member) -> object:
        return self.member(self.eval(node.obj), node.name)

    def member(self, value: object, name: str) -> object:
        if isinstance(value, dict):
            if name in value:
                return value[name]
            if self.dialect is Dialect.PYTHON:
                raise SoftError(f"no key '{name}' in dict")
            return None
        if value is None and self.dialect is not Dialect.PYTHON:
            return None
        if isinstance(value, list) and self.dialect is Dialect.FEEL:
            return [self.member(item, name) for item in value]
        reader = _TEMPORAL_PROPERTIES.get(name)
        if reader is not None:
            result = reader(value)
            if result is not _MISSING:
                return result
        raise SoftError(f"cannot read property '{name}' of {category(value)}")

    def _index(self, node: Index) -> object:
        value = self.eval(node.obj)
        if self.dialect is Dialect.FEEL:
            return self.feel_index(value, node.index)
        key = self.eval(node.index)
        if isinstance(value, dict):
            if isinstance(key, str) and key in value:
                return value[key]
            if self.dialect is Dialect.JUEL:
                return None
            raise SoftError(f"no key {str(key)[:40]!r} in dict")
        if isinstance(value, list | str):
            if self.dialect is Dialect.JUEL:
                position = int(juel_number(key))
                return value[position] if 0 <= position < len(value) else None
            if not isinstance(key, int) or isinstance(key, bool):
                raise SoftError(f"indices must be integers, not {category(key)}")
            if not -len(value) <= key < len(value):
                raise SoftError(f"index {key} out of range")
            return value[key]
        if value is None and self.dialect is Dialect.JUEL:
            return None
        raise SoftError(f"cannot index {category(value)}")

    def feel_index(self, value: object, index: Node) -> object:
        if value is None:
            return None
        items = value if isinstance(value, list) else [value]
        if not _is_predicate(index):
            key = self.eval(index)
            if is_number(key):
                position = int(key)  # type: ignore[call-overload]
                position = position - 1 if position > 0 else len(items) + position
                return items[position] if 0 <= position < len(items) and key != 0 else None
            if isinstance(key, str) and isinstance(value, dict):
                return value.get(key)
        kept: list[object] = []
        for item in items:
            scope: dict[str, object] = dict(item) if isinstance(item, dict) else {}
            scope["item"] = item
            self.scopes.append(scope)
            try:
                if self.eval(index) is True:
                    kept.append(item)
            finally:
                self.scopes.pop()
        return kept

    def _slice(self, node: Slice) -> object:
        value = self.eval(node.obj)
        start = None if node.start is None else self.eval(node.start)
        stop = None if node.stop is None else self.eval(node.stop)
        for bound in (start, stop):
            if bound is not None and (not isinstance(bound, int) or isinstance(bound, bool)):
                raise SoftError("slice indices must be integers")
        if not isinstance(value, list | str):
            raise SoftError(f"cannot slice {category(value)}")
        assert start is None or isinstance(start, int)  # noqa: S101 - checked above
        assert stop is None or isinstance(stop, int)  # noqa: S101 - checked above
        return value[start:stop]

    # --- iteration --------------------------------------------------------------------

    def _iteration(self, node: Iteration) -> object:
        results: list[object] = []
        outcome = self._iterate(node, 0, {}, results)
        if node.kind == "for":
            return check_size(results)
        if outcome is not None:
            return outcome
        return node.kind == "every"

    def _iterate(
        self, node: Iteration, k: int, bound: dict[str, object], results: list[object]
    ) -> bool | None:
        """Walk the bindings; return a decided some/every answer, or None to go on."""
        if k == len(node.bindings):
            self.scopes.append(bound)
            try:
                if node.condition is not None and not self._holds(self.eval(node.condition)):
                    return None
                value = self.eval(node.body)
            finally:
                self.scopes.pop()
            if node.kind == "for":
                results.append(value)
                check_size(results)
                return None
            if node.kind == "some" and value is True:
                return True
            if node.kind == "every" and value is not True:
                return False
            return None
        name, source = node.bindings[k]
        self.scopes.append(bound)
        try:
            iterable = self.eval(source)
        finally:
            self.scopes.pop()
        for item in self._items(iterable):
            outcome = self._iterate(node, k + 1, {**bound, name: item}, results)
            if outcome is not None:
                return outcome
        return None

    def _holds(self, value: object) -> bool:
        if self.dialect is Dialect.PYTHON:
            return truthy(value)
        if self.dialect is Dialect.JUEL:
            return juel_bool(value)
        return value is True

    def _items(self, value: object) -> Iterator[object]:
        if isinstance(value, list):
            yield from list(value)
        elif isinstance(value, RangeValue):
            if not (isinstance(value.low, int) and isinstance(value.high, int)):
                raise SoftError("only a range of integers can be iterated")
            step = 1 if value.high >= value.low else -1
            current = value.low if value.low_closed else value.low + step
            stop = value.high + step if value.high_closed else value.high
            while current != stop and (stop - current) * step > 0:
                self.steps += 1
                if self.steps > MAX_STEPS:
                    raise LimitExceeded(f"expression took more than {MAX_STEPS:,} steps")
                yield current
                current += step
        elif self.dialect is Dialect.PYTHON and isinstance(value, str | dict):
            yield from list(value)
        elif self.dialect is Dialect.FEEL and value is not None:
            yield value  # FEEL reads a single value as a one-item list
        else:
            raise SoftError(f"cannot iterate over {category(value)}")

    # --- calls ------------------------------------------------------------------------

    def _call(self, node: Call) -> object:
        if node.name == "@":
            text = self.eval(node.args[0])
            return parse_temporal(text) if isinstance(text, str) else None
        if self.dialect is Dialect.FEEL and node.name == "is defined" and len(node.args) == 1:
            return self._is_defined(node.args[0])
        function = lookup_function(self.dialect, node.name)
        if function is None:
            raise EvaluationError(f"unknown function '{node.name}'")
        count = len(node.args)
        too_many = function.max_args is not None and count > function.max_args
        if count < function.min_args or too_many:
            raise EvaluationError(f"function '{node.name}' does not take {count} argument(s)")
        if node.name == "getDataObject":
            name = self.eval(node.args[0])
            if not isinstance(name, str):
                raise SoftError("getDataObject needs a data object name")
            found = self.lookup(name)
            return None if found is _MISSING else found
        args = [self.eval(arg) for arg in node.args]
        return check_size(function.impl(self.context, *args))

    def _is_defined(self, arg: Node) -> bool:
        if isinstance(arg, Name):
            return self.is_bound(arg.name)
        if isinstance(arg, Member):
            owner = self.eval(arg.obj)
            return isinstance(owner, dict) and arg.name in owner
        return self.eval(arg) is not None

    def _method_call(self, node: MethodCall) -> object:
        receiver = node.obj
        if isinstance(receiver, Name) and not self.is_bound(receiver.name):
            if receiver.name == "execution" and node.name in _EXECUTION_READS:
                return self._execution_read(node)
            if self.dialect is not Dialect.FEEL or receiver.name == "execution":
                raise EvaluationError(f"unknown function '{receiver.name}.{node.name}'")
        value = self.eval(receiver)
        method = lookup_method(value, node.name)
        if method is None:
            raise EvaluationError(
                f"unknown function '{node.name}' on a value of type {category(value)}"
            )
        args = [self.eval(arg) for arg in node.args]
        try:
            return check_size(method(self.context, value, *args))
        except TypeError as exc:
            raise EvaluationError(f"wrong arguments for '{node.name}': {exc}") from exc

    def _execution_read(self, node: MethodCall) -> object:
        if len(node.args) != 1:
            raise EvaluationError(f"execution.{node.name} takes one argument")
        name = self.eval(node.args[0])
        if not isinstance(name, str):
            raise SoftError(f"execution.{node.name} needs a variable name")
        found = self.lookup(name)
        if node.name.startswith("has"):
            return found is not _MISSING
        return None if found is _MISSING else found


def _is_predicate(node: Node) -> bool:
    """Whether a FEEL bracket is a filter condition rather than an index."""
    if isinstance(node, Binary):
        return node.op in ("==", "!=", "<", ">", "<=", ">=")
    if isinstance(node, Call):
        return node.name == "not"
    return isinstance(node, Logical | InTests | Between | Iteration)


_HANDLERS: dict[type[Node], Callable[[Evaluator, Node], object]] = {
    Literal: Evaluator._literal,  # type: ignore[dict-item]
    Name: Evaluator._name,  # type: ignore[dict-item]
    Template: Evaluator._template,  # type: ignore[dict-item]
    Unary: Evaluator._unary,  # type: ignore[dict-item]
    Binary: Evaluator._binary,  # type: ignore[dict-item]
    Logical: Evaluator._logical,  # type: ignore[dict-item]
    Conditional: Evaluator._conditional,  # type: ignore[dict-item]
    Between: Evaluator._between,  # type: ignore[dict-item]
    InTests: Evaluator._in_tests,  # type: ignore[dict-item]
    UnaryTest: Evaluator._unary_test,  # type: ignore[dict-item]
    RangeExpr: Evaluator._range,  # type: ignore[dict-item]
    ListExpr: Evaluator._list,  # type: ignore[dict-item]
    ContextExpr: Evaluator._context,  # type: ignore[dict-item]
    Member: Evaluator._member,  # type: ignore[dict-item]
    Index: Evaluator._index,  # type: ignore[dict-item]
    Slice: Evaluator._slice,  # type: ignore[dict-item]
    Iteration: Evaluator._iteration,  # type: ignore[dict-item]
    Call: Evaluator._call,  # type: ignore[dict-item]
    MethodCall: Evaluator._method_call,  # type: ignore[dict-item]
}


# ---------------------------------------------------------------------- compiled closures
#
# The common expressions (names, literals, operators, `.` access, `?:`) are compiled once
# into a tree of Python closures that does exactly what Evaluator does for them, without
# the per-node dispatch. Anything else (calls, iteration, contexts, indexing...) is run by
# the Evaluator. The step budget cannot be reached by a compiled tree: it has one step per
# node and a text of at most MAX_TEXT_LENGTH characters has far fewer than MAX_STEPS nodes.

Compiled = Callable[[Mapping[str, object]], object]
_COMPILED: dict[int, tuple[Node, Dialect, Compiled | None]] = {}
_COMPILED_MAX = 4096
_COMPARISONS = frozenset(("==", "!=", "<", ">", "<=", ">="))


def compiled(node: Node, dialect: Dialect) -> Compiled | None:
    """The closure for `node` in `dialect`, or None when the Evaluator must run it. Cached
    per node object (the entry holds the node, so its id cannot be reused meanwhile)."""
    entry = _COMPILED.get(id(node))
    if entry is not None and entry[0] is node and entry[1] is dialect:
        return entry[2]
    try:
        fn: Compiled | None = _compile(node, dialect, Evaluator(dialect, {}, None))
    except _Unsupported:
        fn = None
    if len(_COMPILED) >= _COMPILED_MAX:
        _COMPILED.clear()
    _COMPILED[id(node)] = (node, dialect, fn)
    return fn


class _Unsupported(Exception):
    pass


def _compile(node: Node, dialect: Dialect, helper: Evaluator) -> Compiled:
    fn = _compile_plain(node, dialect, helper)
    if dialect is not Dialect.FEEL:
        return fn

    def lenient(variables: Mapping[str, object]) -> object:
        try:
            return fn(variables)
        except SoftError:
            return None  # FEEL: a type error yields null

    return lenient


def _compile_plain(node: Node, dialect: Dialect, helper: Evaluator) -> Compiled:
    kind = type(node)
    if kind is Literal:
        constant = node.value  # type: ignore[attr-defined]
        return lambda variables: constant
    if kind is Name:
        name = node.name  # type: ignore[attr-defined]
        feel = dialect is Dialect.FEEL

        def load(variables: Mapping[str, object]) -> object:
            if name in variables:
                return variables[name]
            if feel:
                return None
            raise EvaluationError(f"unknown variable '{name}'")

        return load
    if kind is Binary:
        return _compile_binary(node, dialect, helper)  # type: ignore[arg-type]
    if kind is Logical:
        return _compile_logical(node, dialect, helper)  # type: ignore[arg-type]
    if kind is Unary:
        return _compile_unary(node, dialect, helper)  # type: ignore[arg-type]
    if kind is Member:
        obj = _compile(node.obj, dialect, helper)  # type: ignore[attr-defined]
        member_name = node.name  # type: ignore[attr-defined]
        member = helper.member
        return lambda variables: member(obj(variables), member_name)
    if kind is Conditional:
        test = _compile(node.test, dialect, helper)  # type: ignore[attr-defined]
        then = _compile(node.then, dialect, helper)  # type: ignore[attr-defined]
        otherwise = _compile(node.otherwise, dialect, helper)  # type: ignore[attr-defined]
        if dialect is Dialect.JUEL:
            return lambda v: then(v) if juel_bool(test(v)) else otherwise(v)
        if dialect is Dialect.PYTHON:
            return lambda v: then(v) if truthy(test(v)) else otherwise(v)
        return lambda v: then(v) if test(v) is True else otherwise(v)
    if kind is Template:
        parts = [_compile(part, dialect, helper) for part in node.parts]  # type: ignore[attr-defined]

        def template(variables: Mapping[str, object]) -> object:
            out: list[str] = []
            size = 0
            for part in parts:
                text = juel_string(part(variables))
                size += len(text)
                if size > MAX_SIZE:
                    raise LimitExceeded(f"result too large (over {MAX_SIZE:,} characters)")
                out.append(text)
            return "".join(out)

        return template
    raise _Unsupported


def _compile_binary(node: Binary, dialect: Dialect, helper: Evaluator) -> Compiled:
    op = node.op
    left = _compile(node.left, dialect, helper)
    right = _compile(node.right, dialect, helper)
    if op in _COMPARISONS:
        return lambda v: compare_any(op, left(v), right(v), dialect)
    if op in ("in", "not in"):
        inside = op == "in"

        def contains(v: Mapping[str, object]) -> object:
            item = left(v)
            return python_contains(right(v), item) is inside

        return contains
    if op in ("is", "is not"):
        positive = op == "is"

        def identity(v: Mapping[str, object]) -> object:
            a, b = left(v), right(v)
            same = type(a) is type(b) and a == b
            return same if positive else not same

        return identity
    return lambda v: arithmetic(op, left(v), right(v), dialect)


def _compile_logical(node: Logical, dialect: Dialect, helper: Evaluator) -> Compiled:
    left = _compile(node.left, dialect, helper)
    right = _compile(node.right, dialect, helper)
    conjunction = node.op == "and"
    if dialect is Dialect.PYTHON:
        if conjunction:
            def python_and(v: Mapping[str, object]) -> object:
                first = left(v)
                return right(v) if truthy(first) else first

            return python_and

        def python_or(v: Mapping[str, object]) -> object:
            first = left(v)
            return first if truthy(first) else right(v)

        return python_or
    if dialect is Dialect.JUEL:
        if conjunction:
            return lambda v: juel_bool(left(v)) and juel_bool(right(v))
        return lambda v: juel_bool(left(v)) or juel_bool(right(v))
    stop = not conjunction

    def feel_logic(v: Mapping[str, object]) -> object:
        first = left(v)
        if first is stop:
            return stop
        second = right(v)
        if second is stop:
            return stop
        if first is (not stop) and second is (not stop):
            return not stop
        return None

    return feel_logic


def _compile_unary(node: Unary, dialect: Dialect, helper: Evaluator) -> Compiled:
    operand = _compile(node.operand, dialect, helper)
    op = node.op
    if op == "neg":
        return lambda v: negate(operand(v), dialect)
    if op == "pos":
        if dialect is Dialect.JUEL:
            return lambda v: negate(negate(operand(v), dialect), dialect)

        def positive(v: Mapping[str, object]) -> object:
            value = operand(v)
            if not is_number(value):
                raise SoftError(f"bad operand type for unary +: {category(value)}")
            return value

        return positive
    if op == "empty":
        def empty(v: Mapping[str, object]) -> object:
            value = operand(v)
            return value is None or (isinstance(value, str | list | dict) and len(value) == 0)

        return empty
    if dialect is Dialect.JUEL:
        return lambda v: not juel_bool(operand(v))
    return lambda v: not truthy(operand(v))

"""The Kubernetes JSONPath of route templates: a small, bounded parser and evaluator (pure).

Why not a general JSONPath library: route templates are written by tenants and evaluated inside the
operator's event loop. A library's extensions — regular-expression filters (``=~``), arithmetic,
functions (``len``, ``sorted``, ``sub``…) — let one template freeze the loop (``(a+)+$`` against a
37-character label backtracks for minutes) or allocate without bound (a string repeated an integer
number of times). This module accepts the Kubernetes JSONPath that route templates used with the
original operator and nothing more:

* fields: ``.metadata.name``, ``metadata.name``, ``$.metadata.name``; a backslash escapes the next
  character (``.metadata.labels.app\\.kubernetes\\.io/name``);
* bracketed keys, single or double quoted, taken literally (dots and slashes included):
  ``.metadata.labels['app.kubernetes.io/name']``, ``["k"]``, unions of keys ``['a','b']``;
* indexes and slices: ``[0]``, ``[-1]``, ``[1:3]``, ``[::2]``, unions ``[0,2]``; wildcards ``[*]``, ``.*``;
* recursive descent ``..name``;
* filters ``[?(@.name == "x")]`` with ``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=`` (or a bare path: the
  field exists), comparing a path relative to ``@`` with a quoted string, a number, ``true``/``false``
  or another ``@`` path.

Anything else is refused by :func:`compile_expression` with a :class:`JSONPathSyntaxError` that says
what was found, where, and what is supported.

Evaluation has a budget: every value visited (by a step, a wildcard, recursive descent, a filter's
path) costs one unit, and an evaluation that needs more than its budget stops with
:class:`JSONPathBudgetError`. The work per template is therefore bounded by the budget, whatever the
object and the expression. Compiled expressions are cached (:func:`compile_expression` is memoised).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Default number of values one evaluation may visit.
DEFAULT_BUDGET = 10_000
#: Longest expression accepted (characters); templates are bounded by the CRD as well.
MAX_EXPRESSION_LENGTH = 1024
_SUPPORTED = (
    "supported: .field, ['key'], [index], [start:end], [*], .., and filters such as "
    '[?(@.name == "value")] with == != < <= > >='
)
_TERMINATORS = frozenset(" .,[]$@{}()=!<>&|'\"\t\n")
_MISSING = object()


class JSONPathSyntaxError(ValueError):
    """The expression is not (supported) Kubernetes JSONPath."""


class JSONPathBudgetError(ValueError):
    """The evaluation needed more work than its budget allows."""


# -- the compiled form -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    names: tuple[str, ...]
    #: Written as a quoted bracket key (``['k']``) rather than ``.k``.
    bracketed: bool = False


@dataclass(frozen=True)
class Wildcard:
    pass


@dataclass(frozen=True)
class Index:
    indexes: tuple[int, ...]


@dataclass(frozen=True)
class Slice:
    start: int | None
    stop: int | None
    step: int | None


@dataclass(frozen=True)
class Recursive:
    """``..``: the current value and every value below it, then the next step."""


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class Filter:
    left: tuple[Step, ...] | Literal
    op: str | None
    right: tuple[Step, ...] | Literal | None


Step = Field | Wildcard | Index | Slice | Recursive | Filter


@dataclass(frozen=True)
class Expression:
    """A compiled expression: a sequence of steps from the root object."""

    text: str
    steps: tuple[Step, ...]

    def direct_meta_key(self) -> tuple[str, str] | None:
        """``("labels"|"annotations", key)`` when the expression is ``.metadata.<field>['key']``."""
        s = self.steps
        if (
            len(s) == 3
            and s[0] == Field(("metadata",))
            and s[1] in (Field(("labels",)), Field(("annotations",)))
            and isinstance(s[2], Field)
            and s[2].bracketed
            and len(s[2].names) == 1
        ):
            return s[1].names[0], s[2].names[0]
        return None


# -- parsing -----------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def compile_expression(text: str) -> Expression:
    """Parse one placeholder expression (already trimmed); raise :class:`JSONPathSyntaxError`."""
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise JSONPathSyntaxError(f"the expression is longer than {MAX_EXPRESSION_LENGTH} characters")
    parser = _Parser(text)
    steps = parser.path(top=True)
    if parser.pos != len(text):
        parser.fail("unexpected")
    return Expression(text, tuple(steps))


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    # helpers
    def peek(self, n: int = 1) -> str:
        return self.text[self.pos : self.pos + n]

    def skip_spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1

    def fail(self, what: str) -> None:
        rest = self.text[self.pos :]
        if "=~" in self.text:
            raise JSONPathSyntaxError(
                "regular-expression filters (=~) are not supported; use an == filter or a direct key "
                "such as .metadata.labels['team']"
            )
        if "`" in self.text:
            raise JSONPathSyntaxError("functions (`len`, `this`, `sub(...)`…) are not supported; " + _SUPPORTED)
        found = repr(rest[:20]) if rest else "the end"
        raise JSONPathSyntaxError(f"{what} {found} at position {self.pos}; {_SUPPORTED}")

    # grammar
    def path(self, top: bool = False, in_filter: bool = False) -> list[Step]:
        steps: list[Step] = []
        self.skip_spaces()
        if self.peek() in ("$", "@"):
            self.pos += 1  # the root ("$"), or the current value ("@", which is the root at the top)
        elif top and self.pos < len(self.text) and self.peek() not in (".", "["):
            steps.append(Field((self.name(),)))  # "metadata.name" means ".metadata.name"
        while self.pos < len(self.text):
            c = self.peek()
            if self.peek(2) == "..":
                self.pos += 2
                steps.append(Recursive())
                if self.peek() == "[":
                    continue
                steps.append(Wildcard() if self._star() else Field((self.name(),)))
            elif c == ".":
                self.pos += 1
                steps.append(Wildcard() if self._star() else Field((self.name(),)))
            elif c == "[":
                steps.append(self.bracket(in_filter))
            else:
                break
        return steps

    def _star(self) -> bool:
        if self.peek() == "*":
            self.pos += 1
            return True
        return False

    def name(self) -> str:
        out: list[str] = []
        while self.pos < len(self.text):
            c = self.text[self.pos]
            if c == "\\" and self.pos + 1 < len(self.text):
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if c == "`":
                self.fail("functions are not supported:")
            if c in _TERMINATORS or c == "*":
                break
            out.append(c)
            self.pos += 1
        if not out:
            self.fail("expected a field name, found")
        return "".join(out)

    def bracket(self, in_filter: bool) -> Step:
        self.pos += 1  # "["
        self.skip_spaces()
        if self.peek(2) == "?(":
            if in_filter:
                self.fail("filters cannot be nested, found")
            self.pos += 2
            step: Step = self.filter()
            self.skip_spaces()
            if self.peek() != ")":
                self.fail("expected ')' to close the filter, found")
            self.pos += 1
            self.skip_spaces()
            self.expect_close()
            return step
        if self.peek() == "*":
            self.pos += 1
            self.skip_spaces()
            self.expect_close()
            return Wildcard()
        if self.peek() in ("'", '"'):
            keys = [self.quoted()]
            self.skip_spaces()
            while self.peek() == ",":
                self.pos += 1
                self.skip_spaces()
                if self.peek() not in ("'", '"'):
                    self.fail("expected a quoted key, found")
                keys.append(self.quoted())
                self.skip_spaces()
            self.expect_close()
            return Field(tuple(keys), bracketed=True)
        return self.indexes()

    def expect_close(self) -> None:
        if self.peek() != "]":
            self.fail("expected ']', found")
        self.pos += 1

    def quoted(self) -> str:
        quote = self.text[self.pos]
        end = self.text.find(quote, self.pos + 1)
        if end < 0:
            self.fail("unterminated quoted key")
        value = self.text[self.pos + 1 : end]
        self.pos = end + 1
        return value

    def integer(self) -> int | None:
        start = self.pos
        if self.peek() in ("-", "+"):
            self.pos += 1
        while self.peek().isdigit() and self.peek().isascii():
            self.pos += 1
        digits = self.text[start : self.pos]
        if digits in ("", "-", "+"):
            self.pos = start
            return None
        if len(digits) > 18:
            self.fail("index too large:")
        return int(digits)

    def indexes(self) -> Step:
        parts: list[int | None] = [self.integer()]
        self.skip_spaces()
        if self.peek() == ":":
            while self.peek() == ":" and len(parts) < 3:
                self.pos += 1
                self.skip_spaces()
                parts.append(self.integer())
                self.skip_spaces()
            self.expect_close()
            parts += [None] * (3 - len(parts))
            if parts[2] == 0:
                self.fail("a slice step cannot be 0:")
            return Slice(parts[0], parts[1], parts[2])
        if parts[0] is None:
            self.fail("expected an index, a quoted key, '*' or a filter, found")
        values = [int(parts[0])]  # type: ignore[arg-type]
        while self.peek() == ",":
            self.pos += 1
            self.skip_spaces()
            nxt = self.integer()
            if nxt is None:
                self.fail("expected an index, found")
            values.append(int(nxt))  # type: ignore[arg-type]
            self.skip_spaces()
        self.expect_close()
        return Index(tuple(values))

    def filter(self) -> Filter:
        left = self.operand()
        self.skip_spaces()
        op = None
        for candidate in ("==", "!=", "<=", ">=", "<", ">"):
            if self.text.startswith(candidate, self.pos) and not self.text.startswith("=~", self.pos):
                op = candidate
                break
        if op is None:
            if isinstance(left, Literal):
                self.fail("a filter needs an @ path, found")
            return Filter(left, None, None)
        self.pos += len(op)
        right = self.operand()
        self.skip_spaces()
        return Filter(left, op, right)

    def operand(self) -> tuple[Step, ...] | Literal:
        self.skip_spaces()
        c = self.peek()
        if c == "@":
            return tuple(self.path(in_filter=True))
        if c in ("'", '"'):
            return Literal(self.quoted())
        for word, value in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, self.pos) and (self.peek(len(word) + 1)[len(word) :] in _TERMINATORS | {""}):
                self.pos += len(word)
                return Literal(value)
        start = self.pos
        if self.peek() in ("-", "+"):
            self.pos += 1
        while self.pos < len(self.text) and (self.text[self.pos].isascii() and self.text[self.pos] in "0123456789.eE"):
            self.pos += 1
        number = self.text[start : self.pos]
        if number and number not in ("-", "+") and len(number) <= 32:
            try:
                parsed = float(number) if any(ch in number for ch in ".eE") else int(number)
            except ValueError:
                pass
            else:
                return Literal(parsed)
        self.pos = start
        self.fail("expected @, a quoted string, a number, true or false in the filter, found")
        raise AssertionError  # unreachable: fail raises


# -- evaluation --------------------------------------------------------------------------------------


class Budget:
    """Units of work left; shared by every placeholder of one template."""

    def __init__(self, units: int = DEFAULT_BUDGET) -> None:
        self.total = units
        self.left = units

    def spend(self, units: int = 1) -> None:
        self.left -= units
        if self.left < 0:
            raise JSONPathBudgetError(
                f"the template visits more than {self.total} values of the AIMService; use direct fields and "
                "keys (e.g. .metadata.labels['team']) instead of wildcards, '..' or filters over large maps"
            )


def find(expr: Expression, obj: Any, budget: Budget) -> list[Any]:
    """Every value ``expr`` selects in ``obj`` (in document order)."""
    current: list[Any] = [obj]
    budget.spend()
    for step in expr.steps:
        current = list(_apply(step, current, budget))
    return current


def _apply(step: Step, values: Sequence[Any], budget: Budget) -> Iterator[Any]:
    for value in values:
        if isinstance(step, Field):
            if isinstance(value, Mapping):
                for name in step.names:
                    got = value.get(name, _MISSING)
                    if got is not _MISSING:
                        budget.spend()
                        yield got
        elif isinstance(step, Wildcard):
            yield from _children(value, budget)
        elif isinstance(step, Index):
            if isinstance(value, list):
                for i in step.indexes:
                    if -len(value) <= i < len(value):
                        budget.spend()
                        yield value[i]
        elif isinstance(step, Slice):
            if isinstance(value, list):
                for item in value[slice(step.start, step.stop, step.step)]:
                    budget.spend()
                    yield item
        elif isinstance(step, Recursive):
            yield from _descendants(value, budget)
        else:
            for item in _children(value, budget):
                if _matches(step, item, budget):
                    yield item


def _children(value: Any, budget: Budget) -> Iterator[Any]:
    if isinstance(value, Mapping):
        items: Any = value.values()
    elif isinstance(value, list):
        items = value
    else:
        return
    for item in items:
        budget.spend()
        yield item


def _descendants(value: Any, budget: Budget) -> Iterator[Any]:
    stack = [value]
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, Mapping | list):
            children = list(_children(current, budget))
            stack.extend(reversed(children))


def _operand(side: tuple[Step, ...] | Literal, item: Any, budget: Budget) -> list[Any]:
    if isinstance(side, Literal):
        return [side.value]
    current = [item]
    for step in side:
        current = list(_apply(step, current, budget))
    return current


def _matches(flt: Filter, item: Any, budget: Budget) -> bool:
    left = _operand(flt.left, item, budget)
    if flt.op is None or flt.right is None:
        return bool(left)
    right = _operand(flt.right, item, budget)
    budget.spend(len(left) * len(right))
    return any(_compare(a, flt.op, b) for a in left for b in right)


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and not (isinstance(v, float) and math.isnan(v))


def _compare(a: Any, op: str, b: Any) -> bool:
    if _number(a) and _number(b):
        pass
    elif type(a) is not type(b) or isinstance(a, Mapping | list):
        return op == "!="
    if op == "==":
        return bool(a == b)
    if op == "!=":
        return bool(a != b)
    if not (isinstance(a, str) or _number(a)):
        return False
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)

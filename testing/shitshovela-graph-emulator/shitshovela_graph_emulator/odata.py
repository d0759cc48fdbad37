"""OData query options as Graph's mail API reads them: ``$select``, ``$orderby``, ``$filter``…

`parse_filter` reads the part of OData's ``$filter`` language a mail client
uses: comparisons (``eq ne gt ge lt le``) of a property path
(``from/emailAddress/address``) with a literal (a string, ``true``, ``false``,
``null``, a number, a date-time), ``and``, ``or``, ``not``, parentheses, the
functions ``startswith``, ``endswith`` and ``contains``, and the lambdas
``any``/``all`` over a collection (``categories/any(c:c eq 'Claimed')``,
``singleValueExtendedProperties/any(ep:ep/id eq '…' and ep/value eq '…')``).
String comparisons ignore case, as Exchange's do. `Filter.matches` evaluates
it against an entity's JSON; `Filter.properties` names the properties it uses,
in order, for Graph's rule on ``$filter`` with ``$orderby`` (`check_sortable`).

What the language or the entity does not allow raises `QueryError` with
Graph's code and message; the handler answers it with 400.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cmp_to_key
from typing import Any

__all__ = [
    "Filter",
    "OrderBy",
    "QueryError",
    "check_sortable",
    "parse_expand",
    "parse_filter",
    "parse_orderby",
    "parse_select",
    "sort",
    "sort_key_after",
    "value_at",
]


class QueryError(Exception):
    """A query option Graph refuses: its error code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _no_property(name: str, entity: str) -> QueryError:
    return QueryError(
        "RequestBroker--ParseUri",
        f"Could not find a property named '{name}' on type 'microsoft.graph.{entity}'.",
    )


def _canonical(name: str, known: Collection[str], entity: str) -> str:
    for candidate in known:
        if candidate.casefold() == name.casefold():
            return candidate
    raise _no_property(name, entity)


# ---------------------------------------------------------------------------- $select


def parse_select(values: Sequence[str], known: Collection[str], entity: str) -> list[str] | None:
    """The properties ``$select`` names (as the entity spells them), or None without one."""
    names = [n.strip() for v in values for n in v.split(",") if n.strip()]
    if not values:
        return None
    return [_canonical(n, known, entity) for n in names]


# --------------------------------------------------------------------------- $orderby


@dataclass(frozen=True)
class OrderBy:
    """One sort key: a property path and its direction."""

    path: tuple[str, ...]
    descending: bool = False


def parse_orderby(values: Sequence[str], known: Collection[str], entity: str) -> list[OrderBy]:
    """``$orderby=receivedDateTime asc,subject desc`` as sort keys."""
    keys: list[OrderBy] = []
    for value in values:
        for item in value.split(","):
            words = item.split()
            if not words:
                continue
            if len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
                raise QueryError("BadRequest", f"Invalid $orderby clause: '{item.strip()}'.")
            path = tuple(words[0].split("/"))
            first = _canonical(path[0], known, entity)
            keys.append(OrderBy((first, *path[1:]), len(words) == 2 and words[1].lower() == "desc"))
    return keys


def value_at(entity: Any, path: Sequence[str]) -> Any:
    """The value at a property path (``from/emailAddress/address``), None when missing."""
    current: Any = entity
    for step in path:
        if not isinstance(current, Mapping):
            return None
        current = current.get(step)
    return current


def _order(a: Any, b: Any) -> int:
    if a is None or b is None:
        return (a is not None) - (b is not None)  # null first
    if isinstance(a, str) and isinstance(b, str):
        a, b = a.casefold(), b.casefold()
    try:
        return int(a > b) - int(a < b)
    except TypeError:
        return int(str(a) > str(b)) - int(str(a) < str(b))


def _values(row: tuple[Mapping[str, Any], int], keys: Sequence[OrderBy]) -> list[Any]:
    return [value_at(row[0], key.path) for key in keys] + [row[1]]


def _compare(xs: Sequence[Any], ys: Sequence[Any], keys: Sequence[OrderBy]) -> int:
    """Order of two rows' sort values (the arrival number last): ties go in arrival order,
    or its reverse when the first key is descending."""
    for key, x, y in zip(keys, xs, ys, strict=False):
        found = _order(x, y)
        if found:
            return -found if key.descending else found
    tie = int(xs[-1] > ys[-1]) - int(xs[-1] < ys[-1])
    return -tie if keys and keys[0].descending else tie


def sort(
    rows: Sequence[tuple[Mapping[str, Any], int]], keys: Sequence[OrderBy]
) -> list[tuple[Mapping[str, Any], int]]:
    """``(entity, arrival number)`` pairs in ``keys`` order."""

    def compare(x: tuple[Mapping[str, Any], int], y: tuple[Mapping[str, Any], int]) -> int:
        return _compare(_values(x, keys), _values(y, keys), keys)

    return sorted(rows, key=cmp_to_key(compare))


def sort_key_after(
    ordered: Sequence[tuple[Mapping[str, Any], int]], keys: Sequence[OrderBy], after: Sequence[Any]
) -> int:
    """The index of the first row of ``ordered`` that sorts after the sort values ``after``."""
    if len(after) != len(keys) + 1:
        raise QueryError("BadRequest", "Invalid $skiptoken value.")
    for index, row in enumerate(ordered):
        if _compare(_values(row, keys), after, keys) > 0:
            return index
    return len(ordered)


# ---------------------------------------------------------------------------- $expand


def parse_expand(values: Sequence[str]) -> dict[str, str | None]:
    """``$expand=attachments,singleValueExtendedProperties($filter=id eq '…')`` as
    ``{name: its $filter or None}`` (names as sent)."""
    found: dict[str, str | None] = {}
    for value in values:
        depth, start = 0, 0
        pieces: list[str] = []
        for i, ch in enumerate(value):
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
            elif ch == "," and depth == 0:
                pieces.append(value[start:i])
                start = i + 1
        pieces.append(value[start:])
        for piece in (p.strip() for p in pieces if p.strip()):
            m = re.fullmatch(r"([A-Za-z]+)(?:\((.*)\))?", piece, re.DOTALL)
            if m is None:
                raise QueryError("BadRequest", f"Invalid $expand clause: '{piece}'.")
            inner = m.group(2)
            nested = None
            if inner:
                fm = re.fullmatch(r"\s*\$filter\s*=\s*(.*)", inner, re.DOTALL)
                if fm is None:
                    raise QueryError("BadRequest", f"Invalid $expand clause: '{piece}'.")
                nested = fm.group(1)
            found[m.group(1)] = nested
    return found


# ---------------------------------------------------------------------------- $filter

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>'(?:[^']|'')*')
    | (?P<datetime>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?)
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
    | (?P<punct>[(),/:])
    )""",
    re.VERBOSE,
)
_COMPARE = {"eq", "ne", "gt", "ge", "lt", "le"}
_FUNCTIONS = {"startswith", "endswith", "contains"}


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise QueryError(
                "BadRequest", f"Invalid filter clause: syntax error at '{text[pos:]}'."
            )
        kind = m.lastgroup or "punct"
        out.append(_Tok(kind, m.group(kind)))
        pos = m.end()
    return out


Node = tuple[Any, ...]
"""A filter's syntax tree: ``("or", a, b)``, ``("cmp", op, left, right)``, ``("path", steps)``..."""


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.pos = 0
        self.text = text

    def _peek(self) -> _Tok | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def _next(self) -> _Tok:
        tok = self._peek()
        if tok is None:
            raise self._error("unexpected end")
        self.pos += 1
        return tok

    def _error(self, what: str) -> QueryError:
        return QueryError("BadRequest", f"Invalid filter clause: {what} in '{self.text}'.")

    def _expect(self, text: str) -> None:
        tok = self._next()
        if tok.text != text:
            raise self._error(f"expected '{text}', found '{tok.text}'")

    def _is(self, word: str) -> bool:
        tok = self._peek()
        return tok is not None and tok.kind == "name" and tok.text.lower() == word

    def parse(self) -> Node:
        node = self.or_()
        if self._peek() is not None:
            raise self._error(f"unexpected '{self._next().text}'")
        return node

    def or_(self) -> Node:
        node = self.and_()
        while self._is("or"):
            self.pos += 1
            node = ("or", node, self.and_())
        return node

    def and_(self) -> Node:
        node = self.not_()
        while self._is("and"):
            self.pos += 1
            node = ("and", node, self.not_())
        return node

    def not_(self) -> Node:
        if self._is("not"):
            self.pos += 1
            return ("not", self.not_())
        return self.comparison()

    def comparison(self) -> Node:
        left = self.operand()
        tok = self._peek()
        if tok is not None and tok.kind == "name" and tok.text.lower() in _COMPARE:
            self.pos += 1
            return ("cmp", tok.text.lower(), left, self.operand())
        return ("truth", left)

    def operand(self) -> Node:
        tok = self._next()
        if tok.text == "(":
            node = self.or_()
            self._expect(")")
            return node
        if tok.kind == "string":
            return ("lit", tok.text[1:-1].replace("''", "'"))
        if tok.kind == "datetime":
            return ("lit", _datetime(tok.text))
        if tok.kind == "number":
            return ("lit", float(tok.text) if "." in tok.text else int(tok.text))
        if tok.kind != "name":
            raise self._error(f"unexpected '{tok.text}'")
        word = tok.text
        if word.lower() in ("true", "false"):
            return ("lit", word.lower() == "true")
        if word.lower() == "null":
            return ("lit", None)
        nxt = self._peek()
        if word.lower() in _FUNCTIONS and nxt is not None and nxt.text == "(":
            self.pos += 1
            first = self.operand()
            self._expect(",")
            second = self.operand()
            self._expect(")")
            return ("fn", word.lower(), first, second)
        steps = [word]
        while (nxt := self._peek()) is not None and nxt.text == "/":
            self.pos += 1
            step = self._next()
            if step.kind != "name":
                raise self._error(f"unexpected '{step.text}'")
            after = self._peek()
            if step.text.lower() in ("any", "all") and after is not None and after.text == "(":
                self.pos += 1
                var = self._next()
                if var.kind != "name":
                    raise self._error("expected a lambda variable")
                self._expect(":")
                body = self.or_()
                self._expect(")")
                return ("lambda", step.text.lower(), tuple(steps), var.text, body)
            steps.append(step.text)
        return ("path", tuple(steps))


def _datetime(text: str) -> datetime:
    if "T" not in text:
        text += "T00:00:00Z"
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Filter:
    """A parsed ``$filter``."""

    tree: Node
    text: str

    @property
    def properties(self) -> list[str]:
        """The entity properties it uses, first use first (lambda bodies left out)."""
        found: list[str] = []

        def walk(node: Node) -> None:
            kind = node[0]
            if kind == "path":
                if node[1][0] not in found:
                    found.append(node[1][0])
            elif kind == "lambda":
                if node[2][0] not in found:
                    found.append(node[2][0])
            elif kind in ("or", "and"):
                walk(node[1])
                walk(node[2])
            elif kind in ("not", "truth"):
                walk(node[1])
            elif kind == "cmp" or kind == "fn":
                walk(node[2])
                walk(node[3])

        walk(self.tree)
        return found

    def matches(self, entity: Mapping[str, Any]) -> bool:
        return _truth(_eval(self.tree, entity, {}))


def parse_filter(text: str, known: Collection[str], entity: str) -> Filter:
    """Parse ``text``; every property path must start with a property of the entity."""
    tree = _Parser(text).parse()
    parsed = Filter(_bind(tree, known, entity, frozenset()), text)
    return parsed


def _bind(node: Node, known: Collection[str], entity: str, variables: frozenset[str]) -> Node:
    """The tree with property names spelled as the entity spells them (unknown: an error)."""
    kind = node[0]
    if kind == "path":
        steps = node[1]
        if steps[0] in variables:
            return node
        return ("path", (_canonical(steps[0], known, entity), *steps[1:]))
    if kind == "lambda":
        _, how, steps, var, body = node
        steps = (_canonical(steps[0], known, entity), *steps[1:])
        return ("lambda", how, steps, var, _bind(body, known, entity, variables | {var}))
    if kind in ("or", "and"):
        return (
            kind,
            _bind(node[1], known, entity, variables),
            _bind(node[2], known, entity, variables),
        )
    if kind in ("not", "truth"):
        return (kind, _bind(node[1], known, entity, variables))
    if kind == "cmp":
        return (
            "cmp",
            node[1],
            _bind(node[2], known, entity, variables),
            _bind(node[3], known, entity, variables),
        )
    if kind == "fn":
        return (
            "fn",
            node[1],
            _bind(node[2], known, entity, variables),
            _bind(node[3], known, entity, variables),
        )
    return node


def _truth(value: Any) -> bool:
    return value is True


def _resolve(steps: Sequence[str], entity: Mapping[str, Any], scope: Mapping[str, Any]) -> Any:
    if steps[0] in scope:
        return value_at(scope[steps[0]], steps[1:])
    return value_at(entity, steps)


def _coerce(a: Any, b: Any) -> tuple[Any, Any]:
    if isinstance(b, datetime) and isinstance(a, str):
        try:
            return _datetime(a), b
        except ValueError:
            return a, None
    if isinstance(a, datetime) and isinstance(b, str):
        b2, a2 = _coerce(b, a)
        return a2, b2
    if isinstance(a, str) and isinstance(b, str):
        return a.casefold(), b.casefold()
    return a, b


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
}


def _eval(node: Node, entity: Mapping[str, Any], scope: Mapping[str, Any]) -> Any:
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "path":
        return _resolve(node[1], entity, scope)
    if kind == "or":
        return _truth(_eval(node[1], entity, scope)) or _truth(_eval(node[2], entity, scope))
    if kind == "and":
        return _truth(_eval(node[1], entity, scope)) and _truth(_eval(node[2], entity, scope))
    if kind == "not":
        return not _truth(_eval(node[1], entity, scope))
    if kind == "truth":
        return _truth(_eval(node[1], entity, scope))
    if kind == "cmp":
        a, b = _coerce(_eval(node[2], entity, scope), _eval(node[3], entity, scope))
        if node[1] in ("eq", "ne"):
            return _OPS[node[1]](a, b)
        if a is None or b is None:
            return False
        try:
            return _OPS[node[1]](a, b)
        except TypeError:
            return False
    if kind == "fn":
        a, b = _eval(node[2], entity, scope), _eval(node[3], entity, scope)
        if not isinstance(a, str) or not isinstance(b, str):
            return False
        a, b = a.casefold(), b.casefold()
        return {"startswith": a.startswith, "endswith": a.endswith, "contains": a.__contains__}[
            node[1]
        ](b)
    if kind == "lambda":
        _, how, steps, var, body = node
        items = _resolve(steps, entity, scope)
        if not isinstance(items, list):
            items = []
        results = (_truth(_eval(body, entity, {**scope, var: item})) for item in items)
        return any(results) if how == "any" else all(results)
    raise QueryError("BadRequest", f"Invalid filter clause: cannot evaluate {kind}.")


def check_sortable(filter_: Filter | None, keys: Sequence[OrderBy]) -> None:
    """Graph's rule for ``$filter`` with ``$orderby`` on messages: the sorted properties must
    be filtered on too, in the same order, before any other (else 400 ``InefficientFilter``)."""
    if filter_ is None or not keys:
        return
    used = [p.casefold() for p in filter_.properties]
    wanted = [k.path[0].casefold() for k in keys]
    if used[: len(wanted)] != wanted:
        raise QueryError(
            "InefficientFilter", "The restriction or sort order is too complex for this operation."
        )

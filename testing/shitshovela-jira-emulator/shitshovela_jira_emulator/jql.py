"""A small JQL parser and evaluator: the subset a ticket-batch client needs.

Tokenizer and recursive-descent parser follow Jira's lexical rules where a client can
trip on them: double- or single-quoted strings with backslash escapes (``\\"``, ``\\'``,
``\\\\``, ``\\n``, ``\\r``, ``\\t``, ``\\ ``, ``\\uXXXX``), unquoted words, reserved
characters and reserved words that must be quoted to be used as values. Errors carry
Jira's wording ("Error in the JQL Query: ... (line 1, character N)").

Grammar::

    query    := [or_expr] [ORDER BY sort ("," sort)*] EOF
    or_expr  := and_expr ((OR | "|" | "||") and_expr)*
    and_expr := not_expr ((AND | "&" | "&&") not_expr)*
    not_expr := (NOT | "!") not_expr | "(" or_expr ")" | clause
    clause   := field operator operand
    field    := WORD | STRING | "issue.property" "[" key "]" ["." path]
    operator := "=" | "!=" | ">" | ">=" | "<" | "<=" | "~" | "!~"
              | IN | NOT IN | IS | IS NOT
    operand  := value | EMPTY | NULL | function | "(" value ("," value)* ")"
    sort     := field [ASC | DESC]
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .state import IssueRecord

__all__ = [
    "Clause",
    "JqlError",
    "Query",
    "SortKey",
    "compile_query",
    "escape_jql_string",
    "parse",
    "tokenize",
]

# Jira's list of reserved JQL words (Atlassian: "Advanced search reference - JQL").
RESERVED_WORDS = frozenset(
    [
        "a",
        "an",
        "abort",
        "access",
        "add",
        "after",
        "alias",
        "all",
        "alter",
        "and",
        "any",
        "are",
        "as",
        "asc",
        "audit",
        "avg",
        "before",
        "begin",
        "between",
        "boolean",
        "break",
        "by",
        "byte",
        "catch",
        "cf",
        "char",
        "character",
        "check",
        "checkpoint",
        "collate",
        "collation",
        "column",
        "commit",
        "connect",
        "continue",
        "count",
        "create",
        "current",
        "date",
        "decimal",
        "declare",
        "decrement",
        "default",
        "defaults",
        "define",
        "delete",
        "delimiter",
        "desc",
        "difference",
        "distinct",
        "divide",
        "do",
        "double",
        "drop",
        "else",
        "empty",
        "encoding",
        "end",
        "equals",
        "escape",
        "exclusive",
        "exec",
        "execute",
        "exists",
        "explain",
        "false",
        "fetch",
        "file",
        "field",
        "first",
        "float",
        "for",
        "from",
        "function",
        "go",
        "goto",
        "grant",
        "greater",
        "group",
        "having",
        "identified",
        "if",
        "immediate",
        "in",
        "increment",
        "index",
        "initial",
        "inner",
        "inout",
        "input",
        "insert",
        "int",
        "integer",
        "intersect",
        "intersection",
        "into",
        "is",
        "isempty",
        "isnull",
        "join",
        "last",
        "left",
        "less",
        "like",
        "limit",
        "lock",
        "long",
        "max",
        "min",
        "minus",
        "mode",
        "modify",
        "modulo",
        "more",
        "multiply",
        "next",
        "noaudit",
        "not",
        "notin",
        "nowait",
        "null",
        "number",
        "object",
        "of",
        "on",
        "option",
        "or",
        "order",
        "outer",
        "output",
        "power",
        "previous",
        "prior",
        "privileges",
        "public",
        "raise",
        "raw",
        "remainder",
        "rename",
        "resume",
        "return",
        "returns",
        "revoke",
        "right",
        "row",
        "rowid",
        "rownum",
        "rows",
        "select",
        "session",
        "set",
        "share",
        "size",
        "sqrt",
        "start",
        "strict",
        "string",
        "subtract",
        "sum",
        "synonym",
        "table",
        "then",
        "to",
        "trans",
        "transaction",
        "trigger",
        "true",
        "uid",
        "union",
        "unique",
        "update",
        "user",
        "validate",
        "values",
        "view",
        "when",
        "whenever",
        "where",
        "while",
        "with",
    ]
)
KEYWORDS = frozenset({"and", "or", "not", "in", "is", "empty", "null", "order", "by"})
RESERVED_CHARS = frozenset("{}*/%+^$#@?;")
_STOP_CHARS = frozenset(" \t\r\n\f()[],=!<>~\"'&|")
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", '"': '"', "'": "'", "\\": "\\", " ": " "}


class JqlError(ValueError):
    """A JQL syntax or semantic error; ``str()`` is Jira's error message."""


# --------------------------------------------------------------------------- tokens


@dataclass(frozen=True)
class Token:
    kind: str  # WORD STRING OP LPAREN RPAREN LBRACKET RBRACKET COMMA AND OR NOT EOF ...
    text: str  # decoded text (words/strings), operator text, or keyword (lower case)
    pos: int  # 1-based character position
    raw: str = ""

    @property
    def reserved(self) -> bool:
        return self.kind == "WORD" and self.text.lower() in RESERVED_WORDS


def _where(pos: int) -> str:
    return f"(line 1, character {pos})"


def _read_escape(jql: str, i: int, start: int) -> tuple[str, int]:
    """Decode the escape starting at jql[i] == '\\'; return (char, next index)."""
    if i + 1 >= len(jql):
        raise JqlError(
            f"Error in the JQL Query: The escape sequence '\\' is invalid. {_where(start)}"
        )
    c = jql[i + 1]
    if c in _ESCAPES:
        return _ESCAPES[c], i + 2
    if c == "u":
        hexdigits = jql[i + 2 : i + 6]
        if len(hexdigits) == 4 and all(h in "0123456789abcdefABCDEF" for h in hexdigits):
            return chr(int(hexdigits, 16)), i + 6
    raise JqlError(
        f"Error in the JQL Query: The escape sequence '\\{c}' is invalid. {_where(i + 1)}"
    )


def tokenize(jql: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(jql)
    while i < n:
        c = jql[i]
        pos = i + 1
        if c in " \t\r\n\f":
            i += 1
        elif c in "()[],":
            kind = {"(": "LPAREN", ")": "RPAREN", "[": "LBRACKET", "]": "RBRACKET", ",": "COMMA"}
            tokens.append(Token(kind[c], c, pos, c))
            i += 1
        elif c in "!<>=~":
            two = jql[i : i + 2]
            if two in ("!=", "!~", ">=", "<="):
                tokens.append(Token("OP", two, pos, two))
                i += 2
            elif c == "!":
                tokens.append(Token("NOT", "not", pos, c))
                i += 1
            else:
                tokens.append(Token("OP", c, pos, c))
                i += 1
        elif c in "&|":
            length = 2 if jql[i : i + 2] in ("&&", "||") else 1
            tokens.append(Token("AND" if c == "&" else "OR", c * length, pos, c * length))
            i += length
        elif c in "\"'":
            quote = c
            j = i + 1
            out: list[str] = []
            while True:
                if j >= n:
                    raise JqlError(
                        "Error in the JQL Query: The quoted string "
                        f"'{jql[i + 1 :]}' has not been completed. {_where(pos)}"
                    )
                ch = jql[j]
                if ch == quote:
                    j += 1
                    break
                if ch == "\\":
                    decoded, j = _read_escape(jql, j, pos)
                    out.append(decoded)
                    continue
                if ch in "\r\n" or ord(ch) < 0x20:
                    raise JqlError(
                        "Error in the JQL Query: The quoted string "
                        f"'{jql[i + 1 : j]}' contains the illegal character "
                        f"'\\u{ord(ch):04x}'. {_where(j + 1)}"
                    )
                out.append(ch)
                j += 1
            tokens.append(Token("STRING", "".join(out), pos, jql[i:j]))
            i = j
        else:
            j = i
            out = []
            while j < n and jql[j] not in _STOP_CHARS:
                ch = jql[j]
                if ch in RESERVED_CHARS:
                    raise JqlError(
                        f"Error in the JQL Query: The character '{ch}' is a reserved JQL "
                        "character. You must enclose it in a string or use the escape "
                        f"'\\u{ord(ch):04x}' instead. {_where(j + 1)}"
                    )
                if ch == "\\":
                    decoded, j = _read_escape(jql, j, pos)
                    out.append(decoded)
                    continue
                out.append(ch)
                j += 1
            word = "".join(out)
            raw = jql[i:j]
            low = raw.lower()
            if low in KEYWORDS and raw == word:
                tokens.append(Token(low.upper(), low, pos, raw))
            else:
                tokens.append(Token("WORD", word, pos, raw))
            i = j
    tokens.append(Token("EOF", "", n + 1, ""))
    return tokens


# ----------------------------------------------------------------------------- AST


@dataclass(frozen=True)
class FieldRef:
    name: str  # lower-cased field name, e.g. "labels", "issue.property"
    display: str
    prop_key: str | None = None
    prop_path: tuple[str, ...] = ()


@dataclass(frozen=True)
class Operand:
    kind: str  # "value" | "empty" | "function"
    text: str
    pos: int


@dataclass(frozen=True)
class Clause:
    field: FieldRef
    op: str  # "=", "!=", "in", "not in", "is", "is not", "~", "!~", ">", ">=", "<", "<="
    operands: tuple[Operand, ...]
    pos: int


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


Node = Clause | And | Or | Not


@dataclass(frozen=True)
class SortKey:
    field: FieldRef
    descending: bool


@dataclass(frozen=True)
class Query:
    where: Node | None
    order_by: tuple[SortKey, ...] = field(default_factory=tuple)


# -------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, jql: str) -> None:
        self.tokens = tokenize(jql)
        self.i = 0

    def peek(self, offset: int = 0) -> Token:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def next(self) -> Token:
        tok = self.peek()
        self.i += 1
        return tok

    @staticmethod
    def _got(tok: Token) -> str:
        return "end of query" if tok.kind == "EOF" else f"'{tok.raw}'"

    def _reserved_error(self, tok: Token) -> JqlError:
        return JqlError(
            f"Error in the JQL Query: '{tok.raw}' is a reserved JQL word. You must surround "
            f"it in quotation marks to use it in a query. {_where(tok.pos)}"
        )

    def parse(self) -> Query:
        where: Node | None = None
        if self.peek().kind not in ("EOF", "ORDER"):
            where = self.or_expr()
        order: list[SortKey] = []
        tok = self.peek()
        if tok.kind == "ORDER":
            self.next()
            by = self.next()
            if by.kind != "BY":
                raise JqlError(
                    f"Error in the JQL Query: Expecting 'by' but got {self._got(by)}. "
                    f"{_where(by.pos)}"
                )
            while True:
                fref = self.field()
                desc = False
                t = self.peek()
                if t.kind == "WORD" and t.raw.lower() in ("asc", "desc"):
                    self.next()
                    desc = t.raw.lower() == "desc"
                order.append(SortKey(fref, desc))
                if self.peek().kind == "COMMA":
                    self.next()
                    continue
                break
            if len(order) > 7:
                raise JqlError(
                    "Error in the JQL Query: The ORDER BY clause can contain at most 7 fields."
                )
        tok = self.peek()
        if tok.kind != "EOF":
            raise JqlError(
                "Error in the JQL Query: Expecting either 'OR' or 'AND' but got "
                f"{self._got(tok)}. {_where(tok.pos)}"
            )
        return Query(where, tuple(order))

    def or_expr(self) -> Node:
        items = [self.and_expr()]
        while self.peek().kind == "OR":
            self.next()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self) -> Node:
        items = [self.not_expr()]
        while self.peek().kind == "AND":
            self.next()
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else And(tuple(items))

    def not_expr(self) -> Node:
        tok = self.peek()
        if tok.kind == "NOT":
            self.next()
            return Not(self.not_expr())
        if tok.kind == "LPAREN":
            self.next()
            inner = self.or_expr()
            close = self.next()
            if close.kind != "RPAREN":
                raise JqlError(
                    f"Error in the JQL Query: Expecting ')' but got {self._got(close)}. "
                    f"{_where(close.pos)}"
                )
            return inner
        return self.clause()

    def field(self) -> FieldRef:
        tok = self.next()
        if tok.kind == "WORD" and tok.reserved:
            raise self._reserved_error(tok)
        if tok.kind not in ("WORD", "STRING"):
            if tok.kind in KEYWORDS_UPPER:
                raise self._reserved_error(tok)
            raise JqlError(
                f"Error in the JQL Query: Expecting a field name but got {self._got(tok)}. "
                f"{_where(tok.pos)}"
            )
        name = tok.text
        if tok.kind == "WORD" and name.lower() == "issue.property":
            lb = self.next()
            if lb.kind != "LBRACKET":
                raise JqlError(
                    f"Error in the JQL Query: Expecting '[' but got {self._got(lb)}. "
                    f"{_where(lb.pos)}"
                )
            key_tok = self.next()
            if key_tok.kind not in ("WORD", "STRING"):
                raise JqlError(
                    "Error in the JQL Query: Expecting a property key but got "
                    f"{self._got(key_tok)}. {_where(key_tok.pos)}"
                )
            rb = self.next()
            if rb.kind != "RBRACKET":
                raise JqlError(
                    f"Error in the JQL Query: Expecting ']' but got {self._got(rb)}. "
                    f"{_where(rb.pos)}"
                )
            path: tuple[str, ...] = ()
            nxt = self.peek()
            if nxt.kind == "WORD" and nxt.text.startswith(".") and nxt.pos == rb.pos + 1:
                self.next()
                path = tuple(p for p in nxt.text[1:].split(".") if p)
                if not path:
                    raise JqlError(
                        f"Error in the JQL Query: Invalid property path '{nxt.raw}'. "
                        f"{_where(nxt.pos)}"
                    )
            display = f"issue.property[{key_tok.text}]" + "".join("." + p for p in path)
            return FieldRef("issue.property", display, key_tok.text, path)
        return FieldRef(name.lower(), name)

    def operator(self) -> str:
        tok = self.next()
        if tok.kind == "OP":
            return tok.text
        if tok.kind == "IN":
            return "in"
        if tok.kind == "NOT" and self.peek().kind == "IN":
            self.next()
            return "not in"
        if tok.kind == "IS":
            if self.peek().kind == "NOT":
                self.next()
                return "is not"
            return "is"
        raise JqlError(
            f"Error in the JQL Query: Expecting operator but got {self._got(tok)}. The valid "
            "operators are '=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', 'NOT IN', 'IS' "
            f"and 'IS NOT'. {_where(tok.pos)}"
        )

    def value(self) -> Operand:
        tok = self.next()
        if tok.kind == "STRING":
            return Operand("value", tok.text, tok.pos)
        if tok.kind in ("EMPTY", "NULL"):
            return Operand("empty", tok.text, tok.pos)
        if tok.kind == "WORD":
            if tok.reserved:
                raise self._reserved_error(tok)
            if self.peek().kind == "LPAREN":
                self.next()
                args: list[str] = []
                while self.peek().kind != "RPAREN":
                    arg = self.next()
                    if arg.kind not in ("WORD", "STRING"):
                        raise JqlError(
                            "Error in the JQL Query: Expecting ')' but got "
                            f"{self._got(arg)}. {_where(arg.pos)}"
                        )
                    args.append(arg.text)
                    if self.peek().kind == "COMMA":
                        self.next()
                self.next()
                return Operand("function", tok.text.lower(), tok.pos)
            return Operand("value", tok.text, tok.pos)
        if tok.kind in KEYWORDS_UPPER:
            raise self._reserved_error(tok)
        raise JqlError(
            "Error in the JQL Query: Expecting either a value, list or function but got "
            f"{self._got(tok)}. {_where(tok.pos)}"
        )

    def clause(self) -> Clause:
        start = self.peek().pos
        fref = self.field()
        op = self.operator()
        operands: list[Operand] = []
        if self.peek().kind == "LPAREN":
            lp = self.next()
            if op not in ("in", "not in"):
                raise JqlError(
                    f"Error in the JQL Query: The operator '{op.upper()}' does not support "
                    f"list values. {_where(lp.pos)}"
                )
            while True:
                operands.append(self.value())
                sep = self.next()
                if sep.kind == "COMMA":
                    continue
                if sep.kind == "RPAREN":
                    break
                raise JqlError(
                    "Error in the JQL Query: Expecting either ',' or ')' but got "
                    f"{self._got(sep)}. {_where(sep.pos)}"
                )
        else:
            operands.append(self.value())
            if op in ("in", "not in") and operands[0].kind != "function":
                raise JqlError(
                    f"Error in the JQL Query: The operator '{op.upper()}' requires a list "
                    f"value. {_where(operands[0].pos)}"
                )
        if op in ("is", "is not") and any(o.kind != "empty" for o in operands):
            raise JqlError(
                f"Error in the JQL Query: The operator '{op.upper()}' only supports EMPTY or "
                f"NULL. {_where(operands[0].pos)}"
            )
        return Clause(fref, op, tuple(operands), start)


KEYWORDS_UPPER = frozenset(k.upper() for k in KEYWORDS)


def parse(jql: str) -> Query:
    """Parse a JQL string; raises :class:`JqlError` with Jira's wording."""
    return _Parser(jql).parse()


def escape_jql_string(value: str) -> str:
    """Quote ``value`` as a JQL double-quoted string literal (a reference client helper)."""
    out = value.replace("\\", "\\\\").replace('"', '\\"').replace("'", "\\'")
    out = out.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return f'"{out}"'


# ---------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class JqlContext:
    """What the compiler needs to know about the instance, for semantic checks."""

    projects: Mapping[str, tuple[str, str]]  # upper key -> (id, name), visible projects only
    issue_keys: Mapping[str, str]  # upper key -> id, and id -> id, visible issues only
    now: _dt.datetime
    indexed_properties: Mapping[str, Collection[str]] | None = None


Predicate = Callable[["IssueRecord"], bool]

_FIELD_ALIASES = {
    "issuekey": "key",
    "key": "key",
    "id": "key",
    "project": "project",
    "labels": "labels",
    "label": "labels",
    "issuetype": "issuetype",
    "type": "issuetype",
    "status": "status",
    "priority": "priority",
    "component": "component",
    "components": "component",
    "created": "created",
    "createddate": "created",
    "updated": "updated",
    "updateddate": "updated",
    "summary": "summary",
    "description": "description",
    "text": "text",
    "issue.property": "issue.property",
}
_TEXT_FIELDS = {"summary", "description", "text"}
_DATE_FIELDS = {"created", "updated"}


def _no_field(fref: FieldRef) -> JqlError:
    return JqlError(
        f"Field '{fref.display}' does not exist or you do not have permission to view it."
    )


def _unsupported_op(op: str, fref: FieldRef) -> JqlError:
    return JqlError(f"The operator '{op.upper()}' is not supported by the '{fref.display}' field.")


_REL = re.compile(r"^([+-]?)((?:\d+[yMwdhm]\s*)+)$")
_REL_PART = re.compile(r"(\d+)([yMwdhm])")
_DATE_FORMATS = ("%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M", "%Y/%m/%d", "%Y-%m-%d")


def _parse_date(text: str, fref: FieldRef, now: _dt.datetime) -> _dt.datetime:
    t = text.strip()
    m = _REL.match(t)
    if m:
        sign = -1 if m.group(1) == "-" else 1
        delta = _dt.timedelta()
        units = {"y": 365 * 86400, "M": 30 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600}
        for num, unit in _REL_PART.findall(m.group(2)):
            delta += _dt.timedelta(seconds=int(num) * units.get(unit, 60))
        return now + sign * delta
    for fmt in _DATE_FORMATS:
        try:
            return _dt.datetime.strptime(t, fmt).replace(tzinfo=_dt.UTC)
        except ValueError:
            continue
    raise JqlError(
        f"Date value '{text}' for field '{fref.display}' is invalid. Valid formats include: "
        "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period "
        "format e.g. '-5d', '4w 2d'."
    )


def _prop_values(value: Any, path: Sequence[str]) -> list[Any]:
    """Values at ``path`` in a property value; arrays match any element."""
    current: list[Any] = [value]
    for part in path:
        nxt: list[Any] = []
        for v in current:
            if isinstance(v, dict) and part in v:
                nxt.append(v[part])
            elif isinstance(v, list):
                nxt.extend(x[part] for x in v if isinstance(x, dict) and part in x)
        current = nxt
    flat: list[Any] = []
    for v in current:
        if isinstance(v, list):
            flat.extend(v)
        elif v is not None:
            flat.append(v)
    return flat


def _scalar_text(v: Any) -> str | None:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float, str)):
        return str(v)
    return None


def _prop_equal(v: Any, text: str) -> bool:
    if isinstance(v, bool):
        return text.lower() == ("true" if v else "false")
    if isinstance(v, (int, float)):
        try:
            return float(text) == float(v)
        except ValueError:
            return False
    return isinstance(v, str) and v == text


def compile_query(
    query: Query, ctx: JqlContext
) -> tuple[Predicate, Callable[[list[IssueRecord]], list[IssueRecord]]]:
    """Check ``query`` against ``ctx`` and return (predicate, sorter)."""
    predicate = _compile(query.where, ctx) if query.where is not None else (lambda _r: True)
    sort_keys = query.order_by

    for sk in sort_keys:
        if _FIELD_ALIASES.get(sk.field.name) not in (
            "key",
            "created",
            "updated",
            "summary",
            "project",
            "issuetype",
            "status",
            "priority",
        ):
            raise JqlError(f"Not able to sort using field '{sk.field.display}'.")

    def sort_value(rec: IssueRecord, name: str) -> Any:
        if name == "key":
            return (rec.project_key, rec.number)
        if name in ("created", "updated"):
            return getattr(rec, name)
        return str(getattr(rec, {"project": "project_key"}.get(name, name))).lower()

    def sorter(records: list[IssueRecord]) -> list[IssueRecord]:
        out = sorted(records, key=lambda r: int(r.id))
        for sk in reversed(sort_keys):
            name = _FIELD_ALIASES[sk.field.name]
            out.sort(key=functools.partial(sort_value, name=name), reverse=sk.descending)
        return out

    return predicate, sorter


def _compile(node: Node, ctx: JqlContext) -> Predicate:
    if isinstance(node, And):
        parts = [_compile(n, ctx) for n in node.items]
        return lambda r: all(p(r) for p in parts)
    if isinstance(node, Or):
        parts = [_compile(n, ctx) for n in node.items]
        return lambda r: any(p(r) for p in parts)
    if isinstance(node, Not):
        inner = _compile(node.item, ctx)
        return lambda r: not inner(r)
    return _compile_clause(node, ctx)


def _values(clause: Clause, ctx: JqlContext) -> list[str]:
    out: list[str] = []
    for o in clause.operands:
        if o.kind == "function":
            if o.text == "now":
                out.append(ctx.now.strftime("%Y-%m-%d %H:%M"))
                continue
            raise JqlError(f"Unable to find JQL function '{o.text}()'.")
        out.append(o.text)
    return out


def _compile_clause(c: Clause, ctx: JqlContext) -> Predicate:
    fname = _FIELD_ALIASES.get(c.field.name)
    if fname is None:
        raise _no_field(c.field)
    op = c.op
    has_empty = any(o.kind == "empty" for o in c.operands)
    if op in ("is", "is not"):
        return _empty_predicate(fname, c, negate=op == "is not", ctx=ctx)
    if has_empty and op in ("=", "!="):
        return _empty_predicate(fname, c, negate=op == "!=", ctx=ctx)
    if has_empty:
        raise JqlError(f"The operator '{op.upper()}' does not support EMPTY or NULL.")
    values = _values(c, ctx)

    if fname in _TEXT_FIELDS:
        if op not in ("~", "!~"):
            raise _unsupported_op(op, c.field)
        terms = [t for t in re.split(r"\s+", values[0].lower()) if t]

        def text_of(r: IssueRecord) -> str:
            parts = {
                "summary": [r.summary],
                "description": [r.description or ""],
                "text": [r.summary, r.description or ""] + [str(x) for x in r.comments],
            }[fname]
            return "\n".join(parts).lower()

        def contains(r: IssueRecord) -> bool:
            return all(t in text_of(r) for t in terms)

        return contains if op == "~" else (lambda r: not contains(r))

    if fname in _DATE_FIELDS:
        if op not in ("=", "!=", ">", ">=", "<", "<="):
            raise _unsupported_op(op, c.field)
        bound = _parse_date(values[0], c.field, ctx.now)
        cmp: dict[str, Callable[[_dt.datetime], bool]] = {
            "=": lambda d: d == bound,
            "!=": lambda d: d != bound,
            ">": lambda d: d > bound,
            ">=": lambda d: d >= bound,
            "<": lambda d: d < bound,
            "<=": lambda d: d <= bound,
        }
        test = cmp[op]
        return lambda r: test(getattr(r, fname))

    if op not in ("=", "!=", "in", "not in", "~", "!~"):
        raise _unsupported_op(op, c.field)
    if op in ("~", "!~") and fname != "issue.property":
        raise _unsupported_op(op, c.field)
    negate = op in ("!=", "not in", "!~")

    if fname == "issue.property":
        key = c.field.prop_key or ""
        path = c.field.prop_path
        indexed = ctx.indexed_properties
        if indexed is not None and ".".join(path) not in indexed.get(key, ()):
            return lambda _r: False  # not indexed: Jira silently matches nothing

        def prop_match(r: IssueRecord) -> bool | None:
            if key not in r.properties:
                return None
            found = _prop_values(r.properties[key], path)
            if not found:
                return None
            if op in ("~", "!~"):
                needles = [v.lower() for v in values]
                return any(
                    (s := _scalar_text(f)) is not None and n in s.lower()
                    for f in found
                    for n in needles
                )
            return any(_prop_equal(f, v) for f in found for v in values)

        if negate:
            return lambda r: prop_match(r) is False
        return lambda r: prop_match(r) is True

    if fname == "project":
        wanted: set[str] = set()
        for v in values:
            hit = _find_project(v, ctx)
            if hit is None:
                raise JqlError(f"The value '{v}' does not exist for the field 'project'.")
            wanted.add(hit)
        if negate:
            return lambda r: r.project_key not in wanted
        return lambda r: r.project_key in wanted

    if fname == "key":
        ids: set[str] = set()
        for v in values:
            found_id = ctx.issue_keys.get(v.strip().upper())
            if found_id is None:
                if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*-\d+", v.strip()) or v.strip().isdigit():
                    raise JqlError(
                        f"An issue with key '{v}' does not exist for field '{c.field.display}'."
                    )
                raise JqlError(f"The issue key '{v}' for field '{c.field.display}' is invalid.")
            ids.add(found_id)
        if negate:
            return lambda r: r.id not in ids
        return lambda r: r.id in ids

    if fname == "labels":
        lower = {v.lower() for v in values}
        if negate:
            return lambda r: bool(r.labels) and not any(lb.lower() in lower for lb in r.labels)
        return lambda r: any(lb.lower() in lower for lb in r.labels)

    if fname == "component":
        lower = {v.lower() for v in values}
        if negate:
            return lambda r: (
                bool(r.components) and not any(x.lower() in lower for x in r.components)
            )
        return lambda r: any(x.lower() in lower for x in r.components)

    attr = fname  # issuetype, status, priority
    lower = {v.lower() for v in values}
    if negate:
        return lambda r: str(getattr(r, attr)).lower() not in lower
    return lambda r: str(getattr(r, attr)).lower() in lower


def _find_project(value: str, ctx: JqlContext) -> str | None:
    v = value.strip()
    if v.upper() in ctx.projects:
        return v.upper()
    for key, (pid, name) in ctx.projects.items():
        if v == pid or v.lower() == name.lower():
            return key
    return None


def _empty_predicate(fname: str, c: Clause, *, negate: bool, ctx: JqlContext) -> Predicate:
    def is_empty(r: IssueRecord) -> bool:
        if fname == "labels":
            return not r.labels
        if fname == "component":
            return not r.components
        if fname == "description":
            return not r.description
        if fname == "issue.property":
            key = c.field.prop_key or ""
            if key not in r.properties:
                return True
            return not _prop_values(r.properties[key], c.field.prop_path)
        if fname in ("key", "project", "issuetype", "status", "created", "updated", "summary"):
            return False
        if fname == "priority":
            return not r.priority
        raise _no_field(c.field)

    if fname == "issue.property" and ctx.indexed_properties is not None:
        key = c.field.prop_key or ""
        if ".".join(c.field.prop_path) not in ctx.indexed_properties.get(key, ()):
            return lambda _r: False
    return (lambda r: not is_empty(r)) if negate else is_empty


def is_bounded(query: Query) -> bool:
    """Jira Cloud's enhanced search refuses queries without a search restriction."""
    return query.where is not None

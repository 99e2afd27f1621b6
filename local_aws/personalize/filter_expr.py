"""Filter expressions: a pure parser for the documented grammar, plus value binding.

    expression := clause ("|" clause)*
    clause     := (INCLUDE|EXCLUDE) (ItemID|UserID) WHERE cond ((AND|OR) cond)*
                  [IF CurrentUser.FIELD op value]
    cond       := Dataset.FIELD op value
    op         := IN | NOT IN | = | < | <= | > | >=
    value      := "str" | number | * | $PARAM | CurrentItem.FIELD | "(" value ("," value)* ")"

Kept free of data access so it can be unit-tested and reused for attribute queries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import InvalidInput

DATASETS = {"ITEMS": "Items", "INTERACTIONS": "Interactions", "USERS": "Users"}
MAX_FIELDS = 5
_TOKEN = re.compile(r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<num>-?\d+(?:\.\d+)?)|(?P<param>\$[A-Za-z0-9_]+)
    |(?P<op><=|>=|=|<|>)|(?P<punct>[(),|*])|(?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)?))""", re.X)


@dataclass(frozen=True)
class Param:
    name: str


@dataclass(frozen=True)
class Ref:
    """``CurrentItem.FIELD`` or ``CurrentUser.FIELD``: resolved against the query's item/user."""

    scope: str
    field: str


@dataclass
class Cond:
    dataset: str  # Items, Interactions, Users
    field: str
    op: str  # IN, NOT IN, =, <, <=, >, >=
    values: list  # str, float, "*", Param or Ref


@dataclass
class Clause:
    action: str  # INCLUDE / EXCLUDE
    target: str  # ItemID / UserID
    terms: list[list[Cond]]  # OR of ANDs
    condition: Cond | None = None  # the IF CurrentUser part

    @property
    def dataset(self) -> str:
        return self.terms[0][0].dataset


@dataclass
class Expression:
    clauses: list[Clause] = field(default_factory=list)

    @property
    def target(self) -> str:
        return self.clauses[0].target


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        if not text[pos:].strip():
            break
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise InvalidInput(f"Invalid filter expression near {text[pos:pos + 20]!r}.")
        kind = match.lastgroup
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str):
        self.toks = _tokens(text)
        self.i = 0

    def peek(self, upper: bool = True) -> str | None:
        if self.i >= len(self.toks):
            return None
        value = self.toks[self.i][1]
        return value.upper() if upper else value

    def take(self, *expected: str) -> str:
        tok = self.peek()
        if tok is None or (expected and tok not in expected):
            raise InvalidInput(f"Invalid filter expression: expected {' or '.join(expected) or 'more'}, "
                               f"got {tok or 'end of expression'}.")
        self.i += 1
        return self.toks[self.i - 1][1]

    def expression(self) -> Expression:
        expr = Expression([self.clause()])
        while self.peek() == "|":
            self.take("|")
            expr.clauses.append(self.clause())
        if self.peek() is not None:
            raise InvalidInput(f"Invalid filter expression: unexpected {self.peek(False)!r}.")
        return expr

    def clause(self) -> Clause:
        action = self.take("INCLUDE", "EXCLUDE").upper()
        target = {"ITEMID": "ItemID", "USERID": "UserID"}[self.take("ITEMID", "USERID").upper()]
        self.take("WHERE")
        terms = [[self.cond()]]
        while self.peek() in ("AND", "OR"):
            joiner = self.take().upper()
            cond = self.cond()
            if joiner == "AND":
                terms[-1].append(cond)
            else:
                terms.append([cond])
        condition = None
        if self.peek() == "IF":
            self.take("IF")
            condition = self.cond()
            if condition.dataset != "CurrentUser":
                raise InvalidInput("The IF part of a filter must test CurrentUser.<FIELD>.")
        datasets = {c.dataset for term in terms for c in term}
        if len(datasets) > 1:
            raise InvalidInput("One filter expression cannot mix datasets; chain expressions with |.")
        return Clause(action, target, terms, condition)

    def cond(self) -> Cond:
        word = self.take()
        dataset, _, name = word.partition(".")
        scope = {**DATASETS, "CURRENTUSER": "CurrentUser"}.get(dataset.upper())
        if not name or scope is None:
            raise InvalidInput(f"Invalid filter expression: {word!r} is not <Dataset>.<FIELD>.")
        if scope == "Interactions" and name.upper() != "EVENT_TYPE":
            raise InvalidInput("Interactions filters can only use Interactions.EVENT_TYPE.")
        op = self.take().upper()
        if op == "NOT":
            self.take("IN")
            op = "NOT IN"
        if op not in ("IN", "NOT IN", "=", "<", "<=", ">", ">="):
            raise InvalidInput(f"Invalid filter expression: unknown operator {op!r}.")
        values = self.value_list() if op in ("IN", "NOT IN") else [self.value()]
        if op not in ("IN", "NOT IN", "=") and not all(isinstance(v, float | Param) for v in values):
            raise InvalidInput(f"Operator {op} needs a number.")
        return Cond(scope, name.upper(), op, values)

    def value_list(self) -> list:
        if self.peek() != "(":
            return [self.value()]  # a lone $PARAM stands for a whole list
        self.take("(")
        values = [self.value()]
        while self.peek() == ",":
            self.take(",")
            values.append(self.value())
        self.take(")")
        return values

    def value(self):
        kind, raw = self.toks[self.i] if self.i < len(self.toks) else (None, None)
        self.i += 1
        if kind == "str":
            return raw[1:-1].replace('\\"', '"')
        if kind == "num":
            return float(raw)
        if kind == "param":
            return Param(raw[1:])
        if raw == "*":
            return "*"
        if kind == "word" and raw.upper().startswith(("CURRENTITEM.", "CURRENTUSER.")):
            scope, name = raw.split(".", 1)
            return Ref("CurrentItem" if scope.upper() == "CURRENTITEM" else "CurrentUser", name.upper())
        raise InvalidInput(f"Invalid filter expression: expected a value, got {raw or 'end of expression'}.")


def parse(text: str) -> Expression:
    """Parse and check a filter expression; InvalidInput says what is wrong."""
    expr = _Parser(text).expression()
    if len({c.target for c in expr.clauses}) > 1:
        raise InvalidInput("A filter cannot mix ItemID and UserID expressions.")
    allowed = {"ItemID": {"Items", "Interactions"}, "UserID": {"Users", "Interactions"}}
    for clause in expr.clauses:
        if clause.dataset not in allowed[clause.target]:
            raise InvalidInput(f"A {clause.target} filter cannot use the {clause.dataset} dataset.")
    fields = {(c.dataset, c.field) for cl in expr.clauses for t in cl.terms for c in t}
    if len(fields) > MAX_FIELDS:
        raise InvalidInput(f"A filter can use at most {MAX_FIELDS} distinct fields.")
    return expr


def parse_condition(text: str) -> list[list[Cond]]:
    """An item-attribute query such as ``ITEMS.CATEGORY = "books"`` (OR of ANDs)."""
    return _Parser(f"INCLUDE ItemID WHERE {text}").expression().clauses[0].terms


def placeholder_values(raw: str) -> list:
    """A filterValues string (``"\\"a\\",\\"b\\""`` or ``"10"``) as a list of values."""
    parser = _Parser(raw)
    values = [parser.value()]
    while parser.peek() == ",":
        parser.take(",")
        values.append(parser.value())
    if parser.peek() is not None or any(isinstance(v, Param | Ref) for v in values):
        raise InvalidInput(
            f"Invalid filter value {raw!r}; use quoted strings or numbers separated by commas.")
    return values


# filterValues limits from botocore's personalize-runtime model (FilterValues, FilterAttributeName,
# FilterAttributeValue); the runtime API checks them on the request, batch input lines check them here.
MAX_FILTER_VALUES = 25
MAX_FILTER_VALUE_LENGTH = 1000
_PARAM_NAME = re.compile(r"[A-Za-z0-9_]{1,50}")


def filter_values_by_name(filter_values) -> dict[str, list]:
    """filterValues as parsed value lists per parameter name (names without ``$``, in matching case)."""
    if filter_values is None:
        return {}
    if not isinstance(filter_values, dict):
        raise InvalidInput("filterValues must map parameter names to strings.")
    if len(filter_values) > MAX_FILTER_VALUES:
        raise InvalidInput(f"filterValues can hold at most {MAX_FILTER_VALUES} parameters.")
    given = {}
    for name, raw in filter_values.items():
        if not isinstance(name, str) or not _PARAM_NAME.fullmatch(name):
            raise InvalidInput(f"Invalid filterValues key {name!r}: use the parameter name without $ "
                               "(letters, digits and _, at most 50 characters).")
        if not isinstance(raw, str) or len(raw) > MAX_FILTER_VALUE_LENGTH:
            raise InvalidInput(f"The filterValues value of {name} must be a string of at most "
                               f"{MAX_FILTER_VALUE_LENGTH} characters.")
        try:
            given[name] = placeholder_values(raw)
        except InvalidInput as exc:
            raise InvalidInput(f"Invalid filterValues value for {name}: {raw!r}; use quoted strings or "
                               'numbers separated by commas, e.g. "\\"a\\",\\"b\\"".') from exc
    return given


def bind(expr: Expression, filter_values: dict[str, str] | None) -> list[Clause]:
    """Substitute $PARAMs, in conditions and in the IF part. "For filter expressions that use an
    INCLUDE element [...] you must provide values for all parameters [...]. For [...] EXCLUDE [...]
    you can omit the filter-values. In this case, Amazon Personalize doesn't use that portion of
    the expression" (GetRecommendations, filterValues; developer guide, Filtering real-time
    recommendations: https://docs.aws.amazon.com/personalize/latest/dg/filter-real-time.html).
    An EXCLUDE clause whose IF part has no value is off as a whole."""
    given = filter_values_by_name(filter_values)
    bound: list[Clause] = []
    for clause in expr.clauses:
        terms = []
        for term in clause.terms:
            conds = [c for c in (_bind_cond(cond, given, clause.action) for cond in term) if c is not None]
            if conds:
                terms.append(conds)
        condition = None if clause.condition is None else _bind_cond(clause.condition, given, clause.action)
        if terms and (clause.condition is None or condition is not None):
            bound.append(Clause(clause.action, clause.target, terms, condition))
    return bound


def _bind_cond(cond: Cond, given: dict[str, list], action: str) -> Cond | None:
    """``cond`` with its $PARAMs replaced; None for an EXCLUDE condition missing a value."""
    values: list = []
    for value in cond.values:
        if not isinstance(value, Param):
            values.append(value)
        elif value.name in given:
            values.extend(given[value.name])
        elif action == "INCLUDE":
            raise InvalidInput(f"The filter needs a value for every placeholder; filterValues has "
                               f"none for ${value.name} ({cond.dataset}.{cond.field}).")
        else:
            return None
    if cond.op in ("<", "<=", ">", ">=") and not (len(values) == 1 and isinstance(values[0], float)):
        raise InvalidInput(f"{cond.dataset}.{cond.field} {cond.op} needs one number; "
                           f"filterValues gave {values!r}.")
    return Cond(cond.dataset, cond.field, cond.op, values)

"""CloudWatch Logs filter patterns, compiled to a matcher of one log message.

Three kinds, as CloudWatch has them:

* terms: ``ERROR timeout`` (all must appear), ``"task timed out"`` (a phrase), ``-term`` (must not appear),
  ``?ERROR ?WARN`` (any of them). Case-sensitive.
* JSON: ``{ $.level = "ERROR" && ($.latency > 100 || $.user.id NOT EXISTS) }`` on messages that are JSON
  objects. Selectors ``$.a.b[0].c``; ``=``/``!=`` on strings (``*`` is a wildcard; quoted or bare values) or
  numbers; ``<``, ``>``, ``<=``, ``>=`` on numbers; ``IS TRUE``, ``IS FALSE``, ``IS NULL``, ``EXISTS``,
  ``NOT EXISTS``; ``&&``, ``||`` and parentheses.
* space-delimited: ``[ip, user, ..., status = 4* || status = 5*, bytes > 1000]`` names the message's
  whitespace-separated fields (text in ``"..."`` or ``[...]`` is one field); ``...`` stands for any number
  of fields; conditions as in JSON patterns, on the named fields.

A malformed pattern raises ``PatternError`` with a message saying where.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Matcher = Callable[[str], bool]
_MISSING = object()


class PatternError(ValueError):
    pass


def compile_pattern(pattern: str | None) -> Matcher | None:
    """The matcher of ``pattern``; None for an empty pattern (everything matches)."""
    if pattern is None or not pattern.strip():
        return None
    text = pattern.strip()
    if text.startswith("{"):
        return _json_matcher(text)
    if text.startswith("["):
        return _delimited_matcher(text)
    return _terms_matcher(text)


# -- terms


def _terms_matcher(text: str) -> Matcher:
    tokens = [t for t in re.findall(r'"((?:[^"\\]|\\.)*)"|(\S+)', text)]
    words = [quoted if quoted else bare for quoted, bare in tokens]
    if text.count('"') % 2:
        raise PatternError(f"Invalid filter pattern: unbalanced quotes in {text!r}")
    required = [w for w in words if not w.startswith(("-", "?"))]
    excluded = [w[1:] for w in words if w.startswith("-") and len(w) > 1]
    anyof = [w[1:] for w in words if w.startswith("?") and len(w) > 1]

    def match(message: str) -> bool:
        if any(w not in message for w in required):
            return False
        if any(w in message for w in excluded):
            return False
        return not anyof or any(w in message for w in anyof)

    return match


# -- the expression language of JSON and space-delimited patterns

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<str>"(?:[^"\\]|\\.)*")
    | (?P<op>&&|\|\||!=|<=|>=|=|<|>|\(|\)|,)
    | (?P<word>[^\s"&|!=<>(),]+)
    )""", re.VERBOSE)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise PatternError(f"Invalid filter pattern: unexpected {text[pos:pos + 20]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


@dataclass(frozen=True)
class _Cond:
    field: str  # a JSON selector ($.a.b) or a space-delimited field name
    op: str  # = != < > <= >= IS_TRUE IS_FALSE IS_NULL EXISTS NOT_EXISTS
    value: Any = None  # a float, or a str pattern
    quoted: bool = False


class _Parser:
    """expr := and ('||' and)* ; and := unit ('&&' unit)* ; unit := '(' expr ')' | condition."""

    def __init__(self, tokens: list[tuple[str, str]], field_re: re.Pattern[str]) -> None:
        self.toks = tokens
        self.i = 0
        self.field_re = field_re

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise PatternError("Invalid filter pattern: it ends too early")
        self.i += 1
        return tok

    def expr(self) -> Any:
        return self._chain("||", "or", self.conj)

    def conj(self) -> Any:
        return self._chain("&&", "and", self.unit)

    def _chain(self, op: str, tag: str, operand: Callable[[], Any]) -> Any:
        """``operand (op operand)*``, grouped from the left."""
        node = operand()
        while self.peek() == ("op", op):
            self.take()
            node = (tag, node, operand())
        return node

    def unit(self) -> Any:
        if self.peek() == ("op", "("):
            self.take()
            node = self.expr()
            if self.take() != ("op", ")"):
                raise PatternError("Invalid filter pattern: missing ')'")
            return node
        return self.condition()

    def condition(self) -> _Cond:
        kind, field = self.take()
        if kind != "word" or not self.field_re.fullmatch(field):
            raise PatternError(f"Invalid filter pattern: {field!r} is not a field or selector")
        kind, op = self.take()
        if kind == "word" and op.upper() == "IS":
            what = self.take()[1].upper()
            if what not in ("TRUE", "FALSE", "NULL"):
                raise PatternError(f"Invalid filter pattern: IS {what}")
            return _Cond(field, "IS_" + what)
        if kind == "word" and op.upper() == "EXISTS":
            return _Cond(field, "EXISTS")
        if kind == "word" and op.upper() == "NOT":
            if self.take()[1].upper() != "EXISTS":
                raise PatternError("Invalid filter pattern: NOT must be followed by EXISTS")
            return _Cond(field, "NOT_EXISTS")
        if kind != "op" or op not in ("=", "!=", "<", ">", "<=", ">="):
            raise PatternError(f"Invalid filter pattern: expected an operator after {field}, got {op!r}")
        vkind, raw = self.take()
        if vkind == "str":
            return _Cond(field, op, json.loads(raw), quoted=True)
        if vkind != "word":
            raise PatternError(f"Invalid filter pattern: expected a value after {field} {op}")
        number = _number(raw)
        if op in ("<", ">", "<=", ">=") and number is None:
            raise PatternError(f"Invalid filter pattern: {op} needs a number, got {raw!r}")
        return _Cond(field, op, number if number is not None else raw)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _check(cond: _Cond, found: Any) -> bool:
    op, want = cond.op, cond.value
    if op == "EXISTS":
        return found is not _MISSING
    if op == "NOT_EXISTS":
        return found is _MISSING
    if found is _MISSING:
        return False
    if op == "IS_NULL":
        return found is None
    if op in ("IS_TRUE", "IS_FALSE"):
        return found is (op == "IS_TRUE")
    if isinstance(want, float) and not cond.quoted:
        number = found if isinstance(found, int | float) and not isinstance(found, bool) else (
            _number(found) if isinstance(found, str) else None)
        if number is None:
            return False
        return {"=": number == want, "!=": number != want, "<": number < want, ">": number > want,
                "<=": number <= want, ">=": number >= want}[op]
    if not isinstance(found, str | int | float) or isinstance(found, bool):
        return False
    text = found if isinstance(found, str) else json.dumps(found)
    same = fnmatch.fnmatchcase(text, str(want)) if "*" in str(want) else text == want
    return same if op == "=" else not same


def _evaluate(node: Any, lookup: Callable[[str], Any]) -> bool:
    if isinstance(node, _Cond):
        return _check(node, lookup(node.field))
    kind, left, right = node
    if kind == "and":
        return _evaluate(left, lookup) and _evaluate(right, lookup)
    return _evaluate(left, lookup) or _evaluate(right, lookup)


def _parse(tokens: list[tuple[str, str]], field_re: re.Pattern[str]) -> Any:
    parser = _Parser(tokens, field_re)
    node = parser.expr()
    extra = parser.peek()
    if extra is not None:
        raise PatternError(f"Invalid filter pattern: unexpected {extra[1]!r}")
    return node


# -- JSON

_SELECTOR = re.compile(r"\$(?:\.[A-Za-z_@][\w@-]*|\[\d+\])*")
_STEP = re.compile(r"\.([A-Za-z_@][\w@-]*)|\[(\d+)\]")


def _select(doc: Any, selector: str) -> Any:
    node = doc
    for key, index in _STEP.findall(selector[1:]):
        if key:
            if not isinstance(node, dict) or key not in node:
                return _MISSING
            node = node[key]
        else:
            i = int(index)
            if not isinstance(node, list) or i >= len(node):
                return _MISSING
            node = node[i]
    return node


def _json_matcher(text: str) -> Matcher:
    if not text.endswith("}"):
        raise PatternError("Invalid filter pattern: a JSON pattern ends with '}'")
    tokens = _tokens(text[1:-1])
    if not tokens:
        raise PatternError("Invalid filter pattern: an empty JSON pattern")
    tree = _parse(tokens, _SELECTOR)

    def match(message: str) -> bool:
        start = message.find("{")
        if start < 0:
            return False
        try:
            doc = json.loads(message[start:])
        except ValueError:
            return False
        return isinstance(doc, dict) and _evaluate(tree, lambda sel: _select(doc, sel))

    return match


# -- space-delimited

_FIELD_NAME = re.compile(r"[A-Za-z_][\w-]*")
_LOG_FIELD = re.compile(r'"([^"]*)"|\[([^\]]*)\]|(\S+)')


def _split_specs(tokens: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    specs: list[list[tuple[str, str]]] = [[]]
    depth = 0
    for tok in tokens:
        if tok == ("op", "(" ):
            depth += 1
        elif tok == ("op", ")"):
            depth -= 1
        if tok == ("op", ",") and depth == 0:
            specs.append([])
        else:
            specs[-1].append(tok)
    return specs


def _delimited_matcher(text: str) -> Matcher:
    if not text.endswith("]"):
        raise PatternError("Invalid filter pattern: a space-delimited pattern ends with ']'")
    specs = _split_specs(_tokens(text[1:-1]))
    names: list[str | None] = []  # None: an ellipsis
    conditions: list[Any] = []
    for spec in specs:
        if not spec:
            raise PatternError("Invalid filter pattern: an empty field between commas")
        if spec == [("word", "...")]:
            names.append(None)
            continue
        kind, name = spec[0]
        if kind != "word" or not _FIELD_NAME.fullmatch(name):
            raise PatternError(f"Invalid filter pattern: {name!r} is not a field name")
        if name in names:
            raise PatternError(f"Invalid filter pattern: field {name} named twice")
        names.append(name)
        if len(spec) > 1:
            conditions.append(_parse(spec, _FIELD_NAME))

    def assign(fields: list[str], i: int, j: int, out: dict[str, str]) -> bool:
        if i == len(names):
            return j == len(fields) and all(_evaluate(c, lambda f: out.get(f, _MISSING)) for c in conditions)
        name = names[i]
        if name is None:
            return any(assign(fields, i + 1, k, out) for k in range(j, len(fields) + 1))
        if j >= len(fields):
            return False
        out[name] = fields[j]
        found = assign(fields, i + 1, j + 1, out)
        if not found:
            del out[name]
        return found

    def match(message: str) -> bool:
        fields = [a or b or c for a, b, c in _LOG_FIELD.findall(message)]
        return assign(fields, 0, 0, {})

    return match

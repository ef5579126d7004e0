"""Label and field selectors, parsed like k8s.io/apimachinery/pkg/labels and pkg/fields.

A malformed selector raises 400 BadRequest with the parser's message, and a field label the resource does
not support raises ``field label not supported: <label>`` — exactly what a real server answers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import errors
from .errors import FieldError
from .resources import ResourceInfo
from .validation import label_value_errors, qualified_name_errors

__all__ = [
    "LabelRequirement",
    "field_labels",
    "parse_field_selector",
    "parse_label_requirements",
    "parse_label_selector",
]

# --- label selectors ---------------------------------------------------------------------------------

_SPECIAL = "=!(),><"
_OPERATOR_TOKENS = {
    "!": "!",
    "!=": "!=",
    "(": "(",
    ")": ")",
    ",": ",",
    "<": "<",
    "=": "=",
    "==": "==",
    ">": ">",
}
_BINARY_OPERATORS = ("in", "notin", "=", "==", "!=", "gt", "lt")


@dataclass(frozen=True)
class LabelRequirement:
    """One parsed requirement (``key``, operator as in selection.Operator, sorted values)."""

    key: str
    operator: str  # in, notin, =, ==, !=, exists, !, gt, lt
    values: tuple[str, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        """labels.Requirement.Matches."""
        op = self.operator
        if op in ("in", "=", "=="):
            return self.key in labels and labels[self.key] in self.values
        if op in ("notin", "!="):
            return self.key not in labels or labels[self.key] not in self.values
        if op == "exists":
            return self.key in labels
        if op == "!":
            return self.key not in labels
        if op in ("gt", "lt"):
            if self.key not in labels:
                return False
            try:
                have = int(labels[self.key])
                want = int(self.values[0])
            except (ValueError, IndexError):
                return False
            return have > want if op == "gt" else have < want
        return False


class _Lexer:
    """labels.Lexer: identifiers, keywords and the special symbols ``= == != ! ( ) , < >``."""

    def __init__(self, s: str) -> None:
        self.s = s
        self.pos = 0

    def lex(self) -> tuple[str, str]:
        s = self.s
        while self.pos < len(s) and s[self.pos] in " \t\r\n":
            self.pos += 1
        if self.pos >= len(s):
            return ("EOS", "")
        ch = s[self.pos]
        if ch in _SPECIAL:
            start = self.pos
            lit = ch
            self.pos += 1
            while self.pos < len(s) and (lit + s[self.pos]) in _OPERATOR_TOKENS:
                lit += s[self.pos]
                self.pos += 1
            if lit not in _OPERATOR_TOKENS:
                return ("ERROR", f"error expected: keyword found '{s[start : self.pos]}'")
            return (_OPERATOR_TOKENS[lit], lit)
        start = self.pos
        while self.pos < len(s) and s[self.pos] not in _SPECIAL and s[self.pos] not in " \t\r\n":
            self.pos += 1
        lit = s[start : self.pos]
        if lit in ("in", "notin"):
            return (lit, lit)
        return ("ID", lit)


class _Parser:
    def __init__(self, s: str) -> None:
        lexer = _Lexer(s)
        self.items: list[tuple[str, str]] = []
        while True:
            tok = lexer.lex()
            self.items.append(tok)
            if tok[0] in ("EOS", "ERROR"):
                break
        self.pos = 0

    def _get(self, values: bool, consume: bool) -> tuple[str, str]:
        tok, lit = self.items[min(self.pos, len(self.items) - 1)]
        if consume:
            self.pos += 1
        if values and tok in ("in", "notin"):
            tok = "ID"
        return tok, lit

    def lookahead(self, values: bool = True) -> tuple[str, str]:
        return self._get(values, consume=False)

    def consume(self, values: bool = True) -> tuple[str, str]:
        return self._get(values, consume=True)

    def parse(self) -> list[LabelRequirement]:
        reqs: list[LabelRequirement] = []
        while True:
            tok, lit = self.lookahead()
            if tok in ("ID", "!"):
                try:
                    reqs.append(self.parse_requirement())
                except ValueError as exc:
                    raise ValueError(f"unable to parse requirement: {exc}") from None
                t, lit2 = self.consume()
                if t == "EOS":
                    return reqs
                if t == ",":
                    t2, l2 = self.lookahead()
                    if t2 not in ("ID", "!"):
                        raise ValueError(f"found '{l2}', expected: identifier after ','")
                else:
                    raise ValueError(f"found '{lit2}', expected: ',' or 'end of string'")
            elif tok == "EOS":
                return reqs
            else:
                raise ValueError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def parse_requirement(self) -> LabelRequirement:
        key, op = self.parse_key_and_infer_operator()
        if op in ("exists", "!"):
            return _new_requirement(key, op, [])
        op = self.parse_operator()
        if op in ("in", "notin"):
            values = self.parse_values()
        else:
            values = self.parse_exact_value()
        return _new_requirement(key, op, sorted(values))

    def parse_key_and_infer_operator(self) -> tuple[str, str]:
        op = ""
        tok, lit = self.consume()
        if tok == "!":
            op = "!"
            tok, lit = self.consume()
        if tok != "ID":
            raise ValueError(f"found '{lit}', expected: identifier")
        key_errs = qualified_name_errors(lit)
        if key_errs:
            raise ValueError(FieldError.invalid("<nil>", lit, "; ".join(key_errs)).error())
        t, _ = self.lookahead()
        if t in ("EOS", ",") and op != "!":
            op = "exists"
        return lit, op

    def parse_operator(self) -> str:
        tok, lit = self.consume(values=False)
        mapping = {"in": "in", "=": "=", "==": "==", ">": "gt", "<": "lt", "notin": "notin", "!=": "!="}
        if tok in mapping:
            return mapping[tok]
        raise ValueError(f"found '{lit}', expected: {', '.join(_BINARY_OPERATORS)}")

    def parse_values(self) -> set[str]:
        tok, lit = self.consume()
        if tok != "(":
            raise ValueError(f"found '{lit}' expected: '('")
        tok, lit = self.lookahead()
        if tok in ("ID", ","):
            values = self.parse_identifiers_list()
            tok2, _ = self.consume()
            if tok2 != ")":
                raise ValueError(f"found '{lit}', expected: ')'")
            return values
        if tok == ")":
            self.consume()
            return {""}
        raise ValueError(f"found '{lit}', expected: ',', ')' or identifier")

    def parse_identifiers_list(self) -> set[str]:
        values: set[str] = set()
        while True:
            tok, lit = self.consume()
            if tok == "ID":
                values.add(lit)
                tok2, lit2 = self.lookahead()
                if tok2 == ",":
                    continue
                if tok2 == ")":
                    return values
                raise ValueError(f"found '{lit2}', expected: ',' or ')'")
            if tok == ",":
                if not values:
                    values.add("")
                tok2, _ = self.lookahead()
                if tok2 == ")":
                    values.add("")
                    return values
                if tok2 == ",":
                    self.consume()
                    values.add("")
                continue
            raise ValueError(f"found '{lit}', expected: ',', or identifier")

    def parse_exact_value(self) -> set[str]:
        tok, _ = self.lookahead()
        if tok in ("EOS", ","):
            return {""}
        tok, lit = self.consume()
        if tok == "ID":
            return {lit}
        raise ValueError(f"found '{lit}', expected: identifier")


def _new_requirement(key: str, op: str, values: list[str]) -> LabelRequirement:
    """labels.NewRequirement with its value checks (aggregated like the real ErrorList)."""
    errs: list[FieldError] = []
    if op in ("in", "notin") and not values:
        errs.append(
            FieldError.invalid("values", values, "for 'in', 'notin' operators, values set can't be empty")
        )
    if op in ("=", "==", "!=") and len(values) != 1:
        errs.append(
            FieldError.invalid("values", values, "exact-match compatibility requires one single value")
        )
    if op in ("gt", "lt"):
        if len(values) != 1:
            errs.append(
                FieldError.invalid(
                    "values", values, "for 'Gt', 'Lt' operators, exactly one value is required"
                )
            )
        for i, v in enumerate(values):
            if not re.fullmatch(r"[+-]?\d+", v):
                errs.append(
                    FieldError.invalid(
                        f"values[{i}]", v, "for 'Gt', 'Lt' operators, the value must be an integer"
                    )
                )
    for i, v in enumerate(values):
        value_errs = label_value_errors(v)
        if value_errs:
            errs.append(FieldError.invalid(f"values[{i}][{key}]", v, "; ".join(value_errs)))
    if errs:
        texts = []
        for e in errs:
            if e.error() not in texts:
                texts.append(e.error())
        raise ValueError(texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]")
    return LabelRequirement(key, op, tuple(values))


def parse_label_requirements(selector: str) -> list[LabelRequirement]:
    """Parse a label selector string; raise 400 BadRequest with the parser's message on bad syntax."""
    try:
        return _Parser(selector).parse()
    except ValueError as exc:
        raise errors.bad_request(str(exc)) from None


def parse_label_selector(selector: str) -> Callable[[Mapping[str, str]], bool]:
    """A predicate over an object's labels; an empty selector matches everything."""
    reqs = parse_label_requirements(selector)

    def match(labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in reqs)

    return match


# --- field selectors ---------------------------------------------------------------------------------


def _get(obj: Mapping[str, Any], path: str) -> Any:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(part)
    return cur


def _as_field(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_CORE_EVENT_FIELDS = (
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
)

# Kinds that register a field-label conversion func (k8s.io/kubernetes pkg/apis/<group>/<version>/
# conversion.go): the labels they accept besides metadata.name (and metadata.namespace when namespaced).
# Everything else — configmaps, the whole apps group, RBAC, custom resources — falls back to
# runtime.DefaultMetaV1FieldSelectorConversion with its own message.
_CONVERSION_FUNCS: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "pods"): (
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.podIPs",
        "status.nominatedNodeName",
        "spec.host",
    ),
    ("", "events"): _CORE_EVENT_FIELDS,
    ("events.k8s.io", "events"): (
        "regarding.kind",
        "regarding.namespace",
        "regarding.name",
        "regarding.uid",
        "regarding.apiVersion",
        "regarding.resourceVersion",
        "regarding.fieldPath",
        "reportingController",
        "reason",
        "type",
    ),
    ("", "secrets"): ("type",),
    ("", "namespaces"): ("status.phase",),
    ("", "services"): ("spec.clusterIP", "spec.type"),
    ("", "nodes"): ("spec.unschedulable",),
}

# Where a label's value lives in the served object, when that is not the label itself.
_VALUE_PATHS: dict[tuple[str, str], dict[str, str]] = {
    ("", "pods"): {"spec.host": "spec.nodeName"},
    ("", "events"): {"source": "source.component"},
}
# Bool fields ToSelectableFields always sets, so an absent one reads "false".
_BOOL_LABELS = frozenset({"spec.hostNetwork", "spec.unschedulable"})
# Accepted by the conversion func but never set by ToSelectableFields: they match only "".
_UNSELECTABLE = frozenset({"status.podIPs"})


def field_labels(info: ResourceInfo) -> tuple[str, ...]:
    """All field labels a list/watch of ``info`` accepts in a fieldSelector."""
    key = (info.group, info.plural)
    if key in _CONVERSION_FUNCS:
        meta = ("metadata.name", "metadata.namespace") if info.namespaced else ("metadata.name",)
        return (*meta, *_CONVERSION_FUNCS[key])
    if info.custom and info.selectable_fields:
        return ("metadata.name", "metadata.namespace", *(p.lstrip(".") for p in info.selectable_fields))
    return ("metadata.name", "metadata.namespace")


def _unsupported(info: ResourceInfo, label: str) -> errors.ApiError:
    if (info.group, info.plural) in _CONVERSION_FUNCS or (info.custom and info.selectable_fields):
        return errors.bad_request(f"field label not supported: {label}")
    return errors.bad_request(
        f'{errors.go_quote(label)} is not a known field selector: only "metadata.name", "metadata.namespace"'
    )


def _field_value(info: ResourceInfo, obj: Mapping[str, Any], label: str) -> str:
    key = (info.group, info.plural)
    if label in _UNSELECTABLE:
        return ""
    if key == ("events.k8s.io", "events") and label == "reportingController":
        return _as_field(_get(obj, "reportingController"))
    path = _VALUE_PATHS.get(key, {}).get(label, label)
    value = _get(obj, path)
    if key == ("", "events") and label == "source" and not value:
        value = obj.get("reportingComponent")
    if label in _BOOL_LABELS and value is None:
        value = False
    return _as_field(value)


def _split_terms(selector: str) -> list[str]:
    """fields.splitTerms: split on commas that are not escaped with a backslash."""
    terms, cur, escaped = [], [], False
    for ch in selector:
        if escaped:
            cur.append(ch)
            escaped = False
        elif ch == "\\":
            cur.append(ch)
            escaped = True
        elif ch == ",":
            terms.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    terms.append("".join(cur))
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    """fields.splitTerm: the first of ``!=``, ``==``, ``=`` that is not escaped."""
    escaped = False
    for i, ch in enumerate(term):
        if escaped:
            escaped = False
            continue
        if ch == "\\":
            escaped = True
            continue
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op) :]
    return None


def _unescape(value: str) -> str:
    """fields.UnescapeValue."""
    out, escaped = [], False
    for ch in value:
        if escaped:
            if ch not in "\\,=":
                raise errors.bad_request(f"invalid field selector: invalid escape sequence: \\{ch}")
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in ",=":
            # Go formats the rune with %v, i.e. as its code point number.
            raise errors.bad_request(f"invalid field selector: unescaped character in value: {ord(ch)}")
        else:
            out.append(ch)
    if escaped:
        raise errors.bad_request("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def parse_field_selector(info: ResourceInfo, selector: str) -> Callable[[Mapping[str, Any]], bool]:
    """A predicate over whole objects; 400 on bad syntax or on a field label ``info`` does not support."""
    terms: list[tuple[str, bool, str]] = []
    supported = field_labels(info)
    for part in sorted(_split_terms(selector)):
        if part == "":
            continue
        split = _split_term(part)
        if split is None:
            raise errors.bad_request(f"invalid selector: '{selector}'; can't understand '{part}'")
        lhs, op, rhs = split
        value = _unescape(rhs)
        if lhs not in supported:
            raise _unsupported(info, lhs)
        terms.append((lhs, op == "!=", value))

    def match(obj: Mapping[str, Any]) -> bool:
        for label, negate, value in terms:
            have = _field_value(info, obj, label)
            if (have == value) == negate:
                return False
        return True

    return match

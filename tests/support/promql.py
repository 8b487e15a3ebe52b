"""Find the series selectors of a PromQL expression: which metrics it reads, with which label matchers,
inside which functions, over which range.

Why not a full parser: validity is judged by a real Prometheus (`PrometheusServer.query`); what tests
need beyond that is the metric names and their context, for checks such as "only metrics the exporter
emits", "counters only inside rate() or increase()", "ranges are `$__rate_interval`". Prometheus 2.42
has no API that returns the syntax tree, so this small lexer walks the tokens. It understands Grafana
template variables (`$vault`, `${vault}`, `$__rate_interval`) so dashboards can be read unsubstituted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

AGGREGATORS = frozenset(
    {
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
    }
)
LABEL_LIST_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
KEYWORDS = LABEL_LIST_KEYWORDS | {"and", "or", "unless", "bool", "offset", "atan2", "start", "end"}

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|\#[^\n]*)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<var>\$\{[^}]+\}|\$[A-Za-z_][A-Za-z0-9_]*)
  | (?P<number>(?:0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)
                (?:ms|[smhdwy])?(?:[0-9]+(?:ms|[smhdwy]))*)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=(){}\[\],@:])
    """,
    re.VERBOSE,
)


class PromQLSyntaxError(ValueError):
    """The expression could not be tokenised (Prometheus would reject it too)."""


@dataclass(frozen=True)
class Token:
    kind: str
    text: str


@dataclass(frozen=True)
class Selector:
    """One vector selector: `metric{label op "value", ...}[range]`.

    `functions` are the calls it sits inside, outermost first (`("sum", "rate")` for
    `sum(rate(x[5m]))`); `range` is the text between `[` and `]` right after it, or None.
    """

    metric: str | None
    matchers: tuple[tuple[str, str, str], ...]
    functions: tuple[str, ...]
    range: str | None

    @property
    def innermost_function(self) -> str | None:
        return self.functions[-1] if self.functions else None

    @property
    def label_names(self) -> frozenset[str]:
        return frozenset(label for label, _, _ in self.matchers)


def tokenize(expr: str) -> list[Token]:
    tokens, position = [], 0
    while position < len(expr):
        match = _TOKEN.match(expr, position)
        if not match:
            raise PromQLSyntaxError(f"unexpected character at {position}: {expr[position : position + 20]!r}")
        position = match.end()
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(Token(kind, match.group()))
    return tokens


def _unquote(text: str) -> str:
    if text.startswith("`"):
        return text[1:-1]
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def selectors(expr: str) -> list[Selector]:
    """Every vector selector of `expr`, in order of appearance."""
    tokens = tokenize(expr)
    found: list[Selector] = []
    stack: list[tuple[str, str]] = []  # ("call", name) | ("labels", "") | ("group", "")
    pending_aggregation: str | None = None
    index = 0

    def following(offset: int = 1) -> Token | None:
        return tokens[index + offset] if index + offset < len(tokens) else None

    while index < len(tokens):
        token = tokens[index]
        after = following()
        if token.kind == "op" and token.text == "(":
            before = tokens[index - 1] if index else None
            if before is not None and before.kind == "ident" and before.text in LABEL_LIST_KEYWORDS:
                stack.append(("labels", ""))
            elif before is not None and before.kind == "ident" and before.text not in KEYWORDS:
                stack.append(("call", before.text))
            elif pending_aggregation is not None and before is not None and before.text == ")":
                stack.append(("call", pending_aggregation))
                pending_aggregation = None
            else:
                stack.append(("group", ""))
        elif token.kind == "op" and token.text == ")":
            if not stack:
                raise PromQLSyntaxError("unbalanced ')'")
            stack.pop()
        elif token.kind == "op" and token.text == "[":
            index = _skip_range(tokens, index)[0]
        elif token.kind == "ident" and stack and stack[-1][0] == "labels":
            pass
        elif (
            token.kind == "ident"
            and token.text in AGGREGATORS
            and after is not None
            and (after.text in ("by", "without"))
        ):
            pending_aggregation = token.text
        elif token.kind == "ident" and (
            token.text in KEYWORDS
            or token.text.lower() in ("inf", "nan")
            or (after is not None and after.text == "(")
        ):
            pass
        elif token.kind == "ident" or (token.kind == "op" and token.text == "{"):
            metric = token.text if token.kind == "ident" else None
            if token.kind == "ident" and after is not None and after.text == "{":
                index += 1
            matchers: tuple[tuple[str, str, str], ...] = ()
            if tokens[index].text == "{":
                matchers, index = _matchers(tokens, index)
            if metric is None:
                metric = next(
                    (value for label, op, value in matchers if label == "__name__" and op == "="), None
                )
            selector_range = None
            if index + 1 < len(tokens) and tokens[index + 1].text == "[":
                index, selector_range = _skip_range(tokens, index + 1)
            calls = tuple(name for kind, name in stack if kind == "call")
            found.append(Selector(metric, matchers, calls, selector_range))
        index += 1
    if stack:
        raise PromQLSyntaxError("unclosed '('")
    return found


def _matchers(tokens: list[Token], index: int) -> tuple[tuple[tuple[str, str, str], ...], int]:
    """Parse `{label op "value", ...}` starting at the `{`; return the matchers and the index of `}`."""
    matchers = []
    index += 1
    while tokens[index].text != "}":
        if tokens[index].text == ",":
            index += 1
            continue
        label, op, value = tokens[index], tokens[index + 1], tokens[index + 2]
        if label.kind not in ("ident", "string") or op.text not in ("=", "!=", "=~", "!~"):
            raise PromQLSyntaxError(f"bad label matcher near {label.text!r}")
        if value.kind != "string":
            raise PromQLSyntaxError(f"label {label.text!r} must be compared with a string")
        name = _unquote(label.text) if label.kind == "string" else label.text
        matchers.append((name, op.text, _unquote(value.text)))
        index += 3
    return tuple(matchers), index


def _skip_range(tokens: list[Token], index: int) -> tuple[int, str]:
    """From a `[`, return the index of the matching `]` and the text between them."""
    parts = []
    index += 1
    while tokens[index].text != "]":
        parts.append(tokens[index].text)
        index += 1
    return index, "".join(parts)


def metric_names(expr: str) -> set[str]:
    """The metric names `expr` reads."""
    return {selector.metric for selector in selectors(expr) if selector.metric}

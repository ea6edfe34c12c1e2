"""Every PromQL expression the deploy/ stack evaluates, ready to send to a real Prometheus.

``all_expressions()`` collects, as ``(source, expr)`` pairs:

- each Grafana dashboard target ``expr`` in ``deploy/grafana/dashboards/*.json``
  (panels nested in rows included) and the metric selector of each ``label_values(...)``
  template variable query;
- each alerting and recording rule ``expr`` in the rule files that
  ``deploy/prometheus/prometheus.yml`` loads (its ``rule_files``, globs resolved like
  Prometheus does, relative to the config file).

Grafana template variables are replaced so the text is plain PromQL: the built-in
intervals (``$__rate_interval``, ``$__interval``, ``$__range``) by ``1m``, their ``_ms`` and
``_s`` forms by the same duration in those units, and dashboard variables by their
``allValue`` (the "All" choice). A variable without an ``allValue`` raises ``ValueError``
rather than producing something Grafana would never send.

Dashboard expressions return data whenever the metrics they read exist. Alert rule
expressions end in a threshold (``... > 0.05``) and are empty in a healthy system by
design, so to check that a rule reads metrics that exist, check its
``vector_selectors(expr)`` instead (``source`` tells them apart: it starts with the file's
path under ``deploy/``, e.g. ``prometheus/rules/flext-alerts.yml alert FlextCriticalAlerts``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

DEPLOY_DIR = Path(__file__).resolve().parents[2] / "deploy"
PROMETHEUS_CONFIG = DEPLOY_DIR / "prometheus" / "prometheus.yml"
DASHBOARDS_DIR = DEPLOY_DIR / "grafana" / "dashboards"

RANGE_LITERAL = "1m"
"""What Grafana's interval variables become; long enough for rate() at 1 s scrapes."""

_RANGE_SECONDS = 60
BUILTIN_VARIABLES: Mapping[str, str] = {
    "__rate_interval": RANGE_LITERAL,
    "__interval": RANGE_LITERAL,
    "__range": RANGE_LITERAL,
    "__interval_ms": str(_RANGE_SECONDS * 1000),
    "__range_ms": str(_RANGE_SECONDS * 1000),
    "__range_s": str(_RANGE_SECONDS),
}

# $name, ${name}, ${name:format}, [[name]], [[name:format]]
_VARIABLE = re.compile(r"\$\{(\w+)(?::[\w-]+)?\}|\$(\w+)|\[\[(\w+)(?::[\w-]+)?\]\]")
_LEFTOVER = re.compile(r"\$\{?[A-Za-z_]|\[\[[A-Za-z_]")
_LABEL_VALUES = re.compile(r"^\s*label_values\s*\((.*),\s*([A-Za-z_]\w*)\s*\)\s*$", re.DOTALL)
_QUERY_RESULT = re.compile(r"^\s*query_result\s*\((.*)\)\s*$", re.DOTALL)


def all_expressions() -> list[tuple[str, str]]:
    """``(source, expr)`` for every dashboard query and rule of the deploy/ stack."""
    return dashboard_expressions() + rule_expressions()


# -- Grafana -----------------------------------------------------------------------------


def substitute_variables(expr: str, variables: Mapping[str, str]) -> str:
    """Replace Grafana variables in ``expr``; unknown ones raise ``ValueError``.

    ``$1``-style references (e.g. in ``label_replace`` replacement strings) are left as is.
    """

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        if name.isdigit():
            return match.group(0)
        if name in BUILTIN_VARIABLES:
            return BUILTIN_VARIABLES[name]
        if name in variables:
            return variables[name]
        raise ValueError(f"unknown template variable {match.group(0)!r} in {expr!r}")

    result = _VARIABLE.sub(replace, expr)
    leftover = _LEFTOVER.search(result)
    if leftover:
        raise ValueError(f"unresolved template variable at {leftover.group(0)!r} in {result!r}")
    return result


def dashboard_variables(dashboard: Mapping[str, Any]) -> dict[str, str]:
    """Map each template variable to the value its "All" choice sends to Prometheus."""
    values: dict[str, str] = {}
    for variable in dashboard.get("templating", {}).get("list", []):
        name = variable["name"]
        kind = variable.get("type")
        if variable.get("includeAll") and variable.get("allValue"):
            values[name] = str(variable["allValue"])
        elif kind == "constant":
            values[name] = str(variable.get("query", ""))
        elif kind == "interval":
            values[name] = RANGE_LITERAL
        else:
            raise ValueError(
                f"dashboard variable {name!r} has no allValue: give it includeAll and allValue "
                "so its queries can be checked outside Grafana"
            )
    return values


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def _variable_query(variable: Mapping[str, Any]) -> str:
    query = variable.get("query", "")
    if isinstance(query, Mapping):
        query = query.get("query", "")
    return str(query)


def dashboard_expressions(paths: list[Path] | None = None) -> list[tuple[str, str]]:
    """``(source, expr)`` for every Prometheus query in the given dashboards."""
    files = sorted(DASHBOARDS_DIR.glob("*.json")) if paths is None else paths
    found: list[tuple[str, str]] = []
    for path in files:
        dashboard = json.loads(path.read_text())
        where = _relative(path)
        variables = dashboard_variables(dashboard)
        for variable in dashboard.get("templating", {}).get("list", []):
            if variable.get("type") != "query":
                continue
            query = _variable_query(variable)
            match = _LABEL_VALUES.match(query) or _QUERY_RESULT.match(query)
            if match:
                expr = substitute_variables(match.group(1), variables)
                found.append((f"{where} variable {variable['name']}", expr))
        for panel in _panels(dashboard.get("panels", [])):
            for target in panel.get("targets", []):
                expr = target.get("expr")
                if not expr:
                    continue
                title = panel.get("title", f"id {panel.get('id')}")
                source = f"{where} panel {title!r} target {target.get('refId', '?')}"
                found.append((source, substitute_variables(expr, variables)))
    return found


# -- Prometheus rules --------------------------------------------------------------------


def rule_files(config: Path = PROMETHEUS_CONFIG) -> list[Path]:
    """The rule files ``config`` loads, resolved relative to it (globs expanded, sorted)."""
    loaded = yaml.safe_load(config.read_text()) or {}
    files: list[Path] = []
    for pattern in loaded.get("rule_files") or []:
        base = config.parent
        matches = sorted(base.glob(pattern)) if any(c in pattern for c in "*?[") else None
        files.extend(matches if matches is not None else [base / pattern])
    return files


def rule_expressions(config: Path = PROMETHEUS_CONFIG) -> list[tuple[str, str]]:
    """``(source, expr)`` for every alerting and recording rule ``config`` loads."""
    found: list[tuple[str, str]] = []
    for path in rule_files(config):
        document = yaml.safe_load(path.read_text()) or {}
        for group in document.get("groups", []):
            for rule in group.get("rules", []):
                kind, name = (
                    ("alert", rule["alert"]) if "alert" in rule else ("record", rule["record"])
                )
                found.append((f"{_relative(path)} {kind} {name}", str(rule["expr"]).strip()))
    return found


def _relative(path: Path) -> str:
    try:
        return path.resolve().relative_to(DEPLOY_DIR).as_posix()
    except ValueError:
        return path.as_posix()


# -- a small PromQL lexer ----------------------------------------------------------------

_TOKEN = re.compile(
    r"""
      (?P<space>\s+|\#[^\n]*)
    | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
    | (?P<braces>\{(?:[^{}"'`]|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)*\})
    | (?P<brackets>\[[^\]]*\])
    | (?P<duration>\d+(?:ms|[smhdwy])(?:\d+(?:ms|[smhdwy]))*(?![\w:.]))
    | (?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    | (?P<ident>[A-Za-z_:][\w:]*)
    | (?P<punct>=~|!~|!=|==|<=|>=|[-+*/%^(),=<>@])
    """,
    re.VERBOSE,
)
_GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
_OPERATOR_WORDS = {"and", "or", "unless", "atan2", "bool"}
_AGGREGATORS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile", "limitk", "limit_ratio",
}  # fmt: skip
_NUMBER_WORDS = {"inf", "nan"}
_NAME_MATCHER = re.compile(r"""__name__\s*=\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")


def _tokens(expr: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(expr):
        match = _TOKEN.match(expr, position)
        if match is None:
            raise ValueError(f"cannot lex PromQL at {expr[position : position + 20]!r} in {expr!r}")
        kind = match.lastgroup
        assert kind is not None
        if kind != "space":
            tokens.append((kind, match.group(0)))
        position = match.end()
    return tokens


def _skip_parens(tokens: list[tuple[str, str]], start: int) -> int:
    """Index after the ``)`` matching the ``(`` at ``start``."""
    depth = 0
    for index in range(start, len(tokens)):
        text = tokens[index][1]
        if text == "(":
            depth += 1
        elif text == ")":
            depth -= 1
            if depth == 0:
                return index + 1
    raise ValueError("unbalanced parentheses")


def vector_selectors(expr: str) -> list[str]:
    """The instant-vector selectors in ``expr``, e.g. ``flext_alerts_total{severity="x"}``.

    Range brackets, ``offset``/``@`` modifiers, functions, aggregations and label lists are
    left out, so each selector is itself a valid query. Unique, in order of appearance.
    """
    tokens = _tokens(expr)
    selectors: list[str] = []
    index = 0
    while index < len(tokens):
        kind, text = tokens[index]
        following = tokens[index + 1] if index + 1 < len(tokens) else ("", "")
        if kind == "braces":
            selectors.append(text)
        elif kind == "punct" and text == "@":
            index += 2  # a timestamp, or start()/end() which the next loop step skips
            continue
        elif kind == "ident":
            word = text.lower()
            if word in _GROUPING and following[1] == "(":
                index = _skip_parens(tokens, index + 1)
                continue
            if word == "offset":
                index += 2 if following[1] != "-" else 3
                continue
            is_keyword = word in _GROUPING or word in _OPERATOR_WORDS or word in _NUMBER_WORDS
            is_call = following[1] == "(" or (word in _AGGREGATORS and following[1] in _GROUPING)
            if not (is_keyword or is_call):
                if following[0] == "braces":
                    selectors.append(text + following[1])
                    index += 2
                    continue
                selectors.append(text)
        index += 1
    return list(dict.fromkeys(selectors))


def metric_names(expr: str) -> list[str]:
    """Metric names ``expr`` reads (from selectors or ``__name__="..."`` matchers), sorted."""
    names: set[str] = set()
    for selector in vector_selectors(expr):
        if selector.startswith("{"):
            match = _NAME_MATCHER.search(selector)
            if match:
                names.add(match.group(1) or match.group(2) or "")
        else:
            names.add(selector.split("{", 1)[0])
    return sorted(names)

"""Notice templates are Django template text written by support staff. Only a whitelist of variables and
tags is allowed, checked when the template is saved, so a typo ({{ custmer.name }}) is refused with the
field and the name rather than rendering as an empty string in ten thousand e-mails."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.template import Context, Engine, TemplateSyntaxError
from django.template.base import FilterExpression, Node, TextNode, Variable, VariableNode
from django.template.defaulttags import CommentNode, ForNode, IfNode, WithNode

# name -> allowed attributes (None: a plain value with no attributes).
VARIABLES: dict[str, frozenset[str] | None] = {
    "customer": frozenset({"name", "tier"}),
    "incident": frozenset({"reference", "headline", "declared_at", "recovered_at", "status"}),
    "timeline": None,
    "status_url": None,
    "company": None,
    "loss": frozenset({"known", "summary", "rows", "worst_seconds", "worst"}),
    # What the run's restore steps did for the customer's databases (notifications.facts), and whether all
    # of them succeeded: the only ground for saying data was restored.
    "restores": None,
    "all_restored": None,
    "restores_missing": None,
}
# Attributes of each row of loss.rows (one per protected database or asset of the customer).
LOSS_ROW = frozenset({"asset", "recovery_point", "seconds_lost", "lost_for", "location", "explanation", "known"})
RESTORE_ROW = frozenset({"asset", "restored", "point", "why"})
LOOP_SOURCES = {"loss.rows": LOSS_ROW, "restores": RESTORE_ROW}

_ALLOWED_NODES = (TextNode, VariableNode, IfNode, ForNode, WithNode, CommentNode)

# A dedicated engine: no app template loaders, no custom libraries; builtins (filters, if/for/with) only.
ENGINE = Engine(libraries={}, builtins=["django.template.defaulttags", "django.template.defaultfilters"])


def help_text() -> str:
    parts = []
    for name, attrs in VARIABLES.items():
        parts.append(name if attrs is None else ", ".join(f"{name}.{a}" for a in sorted(attrs)))
    parts.append("in {% for row in loss.rows %}: " + ", ".join(f"row.{a}" for a in sorted(LOSS_ROW)))
    return "; ".join(parts)


def validate(source: str, field: str) -> None:
    """Raise ValidationError({field: ...}) for a syntax error, a forbidden tag or an unknown variable."""
    try:
        template = ENGINE.from_string(source)
    except TemplateSyntaxError as exc:
        raise ValidationError({field: f"template syntax error: {exc}"}) from exc
    problems: list[str] = []
    _walk(template.nodelist, {}, problems)
    if problems:
        raise ValidationError({field: [*sorted(set(problems)), f"allowed: {help_text()}"]})


def _walk(nodelist, scope: dict[str, frozenset[str] | None], problems: list[str]) -> None:
    for node in nodelist:
        _check_node(node, scope, problems)


def _check_node(node: Node, scope: dict, problems: list[str]) -> None:
    if not isinstance(node, _ALLOWED_NODES):
        problems.append(f"tag not allowed in notices: {node.token.contents.split()[0] if node.token else node}")
        return
    if isinstance(node, VariableNode):
        _check_expr(node.filter_expression, scope, problems)
    elif isinstance(node, IfNode):
        for condition, nodelist in node.conditions_nodelists:
            if condition is not None:
                _check_condition(condition, scope, problems)
            _walk(nodelist, scope, problems)
    elif isinstance(node, ForNode):
        _check_expr(node.sequence, scope, problems)
        source = ".".join(node.sequence.var.lookups or ()) if isinstance(node.sequence.var, Variable) else ""
        inner = {**scope, "forloop": frozenset({"counter", "counter0", "first", "last", "revcounter"})}
        for var in node.loopvars:
            inner[var] = LOOP_SOURCES.get(source)
        _walk(node.nodelist_loop, inner, problems)
        _walk(node.nodelist_empty, scope, problems)
    elif isinstance(node, WithNode):
        inner = dict(scope)
        for name, expr in node.extra_context.items():
            _check_expr(expr, scope, problems)
            inner[name] = None
        _walk(node.nodelist, inner, problems)


def _check_condition(condition, scope: dict, problems: list[str]) -> None:
    value = getattr(condition, "value", None)
    if isinstance(value, FilterExpression):
        _check_expr(value, scope, problems)
    for side in ("first", "second"):
        part = getattr(condition, side, None)
        if part is not None:
            _check_condition(part, scope, problems)


def _check_expr(expr: FilterExpression, scope: dict, problems: list[str]) -> None:
    _check_variable(expr.var, scope, problems)
    for _func, args in expr.filters:
        for is_var, arg in args:
            if is_var:
                _check_variable(arg, scope, problems)


def _check_variable(var: Any, scope: dict, problems: list[str]) -> None:
    if not isinstance(var, Variable) or var.lookups is None:
        return  # a literal
    root, *rest = var.lookups
    known = {**VARIABLES, **scope}
    if root not in known:
        problems.append(f"unknown variable: {var.var}")
        return
    attrs = known[root]
    if rest and (attrs is None or rest[0] not in attrs):
        problems.append(f"unknown variable: {var.var}")


def render(source: str, context: dict[str, Any], *, html: bool = False) -> str:
    return ENGINE.from_string(source).render(Context(context, autoescape=html))

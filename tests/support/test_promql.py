"""The selector finder must see exactly the metrics an expression reads, and in which context."""

from __future__ import annotations

import pytest

from support.promql import PromQLSyntaxError, Selector, metric_names, selectors


def test_aggregation_with_leading_by_clause_is_not_mistaken_for_metrics() -> None:
    expr = 'sum by (vault, status) (rate(jobs_finished_total{vault=~"$vault"}[$__rate_interval]))'
    assert selectors(expr) == [
        Selector("jobs_finished_total", (("vault", "=~", "$vault"),), ("sum", "rate"), "$__rate_interval"),
    ]


def test_binary_operators_modifiers_and_template_variables() -> None:
    expr = (
        'count((time() - max by (entity) (last_success{job=~"$job"}) > $rpo) '
        "or (max by (entity) (status) unless on (entity) group_left (x) last_success))"
    )
    found = selectors(expr)
    assert [s.metric for s in found] == ["last_success", "status", "last_success"]
    assert found[0].functions == ("count", "max")
    assert found[2].functions == ("count",)


def test_trailing_by_clause_subquery_offset_and_numbers() -> None:
    expr = "topk(10, max(up) by (instance)) + max_over_time(foo[1h:5m] offset 1d) * Inf - 1e3 + bar[5ms]"
    assert metric_names(expr) == {"up", "foo", "bar"}
    assert [s.range for s in selectors(expr)] == [None, "1h:5m", "5ms"]


def test_name_matcher_and_strings_in_function_arguments() -> None:
    expr = 'label_replace({__name__="bar", a="x"}, "dst", "$1", "a", "(.*)")'
    assert [(s.metric, s.functions) for s in selectors(expr)] == [("bar", ("label_replace",))]


def test_unbalanced_parentheses_are_reported() -> None:
    with pytest.raises(PromQLSyntaxError):
        selectors("sum(rate(x[5m])")

"""The symphony DSL engine (dsl.md): reader, typed AST, indicators, vectorised evaluator, traces. Pure: no asyncio,
no I/O besides reading symphony files.

Public API::

    load_symphony(path) -> Symphony            parse a .clj file (StrategyError names file:line:col)
    parse_symphony(text, source="<string>")    the same from text
    Symphony                                   .name, .options (asset_class, rebalance_threshold, rebalance_frequency),
                                               .rebalance_threshold, .root (AST, see alchemiser.dsl.ast)
    requirements(symphony) -> Requirements     .symbols, .min_bars[sym] (bars needed for availability),
                                               .warmup_bars[sym] (history to fetch), .longest
    used_symbols(symphony) -> tuple[str, ...]  every ticker referenced (held or measured)

    evaluate(symphony, prices, start=None, end=None, *, require_prices=True) -> Evaluation
        prices: alchemiser.data.PriceMatrix (dates × symbols of adj_close, NaN = no bar). Row D is computed from
        bars through D's close only (prices are truncated at ``end``; indicators are causal), so the vectorised
        result on D equals an evaluation of the data truncated at D. The date axis is the union of the dates of
        the symbols the symphony uses. With require_prices, holding a symbol that has no bar on D is an error
        for D (it could not be valued or traded).
    Evaluation                                 .dates, .symbols, .weights (rows sum to 1 or are 0 on error),
                                               .allocation_at(date) -> dict | None, .error_at(date) -> str | None,
                                               .result_at(date) -> DateResult, .first_valid_date, .last,
                                               iteration yields DateResult(date, allocation, error)
    trace(symphony, prices, asof) -> Trace     active path on ``asof`` (bars through asof's close);
                                               .to_dict() (JSON-serialisable), .render() (text)
    merge_allocations({name: (capital_weight, allocation)}) -> dict[str, float]
    Symphony.rebalance_rule -> dsl.rebalance.RebalanceRule   when the book trades (dsl.md §4.1): action_on(...)
    dsl.availability.backtestable_start(symphony, prices)     Composer's backtestable start, youngest asset

As-of policy (dsl.md §4): a decision made on trading day D uses closes through D−1. The daemon and the backtester
take the row of the previous session (``evaluation.result_at_row(i - 1)``) or evaluate data truncated at D−1; the
CLI's ``--asof D`` uses bars through D's close.

Errors are per date and fail closed: an unavailable ``if`` operand (too little history, no bar, unknown ticker)
errors that date only where its branch is on the active path; a filter candidate whose metric is unavailable is
left out; a filter or weight-* node that ends up holding nothing is dropped by its parent, and an empty final
allocation is an error.

Semantics decisions beyond dsl.md: a portfolio-mode filter candidate that errors on a date makes the filter error
on that date only if it would be kept (or if nothing is kept); a candidate that is empty or in error on D−1 has no
return on D (its return series restarts, never bridging the gap); ties between portfolio candidates break by group
name; ``weight-specified`` children that come out empty leave their share to be renormalised by the parent;
comparisons of an indicator with a literal are exact (the float 0.1 is above the literal 0.1); windows never span
a missing bar (see :mod:`alchemiser.data.prices` for the missing-data policy). Identical subtrees are parsed into
one shared node and evaluated once.
"""

from __future__ import annotations

from alchemiser.dsl.evaluate import DateResult, Evaluation, Requirements, evaluate, requirements, used_symbols
from alchemiser.dsl.merge import merge_allocations
from alchemiser.dsl.parser import load_symphony, parse_symphony
from alchemiser.dsl.symphony import Symphony, SymphonyOptions, normalise_ticker
from alchemiser.dsl.trace import Trace, trace

__all__ = [
    "DateResult",
    "Evaluation",
    "Requirements",
    "Symphony",
    "SymphonyOptions",
    "Trace",
    "evaluate",
    "load_symphony",
    "merge_allocations",
    "normalise_ticker",
    "parse_symphony",
    "requirements",
    "trace",
    "used_symbols",
]

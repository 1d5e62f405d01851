"""Property tests: random symphonies on random prices.

* every date is either an allocation (weights ≥ 0 summing to 1) or an error message;
* no look-ahead: the vectorised result on any date equals a single evaluation of the data truncated at that date.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alchemiser.data import PriceMatrix
from alchemiser.dsl import evaluate, parse_symphony
from tests.dsl.market import business_days

HELD = ["A", "B", "C", "D"]
MEASURED = [*HELD, "LATE"]  # LATE starts half-way: its indicators are unavailable early on
METRICS = [
    "(rsi {:window %d})",
    "(moving-average-return {:window %d})",
    "(cumulative-return {:window %d})",
    "(stdev-return {:window %d})",
    "(max-drawdown {:window %d})",
    "(moving-average-price {:window %d})",
    "(exponential-moving-average-price {:window %d})",
    "(stdev-price {:window %d})",
]
N = 36

windows = st.integers(min_value=1, max_value=6)


@st.composite
def metric(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(METRICS)) % draw(windows)


@st.composite
def operand(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        return str(draw(st.integers(min_value=-5, max_value=105)))
    m = draw(metric())
    sym = draw(st.sampled_from(MEASURED))
    return _with_ticker(m, sym)


def _with_ticker(m: str, sym: str) -> str:
    name, rest = m[1:].split(" ", 1)
    return f'({name} "{sym}" {rest}'


def node() -> st.SearchStrategy[str]:
    leaf = st.sampled_from(HELD).map(lambda s: f'(asset "{s}")')

    def extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        kids = st.lists(children, min_size=1, max_size=3).map(" ".join)
        assets = st.lists(st.sampled_from([*HELD, "LATE"]), min_size=1, max_size=4, unique=True).map(
            lambda xs: " ".join(f'(asset "{x}")' for x in xs)
        )
        select = st.one_of(
            st.just(""),
            st.builds(
                lambda k, top: f"({'select-top' if top else 'select-bottom'} {k})", st.integers(1, 3), st.booleans()
            ),
        )
        return st.one_of(
            kids.map(lambda k: f"(weight-equal [{k}])"),
            st.builds(lambda name, k: f'(group "{name}" [{k}])', st.sampled_from(["g1", "g2", "g3"]), kids),
            st.builds(
                lambda w1, a, w2, b: f"(weight-specified {w1} {a} {w2} {b})",
                st.sampled_from(["0.5", "0.25", "1", "0.1"]),
                children,
                st.sampled_from(["0.5", "0.75", "2"]),
                children,
            ),
            st.builds(lambda m, s, a: f"(filter {m} {s} [{a}])", metric(), select, assets),
            st.builds(
                lambda m, s, k: f"(filter {m} {s} [{k}])",
                metric(),
                select,
                st.lists(children.map(lambda c: f'(group "p" [{c}])'), min_size=1, max_size=3).map(" ".join),
            ),
            st.builds(
                lambda op, a, b, t, e: f"(if ({op} {a} {b}) [{t}]{' [' + e + ']' if e else ''})",
                st.sampled_from([">", "<", ">=", "<="]),
                operand(),
                operand(),
                kids,
                st.one_of(st.just(""), kids),
            ),
            st.builds(lambda w, k: f"(weight-inverse-volatility {w} [{k}])", windows, kids),
        )

    return st.recursive(leaf, extend, max_leaves=8)


@st.composite
def market(draw: st.DrawFn) -> PriceMatrix:
    seed = draw(st.integers(min_value=0, max_value=2**31))
    rng = np.random.default_rng(seed)
    d = business_days(N)
    cols = {}
    for s in HELD:
        steps = rng.normal(0, 0.03, N)
        steps[rng.random(N) < 0.15] = 0.0  # flat days: exercise ties and zero losses
        cols[s] = (d, 50 * np.cumprod(1 + steps))
    cols["LATE"] = (d[N // 2 :], 20 * np.cumprod(1 + rng.normal(0, 0.02, N - N // 2)))
    return PriceMatrix.from_columns(cols)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(body=node(), prices=market(), picks=st.lists(st.integers(0, N - 1), min_size=2, max_size=3))
def test_allocations_are_valid_and_vectorised_equals_truncated(
    body: str, prices: PriceMatrix, picks: list[int]
) -> None:
    s = parse_symphony(f'(defsymphony "prop" {{}} {body})')
    ev = evaluate(s, prices)
    assert 0 < len(ev) <= N  # the axis is the union of the dates of the symbols the symphony uses
    for result in ev:
        if result.allocation is None:
            assert result.error
        else:
            assert all(w > 0 for w in result.allocation.values())
            assert math.isclose(sum(result.allocation.values()), 1.0, rel_tol=0, abs_tol=1e-9)
    for i in picks:
        date = ev.dates[i % len(ev)]
        single = evaluate(s, prices.truncate(date)).last
        full = ev.result_at(date)
        assert single.date == full.date
        assert single.error == full.error
        if full.allocation is None:
            assert single.allocation is None
        else:
            assert single.allocation is not None
            assert single.allocation.keys() == full.allocation.keys()
            for k, v in full.allocation.items():
                assert math.isclose(single.allocation[k], v, rel_tol=1e-9, abs_tol=1e-12)

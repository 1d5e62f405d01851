"""Evaluator forms (dsl.md §2) on hand-made prices, each checked against an independent calculation."""

from __future__ import annotations

import json
import statistics

import numpy as np
import pytest

from alchemiser.data import PriceMatrix
from alchemiser.dsl import evaluate, parse_symphony, trace
from alchemiser.errors import DataError
from tests.dsl.market import business_days, cycle, matrix
from tests.dsl.test_dsl_indicators import slow_rsi

N = 30


def sym(body: str) -> str:
    return f'(defsymphony "t" {{}} {body})'


def last_alloc(body: str, prices: PriceMatrix) -> dict[str, float] | None:
    return evaluate(parse_symphony(sym(body)), prices).last.allocation


def last_error(body: str, prices: PriceMatrix) -> str | None:
    return evaluate(parse_symphony(sym(body)), prices).last.error


@pytest.fixture
def flat() -> PriceMatrix:
    return matrix(N, {s: cycle(N) for s in "ABCDE"} | {"UP": cycle(N, 0.01), "DOWN": cycle(N, -0.01)})


def approx(d: dict[str, float]) -> dict[str, object]:
    return {k: pytest.approx(v) for k, v in d.items()}


def test_weight_equal_flattens_if_branch_items(flat: PriceMatrix) -> None:
    body = """(weight-equal [(if (> (rsi "UP" {:window 3}) 50) [(asset "A") (weight-equal [(asset "B") (asset "C")])]
                                 [(asset "D")])
                            (asset "E")])"""
    assert last_alloc(body, flat) == approx({"A": 1 / 3, "B": 1 / 6, "C": 1 / 6, "E": 1 / 3})
    body_else = body.replace('"UP"', '"DOWN"')
    assert last_alloc(body_else, flat) == approx({"D": 0.5, "E": 0.5})


def test_same_symbol_from_different_children_adds_up(flat: PriceMatrix) -> None:
    body = '(weight-equal [(asset "A") (group "g" [(weight-equal [(asset "A") (asset "B")])])])'
    assert last_alloc(body, flat) == approx({"A": 0.75, "B": 0.25})


def test_empty_filter_child_is_dropped_and_share_goes_to_others(flat: PriceMatrix) -> None:
    body = '(weight-equal [(filter (rsi {:window 3}) (select-top 1) [(asset "NODATA")]) (asset "A") (asset "B")])'
    assert last_alloc(body, flat) == approx({"A": 0.5, "B": 0.5})


def test_weight_specified_literal_weights_and_renormalisation(flat: PriceMatrix) -> None:
    assert last_alloc(
        '(weight-specified 0.6 (asset "A") 0.4 (weight-equal [(asset "B") (asset "C")]))', flat
    ) == approx({"A": 0.6, "B": 0.2, "C": 0.2})
    # weights not summing to 1 are renormalised by the final result
    assert last_alloc('(weight-specified 0.3 (asset "A") 0.1 (asset "B"))', flat) == approx({"A": 0.75, "B": 0.25})
    # inside a parent, a weight-specified child counts as one child of share 1/n
    body = '(weight-equal [(weight-specified 0.3 (asset "A") 0.1 (asset "B")) (asset "C")])'
    assert last_alloc(body, flat) == approx({"A": 0.375, "B": 0.125, "C": 0.5})
    # an empty child leaves its share to the others
    body = '(weight-specified 0.5 (asset "A") 0.5 (filter (rsi {:window 3}) (select-top 1) [(asset "NODATA")]))'
    assert last_alloc(body, flat) == {"A": 1.0}


def test_if_without_else_false_is_an_error_naming_the_condition_and_date(flat: PriceMatrix) -> None:
    err = last_error('(if (> (rsi "DOWN" {:window 3}) 50) [(asset "A")])', flat)
    assert err is not None
    assert "rsi(DOWN, window=3) > 50" in err and "no else branch" in err
    assert str(flat.last_date) in err


def test_unavailable_operand_errors_only_where_its_branch_is_chosen() -> None:
    n = 20
    d = business_days(n)
    prices = PriceMatrix.from_columns(
        {
            "A": (d, cycle(n)),
            "SW": (d, np.r_[cycle(10, 0.01), cycle(10, -0.01, start=cycle(10, 0.01)[-1] * 0.99)]),
            "LATE": (d[15:], cycle(5, 0.01)),
        }
    )
    body = """(if (> (rsi "SW" {:window 2}) 50) [(asset "A")]
                 [(if (> (rsi "LATE" {:window 3}) 50) [(asset "A")] [(asset "A")])])"""
    ev = evaluate(parse_symphony(sym(body)), prices)
    # SW rises for 10 days (then-branch, no error), then falls: LATE's RSI needs 4 bars of LATE
    assert ev.allocation_at(d[9]) == {"A": 1.0}
    err = ev.error_at(d[12])
    assert err is not None and "rsi(LATE, window=3)" in err and str(d[12]) in err and "LATE has no bar" in err
    err = ev.error_at(d[16])
    assert err is not None and "needs 4 consecutive bars of LATE" in err
    assert ev.allocation_at(d[19]) == {"A": 1.0}
    # the condition itself unavailable (first bars) → error naming the indicator
    assert "rsi(SW, window=2) is unavailable" in (ev.error_at(d[1]) or "")


def test_unknown_ticker_in_condition_is_per_date_error(flat: PriceMatrix) -> None:
    err = last_error('(if (> (rsi "FNGU" {:window 3}) 50) [(asset "A")] [(asset "B")])', flat)
    assert err is not None and "no price data for FNGU" in err


def test_comparisons_are_exact() -> None:
    prices = matrix(3, {"H": [2.5, 2.5, 2.5], "T": [0.1, 0.1, 0.1]})
    cases = {
        '(> (current-price "H") 2.5)': False,
        '(>= (current-price "H") 2.5)': True,
        '(= (current-price "H") 2.50)': True,
        '(< (current-price "H") 2.5)': False,
        '(<= (current-price "H") 2.5)': True,
        # the float 0.1 is 0.1000000000000000055…, strictly above the exact literal 0.1
        '(> (current-price "T") 0.1)': True,
        '(= (current-price "T") 0.1)': False,
        '(<= (current-price "T") 0.1)': False,
        "(= 0.30 0.3)": True,
        "(> 0.3 0.29999999999999999999)": True,
        '(< 2.5 (current-price "H"))': False,
        '(<= 2.5 (current-price "H"))': True,
        '(= (current-price "H") (current-price "H"))': True,
    }
    for cond, want in cases.items():
        got = last_alloc(f'(if {cond} [(asset "H")] [(asset "T")])', prices)
        assert got == ({"H": 1.0} if want else {"T": 1.0}), cond


def test_filter_ties_break_alphabetically_for_top_and_bottom(flat: PriceMatrix) -> None:
    cands = '[(asset "C") (asset "B") (asset "A")]'
    assert last_alloc(f"(filter (cumulative-return {{:window 3}}) (select-top 1) {cands})", flat) == {"A": 1.0}
    assert last_alloc(f"(filter (cumulative-return {{:window 3}}) (select-bottom 1) {cands})", flat) == {"A": 1.0}
    assert last_alloc(f"(filter (cumulative-return {{:window 3}}) (select-top 2) {cands})", flat) == approx(
        {"A": 0.5, "B": 0.5}
    )


def test_filter_ranks_drops_unavailable_and_keeps_all_without_selection(flat: PriceMatrix) -> None:
    cands = '[(asset "DOWN") (asset "UP") (asset "A") (asset "NODATA")]'
    assert last_alloc(f"(filter (moving-average-return {{:window 5}}) (select-top 1) {cands})", flat) == {"UP": 1.0}
    assert last_alloc(f"(filter (moving-average-return {{:window 5}}) (select-bottom 1) {cands})", flat) == {
        "DOWN": 1.0
    }
    # k larger than the available candidates: 1/k' for the k' actually kept
    got = last_alloc(f"(filter (moving-average-return {{:window 5}}) (select-top 4) {cands})", flat)
    assert got == approx({"DOWN": 1 / 3, "UP": 1 / 3, "A": 1 / 3})
    got = last_alloc(f"(filter (moving-average-return {{:window 5}}) {cands})", flat)
    assert got == approx({"DOWN": 1 / 3, "UP": 1 / 3, "A": 1 / 3})


def test_max_drawdown_select_bottom_picks_smallest_drawdown() -> None:
    prices = matrix(6, {"BIG": [10, 5, 6, 7, 8, 9], "SMALL": [10, 9, 9.5, 10, 10.5, 11]})
    body = '(filter (max-drawdown {:window 6}) (select-bottom 1) [(asset "BIG") (asset "SMALL")])'
    assert last_alloc(body, prices) == {"SMALL": 1.0}
    assert last_alloc(body.replace("select-bottom", "select-top"), prices) == {"BIG": 1.0}


def _sigma(p: np.ndarray, n: int) -> float:
    r = [100 * (p[i] / p[i - 1] - 1) for i in range(len(p) - n, len(p))]
    return statistics.stdev(r)


@pytest.fixture
def vol() -> PriceMatrix:
    return matrix(
        N,
        {
            "LOW": cycle(N, 0.01, -0.01),
            "MID": cycle(N, 0.02, -0.015),
            "HIGH": cycle(N, 0.05, -0.04),
            "FLAT": cycle(N),
        },
    )


def test_inverse_volatility_of_assets_weights_each_symbol_by_inverse_sigma(vol: PriceMatrix) -> None:
    got = last_alloc('(weight-inverse-volatility 5 [(asset "LOW") (asset "HIGH")])', vol)
    inv = {s: 1 / _sigma(vol.column(s), 5) for s in ("LOW", "HIGH")}  # type: ignore[arg-type]
    total = sum(inv.values())
    assert got == approx({s: v / total for s, v in inv.items()})


def test_inverse_volatility_with_a_bare_asset_weights_every_symbol_individually(vol: PriceMatrix) -> None:
    body = '(weight-inverse-volatility 5 [(asset "LOW") (group "g" [(weight-equal [(asset "MID") (asset "HIGH")])])])'
    got = last_alloc(body, vol)
    inv = {s: 1 / _sigma(vol.column(s), 5) for s in ("LOW", "MID", "HIGH")}  # type: ignore[arg-type]
    total = sum(inv.values())
    assert got == approx({s: v / total for s, v in inv.items()})


def test_inverse_volatility_of_subportfolios_keeps_inner_weights(vol: PriceMatrix) -> None:
    body = """(weight-inverse-volatility 5 [(group "a" [(asset "LOW")])
                                          (group "b" [(weight-equal [(asset "MID") (asset "HIGH")])])])"""
    got = last_alloc(body, vol)
    s_low = _sigma(vol.column("LOW"), 5)  # type: ignore[arg-type]
    s_b = 0.5 * _sigma(vol.column("MID"), 5) + 0.5 * _sigma(vol.column("HIGH"), 5)  # type: ignore[arg-type]
    share_a = (1 / s_low) / (1 / s_low + 1 / s_b)
    assert got == approx({"LOW": share_a, "MID": (1 - share_a) / 2, "HIGH": (1 - share_a) / 2})


def test_inverse_volatility_single_child_passes_through_and_zero_sigma_dropped(vol: PriceMatrix) -> None:
    body = '(weight-inverse-volatility 5 [(group "g" [(weight-specified 0.7 (asset "FLAT") 0.3 (asset "LOW"))])])'
    assert last_alloc(body, vol) == approx({"FLAT": 0.7, "LOW": 0.3})
    # σ(FLAT) = 0 is dropped, LOW takes everything
    assert last_alloc('(weight-inverse-volatility 5 [(asset "FLAT") (asset "LOW")])', vol) == {"LOW": 1.0}
    err = last_error('(weight-inverse-volatility 5 [(asset "FLAT") (asset "NODATA")])', vol)
    assert err is not None and "no holding has a usable volatility" in err


def test_allocation_holding_a_symbol_without_a_bar_is_an_error_unless_asked(flat: PriceMatrix) -> None:
    s = parse_symphony(sym('(weight-equal [(asset "A") (asset "FNGU")])'))
    assert "holds FNGU, which has no price data" in (evaluate(s, flat).last.error or "")
    assert evaluate(s, flat, require_prices=False).last.allocation == {"A": 0.5, "FNGU": 0.5}


def test_evaluation_api(flat: PriceMatrix) -> None:
    s = parse_symphony(sym('(if (> (rsi "UP" {:window 5}) 50) [(asset "A")] [(asset "B")])'))
    ev = evaluate(s, flat)
    dates = flat.dates
    assert ev.first_valid_date == dates[5].astype(object)
    assert ev.allocation_at(dates[4]) is None
    assert "rsi(UP, window=5) is unavailable" in (ev.error_at(dates[4]) or "")
    assert ev.allocation_at(str(dates[10])) == {"A": 1.0}
    results = list(ev)
    assert len(results) == N and results[-1].allocation == {"A": 1.0}
    with pytest.raises(DataError, match="not a trading date"):
        ev.allocation_at("2020-01-04")  # a Saturday
    part = evaluate(s, flat, start=str(dates[10]), end=str(dates[20]))
    assert len(part) == 11 and part.dates[0] == dates[10] and part.dates[-1] == dates[20]
    assert ev.weights.shape == (N, len(ev.symbols))


def _candidate_weights(body: str, prices: PriceMatrix) -> list[dict[str, float] | None]:
    """Weights of one candidate on each date, each from a separate evaluation of data truncated at that date."""
    s = parse_symphony(sym(body))
    out: list[dict[str, float] | None] = []
    for d in prices.dates:
        ev = evaluate(s, prices.truncate(d))
        out.append(ev.last.allocation)
    return out


PORTFOLIO_CANDIDATES = {
    "g1": '(group "g1" [(if (> (rsi "X" {:window 2}) 50) [(asset "A")] [(asset "B")])])',
    "g2": '(group "g2" [(weight-specified 0.3 (asset "B") 0.7 (asset "C"))])',
    "C": '(asset "C")',
}


@pytest.fixture
def noisy() -> PriceMatrix:
    rng = np.random.default_rng(7)
    n = 40
    series = {s: 100 * np.cumprod(1 + rng.normal(0, 0.02 + 0.01 * i, n)) for i, s in enumerate("XABC")}
    return matrix(n, series)


@pytest.mark.parametrize(
    ("metric", "select"),
    [("stdev-return", "select-top"), ("rsi", "select-bottom"), ("cumulative-return", "select-top")],
)
def test_portfolio_mode_filter_matches_slow_per_date_reference(metric: str, select: str, noisy: PriceMatrix) -> None:
    window = 3
    body = f"(filter ({metric} {{:window {window}}}) ({select} 1) [{' '.join(PORTFOLIO_CANDIDATES.values())}])"
    ev = evaluate(parse_symphony(sym(body)), noisy)
    weights = {name: _candidate_weights(b, noisy) for name, b in PORTFOLIO_CANDIDATES.items()}
    closes = {s: noisy.column(s) for s in "ABC"}
    checked = 0
    for t, date in enumerate(noisy.dates):
        scores: dict[str, float] = {}
        for name, ws in weights.items():
            # the candidate's own price series from the first date it is valid, through t
            first = next((i for i, w in enumerate(ws) if w is not None), None)
            if first is None or first > t:
                continue
            path = [1.0]
            rets = []
            for i in range(first + 1, t + 1):
                w = ws[i - 1]
                assert w is not None
                r = sum(v * (closes[s][i] / closes[s][i - 1] - 1) for s, v in w.items())  # type: ignore[index]
                rets.append(r)
                path.append(path[-1] * (1 + r))
            if metric == "stdev-return" and len(path) >= window + 1:
                scores[name] = statistics.stdev([100 * r for r in rets[-window:]])
            elif metric == "rsi" and len(path) >= window + 1:
                scores[name] = slow_rsi(path, window)
            elif metric == "cumulative-return" and len(path) >= window + 1:
                scores[name] = (path[-1] / path[-1 - window] - 1) * 100
        result = ev.result_at_row(t)
        if not scores:
            assert result.allocation is None
            continue
        sign = -1 if select == "select-top" else 1
        best = min(scores, key=lambda k: (sign * scores[k], k))
        want = weights[best][t]
        assert want is not None
        assert result.allocation == approx(want), f"date {date}: scores {scores}"
        checked += 1
        tr = trace(parse_symphony(sym(body)), noisy, str(date))
        ranking = {e["candidate"]: e["score"] for e in tr.steps[0]["ranking"]}
        for name, score in scores.items():
            assert ranking[name] == pytest.approx(score, rel=1e-9), (date, name)
    assert checked > 25


def test_portfolio_candidate_error_fails_the_filter_only_when_kept() -> None:
    n = 30
    d = business_days(n)
    up, down = cycle(n, 0.03, -0.02), cycle(n, 0.001)
    prices = PriceMatrix.from_columns({"A": (d, up), "B": (d, down), "LATE": (d[20:], cycle(10, 0.01))})
    bad = '(group "bad" [(if (> (rsi "LATE" {:window 2}) 50) [(asset "A")] [(asset "A")])])'
    good = '(group "good" [(asset "B")])'
    top = parse_symphony(sym(f"(filter (stdev-return {{:window 3}}) (select-top 1) [{bad} {good}])"))
    ev = evaluate(top, prices)
    # before LATE exists, "bad" has no return stream: "good" is kept, no error
    assert ev.allocation_at(d[10]) == {"B": 1.0}
    # once "bad" is valid for long enough it is the more volatile one and is kept
    assert ev.allocation_at(d[29]) == {"A": 1.0}


def test_trace_shows_conditions_rankings_and_is_json(flat: PriceMatrix) -> None:
    body = """(weight-equal [(if (> (rsi "UP" {:window 3}) 50) [(filter (moving-average-return {:window 3})
                         (select-top 1) [(asset "UP") (asset "DOWN")])] [(asset "B")])])"""
    t = trace(parse_symphony(sym(body), "t.clj"), flat, str(flat.dates[-1]))
    data = json.loads(json.dumps(t.to_dict()))
    assert data["allocation"] == {"UP": 1.0}
    if_step = data["steps"][1]
    assert if_step["kind"] == "if" and if_step["branch"] == "then"
    assert if_step["condition"]["left"] == 100.0 and if_step["condition"]["right"] == "50"
    assert if_step["at"] == "t.clj:1:36"
    filt = data["steps"][2]
    assert [e["candidate"] for e in filt["ranking"]] == ["UP", "DOWN"]
    assert filt["ranking"][0]["kept"] and not filt["ranking"][1]["kept"]
    assert filt["ranking"][0]["score"] == pytest.approx(1.0)  # percent per day
    text = t.render()
    assert "rsi(UP, window=3) > 50" in text and "* UP" in text
    with pytest.raises(DataError):
        trace(parse_symphony(sym(body)), flat, "2020-01-04")


def test_trace_of_error_date_has_error_and_unavailable_operand(flat: PriceMatrix) -> None:
    body = '(if (> (rsi "UP" {:window 5}) 50) [(asset "A")] [(asset "B")])'
    t = trace(parse_symphony(sym(body)), flat, str(flat.dates[2]))
    d = t.to_dict()
    assert "allocation" not in d and "rsi(UP, window=5) is unavailable" in d["error"]
    assert d["steps"][0]["condition"]["left"] is None and d["steps"][0]["branch"] is None
    assert "ERROR" in t.render()

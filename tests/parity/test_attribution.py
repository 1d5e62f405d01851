"""Gap attribution: the parts add up to the measured gap to the cent, and each cause lands in its part."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alchemiser.parity.attribution import cumulative
from alchemiser.parity.facts import LiveSession
from alchemiser.parity.parts import PARTS
from tests.parity.factories import D, leg, order, run, session

ROUNDING = D("0.03")  # each part is rounded to the cent; ``unexplained`` carries what that leaves


def _buy_spy_session(fill: str, *, filled: str = "40", seconds: float = 30.0, extra: str = "0") -> LiveSession:
    return session(
        orders=(order("SPY", "buy", "40", filled, "247.00", fill, bid="246.98", ask="247.02", seconds=seconds),),
        previous_closes={"SPY": "246.50"},
        closes={"SPY": "249.00"},
        live_targets={"SPY": "0.99"},
        extra=extra,
    )


def test_parts_sum_to_the_gap_and_nothing_is_unexplained_when_only_our_fills_happened() -> None:
    _, result = run(_buy_spy_session("247.10"))
    assert sum(result.parts.values()) == result.session_gap
    assert abs(result.parts["unexplained"]) <= ROUNDING
    # live paid 0.10 above the decision price on 40 shares; the shadow (no spread) paid nothing
    assert result.parts["execution"] == D("-4.00")
    assert result.session_gap < 0


def test_an_unmodelled_cash_movement_is_shown_as_unexplained() -> None:
    _, plain = run(_buy_spy_session("247.10"))
    _, with_dividend = run(_buy_spy_session("247.10", extra="12.34"))
    assert with_dividend.session_gap - plain.session_gap == D("12.34")
    assert with_dividend.parts["unexplained"] - plain.parts["unexplained"] == D("12.34")
    assert sum(with_dividend.parts.values()) == with_dividend.session_gap


def test_a_late_fill_is_timing_and_named() -> None:
    _, result = run(_buy_spy_session("247.60", seconds=1800), late_after=300)
    assert result.parts["timing"] <= D("-24.00")  # 0.60 x 40 paid for filling late
    assert result.parts["execution"] == D("0.00")
    assert any(c.part == "timing" and c.symbol == "SPY" and "late" in c.what for c in result.causes)
    assert sum(result.parts.values()) == result.session_gap


def test_a_partial_fill_is_timing_and_named() -> None:
    _, result = run(_buy_spy_session("247.00", filled="10"))
    # 30 shares not bought missed the 2.00 rise from the decision price to the close
    assert result.parts["timing"] == D("-60.00")
    assert any(c.part == "timing" and "partially filled: 10 of 40" in c.what for c in result.causes)
    assert sum(result.parts.values()) == result.session_gap


def test_a_different_replay_decision_is_signal() -> None:
    live = session(
        orders=(order("SPY", "buy", "40", "40", "247.00", "247.00"),),
        previous_closes={"SPY": "246.50", "TLT": "90.00"},
        closes={"SPY": "249.00", "TLT": "89.00"},
        live_targets={"SPY": "0.99"},
        replay_targets={"TLT": "0.99"},
    )
    shadow, result = run(live)
    assert {t.symbol for t in shadow.trades} == {"TLT"}
    # live held SPY (+2 on 40 shares), the replay would have held TLT (-1 on ~109 shares)
    assert result.parts["signal"] > D("150")
    assert {c.symbol for c in result.causes if c.part == "signal"} == {"SPY", "TLT"}
    assert sum(result.parts.values()) == result.session_gap


def test_a_session_carries_its_differences_by_cause_into_the_next() -> None:
    first_live = _buy_spy_session("247.00", filled="10")
    _, first = run(first_live)
    assert first.shadow_after.differences["timing"]["SPY"] == D(-30)
    second_live = session(
        orders=(),
        start_cash=str(first_live.start_cash - 10 * D("247.00")),
        start_positions={"SPY": "10"},
        previous_closes={"SPY": "249.00"},
        closes={"SPY": "251.00"},
        live_targets={"SPY": "0.99"},
    )
    second_live = replace(second_live, start_equity=first.live_end)
    _, second = run(second_live, first.shadow_after)
    # no trade today on either side (the shadow sits on target); yesterday's 30 missing shares cost 2.00 each
    assert second.parts["timing"] < D("-55")
    total = cumulative([first, second])
    assert sum(total.values()) == first.session_gap + second.session_gap
    assert first.session_gap + second.session_gap == D(
        str((second.live_end - first.live_start) - (second.shadow_end - first.shadow_start))
    ).quantize(D("0.01"))


prices = st.decimals(min_value=D("5"), max_value=D("500"), places=2)


@settings(max_examples=60, deadline=None)
@given(
    decision=prices,
    move=st.decimals(min_value=D("-0.2"), max_value=D("0.2"), places=3),
    slip=st.decimals(min_value=D("-0.01"), max_value=D("0.02"), places=4),
    fraction=st.decimals(min_value=D("0"), max_value=D("1"), places=2),
    extra=st.decimals(min_value=D("-50"), max_value=D("50"), places=2),
    held=st.decimals(min_value=D("0"), max_value=D("30"), places=0),
    spread=st.sampled_from(["0", "4", "20"]),
    late=st.booleans(),
)
def test_parts_always_sum_to_the_gap(  # noqa: PLR0917 - hypothesis passes the drawn values by name
    decision: Decimal,
    move: Decimal,
    slip: Decimal,
    fraction: Decimal,
    extra: Decimal,
    held: Decimal,
    spread: str,
    late: bool,
) -> None:
    planned = (D(5000) / decision).quantize(D("0.001"))
    filled = (planned * fraction).quantize(D("0.001"))
    fill = (decision * (1 + slip)).quantize(D("0.01"))
    live = session(
        orders=(order("AAA", "buy", str(planned), str(filled), str(decision), str(fill), seconds=900 if late else 5),),
        start_positions={"BBB": str(held)} if held else {},
        previous_closes={"AAA": str(decision), "BBB": "50"},
        closes={"AAA": str((decision * (1 + move)).quantize(D("0.01"))), "BBB": "51"},
        live_targets={"AAA": "0.5"},
        replay_targets={"AAA": "0.5", "BBB": "0.2"} if held else {"AAA": "0.5"},
        extra=str(extra),
    )
    _, result = run(live, spread_bps=spread)
    assert set(result.parts) == set(PARTS)
    assert sum(result.parts.values()) == result.session_gap
    assert all(v == v.quantize(D("0.01")) for v in result.parts.values())
    assert abs(result.parts["unexplained"] - extra) <= ROUNDING


def test_bad_order_facts_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="SPY: order side"):
        order("SPY", "short", "1", "0", "10", None)
    with pytest.raises(ValueError, match="SPY: 1 filled without a fill price"):
        order("SPY", "buy", "1", "1", "10", None)
    with pytest.raises(ValueError, match="decision price must be > 0"):
        order("SPY", "buy", "1", "0", "0", None)


def test_every_decision_of_a_session_is_attributed_and_the_parts_still_sum_to_the_gap() -> None:
    # the scheduled decision buys 40 SPY 0.10 over its price; a manual rebalance at 248 adds TLT, 0.05 over, 10 of 20
    manual = leg(
        (order("TLT", "buy", "20", "10", "90.00", "90.05"),),
        {"SPY": "0.5", "TLT": "0.2"},
        prices={"SPY": "248.00", "TLT": "90.00"},
    )
    live = session(
        orders=(order("SPY", "buy", "40", "40", "247.00", "247.10"),),
        previous_closes={"SPY": "246.50", "TLT": "89.50"},
        closes={"SPY": "249.00", "TLT": "91.00"},
        live_targets={"SPY": "0.99"},
        later=(manual,),
    )
    shadow, result = run(live)
    assert {t.leg for t in shadow.trades} == {0, 1}  # the shadow trades at both decisions
    assert sum(result.parts.values()) == result.session_gap
    assert abs(result.parts["unexplained"]) <= ROUNDING
    assert result.parts["execution"] == D("-4.50")  # 40 x 0.10 on the first, 10 x 0.05 on the second
    assert any(c.symbol == "TLT" and "partially filled: 10 of 20" in c.what for c in result.causes)
    assert result.parts["timing"] < 0  # the 10 TLT not bought missed the rise to 91


def test_a_retried_decision_that_trades_nothing_more_changes_nothing() -> None:
    one = session(
        orders=(order("SPY", "buy", "40", "40", "247.00", "247.10"),),
        previous_closes={"SPY": "246.50"},
        closes={"SPY": "249.00"},
        live_targets={"SPY": "0.99"},
    )
    twice = replace(one, decisions=(*one.decisions, leg((), {"SPY": "0.99"}, prices={"SPY": "248.00"})))
    _, first = run(one)
    _, second = run(twice)
    assert second.session_gap == first.session_gap
    assert abs(second.parts["unexplained"]) <= ROUNDING
    assert sum(second.parts.values()) == second.session_gap

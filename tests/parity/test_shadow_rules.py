"""The shadow follows the live account's rebalance rules: a difference the live rules make is not "rounding"."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from alchemiser.dsl.rebalance import RebalanceRule
from alchemiser.parity.facts import LiveSession
from alchemiser.parity.shadow import ShadowRule, ShadowState
from alchemiser.portfolio import PlannerParams
from tests.parity.factories import D, leg, run, session

BAND = PlannerParams(drift_band=D("0.05"))
ALLOCATION = {"SPY": "0.5", "TLT": "0.5"}
WEIGHTS = {"SPY": D("0.5"), "TLT": D("0.5")}


def _drifted_book(day: date = date(2024, 3, 6)) -> tuple[LiveSession, ShadowState]:
    """An account that holds its two-asset book, SPY up 4 % since the last rebalance (the book's SPY weight 0.51,
    the account's 0.505 vs 0.495): inside a 5 % drift band and a 10 % corridor, outside a 0.5 % one; live
    trades nothing."""
    live = session(
        orders=(),
        start_cash="100",
        start_positions={"SPY": "20", "TLT": "50"},
        previous_closes={"SPY": "250.00", "TLT": "100.00"},
        closes={"SPY": "252.00", "TLT": "101.00"},
        live_targets=ALLOCATION,
        day=day,
    )
    decided = leg((), ALLOCATION, prices={"SPY": "260.00", "TLT": "100.00"}, allocations={"a": ALLOCATION})
    live = replace(live, decisions=(decided,))
    marks = {"SPY": D("250.00"), "TLT": D("100.00")}
    # the book was brought to 50/50 when SPY was 250
    state = ShadowState.mirror(live.start_positions, live.start_equity, marks, {"a": WEIGHTS})
    return live, state


def test_inside_the_drift_band_the_shadow_does_not_trade_and_rounding_is_zero() -> None:
    live, state = _drifted_book()
    rules = {"a": ShadowRule(D(1), RebalanceRule())}
    shadow, result = run(live, state, params=BAND, rules=rules)
    assert shadow.trades == ()
    assert result.parts["rounding"] == 0
    assert sum(result.parts.values()) == result.session_gap
    # the same session without the live rules: the shadow rebalances to target and the difference is "rounding"
    _, blind = run(live, state)
    assert blind.parts["rounding"] != 0


def test_between_calendar_rebalance_days_the_shadow_holds() -> None:
    live, state = _drifted_book(date(2024, 3, 6))  # a Wednesday: not the week's first session
    rules = {"a": ShadowRule(D(1), RebalanceRule.from_options("weekly", None))}
    shadow, result = run(live, state, rules=rules)  # no drift band: only the calendar holds it
    assert shadow.trades == ()
    assert result.parts["rounding"] == 0


def test_inside_its_corridor_the_shadow_holds_and_a_breach_trades() -> None:
    live, state = _drifted_book()
    inside = {"a": ShadowRule(D(1), RebalanceRule.from_options(None, 0.1))}
    shadow, result = run(live, state, rules=inside)
    assert shadow.trades == () and result.parts["rounding"] == 0
    breach = {"a": ShadowRule(D(1), RebalanceRule.from_options(None, 0.005))}
    shadow, _ = run(live, state, rules=breach)
    assert {t.symbol for t in shadow.trades} == {"SPY", "TLT"}  # brought exactly back to 50/50


def test_the_shadow_books_survive_the_store_round_trip() -> None:
    _, state = _drifted_book()
    assert ShadowState.from_json(state.to_json()) == state

"""What the daily loop observed that a reader of the report must know, collected as it happens and rendered once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from alchemiser.backtest.signals import StrategySignals

# Corporate actions (issue 19): without a replay (``--prices adjusted``, or data holding adjusted prices only) fills
# are priced on adjusted closes and splits and dividends are not events; the report says so.
ADJUSTED_PRICES_NOTE = (
    "Prices: fills are priced on split- and dividend-adjusted bars and corporate actions are not applied as events "
    "(adjusted prices asked for, or the data shows no split or distribution), so share counts and cash differ from "
    "an account's by the splits and dividends of the period; dividends count as reinvested on the ex-date."
)


@dataclass
class RunNotes:
    failed: dict[str, list[date]] = field(default_factory=dict)
    first_error: dict[str, str] = field(default_factory=dict)
    blocked_plans: dict[str, list[date]] = field(default_factory=dict)
    blocked_orders: dict[str, list[date]] = field(default_factory=dict)
    cash_cut: list[date] = field(default_factory=list)
    untradable: dict[str, list[date]] = field(default_factory=dict)
    halted_on: date | None = None
    halt_reason: str = ""

    def strategy_failed(self, name: str, session: date, reason: str) -> None:
        self.failed.setdefault(name, []).append(session)
        self.first_error.setdefault(name, reason)

    def plan_blocked(self, rule: str, session: date) -> None:
        self.blocked_plans.setdefault(rule, []).append(session)

    def order_blocked(self, rule: str, session: date) -> None:
        self.blocked_orders.setdefault(rule, []).append(session)

    def no_bar(self, symbol: str, session: date) -> None:
        self.untradable.setdefault(symbol, []).append(session)

    def halted(self, session: date, reason: str) -> None:
        self.halted_on, self.halt_reason = session, reason

    def render(
        self,
        *,
        strategies: Sequence[StrategySignals],
        policy: str,
        requested_start: date | None,
        start: date,
        extra: Sequence[str] = (),
        prices: Sequence[str] | None = None,
    ) -> list[str]:
        """One sentence per fact, the start first; ``prices`` replaces the adjusted-prices note (a replay's)."""
        firsts = "; ".join(f"{s.name} evaluates from {s.first_valid() or 'never'}" for s in strategies)
        timing = "the evaluation of the session before it" if policy == "previous_close" else "its own close"
        why = f"({firsts}; under the {policy} policy a session's decision uses {timing})"
        if requested_start is not None and start > requested_start:
            lines = [
                f"Start moved from {requested_start.isoformat()} to {start.isoformat()}: the first session on "
                f"which every strategy can evaluate {why}."
            ]
        else:
            lines = [f"Start {start.isoformat()}: the first session on which every strategy can evaluate {why}."]
        lines += [line for line in extra if line]
        lines += [ADJUSTED_PRICES_NOTE] if prices is None else list(prices)
        for name, days in self.failed.items():
            lines.append(
                f"{name} failed to evaluate on {len(days)} session(s) ({_dates(days)}); it kept its previous "
                f"target on those sessions (fail closed). First error: {self.first_error.get(name, '')}"
            )
        for rule, days in self.blocked_plans.items():
            lines.append(f"Risk rule {rule} blocked trading on {len(days)} session(s) ({_dates(days)}).")
        for rule, days in self.blocked_orders.items():
            lines.append(f"Risk rule {rule} blocked {len(days)} order(s) ({_dates(days)}).")
        if self.halted_on is not None:
            lines.append(
                f"The kill switch latched on {self.halted_on.isoformat()} ({self.halt_reason}); no trades after it."
            )
        if self.cash_cut:
            lines.append(
                f"Buys were cut to the available cash after costs on {len(self.cash_cut)} occasion(s) "
                f"({_dates(self.cash_cut)})."
            )
        for sym, days in self.untradable.items():
            lines.append(
                f"{sym} had no bar on {len(days)} session(s) ({_dates(days)}): valued at its last close, not traded."
            )
        return lines


def _dates(days: Sequence[date], limit: int = 3) -> str:
    shown = ", ".join(d.isoformat() for d in days[:limit])
    return shown + (", …" if len(days) > limit else "")

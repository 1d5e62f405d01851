"""Live-vs-backtest parity: decision replay and the flip finder, the shadow portfolio, gap attribution, TCA.

Pure, deterministic functions over plain values (``facts``): the same store and bars give the same attribution.
``monitor`` reads those values from the store and runs the lot for one session; the daemon runs it off the event
loop after each decision (``alchemiser.daemon.parity``).
"""

from alchemiser.parity.attribution import PARTS, Cause, SessionAttribution, attribute_session, cents, cumulative
from alchemiser.parity.facts import LiveSession, OrderFacts
from alchemiser.parity.flips import BarChange, Flip, bar_changes, trace_flips
from alchemiser.parity.replay import StrategyReplay, evaluate_on, merged_targets, replay_strategy
from alchemiser.parity.shadow import ShadowSession, ShadowState, ShadowTrade, step_shadow
from alchemiser.parity.tca import TcaRow, TcaSummary, rows_from_trades, summarise, tca_row, worst_orders

__all__ = [
    "PARTS",
    "BarChange",
    "Cause",
    "Flip",
    "LiveSession",
    "OrderFacts",
    "SessionAttribution",
    "ShadowSession",
    "ShadowState",
    "ShadowTrade",
    "StrategyReplay",
    "TcaRow",
    "TcaSummary",
    "attribute_session",
    "bar_changes",
    "cents",
    "cumulative",
    "evaluate_on",
    "merged_targets",
    "replay_strategy",
    "rows_from_trades",
    "step_shadow",
    "summarise",
    "tca_row",
    "trace_flips",
    "worst_orders",
]

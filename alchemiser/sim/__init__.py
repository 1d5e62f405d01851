"""The simulated exchange: a deterministic Alpaca-like exchange core, daily-bar markets (CSV replay and a seeded
synthetic market), the Alpaca-protocol server (REST + ``trade_updates`` WebSocket on one port), fault injection,
and the in-process ``Broker`` face for backtests.

Public API::

    build_sim(SimOptions(...), now=...) -> SimParts(exchange, market, calendar, xnys, start)
    SimExchange        the core (submit / cancel / replace / advance(now) / account / positions / orders / fills)
    SimBroker, SimTradeUpdateFeed, DailyFillModel     in-process faces
    SimExchangeServer  the protocol face (create(options, clock=...) / start() / stop() / port / base_url /
                       stream_url); FaultConfig / FaultInjector for its fault switches
"""

from alchemiser.sim.build import SYNTHETIC, SimOptions, SimParts, build_sim
from alchemiser.sim.calendar import AlwaysOpenCalendar, SessionCalendar, XnysCalendar
from alchemiser.sim.core import ExchangeConfig, SimExchange
from alchemiser.sim.events import ExchangeEvent
from alchemiser.sim.faults import FaultConfig, FaultInjector
from alchemiser.sim.inprocess import DailyFillModel, SimBroker, SimTradeUpdateFeed
from alchemiser.sim.market import CsvMarket, Market, QuoteModel
from alchemiser.sim.server import SimExchangeServer
from alchemiser.sim.synthetic import SyntheticMarket

__all__ = [
    "SYNTHETIC",
    "AlwaysOpenCalendar",
    "CsvMarket",
    "DailyFillModel",
    "ExchangeConfig",
    "ExchangeEvent",
    "FaultConfig",
    "FaultInjector",
    "Market",
    "QuoteModel",
    "SessionCalendar",
    "SimBroker",
    "SimExchange",
    "SimExchangeServer",
    "SimOptions",
    "SimParts",
    "SimTradeUpdateFeed",
    "SyntheticMarket",
    "XnysCalendar",
    "build_sim",
]

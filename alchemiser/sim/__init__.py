"""The simulated exchange: a deterministic Alpaca-like exchange core, daily-bar markets (CSV replay and a seeded
synthetic market), the Alpaca-protocol server (REST + ``trade_updates`` WebSocket on one port), fault injection,
and the in-process ``Broker`` face for backtests.

Public API::

    build_sim(SimOptions(...), now=...) -> SimParts(exchange, market, calendar, xnys, start)
    SimExchange        the core (submit / cancel / replace / advance(now) / account / positions / orders / fills)
    SimBroker, SimTradeUpdateFeed, DailyFillModel     in-process faces
    SimExchangeServer  the protocol face (create(options, clock=...) / start() / stop() / port / base_url /
                       stream_url); FaultConfig / FaultInjector for its fault switches

Module map (mirrors ``adapters/alpaca``): ``calendar`` sessions · ``market``/``synthetic`` bars and the intraday
quote model · ``assets`` · ``exchange_config`` knobs · ``rules`` order checks, rejects and expiry ·
``orders``/``events`` records and the event emitter · ``ledger`` cash and positions (the account state) ·
``order_book`` orders, holds and fills · ``matching`` fill price and size · ``lifecycle`` an order's steps ·
``schedule`` steps due later · ``rng`` the seeded source · ``core`` the exchange (face and wiring) · ``payloads``
JSON shapes · ``context`` auth/faults guard · ``rest``/``market_data``/``stream``/``control`` routes · ``server``
lifecycle and time driver · ``faults`` · ``inprocess`` · ``build`` assembly.

Typical uses::

    # standalone (crash/chaos tests):  alchemiser sim-exchange --port 0 [--always-open] [--speed 60] [--seed 7]
    # embedded in sim mode, sharing the daemon's clock:
    clock = AcceleratedClock(start_instant, speed=60)
    server = SimExchangeServer.create(SimOptions(seed=7), clock=clock)
    await server.start()            # base_url serves trading + data, stream_url the trade_updates stream
    # in-process (backtests):
    parts = build_sim(SimOptions(data=bars_dir), now=first_instant)
    orders, rejects = DailyFillModel(parts.exchange).execute(requests, at=decision_instant)
"""

from alchemiser.sim.build import SYNTHETIC, SimOptions, SimParts, build_sim
from alchemiser.sim.calendar import AlwaysOpenCalendar, SessionCalendar, XnysCalendar
from alchemiser.sim.core import SimExchange
from alchemiser.sim.events import ExchangeEvent
from alchemiser.sim.exchange_config import ExchangeConfig
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

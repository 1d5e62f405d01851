"""Which plugins a daemon runs, by mode (``alchemiser.daemon.daemon.default_plugins`` delegates here).

* ``sim`` (embedded): the simulated exchange on loopback, then the trading stack with the real Alpaca adapter
  pointed at it, then the link that lets the exchange skip idle simulated time;
* ``sim`` with ``alpaca.trading_url`` set: the trading stack against that (standalone ``alchemiser sim-exchange``),
  with the configured keys or the simulator's defaults;
* ``paper`` / ``live``: the trading stack against Alpaca;
* in every mode, the parity monitor after the trading stack (``daemon/parity.py``) and the scheduled store backup
  (``daemon/backups.py``).
"""

from __future__ import annotations

from alchemiser.adapters.alpaca import AlpacaBroker, AlpacaCredentials, AlpacaEndpoints
from alchemiser.config import Settings
from alchemiser.daemon.backups import BackupPlugin
from alchemiser.daemon.context import DaemonContext, DaemonPlugin
from alchemiser.daemon.dashboard import DashboardPlugin
from alchemiser.daemon.parity import ParityPlugin
from alchemiser.daemon.sim_mode import SimLinkPlugin, SimPlugin, embedded
from alchemiser.daemon.trading import TradingPlugin, loopback_broker
from alchemiser.sim.server import DEFAULT_KEY_ID, DEFAULT_SECRET_KEY


def daemon_plugins(settings: Settings) -> list[DaemonPlugin]:
    if embedded(settings):
        sim = SimPlugin()
        trading = TradingPlugin(
            broker_factory=loopback_broker(sim.endpoints, sim.credentials),
            cross_check_clock=not settings.sim.always_open,
            # a new world's empty exchange is the baseline; a continued one is reconciled against the store
            fresh_broker=lambda: not sim.continued,
        )
        dashboard = DashboardPlugin(trading)
        link = SimLinkPlugin(sim, lambda: trading.scheduler, wakes=[dashboard.next_wake])
        return [sim, trading, link, dashboard, ParityPlugin(trading), BackupPlugin()]
    if settings.mode == "sim":
        trading = TradingPlugin(broker_factory=_standalone_sim, cross_check_clock=not settings.sim.always_open)
        return [trading, DashboardPlugin(trading), ParityPlugin(trading), BackupPlugin()]
    trading = TradingPlugin()
    return [trading, DashboardPlugin(trading), ParityPlugin(trading), BackupPlugin()]


async def _standalone_sim(ctx: DaemonContext) -> AlpacaBroker:
    alpaca = ctx.settings.alpaca
    key = alpaca.key_id.get_secret_value() if alpaca.key_id is not None else DEFAULT_KEY_ID
    secret = alpaca.secret_key.get_secret_value() if alpaca.secret_key is not None else DEFAULT_SECRET_KEY
    trading_url = str(alpaca.trading_url)
    endpoints = AlpacaEndpoints(
        trading_url=trading_url,
        data_url=alpaca.data_url or trading_url,
        stream_url=alpaca.stream_url or trading_url.replace("http", "ws", 1) + "/stream",
    )
    return AlpacaBroker.create(
        credentials=AlpacaCredentials.of(key, secret),
        clock=ctx.clock,
        endpoints=endpoints,
        registry=ctx.metrics.registry,
        rate_limit_per_minute=alpaca.rate_limit_per_minute,
        timeout_seconds=alpaca.timeout_seconds,
    )

"""Alpaca adapter: ``Broker`` over Alpaca's trading and market-data REST APIs and the ``trade_updates`` stream.

File set (mirrored by ``alchemiser.sim``): ``constants`` (paths, limits), ``auth`` (headers, stream auth),
``errors`` (HTTP reply → typed error), ``parsing`` (raw JSON → models, pure), ``limiter`` (request budget),
``rest`` (one httpx client per base URL), ``market_data`` (bars, quotes), ``stream`` (trade_updates),
``dedupe`` and ``reconcile`` (event identity, REST catch-up), ``metrics``, ``broker`` (``AlpacaBroker``).
"""

from alchemiser.adapters.alpaca.auth import AlpacaCredentials
from alchemiser.adapters.alpaca.broker import AlpacaBroker, AlpacaEndpoints
from alchemiser.adapters.alpaca.errors import MalformedResponseError, RequestRefusedError, map_http_error
from alchemiser.adapters.alpaca.limiter import RateLimiter
from alchemiser.adapters.alpaca.market_data import AlpacaMarketData
from alchemiser.adapters.alpaca.metrics import AdapterMetrics
from alchemiser.adapters.alpaca.reconcile import RestReconciler, synthesize_events
from alchemiser.adapters.alpaca.rest import AlpacaRestClient
from alchemiser.adapters.alpaca.stream import TradeUpdateStream

__all__ = [
    "AdapterMetrics",
    "AlpacaBroker",
    "AlpacaCredentials",
    "AlpacaEndpoints",
    "AlpacaMarketData",
    "AlpacaRestClient",
    "MalformedResponseError",
    "RateLimiter",
    "RequestRefusedError",
    "RestReconciler",
    "TradeUpdateStream",
    "map_http_error",
    "synthesize_events",
]

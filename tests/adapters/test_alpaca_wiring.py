"""Construction from settings, protocol conformance, breakers exposed for /readyz."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from alchemiser.adapters.alpaca.broker import AlpacaBroker, AlpacaEndpoints
from alchemiser.broker.protocol import Broker, TradeUpdateFeed
from alchemiser.config import AlpacaSettings
from alchemiser.errors import ConfigError
from alchemiser.process.breaker import BreakerState
from tests.adapters.alpaca_fakes import KEY_ID, SECRET, FastClock, credentials


def settings(**overrides: object) -> AlpacaSettings:
    fields: dict[str, object] = {
        "key_id": KEY_ID,
        "secret_key": SECRET,
        "trading_url": "https://paper-api.alpaca.markets",
        "data_url": "https://data.alpaca.markets",
        "stream_url": "wss://paper-api.alpaca.markets/stream",
        "rate_limit_per_minute": 150,
        "timeout_seconds": 4.0,
        "data_feed": "sip",
    }
    fields.update(overrides)
    return AlpacaSettings.model_validate(fields)


async def test_from_settings_wires_limits_feed_and_urls():
    changes: list[tuple[str, BreakerState]] = []
    broker = AlpacaBroker.from_settings(
        settings(), FastClock(), registry=CollectorRegistry(), on_breaker_change=lambda n, s: changes.append((n, s))
    )
    try:
        assert isinstance(broker, Broker)
        assert broker.trading.base_url == "https://paper-api.alpaca.markets"
        assert broker.trading.limiter.limit == 150 and broker.trading.limiter.reserve == 7
        assert broker.trading.timeout_seconds == 4.0
        assert broker.market_data.feed == "sip" and broker.market_data.latest_feed == "iex"
        assert set(broker.breakers) == {"alpaca_trading", "alpaca_data", "alpaca_stream"}
        breaker = broker.breakers["alpaca_stream"]
        for _ in range(breaker.failure_threshold):
            breaker.record_failure()
        assert changes == [("alpaca_stream", BreakerState.OPEN)]
        stream = broker.trade_updates()
        assert isinstance(stream, TradeUpdateFeed)
        assert stream.url == "wss://paper-api.alpaca.markets/stream"
    finally:
        await broker.aclose()


async def test_sim_endpoints_override_missing_urls():
    sim = AlpacaEndpoints("http://127.0.0.1:8765", "http://127.0.0.1:8765", "ws://127.0.0.1:8765/stream")
    broker = AlpacaBroker.from_settings(
        settings(trading_url=None, data_url=None, stream_url=None), FastClock(), endpoints=sim
    )
    try:
        assert broker.market_data.rest.base_url == "http://127.0.0.1:8765"
        assert broker.stream_url == "ws://127.0.0.1:8765/stream"
    finally:
        await broker.aclose()


def test_missing_keys_and_urls_are_named():
    with pytest.raises(ConfigError) as info:
        AlpacaBroker.from_settings(settings(key_id=None, stream_url=None), FastClock())
    assert info.value.problems == ["alpaca.key_id: required", "alpaca.stream_url: required"]


async def test_metrics_use_the_given_registry_not_the_global_one():
    registry = CollectorRegistry()
    endpoints = AlpacaEndpoints("https://t", "https://d", "wss://s/stream")
    first = AlpacaBroker.create(credentials=credentials(), clock=FastClock(), endpoints=endpoints, registry=registry)
    # A second broker on its own registry does not clash (no global state).
    second = AlpacaBroker.create(
        credentials=credentials(), clock=FastClock(), endpoints=endpoints, registry=CollectorRegistry()
    )
    assert first.metrics.registry is registry and second.metrics.registry is not registry
    await first.aclose()
    await second.aclose()

"""Fixtures of the Alpaca adapter tests: a broker wired to respx-mocked Alpaca hosts and a fast clock."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator

import pytest
import respx
from prometheus_client import CollectorRegistry

from alchemiser.adapters.alpaca.broker import AlpacaBroker, AlpacaEndpoints
from tests.adapters.alpaca_fakes import DATA, TRADING, FastClock, credentials


@pytest.fixture
def fast_clock() -> FastClock:
    return FastClock()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def alpaca_mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.fixture
async def broker(
    alpaca_mock: respx.MockRouter, fast_clock: FastClock, registry: CollectorRegistry
) -> AsyncIterator[AlpacaBroker]:
    del alpaca_mock  # active for the whole test
    instance = AlpacaBroker.create(
        credentials=credentials(),
        clock=fast_clock,
        endpoints=AlpacaEndpoints(trading_url=TRADING, data_url=DATA, stream_url="ws://127.0.0.1:9/stream"),
        registry=registry,
        rng=random.Random(7),
        timeout_seconds=2.0,
    )
    yield instance
    await instance.aclose()

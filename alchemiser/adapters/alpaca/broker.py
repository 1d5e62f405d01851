"""``AlpacaBroker``: the ``Broker`` protocol over Alpaca's REST APIs, plus the factory for its trade_updates stream.

Composed of one ``AlpacaRestClient`` per base URL (trading, market data), each with its own request budget and
``CircuitBreaker``, an ``AlpacaMarketData`` on the data client, and ``TradeUpdateStream``s whose reconciliation
reads back through this broker. Base URLs are plain parameters, so the same code talks to Alpaca paper/live and to
the simulated exchange on loopback.

Order submission follows the idempotent algorithm of alpaca-protocol.md §2.2: the POST is sent once; on a timeout,
connection error, 5xx, unreadable reply or "client_order_id must be unique", the order is looked up by its
``client_order_id``: found → ``ADOPTED``; still not settled after the lookups → ``UNKNOWN`` (the execution layer
decides; resending with the same id is safe because a duplicate is detected and adopted).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
from prometheus_client import CollectorRegistry

from alchemiser.adapters.alpaca import constants as c
from alchemiser.adapters.alpaca.auth import AlpacaCredentials, StreamAuthFormat
from alchemiser.adapters.alpaca.corporate import fetch_announcements, fetch_non_trade_activities
from alchemiser.adapters.alpaca.errors import MalformedResponseError
from alchemiser.adapters.alpaca.limiter import RateLimiter
from alchemiser.adapters.alpaca.market_data import AlpacaMarketData, DataFeed
from alchemiser.adapters.alpaca.metrics import AdapterMetrics
from alchemiser.adapters.alpaca.parsing import (
    parse_account,
    parse_asset,
    parse_calendar,
    parse_clock,
    parse_fill_activities,
    parse_order,
    parse_orders,
    parse_positions,
)
from alchemiser.adapters.alpaca.reconcile import RestReconciler
from alchemiser.adapters.alpaca.rest import AlpacaRestClient, counts_as_outage
from alchemiser.adapters.alpaca.stream import TradeUpdateStream
from alchemiser.broker.activities import Announcement, NonTradeActivity
from alchemiser.broker.models import (
    Account,
    Asset,
    Bar,
    CalendarDay,
    FillActivity,
    MarketClock,
    Order,
    OrderRequest,
    Position,
    Quote,
    SubmitResult,
    SubmitStatus,
)
from alchemiser.broker.protocol import OrderQueryStatus
from alchemiser.clock import Clock
from alchemiser.config import AlpacaSettings
from alchemiser.errors import (
    BrokerTransientError,
    ConfigError,
    DuplicateClientOrderIdError,
    NotFoundError,
    RateLimitedError,
    TransientError,
)
from alchemiser.logging import get_logger
from alchemiser.process.breaker import CircuitBreaker, StateListener

log = get_logger("alpaca_broker")

_MAX_PAGES = 10_000


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with ``Z``, as Alpaca's query parameters expect."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment.isoformat()} where an aware one is required")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class AlpacaEndpoints:
    trading_url: str
    data_url: str
    stream_url: str


class AlpacaBroker:
    def __init__(
        self,
        *,
        trading: AlpacaRestClient,
        market_data: AlpacaMarketData,
        credentials: AlpacaCredentials,
        clock: Clock,
        metrics: AdapterMetrics,
        stream_url: str,
        stream_breaker: CircuitBreaker | None = None,
        lookup_attempts: int = 3,
        lookup_delay: float = 1.0,
    ) -> None:
        self.trading = trading
        self.market_data = market_data
        self._credentials = credentials
        self._clock = clock
        self.metrics = metrics
        self.stream_url = stream_url
        self.stream_breaker = stream_breaker
        self._lookup_attempts = max(1, lookup_attempts)
        self._lookup_delay = lookup_delay

    # ---- construction ----------------------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        *,
        credentials: AlpacaCredentials,
        clock: Clock,
        endpoints: AlpacaEndpoints,
        data_feed: DataFeed = "iex",
        rate_limit_per_minute: int = c.DEFAULT_RATE_LIMIT_PER_MINUTE,
        data_rate_limit_per_minute: int | None = None,
        order_reserve: int | None = None,
        timeout_seconds: float = c.DEFAULT_TIMEOUT_SECONDS,
        registry: CollectorRegistry | None = None,
        on_breaker_change: StateListener | None = None,
        data_concurrency: int = 8,
        transport: httpx.AsyncBaseTransport | None = None,
        rng: random.Random | None = None,
        lookup_delay: float = 1.0,
    ) -> AlpacaBroker:
        """Wire the clients, limiters and breakers. Trading and data budgets are independent (as at Alpaca)."""
        metrics = AdapterMetrics(registry)
        reserve = order_reserve if order_reserve is not None else max(0, min(10, rate_limit_per_minute // 20))
        trading_breaker, data_breaker = (
            CircuitBreaker(name, clock, counts_as_failure=counts_as_outage, on_state_change=on_breaker_change)
            for name in ("alpaca_trading", "alpaca_data")
        )
        stream_breaker = CircuitBreaker("alpaca_stream", clock, on_state_change=on_breaker_change)
        trading = AlpacaRestClient(
            api="trading",
            base_url=endpoints.trading_url,
            credentials=credentials,
            clock=clock,
            limiter=RateLimiter(clock, per_minute=rate_limit_per_minute, reserve=reserve),
            metrics=metrics,
            breaker=trading_breaker,
            timeout_seconds=timeout_seconds,
            transport=transport,
            rng=rng,
        )
        data = AlpacaRestClient(
            api="data",
            base_url=endpoints.data_url,
            credentials=credentials,
            clock=clock,
            limiter=RateLimiter(clock, per_minute=data_rate_limit_per_minute or rate_limit_per_minute),
            metrics=metrics,
            breaker=data_breaker,
            timeout_seconds=timeout_seconds,
            max_connections=max(20, data_concurrency * 2),
            transport=transport,
            rng=rng,
        )
        return cls(
            trading=trading,
            market_data=AlpacaMarketData(data, feed=data_feed, max_concurrency=data_concurrency, clock=clock),
            credentials=credentials,
            clock=clock,
            metrics=metrics,
            stream_url=endpoints.stream_url,
            stream_breaker=stream_breaker,
            lookup_delay=lookup_delay,
        )

    @classmethod
    def from_settings(
        cls,
        settings: AlpacaSettings,
        clock: Clock,
        *,
        registry: CollectorRegistry | None = None,
        endpoints: AlpacaEndpoints | None = None,
        on_breaker_change: StateListener | None = None,
    ) -> AlpacaBroker:
        """Build from ``Settings.alpaca``; ``endpoints`` overrides the URLs (sim mode: the embedded exchange)."""
        problems: list[str] = []
        if settings.key_id is None:
            problems.append("alpaca.key_id: required")
        if settings.secret_key is None:
            problems.append("alpaca.secret_key: required")
        if endpoints is None:
            urls = {
                "trading_url": settings.trading_url,
                "data_url": settings.data_url,
                "stream_url": settings.stream_url,
            }
            problems.extend(f"alpaca.{key}: required" for key, value in urls.items() if not value)
            if not problems:
                endpoints = AlpacaEndpoints(
                    trading_url=str(settings.trading_url),
                    data_url=str(settings.data_url),
                    stream_url=str(settings.stream_url),
                )
        if problems or settings.key_id is None or settings.secret_key is None or endpoints is None:
            raise ConfigError(problems)
        credentials = AlpacaCredentials.of(settings.key_id.get_secret_value(), settings.secret_key)
        return cls.create(
            credentials=credentials,
            clock=clock,
            endpoints=endpoints,
            data_feed=settings.data_feed,
            rate_limit_per_minute=settings.rate_limit_per_minute,
            timeout_seconds=settings.timeout_seconds,
            registry=registry,
            on_breaker_change=on_breaker_change,
        )

    @property
    def breakers(self) -> dict[str, CircuitBreaker]:
        """Every breaker by name (for /readyz and metrics)."""
        found = [self.trading.breaker, self.market_data.rest.breaker, self.stream_breaker]
        return {breaker.name: breaker for breaker in found if breaker is not None}

    def trade_updates(
        self,
        *,
        auth_format: StreamAuthFormat = "authenticate",
        queue_size: int = 10_000,
        stale_after: timedelta = timedelta(minutes=2),
        reconcile_since: datetime | None = None,
        market_open: Callable[[], bool] | None = None,
        **options: Any,
    ) -> TradeUpdateStream:
        """A ``trade_updates`` stream whose reconciliation reads back through this broker (not started).

        ``options`` are passed to ``TradeUpdateStream`` (backoff, timeouts, listeners, ...).
        """
        return TradeUpdateStream(
            url=self.stream_url,
            credentials=self._credentials,
            clock=self._clock,
            metrics=self.metrics,
            reconciler=RestReconciler(self),
            breaker=self.stream_breaker,
            auth_format=auth_format,
            queue_size=queue_size,
            stale_after=stale_after,
            reconcile_since=reconcile_since,
            market_open=market_open,
            **options,
        )

    async def aclose(self) -> None:
        await self.trading.aclose()
        await self.market_data.rest.aclose()

    # ---- account, positions, assets --------------------------------------------------------------------------

    async def get_account(self) -> Account:
        return parse_account(await self.trading.get(c.PATH_ACCOUNT, endpoint=c.PATH_ACCOUNT))

    async def list_positions(self) -> list[Position]:
        return parse_positions(await self.trading.get(c.PATH_POSITIONS, endpoint=c.PATH_POSITIONS))

    async def get_asset(self, symbol: str) -> Asset:
        symbol = symbol.strip().upper()
        if not symbol:
            raise ValueError("get_asset: empty symbol")
        path = c.PATH_ASSET.format(symbol=quote(symbol, safe=""))
        return parse_asset(await self.trading.get(path, endpoint=c.PATH_ASSET))

    # ---- orders ----------------------------------------------------------------------------------------------

    async def submit_order(self, request: OrderRequest) -> SubmitResult:
        try:
            data = await self.trading.post(
                c.PATH_ORDERS, endpoint=c.PATH_ORDERS, body=request.to_alpaca(), kind="order_submit"
            )
            order = parse_order(data)
        except DuplicateClientOrderIdError as exc:
            return await self._resolve(request, f"duplicate client_order_id reply ({exc})", duplicate=True)
        except RateLimitedError:
            # Refused at the gate before the order was looked at: not ambiguous.
            self.metrics.submit_outcomes.labels("rate_limited").inc()
            raise
        except (BrokerTransientError, MalformedResponseError) as exc:
            return await self._resolve(request, f"POST {c.PATH_ORDERS} outcome unclear ({exc})", duplicate=False)
        self.metrics.submit_outcomes.labels("submitted").inc()
        log.debug("order_submitted", client_order_id=request.client_order_id, order_id=order.id, status=order.status)
        return SubmitResult(status=SubmitStatus.SUBMITTED, client_order_id=request.client_order_id, order=order)

    async def _resolve(self, request: OrderRequest, reason: str, *, duplicate: bool) -> SubmitResult:
        cid = request.client_order_id
        log.warning("order_submit_unclear", client_order_id=cid, reason=reason)
        last_problem = "no lookup made"
        for attempt in range(self._lookup_attempts):
            if attempt:
                await self._clock.sleep(self._lookup_delay * attempt)
            try:
                order = await self.get_order_by_client_id(cid)
            except NotFoundError:
                last_problem = "no order with this client_order_id"
                if duplicate:
                    break
                continue
            except (TransientError, MalformedResponseError) as exc:
                last_problem = f"lookup failed ({exc})"
                continue
            if order.symbol != request.symbol or order.side != request.side:
                self.metrics.submit_outcomes.labels("rejected").inc()
                raise DuplicateClientOrderIdError(
                    f"client_order_id {cid} is already used by a different order "
                    f"({order.side.value} {order.symbol}, id {order.id})",
                    client_order_id=cid,
                    order_id=order.id,
                )
            self.metrics.submit_outcomes.labels("adopted").inc()
            log.info("order_adopted", client_order_id=cid, order_id=order.id, status=order.status)
            return SubmitResult(
                status=SubmitStatus.ADOPTED, client_order_id=cid, order=order, detail=f"{reason}; found by lookup"
            )
        self.metrics.submit_outcomes.labels("unknown").inc()
        hint = (
            "the broker reports the id as used but cannot show the order"
            if duplicate
            else "not visible at the broker; resending with the same client_order_id is safe"
        )
        detail = f"{reason}; after {self._lookup_attempts} lookup(s): {last_problem}; {hint}"
        log.error("order_submit_unknown", client_order_id=cid, detail=detail)
        return SubmitResult(status=SubmitStatus.UNKNOWN, client_order_id=cid, detail=detail)

    async def get_order(self, order_id: str) -> Order:
        path = c.PATH_ORDER.format(order_id=quote(order_id, safe=""))
        return parse_order(await self.trading.get(path, endpoint=c.PATH_ORDER))

    async def get_order_by_client_id(self, client_order_id: str) -> Order:
        params = {"client_order_id": client_order_id}
        data = await self.trading.get(c.PATH_ORDER_BY_CLIENT_ID, endpoint=c.PATH_ORDER_BY_CLIENT_ID, params=params)
        return parse_order(data)

    async def cancel_order(self, order_id: str) -> None:
        """Request a cancel (204 = accepted only; confirm through events or ``get_order``).

        DELETE is idempotent and retried on transient errors, so after a lost reply a retry may meet
        ``NotCancelableError`` because the first attempt worked: always confirm the order's final state.
        """
        path = c.PATH_ORDER.format(order_id=quote(order_id, safe=""))
        await self.trading.delete(path, endpoint=c.PATH_ORDER, kind="order_cancel")

    async def list_orders(
        self,
        *,
        status: OrderQueryStatus = "all",
        after: datetime | None = None,
        symbols: Sequence[str] | None = None,
        limit: int = c.ORDERS_MAX_LIMIT,
    ) -> list[Order]:
        """Pages forward on ``submitted_at`` (Alpaca has no page token here), overlapping by 1 µs and de-duplicating
        by id so that orders sharing a timestamp across a page boundary are not skipped.
        """
        page_size = max(1, min(limit, c.ORDERS_MAX_LIMIT))
        found: dict[str, Order] = {}
        cursor = after
        for _ in range(_MAX_PAGES):
            params: dict[str, str | int | None] = {
                "status": status,
                "limit": page_size,
                "direction": "asc",
                "nested": "false",
                "after": format_time(cursor) if cursor is not None else None,
                "symbols": ",".join(s.strip().upper() for s in symbols) if symbols else None,
            }
            page = parse_orders(await self.trading.get(c.PATH_ORDERS, endpoint=c.PATH_ORDERS, params=params))
            fresh = [order for order in page if order.id not in found]
            for order in fresh:
                found[order.id] = order
            if len(page) < page_size:
                break
            newest = max(_order_time(order) for order in page)
            step = newest - timedelta(microseconds=1)
            if cursor is not None and step <= cursor:
                step = newest  # a full page of one timestamp: move past it rather than loop
            if cursor is not None and step <= cursor:
                break
            cursor = step
        return sorted(found.values(), key=_order_time)

    async def list_fill_activities(self, *, after: datetime | None = None) -> list[FillActivity]:
        found: dict[str, FillActivity] = {}
        token: str | None = None
        for _ in range(_MAX_PAGES):
            params: dict[str, str | int | None] = {
                "direction": "asc",
                "page_size": c.ACTIVITIES_PAGE_SIZE,
                "after": format_time(after) if after is not None else None,
                "page_token": token,
            }
            data = await self.trading.get(c.PATH_FILL_ACTIVITIES, endpoint=c.PATH_FILL_ACTIVITIES, params=params)
            page = parse_fill_activities(data)
            fresh = [row for row in page if row.id not in found]
            for row in fresh:
                found[row.id] = row
            if len(page) < c.ACTIVITIES_PAGE_SIZE or not fresh:
                break
            token = page[-1].id
        return sorted(found.values(), key=lambda row: row.transaction_time)

    async def list_non_trade_activities(self, *, after: date | None = None) -> list[NonTradeActivity]:
        return await fetch_non_trade_activities(self.trading, after=after)

    async def list_announcements(self, symbols: Sequence[str], since: date, until: date) -> list[Announcement]:
        return await fetch_announcements(self.trading, symbols, since, until)

    # ---- clock, calendar, market data ------------------------------------------------------------------------

    async def get_clock(self) -> MarketClock:
        return parse_clock(await self.trading.get(c.PATH_CLOCK, endpoint=c.PATH_CLOCK))

    async def get_calendar(self, start: date, end: date) -> list[CalendarDay]:
        if start > end:
            raise ValueError(f"get_calendar: start {start} is after end {end}")
        params = {"start": start.isoformat(), "end": end.isoformat()}
        return parse_calendar(await self.trading.get(c.PATH_CALENDAR, endpoint=c.PATH_CALENDAR, params=params))

    async def get_latest_quotes(self, symbols: Sequence[str]) -> dict[str, Quote]:
        return await self.market_data.get_latest_quotes(symbols)

    async def get_daily_bars(self, symbols: Sequence[str], start: date, end: date) -> dict[str, list[Bar]]:
        return await self.market_data.get_daily_bars(symbols, start, end)


def _order_time(order: Order) -> datetime:
    return order.submitted_at or order.created_at

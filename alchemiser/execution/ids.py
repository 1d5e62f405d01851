"""Deterministic client order ids: the same (run, symbol, side, step) always gives the same id.

A retry or a restart can therefore only find the existing order (``GET /v2/orders:by_client_order_id``), never
create a twin: Alpaca refuses a second order with an id it has seen, even a closed one. Ids fit Alpaca's older
48-character limit and stay readable: ``alc-<run>-<symbol>-<b|s><step>-<hash>`` (steps 0..8: limit ladder, 90..:
market attempts); the hash covers the full inputs, so truncating a long run id or symbol cannot make two intents
collide.
"""

from __future__ import annotations

import hashlib
import re

from alchemiser.broker.enums import OrderSide

MAX_CLIENT_ORDER_ID = 48
MARKET_STEP = 90  # the market fallback's first step number (ladder steps are 0..8)
MARKET_ATTEMPTS = 3  # market steps 90, 91, 92: a stalled, cancelled market remainder is retried under a new id
MAX_STEP = 99
_SAFE = re.compile(r"[^A-Za-z0-9]")


def client_order_id(run_id: str, symbol: str, side: OrderSide, step: int) -> str:
    if not run_id:
        raise ValueError("client_order_id needs a run id")
    if not symbol:
        raise ValueError("client_order_id needs a symbol")
    if side not in (OrderSide.BUY, OrderSide.SELL):
        raise ValueError(f"client_order_id needs a buy or sell side, got {side!r}")
    if not 0 <= step <= MAX_STEP:
        raise ValueError(f"ladder step {step} outside 0..{MAX_STEP}")
    digest = hashlib.sha256(f"{run_id}\x1f{symbol}\x1f{side.value}\x1f{step}".encode()).hexdigest()[:10]
    run_part = _SAFE.sub("", run_id)[:14]
    symbol_part = _SAFE.sub("", symbol)[:10]
    coid = f"alc-{run_part}-{symbol_part}-{side.value[0]}{step}-{digest}"
    if len(coid) > MAX_CLIENT_ORDER_ID:  # unreachable with the limits above; kept as a guard
        raise ValueError(f"client order id {coid!r} longer than {MAX_CLIENT_ORDER_ID}")
    return coid

"""Pure mapping of an Alpaca HTTP reply (status + body code + message) to alchemiser's typed errors.

Alpaca's 8-digit body codes are not reliable across endpoints (the duplicate client_order_id reply carries
40010001 with HTTP 422), so messages are matched first, then codes, then the HTTP status.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from alchemiser.adapters.alpaca.constants import CODE_INSUFFICIENT_BUYING_POWER, MSG_DUPLICATE_CLIENT_ORDER_ID
from alchemiser.errors import (
    AuthFailedError,
    BrokerError,
    BrokerTransientError,
    DuplicateClientOrderIdError,
    InsufficientBuyingPowerError,
    NotCancelableError,
    NotFoundError,
    NotFractionableError,
    OrderRejectedError,
    PermanentError,
    RateLimitedError,
)

RequestKind = Literal["read", "order_submit", "order_cancel", "other"]

_BUYING_POWER = re.compile(r"buying power", re.IGNORECASE)
_NOT_FRACTIONABLE = re.compile(r"not fractionable", re.IGNORECASE)
_DUPLICATE_ID = re.compile(re.escape(MSG_DUPLICATE_CLIENT_ORDER_ID), re.IGNORECASE)
_UNAUTHORIZED = re.compile(r"unauthori[sz]ed|not authori[sz]ed|invalid (api )?key|forbidden\.?$", re.IGNORECASE)
_NOT_CANCELABLE = re.compile(r"not cancel+able|already (filled|canceled|cancelled|expired)", re.IGNORECASE)
_MAX_MESSAGE = 300


class RequestRefusedError(BrokerError, PermanentError):
    """A 4xx that is neither auth, not-found nor an order rejection (bad parameters, plan does not permit)."""


class MalformedResponseError(BrokerError):
    """The reply could not be read (not JSON, wrong shape). Neither transient nor permanent: outcome unknown."""


@dataclass(frozen=True)
class ErrorBody:
    """What Alpaca put in an error body; ``message`` falls back to the raw text (trimmed)."""

    code: int | None
    message: str
    extra: dict[str, Any]


def parse_error_body(text: str) -> ErrorBody:
    """Read ``{"code": N, "message": "..."}``; tolerate non-JSON bodies (proxies, HTML error pages)."""
    try:
        data = json.loads(text) if text else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return ErrorBody(code=None, message=text.strip()[:_MAX_MESSAGE], extra={})
    raw_code = data.get("code")
    code: int | None
    try:
        code = int(raw_code) if raw_code is not None else None
    except (TypeError, ValueError):
        code = None
    message = str(data.get("message") or data.get("error") or "").strip()[:_MAX_MESSAGE]
    extra = {k: v for k, v in data.items() if k not in {"code", "message"}}
    return ErrorBody(code=code, message=message, extra=extra)


def retry_after_seconds(headers: dict[str, str], now_epoch: float, *, max_wait: float = 120.0) -> float | None:
    """Seconds to wait from ``Retry-After`` or ``X-Ratelimit-Reset`` (epoch seconds); ``None`` if neither is usable.

    ``headers`` must have lower-case keys.
    """
    retry_after = headers.get("retry-after")
    if retry_after is not None:
        try:
            return min(max(float(retry_after), 0.0), max_wait)
        except ValueError:
            pass
    reset = headers.get("x-ratelimit-reset")
    if reset is not None:
        try:
            return min(max(float(reset) - now_epoch, 0.0), max_wait)
        except ValueError:
            return None
    return None


def map_http_error(
    status: int,
    body_text: str,
    *,
    kind: RequestKind,
    endpoint: str,
    retry_after: float | None = None,
) -> BrokerError:
    """The typed error for a non-2xx reply. ``kind`` says what the request was for (order rejections vs reads)."""
    body = parse_error_body(body_text)
    message = body.message or f"HTTP {status}"
    context: dict[str, Any] = {"status_code": status, "code": body.code, "endpoint": endpoint}
    text = f"{endpoint}: {message}"

    if status == 429:
        return RateLimitedError(f"{endpoint}: rate limited ({message})", retry_after=retry_after, **context)
    if status >= 500:
        return BrokerTransientError(f"{endpoint}: server error {status} ({message})", **context)
    if _DUPLICATE_ID.search(message):
        return DuplicateClientOrderIdError(text, **context)
    if status == 401:
        return AuthFailedError(f"{endpoint}: credentials refused ({message})", **context)
    if status == 404:
        return NotFoundError(text, **context)
    if kind == "order_cancel" and status == 422:
        return NotCancelableError(text, **context)
    if kind == "order_cancel" and _NOT_CANCELABLE.search(message):
        return NotCancelableError(text, **context)
    if kind == "order_submit":
        if _BUYING_POWER.search(message) or (body.code == CODE_INSUFFICIENT_BUYING_POWER and "qty" not in message):
            return InsufficientBuyingPowerError(text, **context, **_safe_extra(body.extra))
        if _NOT_FRACTIONABLE.search(message):
            return NotFractionableError(text, **context)
        if 400 <= status < 500:
            return OrderRejectedError(text, **context, **_safe_extra(body.extra))
    if status == 403 and _UNAUTHORIZED.search(message):
        return AuthFailedError(f"{endpoint}: credentials refused ({message})", **context)
    if 400 <= status < 500:
        return RequestRefusedError(text, **context)
    return MalformedResponseError(f"{endpoint}: unexpected HTTP status {status} ({message})", **context)


def _safe_extra(extra: dict[str, Any]) -> dict[str, Any]:
    """Keep the informative extra fields of an order rejection (buying_power, available_qty, related_orders...)."""
    reserved = {"status_code", "code", "endpoint", "message"}
    return {f"body_{k}": v for k, v in extra.items() if k not in reserved}

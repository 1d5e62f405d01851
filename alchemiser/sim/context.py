"""What every route of the protocol face shares: the exchange, the clock, credentials, faults, and the guard that
applies auth, rate limits and injected faults around each REST handler."""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from alchemiser.clock import Clock
from alchemiser.errors import BrokerError, DataError
from alchemiser.sim.core import SimExchange
from alchemiser.sim.faults import FaultInjector
from alchemiser.sim.payloads import error_body

HEADER_KEY_ID = "APCA-API-KEY-ID"
HEADER_SECRET_KEY = "APCA-API-SECRET-KEY"  # noqa: S105 - a header name
HEADER_FAULT_TOKEN = "X-Sim-Fault-Token"  # noqa: S105 - a header name
DEFAULT_RATE_LIMIT = 200

Handler = Callable[[Request], Awaitable[Response]]


def json_response(body: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )


@dataclass(slots=True)
class SimContext:
    exchange: SimExchange
    clock: Clock
    key_id: str
    secret_key: str
    faults: FaultInjector
    fault_token: str | None = None
    kick: asyncio.Event = field(default_factory=asyncio.Event)  # wakes the time driver after a change
    driver_due: datetime | None = None  # when the time driver next wakes by itself (None: only when kicked)

    def reschedule(self, *, force: bool = False) -> None:
        """Wake the time driver if the exchange now has an action due before the driver's own wake-up."""
        due = self.exchange.next_due()
        if force or (due is not None and (self.driver_due is None or due < self.driver_due)):
            self.kick.set()

    def now_advanced(self) -> datetime:
        """The clock's now, after running every exchange action due by then."""
        now = self.clock.now()
        self.exchange.advance(now)
        return now

    def credentials_ok(self, key: str | None, secret: str | None) -> bool:
        if key is None or secret is None:
            return False
        return hmac.compare_digest(key, self.key_id) and hmac.compare_digest(secret, self.secret_key)

    def guard(self, name: str, handler: Handler, *, auth: bool = True) -> Handler:
        """Wrap a REST handler: latency, auth (401/403), rate limit and injected errors, typed errors → JSON."""

        async def wrapped(request: Request) -> Response:
            faults = self.faults
            delay = faults.latency_seconds()
            if delay > 0:
                await asyncio.sleep(delay)  # real latency: clients' timeouts are wall-clock
            if auth:
                key = request.headers.get(HEADER_KEY_ID)
                secret = request.headers.get(HEADER_SECRET_KEY)
                if key is None or secret is None or faults.config.auth_fail:
                    return json_response({"code": 40110000, "message": "request is not authorized"}, 401)
                if not self.credentials_ok(key, secret):
                    return json_response({"message": "forbidden."}, 403)
            epoch = self.clock.now().timestamp()
            exceeded, remaining, reset = faults.rate_limited(epoch)
            limit = faults.config.rate_limit_per_minute or DEFAULT_RATE_LIMIT
            headers = {
                "X-Ratelimit-Limit": str(limit),
                "X-Ratelimit-Remaining": str(remaining if faults.config.rate_limit_per_minute else limit - 1),
                "X-Ratelimit-Reset": str(reset or int(epoch) + 60),
            }
            limited = {**headers, "X-Ratelimit-Remaining": "0"} if faults.config.rate_limit_headers else {}
            if exceeded:
                return json_response({"code": 42910000, "message": "rate limit exceeded"}, 429, limited)
            fault = faults.http_fault(request.method, name)
            if fault is not None:
                if fault.kind == "429":
                    return json_response({"code": 42910000, "message": "rate limit exceeded"}, 429, limited)
                if fault.kind == "timeout":
                    await asyncio.sleep(faults.config.hang_seconds)
                    return json_response({"message": "gateway timeout"}, 504)
                status = int(fault.kind)
                return json_response({"code": status * 100000, "message": "internal server error"}, status)
            try:
                response = await handler(request)
            except BrokerError as err:
                return json_response(error_body(err), err.status_code or 500, headers)
            except DataError as err:
                return json_response({"code": 42210000, "message": str(err)}, 422, headers)
            response.headers.update(headers)
            return response

        return wrapped

    def fault_token_ok(self, request: Request) -> bool:
        token = request.headers.get(HEADER_FAULT_TOKEN)
        return self.fault_token is not None and token is not None and hmac.compare_digest(token, self.fault_token)

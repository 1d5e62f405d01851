"""Simulator-only endpoints under ``/sim``: the clock (read, speed, jump) and test-only fault switches.

* ``GET /sim/clock`` → ``{"now", "speed", "kind", "is_open", "next_open", "next_close"}``
* ``POST /sim/clock`` with any of ``{"speed": x}``, ``{"jump_to": "<RFC 3339>" | "next_open" | "next_close"}``,
  ``{"minutes_before_close": m}`` (jump to m minutes before the next close), ``{"advance_seconds": s}``.
  Needs the API key headers. 409 when the running clock cannot do it (a real clock cannot jump).
* ``GET/PUT /sim/faults`` (``FaultConfig`` JSON, optional ``"seed"``) and ``POST /sim/faults/drop_streams``:
  need ``X-Sim-Fault-Token``; disabled (404) unless the server was given a fault token.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from alchemiser.clock import AcceleratedClock, ManualClock
from alchemiser.sim.context import SimContext, json_response
from alchemiser.sim.faults import FaultConfig
from alchemiser.sim.payloads import RequestError, iso_et, parse_time

if TYPE_CHECKING:
    from alchemiser.sim.stream import StreamHub


def clock_state(ctx: SimContext) -> dict[str, Any]:
    clock = ctx.clock
    now = clock.now()
    kind = (
        "accelerated" if isinstance(clock, AcceleratedClock) else "manual" if isinstance(clock, ManualClock) else "real"
    )
    speed = clock.speed if isinstance(clock, AcceleratedClock) else None if kind == "manual" else 1.0
    cal = ctx.exchange.calendar
    return {
        "now": iso_et(now),
        "kind": kind,
        "speed": speed,
        "is_open": cal.is_open(now),
        "next_open": iso_et(cal.next_open(now)),
        "next_close": iso_et(cal.next_close(now)),
    }


def _conflict(message: str) -> RequestError:
    return RequestError(message, status_code=409, code=40910000)


def _jump(ctx: SimContext, target: datetime) -> None:
    clock = ctx.clock
    if target <= clock.now():
        raise RequestError("jump_to must be in the future (the clock never goes back)", status_code=422, code=42210000)
    if isinstance(clock, AcceleratedClock):
        clock.jump_to(target)
    elif isinstance(clock, ManualClock):
        clock.set(target)
    else:
        raise _conflict("this clock cannot jump (real time)")


def control_routes(ctx: SimContext, hub: StreamHub) -> list[Route]:
    async def get_clock(request: Request) -> Response:
        return json_response(clock_state(ctx))

    async def set_clock(request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError as err:
            raise RequestError("request body format is invalid", status_code=400, code=40010000) from err
        if not isinstance(body, dict) or not body:
            raise RequestError(
                "expected one of speed, jump_to, minutes_before_close, advance_seconds", status_code=422, code=42210000
            )
        unknown = set(body) - {"speed", "jump_to", "minutes_before_close", "advance_seconds"}
        if unknown:
            raise RequestError(f"unknown field(s): {', '.join(sorted(unknown))}", status_code=422, code=42210000)
        clock = ctx.clock
        cal = ctx.exchange.calendar
        if "jump_to" in body:
            raw = body["jump_to"]
            if raw == "next_open":
                _jump(ctx, cal.next_open(clock.now()))
            elif raw == "next_close":
                _jump(ctx, cal.next_close(clock.now()))
            elif isinstance(raw, str):
                _jump(ctx, parse_time(raw, "jump_to"))
            else:
                raise RequestError("jump_to must be a string", status_code=422, code=42210000)
        if "minutes_before_close" in body:
            minutes = body["minutes_before_close"]
            if not isinstance(minutes, int | float) or minutes < 0:
                raise RequestError("minutes_before_close must be a number ≥ 0", status_code=422, code=42210000)
            close = cal.next_close(clock.now())
            target = close - timedelta(minutes=float(minutes))
            if target <= clock.now():
                target = cal.next_close(close) - timedelta(minutes=float(minutes))
            _jump(ctx, target)
        if "advance_seconds" in body:
            seconds = body["advance_seconds"]
            if not isinstance(seconds, int | float) or seconds <= 0:
                raise RequestError("advance_seconds must be a number > 0", status_code=422, code=42210000)
            _jump(ctx, clock.now() + timedelta(seconds=float(seconds)))
        if "speed" in body:
            speed = body["speed"]
            if not isinstance(speed, int | float) or speed <= 0:
                raise RequestError("speed must be a number > 0", status_code=422, code=42210000)
            if not isinstance(clock, AcceleratedClock):
                raise _conflict("this clock has no speed (use an accelerated clock)")
            clock.set_speed(float(speed))
        ctx.exchange.advance(clock.now())
        ctx.reschedule(force=True)
        return json_response(clock_state(ctx))

    def _token_checked(request: Request) -> Response | None:
        if ctx.fault_token is None:
            return json_response({"code": 40410000, "message": "fault control is disabled"}, 404)
        if not ctx.fault_token_ok(request):
            return json_response({"code": 40310000, "message": "fault token required"}, 403)
        return None

    async def faults(request: Request) -> Response:
        refused = _token_checked(request)
        if refused is not None:
            return refused
        if request.method == "PUT":
            try:
                body = json.loads(await request.body() or b"{}")
                if not isinstance(body, dict):
                    raise TypeError("expected a JSON object")
                seed = body.pop("seed", None)
                config = FaultConfig.model_validate(body)
            except (ValueError, TypeError, ValidationError) as err:
                return json_response({"code": 42210000, "message": f"invalid fault config: {err}"}, 422)
            ctx.faults.configure(config, seed=int(seed) if seed is not None else None)
        return json_response(ctx.faults.config.model_dump(mode="json"))

    async def drop_streams(request: Request) -> Response:
        refused = _token_checked(request)
        if refused is not None:
            return refused
        return json_response({"dropped": hub.drop_all()})

    async def status(request: Request) -> Response:
        return json_response(
            {
                "clock": clock_state(ctx),
                "orders": ctx.exchange.order_count,
                "stream_connections": len(hub.connections),
                "stream_refused": hub.refused,
            }
        )

    g = ctx.guard
    return [
        Route("/sim/clock", g("/sim/clock", get_clock), methods=["GET"]),
        Route("/sim/clock", g("/sim/clock", set_clock), methods=["POST"]),
        Route("/sim/status", g("/sim/status", status), methods=["GET"]),
        Route("/sim/faults", faults, methods=["GET", "PUT"]),
        Route("/sim/faults/drop_streams", drop_streams, methods=["POST"]),
    ]

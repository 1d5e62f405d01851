"""Alpaca's trading REST API v2 on the simulated exchange (routes of the protocol face)."""

from __future__ import annotations

import asyncio
import json
from datetime import date, timedelta
from typing import Literal

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from alchemiser.broker.enums import OrderSide, TimeInForce
from alchemiser.broker.models import NEW_YORK
from alchemiser.sim.context import SimContext, json_response
from alchemiser.sim.payloads import (
    RequestError,
    clock_json,
    decimal_field,
    parse_date,
    parse_order_body,
    parse_time,
)

ORDERS_MAX_LIMIT = 500
ACTIVITIES_MAX_PAGE = 100


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as err:
        raise RequestError(f"invalid {name}: {raw!r}", status_code=422, code=40010001) from err
    if not low <= value <= high:
        raise RequestError(f"{name} must be between {low} and {high}", status_code=422, code=40010001)
    return value


def _direction(request: Request) -> Literal["asc", "desc"]:
    raw = request.query_params.get("direction", "desc")
    if raw not in ("asc", "desc"):
        raise RequestError(f"invalid direction: {raw!r}", status_code=422, code=40010001)
    return "asc" if raw == "asc" else "desc"


def trading_routes(ctx: SimContext) -> list[Route]:
    ex = ctx.exchange

    async def account(request: Request) -> Response:
        return json_response(ex.account(ctx.now_advanced()).to_alpaca())

    async def positions(request: Request) -> Response:
        now = ctx.now_advanced()
        return json_response([p.to_alpaca() for p in ex.positions(now)])

    async def position(request: Request) -> Response:
        now = ctx.now_advanced()
        return json_response(ex.position(request.path_params["symbol"], now).to_alpaca())

    async def asset(request: Request) -> Response:
        return json_response(ex.asset(request.path_params["symbol"]).to_alpaca())

    async def submit(request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError as err:
            raise RequestError("request body format is invalid", status_code=400, code=40010000) from err
        order_request = parse_order_body(body)
        now = ctx.now_advanced()
        order = ex.submit(order_request, now)
        ctx.reschedule()
        if ctx.faults.hold_submit_response():
            # Accepted but the answer never arrives in time: the client must look the order up by client id.
            await asyncio.sleep(ctx.faults.config.submit_hang_seconds)
        return json_response(order.to_alpaca())

    async def list_orders(request: Request) -> Response:
        q = request.query_params
        status = q.get("status", "open")
        if status not in ("open", "closed", "all"):
            raise RequestError(f"invalid status: {status!r}", status_code=422, code=40010001)
        side_raw = q.get("side")
        side = OrderSide(side_raw) if side_raw else None
        if side is OrderSide.UNKNOWN:
            raise RequestError(f"invalid side: {side_raw!r}", status_code=422, code=40010001)
        symbols = [s for s in q.get("symbols", "").upper().split(",") if s] or None
        ctx.now_advanced()
        orders = ex.list_orders(
            status="open" if status == "open" else "closed" if status == "closed" else "all",
            after=parse_time(q["after"], "after") if q.get("after") else None,
            until=parse_time(q["until"], "until") if q.get("until") else None,
            symbols=symbols,
            side=side,
            limit=_int_param(request, "limit", 50, 1, ORDERS_MAX_LIMIT),
            direction=_direction(request),
        )
        return json_response([o.to_alpaca() for o in orders])

    async def get_order(request: Request) -> Response:
        ctx.now_advanced()
        return json_response(ex.get_order(request.path_params["order_id"]).to_alpaca())

    async def by_client_id(request: Request) -> Response:
        client_order_id = request.query_params.get("client_order_id")
        if not client_order_id:
            raise RequestError("client_order_id is required", status_code=422, code=40010001)
        ctx.now_advanced()
        return json_response(ex.get_order_by_client_id(client_order_id).to_alpaca())

    async def cancel(request: Request) -> Response:
        ex.cancel(request.path_params["order_id"], ctx.clock.now())
        ctx.reschedule()
        return Response(status_code=204)

    async def cancel_all(request: Request) -> Response:
        results = ex.cancel_all(ctx.clock.now())
        ctx.reschedule()
        return json_response([{"id": oid, "status": status} for oid, status in results], 207)

    async def replace(request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError as err:
            raise RequestError("request body format is invalid", status_code=400, code=40010000) from err
        if not isinstance(body, dict):
            raise RequestError("request body format is invalid", status_code=400, code=40010000)
        tif = body.get("time_in_force")
        client_order_id = body.get("client_order_id")
        if client_order_id is not None and not isinstance(client_order_id, str):
            raise RequestError("client_order_id must be a string", status_code=422, code=40010001)
        order = ex.replace(
            request.path_params["order_id"],
            ctx.clock.now(),
            qty=decimal_field(body, "qty"),
            limit_price=decimal_field(body, "limit_price"),
            time_in_force=TimeInForce(tif) if isinstance(tif, str) and tif else None,
            client_order_id=client_order_id,
        )
        ctx.reschedule()
        return json_response(order.to_alpaca())

    async def clock(request: Request) -> Response:
        body = clock_json(ex.market_clock(ctx.now_advanced()))
        claimed = ctx.faults.config.clock_is_open
        if claimed is not None:  # fault injection: a clock that disagrees with the calendar
            body["is_open"] = claimed
        return json_response(body)

    async def calendar(request: Request) -> Response:
        q = request.query_params
        today = ctx.clock.now().astimezone(NEW_YORK).date()
        try:
            start = date.fromisoformat(q["start"]) if q.get("start") else today - timedelta(days=365)
            end = date.fromisoformat(q["end"]) if q.get("end") else today + timedelta(days=365)
        except ValueError as err:
            raise RequestError(f"invalid date: {err}", status_code=422, code=40010001) from err
        return json_response([d.to_alpaca() for d in ex.trading_calendar(start, end)])

    async def fill_activities(request: Request) -> Response:
        q = request.query_params
        ctx.now_advanced()
        rows = ex.fill_activities(
            after=parse_time(q["after"], "after") if q.get("after") else None,
            until=parse_time(q["until"], "until") if q.get("until") else None,
            direction=_direction(request),
            page_size=_int_param(request, "page_size", ACTIVITIES_MAX_PAGE, 1, ACTIVITIES_MAX_PAGE),
            page_token=q.get("page_token") or None,
        )
        return json_response([r.to_alpaca() for r in rows])

    async def activities(request: Request) -> Response:
        q = request.query_params
        types = frozenset(t.strip().upper() for t in q.get("activity_types", "").split(",") if t.strip())
        if types == {"FILL"}:
            return await fill_activities(request)
        ctx.now_advanced()
        after = parse_date(q["after"], "after") if q.get("after") else None
        rows = [a.to_alpaca() for a in ex.non_trade_activities(after=after, types=(types - {"FILL"}) or None)]
        if not types or "FILL" in types:  # fills come along when asked for (or when no type is named)
            rows += [r.to_alpaca() for r in ex.fill_activities(direction="asc", page_size=ACTIVITIES_MAX_PAGE)]
        if _direction(request) == "desc":
            rows.reverse()
        page_size = _int_param(request, "page_size", ACTIVITIES_MAX_PAGE, 1, ACTIVITIES_MAX_PAGE)
        token = q.get("page_token")
        if token:
            ids = [r["id"] for r in rows]
            rows = rows[ids.index(token) + 1 :] if token in ids else []
        return json_response(rows[:page_size])

    async def announcements(request: Request) -> Response:
        q = request.query_params
        if not q.get("ca_types") or not q.get("since") or not q.get("until"):
            raise RequestError("ca_types, since and until are required", status_code=422, code=42210000)
        since, until = parse_date(q["since"], "since"), parse_date(q["until"], "until")
        if (until - since).days > 90 or until < since:
            raise RequestError("since and until must be at most 90 days apart", status_code=422, code=42210000)
        wanted = {t.strip().lower() for t in q["ca_types"].split(",")}
        rows = ex.announcements(ctx.now_advanced(), since, until, q.get("symbol") or None)
        return json_response([a.to_alpaca() for a in rows if a.ca_type in wanted])

    async def orders_root(request: Request) -> Response:
        if request.method == "POST":
            return await submit(request)
        if request.method == "DELETE":
            return await cancel_all(request)
        return await list_orders(request)

    async def order_item(request: Request) -> Response:
        if request.method == "DELETE":
            return await cancel(request)
        if request.method == "PATCH":
            return await replace(request)
        return await get_order(request)

    g = ctx.guard
    return [
        Route("/v2/account", g("/v2/account", account), methods=["GET"]),
        Route("/v2/positions", g("/v2/positions", positions), methods=["GET"]),
        Route("/v2/positions/{symbol}", g("/v2/positions/{symbol}", position), methods=["GET"]),
        Route("/v2/assets/{symbol}", g("/v2/assets/{symbol}", asset), methods=["GET"]),
        Route("/v2/orders:by_client_order_id", g("/v2/orders:by_client_order_id", by_client_id), methods=["GET"]),
        Route("/v2/orders", g("/v2/orders", orders_root), methods=["GET", "POST", "DELETE"]),
        Route("/v2/orders/{order_id}", g("/v2/orders/{order_id}", order_item), methods=["GET", "DELETE", "PATCH"]),
        Route("/v2/clock", g("/v2/clock", clock), methods=["GET"]),
        Route("/v2/calendar", g("/v2/calendar", calendar), methods=["GET"]),
        Route("/v2/account/activities/FILL", g("/v2/account/activities/FILL", fill_activities), methods=["GET"]),
        Route("/v2/account/activities", g("/v2/account/activities", activities), methods=["GET"]),
        Route(
            "/v2/corporate_actions/announcements",
            g("/v2/corporate_actions/announcements", announcements),
            methods=["GET"],
        ),
    ]

"""The protocol face over real loopback sockets: auth, REST shapes and errors, pagination, the stream, the clock."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import websockets

from alchemiser.clock import AcceleratedClock, ManualClock
from alchemiser.sim.build import SimOptions
from alchemiser.sim.calendar import XnysCalendar
from alchemiser.sim.server import SimExchangeServer
from alchemiser.sim.synthetic import SyntheticMarket
from tests.sim.conftest import MIDDAY
from tests.sim.server_fixtures import (
    AUTH,
    KEY,
    WAIT,
    market_order,
    open_stream,
    recv_events,
    recv_json,
    running_server,
)


async def test_rest_requires_alpaca_auth_headers(xnys: XnysCalendar, synthetic: SyntheticMarket) -> None:
    async with running_server(xnys, synthetic) as rs:
        bare = await rs.http.get("/v2/account", headers={"APCA-API-KEY-ID": "", "APCA-API-SECRET-KEY": ""})
        assert bare.status_code == 403
        async with httpx.AsyncClient(base_url=rs.server.base_url, timeout=WAIT) as anonymous:
            missing = await anonymous.get("/v2/account")
            assert missing.status_code == 401 and missing.json()["code"] == 40110000
            wrong = await anonymous.get("/v2/account", headers={"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": "x"})
            assert wrong.status_code == 403 and wrong.json() == {"message": "forbidden."}
            data = await anonymous.get("/v2/stocks/bars", params={"symbols": "SPY", "timeframe": "1Day"})
            assert data.status_code == 401
        ok = await rs.http.get("/v2/account")
        assert ok.status_code == 200 and ok.headers["X-Ratelimit-Limit"] == "200"


async def test_submit_fill_and_rest_views(xnys: XnysCalendar, synthetic: SyntheticMarket) -> None:
    async with running_server(xnys, synthetic) as rs:
        ws = await open_stream(rs.server)
        try:
            reply = await rs.http.post("/v2/orders", json=market_order(qty="3"))
            assert reply.status_code == 200
            order = reply.json()
            assert order["status"] == "pending_new" and order["client_order_id"] == "cid-1"
            assert order["order_type"] == "market" and order["order_class"] == ""
            events = await recv_events(ws, 3)
        finally:
            await ws.close()
        assert [e["event"] for e in events] == ["pending_new", "new", "fill"]
        fill = events[-1]
        assert fill["qty"] == "3" and fill["position_qty"] == "3" and fill["order"]["status"] == "filled"
        assert fill["order"]["filled_avg_price"] == fill["price"]
        by_id = (await rs.http.get(f"/v2/orders/{order['id']}")).json()
        by_cid = (await rs.http.get("/v2/orders:by_client_order_id", params={"client_order_id": "cid-1"})).json()
        assert by_id == by_cid and by_id["status"] == "filled"
        positions = (await rs.http.get("/v2/positions")).json()
        assert [(p["symbol"], p["qty"]) for p in positions] == [("SPY", "3")]
        assert (await rs.http.get("/v2/positions/SPY")).json()["qty"] == "3"
        activities = (await rs.http.get("/v2/account/activities/FILL", params={"direction": "asc"})).json()
        assert [(a["symbol"], a["qty"], a["order_id"]) for a in activities] == [("SPY", "3", order["id"])]
        listed = (await rs.http.get("/v2/orders", params={"status": "all", "direction": "asc"})).json()
        assert [o["id"] for o in listed] == [order["id"]]
        assert (await rs.http.get("/v2/orders")).json() == []  # default status=open


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ("not json", 400, "request body format is invalid"),
        ({"symbol": "SPY", "side": "buy", "qty": "1", "time_in_force": "day"}, 422, "type is required"),
        ({**market_order(), "notional": "10"}, 400, "qty and notional cannot both be specified"),
        ({**market_order(), "qty": None}, 422, "qty or notional is required"),
        ({**market_order(), "side": "hold"}, 422, "invalid side"),
        ({**market_order(), "qty": "1000"}, 403, "insufficient buying power"),
        ({**market_order(), "symbol": "ZZZZ"}, 422, 'asset "ZZZZ" not found'),
        ({**market_order(), "symbol": "FNGU", "qty": "0.5"}, 422, "requested asset is not fractionable"),
        ({**market_order(), "client_order_id": "x" * 129}, 422, "no more than 128 characters"),
        ({**market_order(), "type": "stop"}, 422, "not supported by the simulator"),
    ],
)
async def test_order_errors_use_alpacas_status_and_body(
    xnys: XnysCalendar, synthetic: SyntheticMarket, body: object, status: int, message: str
) -> None:
    async with running_server(xnys, synthetic) as rs:
        if isinstance(body, str):
            reply = await rs.http.post("/v2/orders", content=body, headers={"Content-Type": "application/json"})
        else:
            reply = await rs.http.post("/v2/orders", json=body)
        assert reply.status_code == status
        payload = reply.json()
        assert message in payload["message"] and isinstance(payload["code"], int)


async def test_buying_power_body_and_duplicate_client_id(xnys: XnysCalendar, synthetic: SyntheticMarket) -> None:
    async with running_server(xnys, synthetic) as rs:
        poor = (await rs.http.post("/v2/orders", json={**market_order(), "qty": "1000"})).json()
        assert poor["code"] == 40310000 and poor["buying_power"] == "100000" and "cost_basis" in poor
        assert (await rs.http.post("/v2/orders", json=market_order(cid="same"))).status_code == 200
        dup = await rs.http.post("/v2/orders", json=market_order(cid="same"))
        assert dup.status_code == 422 and dup.json() == {"code": 40010001, "message": "client_order_id must be unique"}


async def test_cancel_replace_and_not_found(xnys: XnysCalendar, synthetic: SyntheticMarket) -> None:
    async with running_server(xnys, synthetic) as rs:
        limit = {**market_order(cid="lim"), "type": "limit", "limit_price": "1.00"}
        placed = (await rs.http.post("/v2/orders", json=limit)).json()
        replaced = await rs.http.patch(f"/v2/orders/{placed['id']}", json={"limit_price": "2.00"})
        assert replaced.status_code == 200
        new = replaced.json()
        assert new["replaces"] == placed["id"] and new["limit_price"] == "2"
        old = (await rs.http.get(f"/v2/orders/{placed['id']}")).json()
        assert old["status"] == "replaced" and old["replaced_by"] == new["id"]
        assert (await rs.http.delete(f"/v2/orders/{new['id']}")).status_code == 204
        assert (await rs.http.delete(f"/v2/orders/{placed['id']}")).status_code == 422
        missing = await rs.http.get("/v2/orders/00000000-0000-4000-8000-000000000000")
        assert missing.status_code == 404 and missing.json()["code"] == 40410000
        assert (
            await rs.http.get("/v2/orders:by_client_order_id", params={"client_order_id": "nope"})
        ).status_code == 404
        assert (await rs.http.get("/v2/positions/SPY")).json() == {
            "code": 40410000,
            "message": "position does not exist",
        }
        assert (await rs.http.get("/v2/assets/NOPE")).status_code == 404
        others = [
            (await rs.http.post("/v2/orders", json={**limit, "client_order_id": f"o{i}"})).json() for i in range(2)
        ]
        multi = await rs.http.delete("/v2/orders")
        assert multi.status_code == 207
        assert sorted(r["id"] for r in multi.json()) == sorted(o["id"] for o in others)


async def test_bars_paginate_across_symbols(xnys: XnysCalendar, synthetic: SyntheticMarket) -> None:
    async with running_server(xnys, synthetic) as rs:
        params = {"symbols": "SPY,QQQ,TQQQ", "timeframe": "1Day", "start": "2025-01-02", "end": "2025-06-03"}
        whole = (await rs.http.get("/v2/stocks/bars", params={**params, "limit": 10_000})).json()
        assert whole["next_page_token"] is None
        assert list(whole["bars"]) == ["QQQ", "SPY", "TQQQ"]  # sorted by symbol
        pages, token = [], None
        for _ in range(50):
            query = {**params, "limit": 37, **({"page_token": token} if token else {})}
            page = (await rs.http.get("/v2/stocks/bars", params=query)).json()
            assert sum(len(v) for v in page["bars"].values()) <= 37
            pages.append(page["bars"])
            token = page["next_page_token"]
            if token is None:
                break
        merged: dict[str, list[dict[str, object]]] = {}
        for page in pages:
            for symbol, bars in page.items():
                merged.setdefault(symbol, []).extend(bars)
        assert merged == whole["bars"]
        spy = whole["bars"]["SPY"]
        assert spy[-1]["t"] == "2025-06-03T04:00:00Z"  # today's (partial) bar, NY midnight in UTC
        assert spy[0]["t"] == "2025-01-02T05:00:00Z"
        bar = spy[-1]
        assert isinstance(bar["o"], float) and isinstance(bar["v"], int)


async def test_bars_never_leak_the_future_and_reject_bad_params(xnys: XnysCalendar, synthetic: SyntheticMarket) -> None:
    async with running_server(xnys, synthetic) as rs:
        future = await rs.http.get(
            "/v2/stocks/bars",
            params={"symbols": "SPY", "timeframe": "1Day", "start": "2025-06-01", "end": "2025-12-31"},
        )
        assert future.json()["bars"]["SPY"][-1]["t"].startswith("2025-06-03")
        bad = [
            ({"symbols": "SPY"}, 400),
            ({"symbols": "SPY", "timeframe": "1Min"}, 422),
            ({"timeframe": "1Day"}, 400),
            ({"symbols": "SPY", "timeframe": "1Day", "limit": "0"}, 400),
            ({"symbols": "SPY", "timeframe": "1Day", "page_token": "%%%"}, 400),
            ({"symbols": "SPY", "timeframe": "1Day", "start": "yesterday"}, 422),
        ]
        for params, status in bad:
            reply = await rs.http.get("/v2/stocks/bars", params=params)
            assert reply.status_code == status, params
            assert "message" in reply.json()


async def test_latest_quotes_snapshots_clock_calendar(xnys: XnysCalendar, synthetic: SyntheticMarket) -> None:
    async with running_server(xnys, synthetic) as rs:
        quotes = (await rs.http.get("/v2/stocks/quotes/latest", params={"symbols": "SPY,NOPE"})).json()["quotes"]
        assert list(quotes) == ["SPY"] and quotes["SPY"]["bp"] < quotes["SPY"]["ap"]
        snaps = (await rs.http.get("/v2/stocks/snapshots", params={"symbols": "SPY,QQQ"})).json()
        assert set(snaps) == {"SPY", "QQQ"} and "latestQuote" in snaps["SPY"]
        clock = (await rs.http.get("/v2/clock")).json()
        assert clock["is_open"] is True and clock["next_close"] == "2025-06-03T16:00:00-04:00"
        cal = (await rs.http.get("/v2/calendar", params={"start": "2025-07-01", "end": "2025-07-07"})).json()
        assert [d["date"] for d in cal] == ["2025-07-01", "2025-07-02", "2025-07-03", "2025-07-07"]
        assert cal[2]["close"] == "13:00"


async def test_stream_auth_formats_and_refusals(xnys: XnysCalendar, synthetic: SyntheticMarket) -> None:
    async with running_server(xnys, synthetic) as rs:
        ws = await open_stream(rs.server, legacy_auth=False)
        # A second concurrent connection is refused at the handshake with 429.
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(rs.server.stream_url, open_timeout=WAIT)
        assert refused.value.response.status_code == 429
        await ws.close()
        await asyncio.sleep(0.05)
        # Listen before auth, then bad credentials: unauthorized, then closed.
        async with websockets.connect(rs.server.stream_url, open_timeout=WAIT) as bad:
            await bad.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
            assert (await recv_json(bad))["data"] == {"status": "unauthorized", "action": "listen"}
            await bad.send(json.dumps({"action": "authenticate", "data": {"key_id": KEY, "secret_key": "no"}}))
            assert (await recv_json(bad))["data"] == {"status": "unauthorized", "action": "authenticate"}
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(bad.recv(), WAIT)
        # The slot is free again after the close.
        again = await open_stream(rs.server)
        await again.close()


async def test_day_order_expires_at_the_close_as_the_clock_moves(
    xnys: XnysCalendar, synthetic: SyntheticMarket
) -> None:
    clock = ManualClock(MIDDAY)
    async with running_server(xnys, synthetic, clock=clock) as rs:
        ws = await open_stream(rs.server)
        try:
            limit = {**market_order(cid="exp"), "type": "limit", "limit_price": "1.00"}
            placed = (await rs.http.post("/v2/orders", json=limit)).json()
            assert [e["event"] for e in await recv_events(ws, 2)] == ["pending_new", "new"]
            clock.set(datetime(2025, 6, 3, 20, 0, 1, tzinfo=UTC))  # just past 16:00 New York
            [expired] = await recv_events(ws, 1)
        finally:
            await ws.close()
        assert expired["event"] == "expired" and expired["order"]["id"] == placed["id"]
        assert expired["order"]["expired_at"] == "2025-06-03T20:00:00Z"
        late = await rs.http.post("/v2/orders", json=market_order(cid="late"))  # queued for the next open, as Alpaca
        assert late.status_code == 200 and late.json()["status"] == "accepted"


async def test_sim_clock_control(xnys: XnysCalendar, synthetic: SyntheticMarket) -> None:
    clock = AcceleratedClock(MIDDAY, speed=1.0)
    async with running_server(xnys, synthetic, clock=clock) as rs:
        state = (await rs.http.get("/sim/clock")).json()
        assert state["kind"] == "accelerated" and state["speed"] == 1.0 and state["is_open"] is True
        jumped = (await rs.http.post("/sim/clock", json={"minutes_before_close": 15})).json()
        assert jumped["now"].startswith("2025-06-03T15:45")
        assert (await rs.http.post("/sim/clock", json={"speed": 600})).json()["speed"] == 600
        assert (
            (await rs.http.post("/sim/clock", json={"jump_to": "next_open"}))
            .json()["now"]
            .startswith("2025-06-04T09:30")
        )
        back = await rs.http.post("/sim/clock", json={"jump_to": "2020-01-01T00:00:00Z"})
        assert back.status_code == 422
        assert (await rs.http.post("/sim/clock", json={"warp": 9})).status_code == 422
        assert (await rs.http.post("/sim/clock", json={"speed": -1})).status_code == 422
    manual = ManualClock(MIDDAY)
    async with running_server(xnys, synthetic, clock=manual) as rs:
        assert (await rs.http.post("/sim/clock", json={"speed": 5})).status_code == 409
        moved = (await rs.http.post("/sim/clock", json={"advance_seconds": 60})).json()
        assert moved["kind"] == "manual" and manual.now() == MIDDAY + timedelta(seconds=60)


async def test_accelerated_clock_drives_fills_and_expiry(xnys: XnysCalendar, synthetic: SyntheticMarket) -> None:
    # two simulated hours before the close: 2 wall minutes at 60x (a minute at 120x was half a wall second, which a
    # loaded host spent starting the server: the order then queued for the next session and never filled)
    clock = AcceleratedClock(datetime(2025, 6, 3, 18, 0, 0, tzinfo=UTC), speed=60.0)
    async with running_server(xnys, synthetic, clock=clock, partial_fill_rate=1.0, partial_fill_delay=5.0) as rs:
        ws = await open_stream(rs.server)
        try:
            await rs.http.post("/v2/orders", json=market_order(qty="40", cid="pf"))
            kinds: list[str] = []
            while not kinds or kinds[-1] not in ("fill", "expired"):
                kinds.extend(e["event"] for e in await recv_events(ws, 1))
        finally:
            await ws.close()
        assert kinds[:3] == ["pending_new", "new", "partial_fill"]
        assert kinds[-1] == "fill"  # remainders fill 5 simulated seconds apart, well before the close


async def test_server_create_restart_and_events_after_restart() -> None:
    clock = ManualClock(MIDDAY)
    server = SimExchangeServer.create(
        SimOptions(seed=2, history_years=3), clock=clock, key_id=AUTH["APCA-API-KEY-ID"], secret_key="test-secret"
    )
    for round_ in range(2):
        await server.start()
        try:
            ws = await open_stream(server)
            async with httpx.AsyncClient(base_url=server.base_url, headers=AUTH, timeout=WAIT) as http:
                reply = await http.post("/v2/orders", json=market_order(cid=f"r{round_}"))
                assert reply.status_code == 200
            assert [e["event"] for e in await recv_events(ws, 3)] == ["pending_new", "new", "fill"]
            await ws.close()
        finally:
            await server.stop()
        assert not server.running


async def test_replace_rejects_malformed_bodies(xnys: XnysCalendar, synthetic: SyntheticMarket) -> None:
    async with running_server(xnys, synthetic) as rs:
        limit = {**market_order(cid="rb"), "type": "limit", "limit_price": "1.00"}
        placed = (await rs.http.post("/v2/orders", json=limit)).json()
        for body, status in (({"qty": "abc"}, 422), ({"client_order_id": 5}, 422), ([1, 2], 400), ({"qty": "0"}, 422)):
            reply = await rs.http.patch(f"/v2/orders/{placed['id']}", json=body)
            assert reply.status_code == status, body
            assert "message" in reply.json()
        assert (await rs.http.get(f"/v2/orders/{placed['id']}")).json()["status"] == "new"


async def test_stream_slot_is_released_when_the_client_process_is_killed(
    xnys: XnysCalendar, synthetic: SyntheticMarket
) -> None:
    script = (
        "import asyncio, json, sys, websockets\n"
        "async def main():\n"
        "    ws = await websockets.connect(sys.argv[1])\n"
        "    await ws.send(json.dumps({'action': 'auth', 'key': sys.argv[2], 'secret': sys.argv[3]}))\n"
        "    await ws.recv()\n"
        "    await ws.send(json.dumps({'action': 'listen', 'data': {'streams': ['trade_updates']}}))\n"
        "    await ws.recv()\n"
        "    print('ready', flush=True)\n"
        "    await asyncio.sleep(60)\n"
        "asyncio.run(main())\n"
    )
    async with running_server(xnys, synthetic) as rs:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", script, rs.server.stream_url, AUTH["APCA-API-KEY-ID"], "test-secret",
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            assert proc.stdout is not None
            assert (await asyncio.wait_for(proc.stdout.readline(), 30)).strip() == b"ready"
            with pytest.raises(websockets.InvalidStatus):  # the live client holds the one slot
                await websockets.connect(rs.server.stream_url, open_timeout=WAIT)
        finally:
            proc.kill()
            await asyncio.wait_for(proc.wait(), 10)
        for _ in range(100):  # the kernel closes the dead client's socket; the server frees the slot
            if not rs.server.hub.connections:
                break
            await asyncio.sleep(0.05)
        ws = await open_stream(rs.server)
        await ws.close()


async def test_concurrent_clients_every_order_filled_once(xnys: XnysCalendar, synthetic: SyntheticMarket) -> None:
    async with running_server(xnys, synthetic, partial_fill_rate=0.3, partial_fill_delay=0.0) as rs:
        ws = await open_stream(rs.server)

        async def client(n: int) -> list[str]:
            async with httpx.AsyncClient(base_url=rs.server.base_url, headers=AUTH, timeout=WAIT) as http:
                ids = []
                for i in range(15):
                    reply = await http.post("/v2/orders", json=market_order("BIL", qty="2", cid=f"c{n}-{i}"))
                    assert reply.status_code == 200
                    ids.append(reply.json()["id"])
                return ids

        batches = await asyncio.gather(*(client(n) for n in range(6)))
        ids = [i for batch in batches for i in batch]
        assert len(set(ids)) == 90
        fills: dict[str, int] = {}
        while len(fills) < 90:
            for event in await recv_events(ws, 1):
                if event["event"] == "fill":
                    fills[event["order"]["id"]] = fills.get(event["order"]["id"], 0) + 1
        await ws.close()
        assert set(fills) == set(ids) and set(fills.values()) == {1}
        [position] = (await rs.http.get("/v2/positions")).json()
        assert position["qty"] == "180"


async def test_time_driver_does_not_poll_when_idle(xnys: XnysCalendar, synthetic: SyntheticMarket) -> None:
    clock = AcceleratedClock(MIDDAY, speed=100_000.0)  # a simulated day per wall second
    async with running_server(xnys, synthetic, clock=clock) as rs:
        await asyncio.sleep(0.3)
        assert rs.server.driver_wakeups <= 2  # nothing scheduled: it waits for a kick, whatever the speed
        before = rs.server.driver_wakeups
        await rs.http.post("/sim/clock", json={"speed": 1.0})  # a clock change kicks the driver
        for _ in range(100):
            if rs.server.driver_wakeups > before:
                break
            await asyncio.sleep(0.01)
        assert rs.server.driver_wakeups > before


async def test_driver_wakes_for_work_scheduled_after_an_idle_spell(
    xnys: XnysCalendar, synthetic: SyntheticMarket
) -> None:
    clock = ManualClock(MIDDAY)
    async with running_server(xnys, synthetic, clock=clock, partial_fill_rate=1.0, partial_fill_delay=1.0) as rs:
        ws = await open_stream(rs.server)
        try:
            for n, at in enumerate((1, 100)):
                clock.set(MIDDAY + timedelta(seconds=at))
                await rs.http.post("/v2/orders", json=market_order(qty="10", cid=f"idle{n}"))
                kinds = [e["event"] for e in await recv_events(ws, 3)]
                assert kinds == ["pending_new", "new", "partial_fill"]
                await asyncio.sleep(0.05)  # let the driver settle on the remainder's deadline
                clock.set(MIDDAY + timedelta(seconds=at + 60))  # only the time driver can fill the remainders now
                while kinds[-1] != "fill":
                    kinds.extend(e["event"] for e in await recv_events(ws, 1))
        finally:
            await ws.close()

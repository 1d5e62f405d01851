"""Fault switches do what they say: REST errors, rate limits, hangs, held submits, auth, stream faults; seeded."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import websockets
from pydantic import ValidationError

from alchemiser.sim import stream as stream_module
from alchemiser.sim.calendar import XnysCalendar
from alchemiser.sim.faults import FaultConfig, FaultInjector
from alchemiser.sim.synthetic import SyntheticMarket
from tests.sim.server_fixtures import (
    AUTH,
    FAULT_TOKEN,
    KEY,
    SECRET,
    WAIT,
    market_order,
    open_stream,
    recv_events,
    recv_json,
    running_server,
)

TOKEN = {"X-Sim-Fault-Token": FAULT_TOKEN}


def test_injector_is_deterministic_for_a_seed() -> None:
    config = FaultConfig(error_rates={"*": {"500": 0.2, "429": 0.1, "timeout": 0.05}})
    runs = []
    for _ in range(2):
        injector = FaultInjector(config, seed=42)
        runs.append([injector.http_fault("GET", "/v2/account") for _ in range(300)])
    assert runs[0] == runs[1]
    kinds = [f.kind for f in runs[0] if f is not None]
    assert 60 < len(kinds) < 150 and {"500", "429", "timeout"} <= set(kinds)
    other = FaultInjector(config, seed=43)
    assert [other.http_fault("GET", "/v2/account") for _ in range(300)] != runs[0]


def test_error_counts_fail_exactly_the_next_n_matching_requests() -> None:
    config = FaultConfig(error_counts={"GET /v2/account": {"429": 2, "503": 1}, "*": {"500": 1}})
    injector = FaultInjector(config, seed=1)
    account = [injector.http_fault("GET", "/v2/account") for _ in range(5)]
    assert [f.kind if f else None for f in account] == ["429", "429", "503", "500", None]
    assert injector.http_fault("GET", "/v2/positions") is None  # the "*" count is used up
    injector.configure(config)  # a new configuration starts the counts again
    assert [f.kind if (f := injector.http_fault("GET", "/v2/positions")) else None for _ in range(2)] == ["500", None]
    with pytest.raises(ValidationError, match="is negative"):
        FaultConfig(error_counts={"*": {"429": -1}})


def test_fault_config_rejects_bad_values() -> None:
    with pytest.raises(ValidationError, match="not a probability"):
        FaultConfig(error_rates={"*": {"500": 1.5}})
    with pytest.raises(ValidationError, match="sum to more than 1"):
        FaultConfig(error_rates={"*": {"500": 0.6, "503": 0.6}})
    with pytest.raises(ValidationError):
        FaultConfig.model_validate({"latency": 3})  # unknown switch


def test_faults_off_by_default() -> None:
    injector = FaultInjector()
    assert injector.http_fault("POST", "/v2/orders") is None
    assert injector.latency_seconds() == 0.0
    assert not injector.hold_submit_response() and not injector.duplicate_event() and not injector.reorder_event()
    assert injector.rate_limited(1_700_000_000.0)[0] is False


async def test_fault_endpoint_is_token_protected(xnys: XnysCalendar, synthetic: SyntheticMarket) -> None:
    async with running_server(xnys, synthetic) as rs:
        assert (await rs.http.get("/sim/faults")).status_code == 403
        assert (await rs.http.get("/sim/faults", headers={"X-Sim-Fault-Token": "wrong"})).status_code == 403
        assert (await rs.http.get("/sim/faults", headers=TOKEN)).json()["latency_ms"] == 0
        bad = await rs.http.put("/sim/faults", headers=TOKEN, json={"error_rates": {"*": {"500": 2}}})
        assert bad.status_code == 422 and "not a probability" in bad.json()["message"]
    async with running_server(xnys, synthetic, fault_token=None) as rs:
        assert (await rs.http.put("/sim/faults", headers=TOKEN, json={"auth_fail": True})).status_code == 404


@pytest.mark.parametrize(("kind", "status"), [("500", 500), ("503", 503), ("429", 429)])
async def test_endpoint_error_rates(xnys: XnysCalendar, synthetic: SyntheticMarket, kind: str, status: int) -> None:
    async with running_server(xnys, synthetic) as rs:
        await rs.http.put("/sim/faults", headers=TOKEN, json={"error_rates": {"GET /v2/account": {kind: 1.0}}})
        reply = await rs.http.get("/v2/account")
        assert reply.status_code == status and "code" in reply.json()
        if status == 429:
            assert reply.headers["X-Ratelimit-Remaining"] == "0"
            assert int(reply.headers["X-Ratelimit-Reset"]) > 1_700_000_000
        assert (await rs.http.get("/v2/clock")).status_code == 200  # other endpoints unaffected


async def test_rate_limit_per_minute(xnys: XnysCalendar, synthetic: SyntheticMarket) -> None:
    async with running_server(xnys, synthetic, faults=FaultConfig(rate_limit_per_minute=3)) as rs:
        statuses = [(await rs.http.get("/v2/clock")).status_code for _ in range(5)]
        assert statuses == [200, 200, 200, 429, 429]
        limited = await rs.http.get("/v2/clock")
        assert limited.headers["X-Ratelimit-Limit"] == "3" and limited.json()["code"] == 42910000


async def test_timeout_fault_hangs_past_the_client_timeout(xnys: XnysCalendar, synthetic: SyntheticMarket) -> None:
    faults = FaultConfig(error_rates={"/v2/positions": {"timeout": 1.0}}, hang_seconds=2.0)
    async with running_server(xnys, synthetic, faults=faults) as rs:
        with pytest.raises(httpx.ReadTimeout):
            await rs.http.get("/v2/positions", timeout=0.2)


async def test_latency_is_added(xnys: XnysCalendar, synthetic: SyntheticMarket) -> None:
    async with running_server(xnys, synthetic, faults=FaultConfig(latency_ms=150)) as rs:
        began = time.monotonic()
        assert (await rs.http.get("/v2/clock")).status_code == 200
        assert time.monotonic() - began >= 0.15


async def test_accepted_but_timed_out_submit(xnys: XnysCalendar, synthetic: SyntheticMarket) -> None:
    faults = FaultConfig(submit_accept_timeout_rate=1.0, submit_hang_seconds=2.0)
    async with running_server(xnys, synthetic, faults=faults) as rs:
        with pytest.raises(httpx.ReadTimeout):
            await rs.http.post("/v2/orders", json=market_order(cid="ambiguous"), timeout=0.2)
        found = await rs.http.get("/v2/orders:by_client_order_id", params={"client_order_id": "ambiguous"})
        assert found.status_code == 200 and found.json()["client_order_id"] == "ambiguous"


async def test_auth_failure_switch(xnys: XnysCalendar, synthetic: SyntheticMarket) -> None:
    async with running_server(xnys, synthetic) as rs:
        await rs.http.put("/sim/faults", headers=TOKEN, json={"auth_fail": True})
        assert (await rs.http.get("/v2/account")).status_code == 401
        async with websockets.connect(rs.server.stream_url, open_timeout=WAIT) as ws:
            await ws.send(
                b'{"action":"authenticate","data":{"key_id":"%s","secret_key":"%s"}}' % (KEY.encode(), SECRET.encode())
            )
            assert (await recv_json(ws))["data"]["status"] == "unauthorized"


@pytest.mark.parametrize("status", [406, 429])
async def test_stream_handshake_refused(xnys: XnysCalendar, synthetic: SyntheticMarket, status: int) -> None:
    async with running_server(xnys, synthetic, faults=FaultConfig(ws_refuse_status=status)) as rs:
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(rs.server.stream_url, open_timeout=WAIT)
        assert refused.value.response.status_code == status


async def test_stream_dropped_after_events(xnys: XnysCalendar, synthetic: SyntheticMarket) -> None:
    async with running_server(xnys, synthetic, faults=FaultConfig(ws_drop_after_events=2)) as rs:
        ws = await open_stream(rs.server)
        await rs.http.post("/v2/orders", json=market_order())
        assert [e["event"] for e in await recv_events(ws, 2)] == ["pending_new", "new"]
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), WAIT)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011


async def test_drop_streams_control(xnys: XnysCalendar, synthetic: SyntheticMarket) -> None:
    async with running_server(xnys, synthetic) as rs:
        ws = await open_stream(rs.server)
        assert (await rs.http.post("/sim/faults/drop_streams", headers=TOKEN)).json() == {"dropped": 1}
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), WAIT)
        again = await open_stream(rs.server)  # the slot is released: reconnecting works
        await again.close()


async def test_stream_duplicates_and_reorders(xnys: XnysCalendar, synthetic: SyntheticMarket) -> None:
    async with running_server(xnys, synthetic, faults=FaultConfig(ws_duplicate_rate=1.0)) as rs:
        ws = await open_stream(rs.server)
        await rs.http.post("/v2/orders", json=market_order())
        events = await recv_events(ws, 6)
        await ws.close()
        assert [e["event"] for e in events] == ["pending_new", "pending_new", "new", "new", "fill", "fill"]
        assert events[4]["execution_id"] == events[5]["execution_id"] and events[4]["event_id"] == events[5]["event_id"]
    async with running_server(xnys, synthetic, faults=FaultConfig(ws_reorder_rate=1.0)) as rs:
        ws = await open_stream(rs.server)
        await rs.http.post("/v2/orders", json=market_order())
        events = await recv_events(ws, 3)
        await ws.close()
        assert [e["event"] for e in events] == ["new", "pending_new", "fill"]


async def test_silent_stream_sends_nothing(xnys: XnysCalendar, synthetic: SyntheticMarket) -> None:
    async with running_server(xnys, synthetic, faults=FaultConfig(ws_silent=True)) as rs:
        ws = await open_stream(rs.server)
        await rs.http.post("/v2/orders", json=market_order())
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.5)
        await ws.close()
        assert (await rs.http.get("/v2/orders", params={"status": "closed"})).json()[0]["status"] == "filled"
        assert AUTH["APCA-API-KEY-ID"] == KEY


async def test_a_client_too_far_behind_is_dropped(
    xnys: XnysCalendar, synthetic: SyntheticMarket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream_module, "MAX_PENDING_EVENTS", 3)
    async with running_server(xnys, synthetic) as rs:
        slow = stream_module._Connection(listening=True)
        rs.server.hub.connections.add(slow)  # a listener whose writer never drains its queue
        try:
            for i in range(2):
                assert (await rs.http.post("/v2/orders", json=market_order(cid=f"slow{i}"))).status_code == 200
        finally:
            rs.server.hub.connections.discard(slow)
        assert slow.killed and rs.server.hub.slow_clients == 1

"""Trying to break the HTTP surface of a running sim daemon: malformed bodies on every POST route, concurrent
rebalances, foreign Host headers, the outbox of operator requests in ``/status`` and the audit journal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from tests.daemon.simrig import TOKEN, SimDaemon, sim_settings, started_after_its_decision

START = date(2024, 3, 6)
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
POST_ROUTES = ("/api/kill", "/api/resume", "/api/rebalance", "/api/reconcile/accept", "/api/plan/approve")
MALFORMED: dict[str, bytes] = {
    "not UTF-8": b'{"reason": "caf\xe9 \xff\xfe"}',
    "not UTF-8 outside strings": b"\xff\xfe{}",
    "deep nesting": b"[" * 15_000,
    "deep nesting in a field": b'{"reason": ' + b"[" * 7_000 + b"]" * 7_000 + b"}",
    "5000-digit integer": b'{"wait_seconds": ' + b"9" * 5_000 + b"}",
    "NaN": b'{"wait_seconds": NaN}',
    "overflowing float": b'{"wait_seconds": 1e999}',
    "truncated": b'{"reason": "x"',
    "array": b"[1, 2]",
}
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SimDaemon]:
    tmp_path: Path = tmp_path_factory.mktemp("hardening")
    settings = sim_settings(tmp_path, start=START, webhook=None, extra={"http": {"allowed_hosts": ["trader.lan"]}})
    sim = await started_after_its_decision(settings, speed=10, lead=timedelta(seconds=5))
    yield sim
    await sim.stop()


async def test_every_malformed_body_is_a_4xx_json_error_and_nothing_crashes(
    rig: SimDaemon, capfd: pytest.CaptureFixture[str]
) -> None:
    async with httpx.AsyncClient(base_url=rig.url, timeout=30) as client:
        for route in POST_ROUTES:
            for name, body in MALFORMED.items():
                response = await client.post(route, content=body, headers=HEADERS)
                assert response.status_code == 400, (route, name, response.status_code, response.text[:200])
                assert response.json()["error"], (route, name)
            huge = await client.post(route, content=b'{"reason": "' + b"x" * 10_000_000 + b'"}', headers=HEADERS)
            assert huge.status_code == 413, (route, huge.status_code)
            assert "too large" in huge.json()["error"]
        assert (await client.get("/healthz")).status_code == 200
    assert rig.daemon.context is not None and not rig.daemon.context.kill_switch.engaged
    out = capfd.readouterr()
    assert "Traceback" not in out.out + out.err
    assert "RecursionError" not in out.out + out.err and "UnicodeDecodeError" not in out.out + out.err


@pytest.mark.parametrize("action", [[], {}, None, 0, True, "", "FREEZE"])
async def test_kill_action_of_the_wrong_kind_is_a_400_naming_the_field(rig: SimDaemon, action: object) -> None:
    async with httpx.AsyncClient(base_url=rig.url, timeout=10) as client:
        response = await client.post("/api/kill", json={"action": action}, headers=HEADERS)
    assert response.status_code == 400
    assert response.json()["error"].startswith("action must be one of freeze, cancel, flatten")
    assert rig.daemon.context is not None and not rig.daemon.context.kill_switch.engaged


@pytest.mark.parametrize("reason", [[], {"a": 1}, 5, "x" * 501])
async def test_reason_of_the_wrong_kind_is_a_400(rig: SimDaemon, reason: object) -> None:
    async with httpx.AsyncClient(base_url=rig.url, timeout=10) as client:
        for route in ("/api/kill", "/api/resume", "/api/reconcile/accept"):
            response = await client.post(route, json={"reason": reason}, headers=HEADERS)
            assert response.status_code == 400 and "reason" in response.json()["error"], route
    assert rig.daemon.context is not None and not rig.daemon.context.kill_switch.engaged


async def test_only_configured_host_names_are_answered(rig: SimDaemon) -> None:
    async with httpx.AsyncClient(base_url=rig.url, timeout=10) as client:
        for host in ("evil.example", "rebind.attacker.test:8787", "127.0.0.2", ""):
            response = await client.get("/status", headers={"Host": host})
            assert response.status_code == 421, host
            assert "http.allowed_hosts" in response.json()["error"]
            refused = await client.post("/api/kill", json={}, headers={**HEADERS, "Host": host})
            assert refused.status_code == 421, host
        for host in ("127.0.0.1", "localhost:1234", "TRADER.lan", "[::1]:8787"):
            assert (await client.get("/status", headers={"Host": host})).status_code == 200, host
        # Health checks name whatever they like (Docker, load balancers): /healthz stays open.
        assert (await client.get("/healthz", headers={"Host": "evil.example"})).status_code == 200
    assert rig.daemon.context is not None and not rig.daemon.context.kill_switch.engaged


async def test_concurrent_rebalances_one_runs_the_rest_409_and_it_is_recorded(rig: SimDaemon) -> None:
    decisions = rig.trading.decisions
    assert decisions is not None
    before = {r.decision_id for r in await decisions.latest(50)}
    async with httpx.AsyncClient(base_url=rig.url, timeout=60) as client:
        responses = await asyncio.gather(*(client.post("/api/rebalance", json={}, headers=HEADERS) for _ in range(8)))
        codes = sorted(r.status_code for r in responses)
        assert codes == [202] + [409] * 7, [(r.status_code, r.text[:200]) for r in responses]
        accepted = next(r.json() for r in responses if r.status_code == 202)
        for refused in (r for r in responses if r.status_code == 409):
            assert "already running" in refused.json()["error"]
        decision_id = accepted["decision_id"]
        async with asyncio.timeout(120):
            while True:
                status = (await client.get("/status")).json()
                requests = status["operator_requests"]
                if not requests["open"]:
                    break
                await asyncio.sleep(0.1)
    new = [r for r in await decisions.latest(50) if r.decision_id not in before]
    assert [r.decision_id for r in new] == [decision_id]
    assert new[0].status in ("executed", "no_trade")
    rebalance = next(r for r in requests["recent"] if r["kind"] == "rebalance")
    assert rebalance["status"] == "done" and decision_id in rebalance["outcome"]
    assert rebalance["payload"] == {"decision_id": decision_id, "session": START.isoformat()}
    audit = rig.daemon.context.audit  # type: ignore[union-attr]
    kinds = [e.kind for e in await audit.recent(200) if e.kind.startswith("operator_request.")]
    assert "operator_request.accepted" in kinds and "operator_request.done" in kinds

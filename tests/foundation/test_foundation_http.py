"""The daemon in-process with its real HTTP server on 127.0.0.1: health, readiness, metrics, status, control API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from alchemiser.config import load_settings
from alchemiser.daemon.context import DaemonContext
from alchemiser.daemon.daemon import Daemon
from alchemiser.errors import TransientError
from alchemiser.process.actor import Actor, MessageActor
from alchemiser.process.breaker import CircuitBreaker
from alchemiser.process.readiness import Check
from alchemiser.process.supervisor import RestartPolicy
from tests.foundation.conftest import TOKEN, base_config, write_config


class Echo(MessageActor[str]):
    async def handle(self, message: str) -> None:
        self.log.info("echo", message=message)


class AlwaysCrashes(Actor):
    async def run(self) -> None:
        raise TransientError("dependency down")


@dataclass
class FixturePlugin:
    crash: bool = False
    name: str = "test-plugin"

    async def setup(self, ctx: DaemonContext) -> None:
        echo = Echo("echo", ctx.clock, inbox_size=4)
        ctx.add_actor(echo)
        ctx.metrics.watch_queue(echo.inbox)
        breaker = CircuitBreaker("test_dependency", ctx.runtime_clock)
        ctx.metrics.watch_breaker(breaker)
        if self.crash:
            ctx.add_actor(AlwaysCrashes("crashy", ctx.clock), policy=RestartPolicy(budget=0))

        async def plan(request: Request) -> Response:
            return JSONResponse({"plan": []})

        async def public(request: Request) -> Response:
            return JSONResponse({"public": True})

        ctx.add_route(Route("/api/plan", plan, methods=["GET"]))
        ctx.add_route(Route("/public-info", public, methods=["GET"]))
        ctx.add_status("next_decision", lambda: {"at": "2026-01-05T20:45:00+00:00"})

        async def execution_status() -> dict[str, Any]:
            return {"open_orders": 0}

        ctx.add_status("execution", execution_status)
        ctx.readiness.register("test_dependency", lambda: Check.passed("reachable"))


@dataclass
class Running:
    daemon: Daemon
    client: httpx.AsyncClient
    task: asyncio.Task[int]


async def start_daemon(workdir: Path, *, token: str | None = TOKEN, crash: bool = False) -> Running:
    settings = load_settings(write_config(workdir, base_config(workdir, token=token)), secrets_dir=None)
    daemon = Daemon(settings, plugins=[FixturePlugin(crash=crash)], handle_signals=False)
    task = asyncio.create_task(daemon.run())
    async with asyncio.timeout(20):
        while daemon.http is None or daemon.context is None or not daemon.context.supervisor.actor_names:
            if task.done():
                raise AssertionError(f"daemon exited early with {task.result()}")
            await asyncio.sleep(0.01)
        while daemon._startup_flag is None or not daemon._startup_flag().ok:
            await asyncio.sleep(0.01)
    client = httpx.AsyncClient(base_url=daemon.http.url, timeout=10)
    return Running(daemon, client, task)


@pytest.fixture
async def running(workdir: Path) -> AsyncIterator[Running]:
    r = await start_daemon(workdir)
    yield r
    await r.client.aclose()
    r.daemon.request_stop("test over")
    assert await asyncio.wait_for(r.task, 30) == 0


async def wait_for(check: Callable[[], Any], timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.02)


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_healthz_is_tiny_and_unauthenticated(running: Running) -> None:
    response = await running.client.get("/healthz")
    assert response.status_code == 200 and response.text == "ok\n"


async def test_readyz_lists_failing_conditions(running: Running) -> None:
    async def ready() -> bool:
        return (await running.client.get("/readyz")).status_code == 200

    await wait_for(ready)
    body = (await running.client.get("/readyz")).json()
    assert body["ready"] is True and set(body["conditions"]) >= {"startup", "kill_switch", "actors", "test_dependency"}
    assert (await running.client.post("/api/kill", headers=auth(), json={"reason": "test"})).status_code == 200
    response = await running.client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == {"kill_switch": "kill switch engaged by http:127.0.0.1: test"}


async def test_metrics_exposition(running: Running) -> None:
    response = await running.client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    for name in (
        "process_resident_memory_bytes",
        "alchemiser_event_loop_lag_seconds_bucket",
        'alchemiser_actor_up{actor="echo"} 1.0',
        "alchemiser_actor_restarts_total",
        'alchemiser_breaker_state{breaker="test_dependency"} 0.0',
        'alchemiser_queue_depth{queue="echo.inbox"} 0.0',
        'alchemiser_queue_capacity{queue="echo.inbox"} 4.0',
        "alchemiser_kill_switch_engaged 0.0",
        'alchemiser_build_info{mode="sim"',
    ):
        assert name in text, name


async def test_status_document(running: Running) -> None:
    body = (await running.client.get("/status")).json()
    assert body["mode"] == "sim" and body["version"] == "0.1.0"
    assert body["run_id"] == running.daemon.context.run_id  # type: ignore[union-attr]
    assert body["uptime_seconds"] >= 0
    assert [a["name"] for a in body["actors"]] == ["echo"]
    assert body["actors"][0]["state"] == "running"
    assert body["kill_switch"]["engaged"] is False
    assert body["next_decision"] == {"at": "2026-01-05T20:45:00+00:00"}
    assert body["execution"] == {"open_orders": 0}
    assert set(body["loop_lag"]) == {"window_seconds", "p50_ms", "p99_ms", "max_ms"}


async def test_control_api_rejects_missing_and_wrong_tokens(running: Running) -> None:
    client = running.client
    missing = await client.post("/api/kill")
    assert missing.status_code == 401 and missing.json() == {"error": "missing bearer token"}
    assert missing.headers["www-authenticate"].startswith("Bearer")
    wrong = await client.post("/api/kill", headers=auth("x" * len(TOKEN)))
    assert wrong.status_code == 401 and wrong.json() == {"error": "invalid bearer token"}
    basic = await client.post("/api/kill", headers={"Authorization": f"Basic {TOKEN}"})
    assert basic.status_code == 401
    assert (await client.get("/api/plan")).status_code == 401  # routes added by plugins are protected too
    assert (await client.get("/api/plan", headers=auth())).json() == {"plan": []}
    assert (await client.get("/public-info")).json() == {"public": True}
    assert running.daemon.context.kill_switch.engaged is False  # type: ignore[union-attr]


async def test_kill_and_resume_with_token(running: Running) -> None:
    client = running.client
    bad = await client.post("/api/kill", headers=auth(), json={"action": "explode"})
    assert bad.status_code == 400 and "action must be one of" in bad.json()["error"]
    assert (await client.post("/api/kill", headers=auth(), content=b"{nope")).status_code == 400
    assert (await client.post("/api/kill", headers=auth(), json=[1])).status_code == 400
    killed = await client.post("/api/kill", headers=auth(), json={"reason": "drill", "action": "cancel"})
    assert killed.status_code == 200
    assert killed.json()["kill_switch"] | {"changed_at": None} == {
        "engaged": True,
        "action": "cancel",
        "reason": "drill",
        "changed_by": "http:127.0.0.1",
        "changed_at": None,
    }
    assert "alchemiser_kill_switch_engaged 1.0" in (await client.get("/metrics")).text
    resumed = await client.post("/api/resume", headers=auth(), json={"reason": "drill over"})
    assert resumed.status_code == 200 and resumed.json()["kill_switch"]["engaged"] is False
    audit = running.daemon.context.audit  # type: ignore[union-attr]
    kinds = [e.kind for e in await audit.recent(6)]
    assert kinds == [
        "operator_request.done",
        "kill_switch.resumed",
        "operator_request.accepted",
        "operator_request.done",
        "kill_switch.engaged",
        "operator_request.accepted",
    ]


async def test_control_api_disabled_without_token(workdir: Path) -> None:
    r = await start_daemon(workdir, token=None)
    try:
        response = await r.client.post("/api/kill", headers=auth())
        assert response.status_code == 403
        assert response.json() == {"error": "control API disabled: no control_token is configured"}
        assert (await r.client.get("/api/plan")).status_code == 403
        assert r.daemon.context.kill_switch.engaged is False  # type: ignore[union-attr]
        assert (await r.client.get("/healthz")).status_code == 200
    finally:
        await r.client.aclose()
        r.daemon.request_stop("test over")
        assert await asyncio.wait_for(r.task, 30) == 0


async def test_supervisor_giving_up_turns_readyz_503(workdir: Path) -> None:
    r = await start_daemon(workdir, crash=True)
    try:

        async def failed() -> bool:
            return "crashy failed" in (await r.client.get("/readyz")).json()["failing"].get("actors", "")

        await wait_for(failed)
        response = await r.client.get("/readyz")
        assert response.status_code == 503
        status = (await r.client.get("/status")).json()
        assert {a["name"]: a["state"] for a in status["actors"]} == {"echo": "running", "crashy": "failed"}
        assert (await r.client.get("/healthz")).status_code == 200  # alive, reporting; not restart-looping
        assert 'alchemiser_actor_failed{actor="crashy"} 1.0' in (await r.client.get("/metrics")).text
        kinds = [e.kind for e in await r.daemon.context.audit.recent(10)]  # type: ignore[union-attr]
        assert "supervisor.gave_up" in kinds
    finally:
        await r.client.aclose()
        r.daemon.request_stop("test over")
        assert await asyncio.wait_for(r.task, 30) == 0


async def test_busy_port_is_a_clear_error(workdir: Path) -> None:
    first = await start_daemon(workdir)
    try:
        body = base_config(workdir, port=first.daemon.http.port).replace("store.sqlite", "other.sqlite")  # type: ignore[union-attr]
        settings = load_settings(write_config(workdir, body, "second.toml"), secrets_dir=None)
        second = Daemon(settings, plugins=[], handle_signals=False)
        assert await asyncio.wait_for(second.run(), 20) == 2
    finally:
        await first.client.aclose()
        first.daemon.request_stop("test over")
        assert await asyncio.wait_for(first.task, 30) == 0


async def test_second_daemon_on_the_same_store_is_refused(workdir: Path) -> None:
    first = await start_daemon(workdir)
    try:
        settings = load_settings(write_config(workdir, base_config(workdir)), secrets_dir=None)
        assert await asyncio.wait_for(Daemon(settings, plugins=[], handle_signals=False).run(), 20) == 1
    finally:
        await first.client.aclose()
        first.daemon.request_stop("test over")
        assert await asyncio.wait_for(first.task, 30) == 0

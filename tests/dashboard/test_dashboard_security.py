"""The dashboard's security rules over HTTP (the real routes on a real Starlette app, a real SQLite store; the live
sources are fakes): login, sessions, CSRF, token rotation, host check, headers, throttling, JSON twins, SSE."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from pydantic import SecretStr

from alchemiser.clock import ManualClock
from alchemiser.config import HttpSettings
from alchemiser.store.audit import AuditLog
from alchemiser.store.database import Store
from alchemiser.store.decisions import DecisionStore, StrategyDecision
from tests.dashboard.history import populate
from tests.dashboard.rig import TOKEN, Rig, build_rig

TEMPLATES = Path(__file__).resolve().parents[2] / "alchemiser" / "web" / "templates"


@pytest_asyncio.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    store = await Store.open(tmp_path / "s.sqlite")
    await populate(store, days=3, orders_per_day=2)
    built = await build_rig(store)
    yield built
    await built.close()


async def _login(client: httpx.AsyncClient) -> str:
    response = await client.get("/login", params={"token": TOKEN})
    assert response.status_code == 303
    page = await client.get("/controls")
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match is not None
    return match.group(1)


def test_templates_carry_no_inline_script_or_style() -> None:
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), f"{template.name}: inline <script>"
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=", text), f"{template.name}: inline style or handler"


async def test_pages_need_a_session_and_carry_strict_headers(rig: Rig) -> None:
    async with rig.client() as client:
        redirect = await client.get("/positions")
        assert redirect.status_code == 303 and redirect.headers["location"] == "/login?next=/positions"
        assert (await client.get("/positions?format=json")).status_code == 401
        login = await client.get("/login")
        csp = login.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert login.headers["x-frame-options"] == "DENY" and login.headers["x-content-type-options"] == "nosniff"
        assert 'type="password"' in login.text and TOKEN not in login.text


async def test_host_header_must_be_a_configured_name(rig: Rig) -> None:
    async with rig.client("rebinding.example") as client:
        refused = await client.get("/login")
        assert refused.status_code == 421 and "http.allowed_hosts" in refused.text
    rig.http[0] = HttpSettings(allowed_hosts=["alchemiser.example.com"])
    async with rig.client("alchemiser.example.com") as client:
        assert (await client.get("/login")).status_code == 200


async def test_one_click_login_sets_a_strict_cookie_and_drops_the_token(rig: Rig) -> None:
    async with rig.client() as client:
        response = await client.get("/login", params={"token": TOKEN, "next": "//evil.example/x"})
        assert response.status_code == 303 and response.headers["location"] == "/"
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie
        assert "max-age=43200" in cookie
        assert (await client.get("/positions")).status_code == 200
    async with rig.client() as client:  # behind a trusted proxy that terminates TLS: the cookie is Secure
        response = await client.get("/login", params={"token": TOKEN}, headers={"X-Forwarded-Proto": "https"})
        assert "secure" in response.headers["set-cookie"].lower()
    rig.http[0] = HttpSettings(trusted_proxies=[])
    async with rig.client() as client:  # the same header from a client that is not a trusted proxy is ignored
        response = await client.get("/login", params={"token": TOKEN}, headers={"X-Forwarded-Proto": "https"})
        assert "secure" not in response.headers["set-cookie"].lower()


async def test_wrong_tokens_are_refused_and_then_slowed_down(rig: Rig) -> None:
    async with rig.client() as client:
        for _ in range(4):
            wrong = await client.post("/login", data={"token": "nope-nope-nope-nope"})
            assert wrong.status_code == 401 and "wrong token" in wrong.text and "set-cookie" not in wrong.headers
        await client.post("/login", data={"token": "nope-nope-nope-nope"})
        blocked = await client.post("/login", data={"token": TOKEN})
        assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) >= 1
        assert "set-cookie" not in blocked.headers, "even the right token waits out the block"


async def test_cross_site_login_is_refused(rig: Rig) -> None:
    async with rig.client() as client:
        response = await client.post("/login", data={"token": TOKEN}, headers={"Origin": "https://evil.example"})
        assert response.status_code == 403 and "set-cookie" not in response.headers


async def test_state_changes_need_csrf_and_a_confirmed_reason(rig: Rig) -> None:
    async with rig.client() as client:
        assert (await client.post("/controls/kill", data={"reason": "x", "confirm": "yes"})).status_code == 401
        csrf = await _login(client)
        no_csrf = await client.post("/controls/kill", data={"reason": "x", "confirm": "yes"})
        assert no_csrf.status_code == 403 and "CSRF" in no_csrf.text
        cross = await client.post(
            "/controls/kill",
            data={"csrf": csrf, "reason": "x", "confirm": "yes"},
            headers={"Origin": "http://evil.example"},
        )
        assert cross.status_code == 403
        assert (await client.get("/controls/kill")).status_code == 405, "no GET changes state"
        assert not rig.kill_switch.engaged
        confirm = await client.post("/controls/kill", data={"csrf": csrf, "reason": "halt", "action": "cancel"})
        assert confirm.status_code == 200 and "Confirm kill" in confirm.text and not rig.kill_switch.engaged
        no_reason = await client.post("/controls/kill", data={"csrf": csrf, "confirm": "yes"})
        assert no_reason.status_code == 400 and "a reason is required to kill" in no_reason.text
        bad_action = await client.post(
            "/controls/kill", data={"csrf": csrf, "reason": "halt", "action": "nuke", "confirm": "yes"}
        )
        assert bad_action.status_code == 400 and "action must be one of" in bad_action.text
        done = await client.post(
            "/controls/kill", data={"csrf": csrf, "reason": "halt", "action": "cancel", "confirm": "yes"}
        )
        assert done.status_code == 303 and rig.kill_switch.engaged and rig.kill_switch.state.action == "cancel"
        header = await client.post("/controls/resume", headers={"X-CSRF-Token": csrf})
        assert header.status_code == 303 and not rig.kill_switch.engaged
    [resumed, engaged] = await AuditLog(rig.store, ManualClock(datetime.now(UTC))).recent(2)
    assert engaged.kind == "kill_switch.engaged" and engaged.actor == "dashboard:127.0.0.1"
    assert engaged.data["reason"] == "halt" and resumed.data["reason"] == "resumed from the dashboard"


async def test_unavailable_controls_say_why(rig: Rig) -> None:
    async with rig.client() as client:
        csrf = await _login(client)
        approve = await client.post("/controls/approve", data={"csrf": csrf})
        assert approve.status_code == 409 and "no plan is awaiting approval" in approve.text
        rebalance = await client.post("/controls/rebalance", data={"csrf": csrf})
        assert rebalance.status_code == 404 and "unknown or unavailable control" in rebalance.text


async def test_a_token_change_ends_every_session(rig: Rig) -> None:
    async with rig.client() as client:
        csrf = await _login(client)
        rig.token[0] = SecretStr("a-brand-new-token-0123456789")  # what a SIGHUP reload does
        assert (await client.get("/")).status_code == 303
        refused = await client.post("/controls/kill", data={"csrf": csrf, "reason": "x", "confirm": "yes"})
        assert refused.status_code == 401 and not rig.kill_switch.engaged
        rig.token[0] = SecretStr(TOKEN)  # even going back does not revive the dropped session
        assert (await client.get("/")).status_code == 303


async def test_logout_ends_the_session(rig: Rig) -> None:
    async with rig.client() as client:
        csrf = await _login(client)
        assert (await client.post("/logout")).status_code == 403, "logout needs the CSRF token too"
        out = await client.post("/logout", data={"csrf": csrf})
        assert out.status_code == 303 and out.headers["location"] == "/login"
        assert await rig.dashboard.sessions.count() == 0 and (await client.get("/")).status_code == 303


async def test_without_a_token_the_dashboard_is_off_and_says_how_to_enable_it(rig: Rig) -> None:
    rig.token[0] = None
    async with rig.client() as client:
        page = await client.get("/")
        assert page.status_code == 403 and "Dashboard disabled" in page.text and "control_token" in page.text
        assert (await client.get("/login", params={"token": TOKEN})).status_code == 403


async def test_every_page_has_a_json_twin_equal_to_the_api(rig: Rig) -> None:
    async with rig.client() as client:
        await _login(client)
        assert (await client.get("/api/dashboard/positions")).status_code == 401, "the API wants the bearer token"
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        for page in ("positions", "strategies", "decisions", "orders", "events", "decisions/D20240104"):
            twin = await client.get(f"/{page}", params={"format": "json"})
            api = await client.get(f"/api/dashboard/{page}", headers=bearer)
            assert twin.status_code == api.status_code == 200, page
            assert twin.json() == api.json(), page
        bad = await client.get("/orders", params={"format": "json", "side": "long"})
        assert bad.status_code == 400 and bad.json() == {"error": "side must be buy or sell, got 'long'"}
        missing = await client.get("/decisions/D19990101", params={"format": "json"})
        assert missing.status_code == 404


async def test_strategies_page_says_when_each_strategy_next_rebalances(rig: Rig) -> None:
    async with rig.client() as client:
        await _login(client)
        page = await client.get("/strategies")
        twin = await client.get("/strategies", params={"format": "json"})
    assert page.status_code == twin.status_code == 200
    cells = re.findall(
        r'<dd class="rebalance"><span class="nowrap">([^<]*)</span><div class="muted detail">([^<]*)<', page.text
    )
    assert cells == [
        ("2024-04-01", "monthly: first session of each month"),
        ("every session", "threshold: every session, rebalances when drift &gt; 0.05 or the selection changes"),
    ]
    core, switch = twin.json()
    assert core["rebalance"] == {
        "rule": "monthly",
        "next": "2024-04-01",
        "summary": "monthly: next rebalance 2024-04-01 (first session of the month)",
        "basis": "monthly: first session of each month",
        "headline": "2024-04-01",
    }
    assert switch["rebalance"]["rule"] == "corridor 0.05" and switch["rebalance"]["next"] is None


async def test_a_strategy_that_was_not_due_says_so_and_keeps_the_tree_it_was_last_evaluated_with(rig: Rig) -> None:
    decisions = DecisionStore(rig.store)
    at = datetime(2024, 1, 5, 20, 45, tzinfo=UTC)
    await decisions.start("D20240105", session=date(2024, 1, 5), trigger="schedule", as_of_policy="previous_close",
                          as_of=date(2024, 1, 4), started_at=at)  # fmt: skip
    note = "not due; next rebalance 2024-02-01"
    trace = {"not_due": note, "evaluated_in": "D20240104", "rebalance": {"rule": "monthly", "action": "hold"}}
    await decisions.record_strategy("D20240105", StrategyDecision("core", Decimal("0.6"), "ok", {"SPY": Decimal(1)}))
    await decisions.record_strategy(
        "D20240105", StrategyDecision("switch", Decimal("0.4"), "ok", {"QQQ": Decimal(1)}, trace=trace)
    )
    await decisions.finish("D20240105", status="no_trade", finished_at=at)
    async with rig.client() as client:
        await _login(client)
        page = await client.get("/strategies")
        core, switch = (await client.get("/strategies", params={"format": "json"})).json()
        detail = await client.get("/decisions/D20240105")
        detail_json = (await client.get("/decisions/D20240105", params={"format": "json"})).json()
    assert f"Last session: {note}. Not evaluated; its book drifts." in page.text
    assert core["not_due"] is None and switch["not_due"] == note and switch["decision_id"] == "D20240105"
    assert switch["tree"], "the logic tree of the decision that last evaluated it (D20240104)"
    assert note in detail.text
    assert {s["strategy"]: (s["evaluated"], s["not_due"]) for s in detail_json["strategies"]} == {
        "core": (True, None),
        "switch": (False, note),
    }


async def test_live_stream_sends_status_then_new_journal_events(rig: Rig) -> None:
    async with rig.client() as client:
        assert (await client.get("/events/stream")).status_code == 401
    stream = rig.dashboard.hub.stream()
    assert await anext(stream) == b"retry: 2000\n\n"
    assert (await anext(stream)).startswith(b"event: status\n")
    await AuditLog(rig.store, ManualClock(datetime.now(UTC))).append(
        "execution.fill", data={"symbol": "SPY", "side": "buy", "qty": "3", "price": "501.25"}
    )
    chunk = await asyncio.wait_for(anext(stream), 5)
    assert b"event: audit" in chunk and b"SPY buy 3 @ $501.25" in chunk
    await rig.dashboard.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(anext(stream), 5)


def test_http_settings_name_bad_hosts_and_proxies() -> None:
    with pytest.raises(ValueError, match="must be bare host names"):
        HttpSettings(allowed_hosts=["https://alchemiser.example.com"])
    with pytest.raises(ValueError, match="must be IP addresses or networks"):
        HttpSettings(trusted_proxies=["proxy.local"])
    hosts = HttpSettings(host="0.0.0.0", allowed_hosts=["Dash.Example.com"]).dashboard_hosts()  # noqa: S104
    assert {"127.0.0.1", "localhost", "[::1]", "dash.example.com"} <= hosts and "0.0.0.0" not in hosts  # noqa: S104

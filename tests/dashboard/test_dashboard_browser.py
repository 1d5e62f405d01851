"""The dashboard in a real Chromium against a real sim daemon (in-process: exchange on loopback, real Alpaca adapter,
real SQLite store, real HTTP server), approval mode on so that the first decision waits for an operator.

In file order: wrong token refused and keyboard login; a fill arriving live in an open Orders page after approving
the pending plan; positions, the last decision's logic tree and when each strategy next rebalances (core is
monthly); kill with a reason (latched in the store and the API) and resume; screenshots of every page at 1280 and
390 px, light and dark, with no sideways scrolling on the phone width.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from alchemiser.store.decisions import scheduled_decision_id
from alchemiser.trading.schedule import TradingCalendar
from tests.daemon.simrig import STRATEGY_A, TOKEN, SimDaemon, build_sim_daemon, sim_settings
from tests.dashboard.browser import ARGS, SCREENSHOTS, WIDTHS, require_browser

START = date(2024, 3, 6)
pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]
PAGES = ("overview", "positions", "strategies", "decisions", "decision", "orders", "events", "controls", "login")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SimDaemon]:
    require_browser()
    workdir: Path = tmp_path_factory.mktemp("dashboard")
    extra = {"execution": {"approval_mode": True, "approval_timeout_seconds": 36_000.0}}
    settings = sim_settings(workdir, start=START, webhook=None, extra=extra)
    core = workdir / "strategies" / "core.clj"  # monthly, so the Strategies page names its next rebalance session
    core.write_text(STRATEGY_A.replace(":daily", ":monthly"))
    slot = TradingCalendar(start=date(2020, 1, 1)).slot(START)
    assert slot is not None
    # Slow enough that approving in a loaded browser lands well before the close (15 simulated minutes = 90 s).
    sim = build_sim_daemon(
        settings, speed=10.0, dashboard=True, start_at=slot.refresh_at - timedelta(seconds=20), fast_forward=True
    )
    await sim.start()
    yield sim
    await sim.stop()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser(rig: SimDaemon) -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=str(require_browser()), args=ARGS, headless=True)
        yield launched
        await launched.close()


async def _context(browser: Browser, rig: SimDaemon, **options: Any) -> BrowserContext:
    context = await browser.new_context(base_url=rig.url, **options)
    context.set_default_timeout(20_000)
    return context


async def _logged_in(browser: Browser, rig: SimDaemon, **options: Any) -> tuple[BrowserContext, Page]:
    context = await _context(browser, rig, **options)
    page = await context.new_page()
    await page.goto(f"/login?token={TOKEN}")
    await expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    assert "token" not in page.url, "the one-click login must not leave the token in the address bar"
    return context, page


async def test_wrong_token_refused_then_keyboard_login(browser: Browser, rig: SimDaemon) -> None:
    context = await _context(browser, rig)
    page = await context.new_page()
    await page.goto("/positions")
    await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    await page.get_by_label("Control token").fill("not-the-token-at-all")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("alert")).to_have_text("wrong token")
    assert not [c for c in await context.cookies() if c["name"] == "alchemiser_session"]
    await page.get_by_label("Control token").focus()
    await page.keyboard.type(TOKEN)
    await page.keyboard.press("Enter")  # usable with the keyboard alone
    await expect(page.get_by_role("heading", name="Positions")).to_be_visible()
    [cookie] = [c for c in await context.cookies() if c["name"] == "alchemiser_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    for name in ("Overview", "Positions", "Strategies", "Decisions", "Orders", "Events"):
        await expect(page.get_by_role("navigation", name="Pages").get_by_role("link", name=name)).to_be_visible()
    await context.close()


async def test_fill_arrives_live_after_approving_the_plan(browser: Browser, rig: SimDaemon) -> None:
    execution = rig.trading.execution
    assert execution is not None
    async with asyncio.timeout(90):
        while not execution.board.snapshot()["awaiting_approval"]:
            await asyncio.sleep(0.1)
    context, watcher = await _logged_in(browser, rig)
    await watcher.goto("/orders")
    await watcher.evaluate("window.__sameDocument = true")
    await expect(watcher.locator("#live-fills tbody tr")).to_have_count(0)
    operator = await context.new_page()
    await operator.goto("/controls")
    await expect(operator.get_by_text("is awaiting approval")).to_be_visible()
    await operator.get_by_role("button", name="Approve").click()
    await expect(operator.get_by_role("status").filter(has_text="Plan approved.")).to_be_visible()
    first_fill = watcher.locator("#live-fills tbody tr").first
    await expect(first_fill).to_be_visible(timeout=60_000)
    assert await watcher.evaluate("window.__sameDocument") is True, "the fill must arrive without a page reload"
    await expect(first_fill).to_contain_text(" @ $")
    store = rig.daemon.context.store if rig.daemon.context else None
    assert store is not None
    approval = await store.fetchone("SELECT actor FROM audit_events WHERE kind = 'execution.approval'")
    assert approval is not None and approval["actor"] == "dashboard:127.0.0.1"
    await context.close()


async def test_positions_and_the_logic_tree_after_the_decision(browser: Browser, rig: SimDaemon) -> None:
    cycle = rig.trading.cycle
    decisions = rig.trading.decisions
    assert cycle is not None and decisions is not None
    first = scheduled_decision_id(START)  # the approved one (the next sessions' plans wait for approval)
    async with asyncio.timeout(90):
        while (record := await decisions.get(first)) is None or record.status == "running":
            await asyncio.sleep(0.1)
    context, page = await _logged_in(browser, rig)
    await page.goto("/positions")
    table = page.locator("#positions")
    await expect(table.get_by_role("columnheader", name="Symbol")).to_be_visible()
    for symbol in ("SPY", "TLT"):
        await expect(table.get_by_role("rowheader", name=symbol)).to_be_visible()
    await page.goto("/strategies")
    switch = page.locator("section.strategy").filter(has=page.get_by_role("heading", name="switch"))
    await expect(switch.locator(".cond")).to_contain_text("branch taken")
    await expect(switch.locator(".cond .operand")).to_have_count(2)
    await expect(switch.locator(".node.chosen")).to_have_count(1)
    await expect(switch.locator("dd.rebalance .nowrap")).to_have_text("every session")
    await expect(switch.locator("dd.rebalance .detail")).to_have_text("daily: every session")
    core = page.locator("section.strategy").filter(has=page.get_by_role("heading", name="core"))
    await expect(core.locator("dd.rebalance .nowrap")).to_have_text("2024-04-01")
    await expect(core.locator("dd.rebalance .detail")).to_have_text("monthly: first session of each month")
    await page.goto(f"/decisions/{first}")
    await expect(page.get_by_role("heading", name="Risk rules")).to_be_visible()
    await expect(page.get_by_text("Plan allowed")).to_be_visible()
    await expect(page.locator(".order-line").first).to_contain_text("slippage")
    await context.close()


async def test_kill_with_a_reason_latches_then_resume(browser: Browser, rig: SimDaemon) -> None:
    context, page = await _logged_in(browser, rig)
    await page.get_by_role("button", name="Kill").first.click()  # from the header of any page
    await expect(page.get_by_role("heading", name="Controls")).to_be_visible()
    await page.get_by_label("Reason (required").fill("browser test: halt before the open")
    await page.get_by_label("cancel — also cancel open orders").check()
    await page.locator("#kill-form").get_by_role("button", name="Kill").click()
    await expect(page.get_by_role("heading", name="Confirm kill")).to_be_visible()
    await page.get_by_role("button", name="Confirm kill").click()
    await expect(page.get_by_role("status").filter(has_text="Kill switch engaged.")).to_be_visible()
    await expect(page.locator("#kill-state")).to_have_text("Kill switch engaged")
    store = rig.daemon.context.store if rig.daemon.context else None
    assert store is not None
    row = await store.fetchone("SELECT engaged, action, reason, changed_by FROM kill_switch")
    assert row is not None and row["engaged"] == 1 and row["action"] == "cancel"
    assert row["reason"] == "browser test: halt before the open" and row["changed_by"] == "dashboard:127.0.0.1"
    async with httpx.AsyncClient(base_url=rig.url) as client:
        status = (await client.get("/status")).json()
    assert status["kill_switch"]["engaged"] is True and status["kill_switch"]["reason"].startswith("browser test")
    await page.goto("/")
    await page.get_by_role("button", name="Resume").click()
    await expect(page.get_by_role("status").filter(has_text="Kill switch cleared")).to_be_visible()
    row = await store.fetchone("SELECT engaged, changed_by FROM kill_switch")
    assert row is not None and row["engaged"] == 0 and row["changed_by"] == "dashboard:127.0.0.1"
    await context.close()


async def test_screenshots_of_every_page_without_sideways_scrolling(browser: Browser, rig: SimDaemon) -> None:
    decisions = rig.trading.decisions
    assert decisions is not None
    paths = {name: f"/{name}" for name in PAGES} | {
        "overview": "/",
        "decision": f"/decisions/{scheduled_decision_id(START)}",
    }
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    overflowing: list[str] = []
    for label, (width, height) in WIDTHS.items():
        for scheme in ("light", "dark"):
            context, page = await _logged_in(
                browser, rig, viewport={"width": width, "height": height}, color_scheme=scheme
            )
            for name in PAGES:
                if name == "login":
                    await context.clear_cookies()
                await page.goto(paths[name])
                await expect(page.locator("h1")).to_be_visible()
                await page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}-{scheme}.png"), full_page=True)
                scroll = await page.evaluate("document.documentElement.scrollWidth")
                if scroll > width + 1:
                    overflowing.append(f"{name} at {width}px ({label}, {scheme}): {scroll}px wide")
            await context.close()
    assert not overflowing, "pages scroll sideways: " + "; ".join(overflowing)

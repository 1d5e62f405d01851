"""The Parity page in a real Chromium against a real sim daemon: the gap chart, the stacked attribution bar and the
TCA tables drawn from stored parity results (twelve sessions computed by the parity functions and saved through the
repository, as the monitor does); screenshots at 1280 and 390 px, light and dark, with no sideways scrolling."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal

import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright, expect

from alchemiser.parity.shadow import ShadowState
from alchemiser.trading.schedule import TradingCalendar
from tests.daemon.simrig import TOKEN, SimDaemon, build_sim_daemon, sim_settings
from tests.dashboard.browser import ARGS, SCREENSHOTS, WIDTHS, require_browser
from tests.parity.factories import order, save_settled, session

START = date(2024, 3, 6)
pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]


async def _seed(rig: SimDaemon) -> None:
    """Twelve consecutive sessions of one account and its shadow: a daily SPY top-up, partial and late fills, one
    session whose replay holds TLT instead (signal), one dividend (unexplained)."""
    store = rig.daemon.context.store if rig.daemon.context else None
    assert store is not None
    state: ShadowState | None = None
    gap = Decimal(0)
    cash, held, previous = "10000", {"SPY": "0"}, {"SPY": "246.50", "TLT": "90.00"}
    weekdays = [d for d in (START + timedelta(days=i) for i in range(20)) if d.weekday() < 5]  # no holiday here
    for k, day in enumerate(weekdays[:12]):
        decision = Decimal(previous["SPY"])
        close = decision + Decimal(("-0.40", "0.90", "1.20", "-1.10")[k % 4])
        fill = decision + (Decimal("0.60") if k % 3 == 0 else Decimal("0.05"))
        filled = "3" if k % 5 == 1 else "4"
        live = session(
            orders=(
                order(
                    "SPY",
                    "buy",
                    "4",
                    filled,
                    str(decision),
                    str(fill),
                    bid=str(decision - Decimal("0.03")),
                    ask=str(decision + Decimal("0.03")),
                    seconds=30 + 200 * k,
                ),
            ),
            start_cash=cash,
            start_positions=held,
            previous_closes=previous,
            closes={"SPY": str(close), "TLT": "90.40"},
            live_targets={"SPY": "0.99"},
            replay_targets={"SPY": "0.99"} if k != 7 else {"TLT": "0.99"},
            extra="1.25" if k == 4 else "0",
            day=day,
        )
        attribution = await save_settled(store, live, state, gap_before=gap, spread_bps="4", late_after=900)
        state = attribution.shadow_after
        gap += attribution.session_gap
        value = sum((q * live.closes[s] for s, q in live.end_positions.items()), Decimal(0))
        cash = str(live.end_equity - value)
        held = {s: str(q) for s, q in live.end_positions.items()}
        previous = {"SPY": str(close), "TLT": "90.40"}


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SimDaemon]:
    require_browser()
    workdir = tmp_path_factory.mktemp("parity-page")
    settings = sim_settings(workdir, start=START, webhook=None)
    slot = TradingCalendar(start=date(2020, 1, 1)).slot(START)
    assert slot is not None
    sim = build_sim_daemon(settings, speed=1.0, dashboard=True, start_at=slot.refresh_at - timedelta(hours=2))
    await sim.start()
    await _seed(sim)
    yield sim
    await sim.stop()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser(rig: SimDaemon) -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=str(require_browser()), args=ARGS, headless=True)
        yield launched
        await launched.close()


async def test_the_parity_page_draws_the_gap_attribution_and_tca(browser: Browser, rig: SimDaemon) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    overflowing: list[str] = []
    for label, (width, height) in WIDTHS.items():
        for scheme in ("light", "dark"):
            context = await browser.new_context(
                base_url=rig.url, viewport={"width": width, "height": height}, color_scheme=scheme
            )
            context.set_default_timeout(20_000)
            page = await context.new_page()
            await page.goto(f"/login?token={TOKEN}")
            await expect(page.get_by_role("heading", name="Overview")).to_be_visible()
            await page.get_by_role("navigation", name="Pages").get_by_role("link", name="Parity").click()
            await expect(page.get_by_role("heading", name="Parity: account vs backtest")).to_be_visible()
            await expect(
                page.get_by_role("img", name="Gap between the account and its shadow over 12 sessions")
            ).to_be_visible()
            assert await page.locator("svg.parity-bar rect.part").count() >= 2  # the stacked bar has its causes
            parts = page.locator("#parity-parts tbody tr")
            await expect(parts).to_have_count(6)
            await expect(page.locator("#parity-sessions tbody tr")).to_have_count(12)
            await expect(page.locator("#parity-sessions")).to_contain_text("partially filled: 3 of 4")
            await expect(page.locator("#parity-sessions")).to_contain_text("signal TLT")
            await expect(page.locator("#parity-worst tbody tr").first).to_contain_text("buy SPY")
            await page.screenshot(path=str(SCREENSHOTS / f"parity-{width}-{scheme}.png"), full_page=True)
            scroll = await page.evaluate("document.documentElement.scrollWidth")
            if scroll > width + 1:
                overflowing.append(f"parity at {width}px ({label}, {scheme}): {scroll}px wide")
            await context.close()
    assert not overflowing, "the page scrolls sideways: " + "; ".join(overflowing)

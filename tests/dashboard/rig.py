"""The dashboard's routes on a real Starlette app over a real SQLite store (live sources are fakes): shared by the
HTTP security tests and the session tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from pydantic import SecretStr
from starlette.applications import Starlette

from alchemiser.clock import ManualClock
from alchemiser.config import HttpSettings
from alchemiser.execution.approval import PlanBoard
from alchemiser.logging import get_logger
from alchemiser.store.database import Store
from alchemiser.store.kill_switch import KillSwitch
from alchemiser.web.dashboard import Dashboard
from alchemiser.web.middleware import BearerAuthMiddleware
from tests.dashboard.history import dashboard_deps

TOKEN = "dashboard-test-token-0123456789"


@dataclass
class Rig:
    store: Store
    kill_switch: KillSwitch
    dashboard: Dashboard
    app: Starlette
    token: list[SecretStr | None] = field(default_factory=lambda: [SecretStr(TOKEN)])
    http: list[HttpSettings] = field(default_factory=lambda: [HttpSettings()])

    def client(self, host: str = "127.0.0.1") -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url=f"http://{host}")

    async def close(self) -> None:
        await self.dashboard.close()
        await self.store.close()


async def build_rig(store: Store, token: str | None = TOKEN) -> Rig:
    clock = ManualClock(datetime(2024, 3, 5, tzinfo=UTC))
    tokens: list[SecretStr | None] = [None if token is None else SecretStr(token)]
    http = [HttpSettings()]
    deps, kill_switch = await dashboard_deps(
        store, clock, version="test", token=lambda: tokens[0], http=lambda: http[0], plan_board=PlanBoard(clock)
    )
    dashboard = Dashboard(deps, login_delay=0.0)
    app = Starlette(routes=dashboard.routes())
    app.add_middleware(BearerAuthMiddleware, token=lambda: tokens[0], log=get_logger("test"))
    return Rig(store, kill_switch, dashboard, app, tokens, http)

"""Dashboard sessions live in the store: a cookie issued before a restart of the web app (a new Store, a new
Dashboard over the same SQLite file) still works after it; a logged-out, expired, idle or re-tokened one does not;
the cookie, its CSRF token and the control token never reach the database file."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from pydantic import SecretStr

from alchemiser.store.dashboard_sessions import DashboardSessionRepository, SessionRow
from alchemiser.store.database import Store
from alchemiser.web.dashboard.actions import COOKIE
from alchemiser.web.dashboard.sessions import SessionStore, csrf_of, session_hash
from alchemiser.web.server import HttpServer
from tests.dashboard.rig import TOKEN, build_rig

T0 = datetime(2026, 3, 5, 14, 0, tzinfo=UTC)


async def _log_in(path: Path) -> tuple[str, str]:
    """Log in through the routes of a web app over the store at ``path``; the cookie and the page's CSRF token."""
    rig = await build_rig(await Store.open(path))
    try:
        async with rig.client() as client:
            assert (await client.get("/login", params={"token": TOKEN})).status_code == 303
            cookie = client.cookies[COOKIE]
            page = await client.get("/controls")
    finally:
        await rig.close()
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match is not None
    return cookie, match.group(1)


def _file_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


async def test_a_cookie_from_before_a_restart_still_works_after_it(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    cookie, csrf = await _log_in(path)
    assert cookie.encode() not in _file_bytes(path) and csrf.encode() not in _file_bytes(path)
    assert TOKEN.encode() not in _file_bytes(path)
    rig = await build_rig(await Store.open(path))  # the restart: a new store connection, a new app
    try:
        async with rig.client() as client:
            client.cookies.set(COOKIE, cookie)
            assert (await client.get("/positions")).status_code == 200
            killed = await client.post(
                "/controls/kill", data={"csrf": csrf, "reason": "after restart", "action": "freeze", "confirm": "yes"}
            )
            assert killed.status_code == 303 and rig.kill_switch.engaged, "the CSRF token survives the restart too"
        server = HttpServer(rig.app, "127.0.0.1", 0)  # an open page reconnects its live view over a real socket
        await server.start()
        try:
            async with (
                httpx.AsyncClient(base_url=server.url, cookies={COOKIE: cookie}, timeout=30) as client,
                client.stream("GET", "/events/stream") as stream,
            ):
                assert stream.status_code == 200
                received = b""
                async for chunk in stream.aiter_bytes():
                    received += chunk
                    if b"event: status" in received:
                        break
                assert received.startswith(b"retry: 2000")
        finally:
            await rig.dashboard.close()  # ends the open stream before the server stops
            await server.stop()
    finally:
        await rig.close()
    assert cookie.encode() not in _file_bytes(path) and csrf.encode() not in _file_bytes(path)


async def test_logged_out_and_re_tokened_cookies_stay_refused_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    cookie, csrf = await _log_in(path)
    rig = await build_rig(await Store.open(path))
    try:
        async with rig.client() as client:
            client.cookies.set(COOKIE, cookie)
            assert (await client.post("/logout", data={"csrf": csrf})).status_code == 303
            assert await rig.dashboard.sessions.count() == 0, "logout deletes the row"
    finally:
        await rig.close()
    other, _ = await _log_in(path)
    rig = await build_rig(await Store.open(path), token="a-new-control-token-0123456789")
    try:
        async with rig.client() as client:
            for stale in (cookie, other):
                client.cookies.set(COOKIE, stale)
                assert (await client.get("/positions")).status_code == 303
                assert (await client.get("/events/stream")).status_code == 401
        assert await rig.dashboard.sessions.count() == 0, "a session of the old token is deleted when refused"
    finally:
        await rig.close()


async def test_sessions_expire_absolutely_and_when_idle_and_are_pruned(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    now = [T0]
    token = SecretStr(TOKEN)

    def sessions(store: Store, idle: timedelta | None = None) -> SessionStore:
        return SessionStore(
            DashboardSessionRepository(store), lambda: token, lambda: now[0], timedelta(hours=12), idle=idle
        )

    store = await Store.open(path)
    early = await sessions(store).open("10.0.0.1")
    late = await sessions(store).open("10.0.0.2")
    await store.close()
    store = await Store.open(path)
    try:
        restarted = sessions(store)
        seen = await restarted.get(early.id)
        assert seen is not None and seen.csrf == early.csrf and seen.client == "10.0.0.1"
        assert seen.expires_at == T0 + timedelta(hours=12)
        now[0] = T0 + timedelta(hours=12)
        assert await restarted.get(early.id) is None, "the absolute lifetime ends the session"
        assert await restarted.count() == 1, "and its row is deleted"
        await restarted.open("10.0.0.3")  # a login prunes every expired row
        assert await restarted.get(late.id) is None and await restarted.count() == 1

        now[0] = T0
        idle = sessions(store, idle=timedelta(minutes=30))
        active = await idle.open("10.0.0.4")
        for minute in (20, 40, 60):  # a request every 20 minutes keeps it alive past the idle limit
            now[0] = T0 + timedelta(minutes=minute)
            assert await idle.get(active.id) is not None, minute
        now[0] = T0 + timedelta(minutes=91)
        assert await idle.get(active.id) is None, "30 minutes without a request end it"
    finally:
        await store.close()


async def test_the_store_keeps_a_bounded_number_of_sessions(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "store.sqlite")
    repo = DashboardSessionRepository(store)
    try:
        for n in range(4):
            at = T0 + timedelta(minutes=n)
            await repo.insert(SessionRow(f"h{n}", "f", "c", at, at, at + timedelta(hours=1)), keep_at_most=3)
        assert await repo.count() == 3 and await repo.get("h0") is None and await repo.get("h3") is not None
        assert len(await repo.salt()) == 16
    finally:
        await store.close()


def test_the_stored_key_and_csrf_token_are_one_way_functions_of_the_cookie() -> None:
    cookie = "a-session-cookie-value"
    assert session_hash(cookie) != cookie and len(session_hash(cookie)) == 64
    assert csrf_of(cookie) == csrf_of(cookie) != csrf_of(cookie + "x") and cookie not in csrf_of(cookie)

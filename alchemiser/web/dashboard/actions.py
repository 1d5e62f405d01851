"""The state-changing side of the dashboard: log in, log out, and the operator controls.

Every POST here needs a live session and its CSRF token (form field ``csrf`` or header ``X-CSRF-Token``), and a
same-origin ``Origin`` when the browser sends one. No GET changes trading state. Controls call the same service
functions as the control API, with ``by = "dashboard:<client>"`` in the audit journal.
"""

from __future__ import annotations

import asyncio
import hmac
from urllib.parse import parse_qsl, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from alchemiser.logging import get_logger
from alchemiser.services import control
from alchemiser.services.controls import ControlError
from alchemiser.web.dashboard.deps import DashboardDeps
from alchemiser.web.dashboard.pages import Pages
from alchemiser.web.dashboard.render import Renderer
from alchemiser.web.dashboard.security import client_address, host_name, is_https
from alchemiser.web.dashboard.sessions import LoginThrottle, Session, SessionStore

COOKIE = "alchemiser_session"
MAX_FORM = 8192
log = get_logger("dashboard")


async def form_fields(request: Request) -> dict[str, str]:
    """A urlencoded form body (first value per field); oversized bodies count as empty."""
    body = await request.body()
    if len(body) > MAX_FORM:
        return {}
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)[:50])


def safe_next(target: str | None) -> str:
    """Only same-site paths (never ``//host`` or a scheme) to redirect to after login."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return (urlsplit(origin).hostname or "").lower() == host_name(request).strip("[]")


class Actions:
    def __init__(
        self, deps: DashboardDeps, renderer: Renderer, pages: Pages, sessions: SessionStore, throttle: LoginThrottle
    ) -> None:
        self._deps = deps
        self._render = renderer
        self._pages = pages
        self.sessions = sessions
        self.throttle = throttle

    # ------------------------------------------------------------------------------------------ login / logout

    async def login_form(self, request: Request) -> Response:
        token = request.query_params.get("token")
        if token is not None:  # the one-click URL printed by `make run` (sim)
            return await self._login(request, token, safe_next(request.query_params.get("next")))
        return self._login_page(request, None, 200)

    async def login_submit(self, request: Request) -> Response:
        if not same_origin(request):
            return self._login_page(request, "cross-site login refused", 403)
        fields = await form_fields(request)
        return await self._login(request, fields.get("token", ""), safe_next(fields.get("next")))

    async def _login(self, request: Request, token: str, target: str) -> Response:
        client = client_address(request)
        wait = self.throttle.retry_after(client)
        if wait > 0:
            response = self._login_page(request, f"too many failed attempts: try again in {wait:.0f}s", 429, target)
            response.headers["Retry-After"] = str(max(1, round(wait)))
            return response
        if not self.sessions.enabled:
            return self._render.html(request, "disabled.html", 403)
        if not self.sessions.check_token(token):
            self.throttle.failed(client)
            log.warning("dashboard.login_failed", client=client)
            await asyncio.sleep(self.throttle.failure_delay)
            return self._login_page(request, "wrong token", 401, target)
        self.throttle.succeeded(client)
        session = await self.sessions.open(client)
        log.info("dashboard.login", client=client)
        # 303 to a clean URL: the token never stays in the address bar or the history.
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE,
            session.id,
            max_age=int(self.sessions.lifetime.total_seconds()),
            path="/",
            httponly=True,
            samesite="strict",
            secure=is_https(request, self._deps.http().trusted_proxies),
        )
        return response

    def _login_page(self, request: Request, error: str | None, status: int, target: str | None = None) -> Response:
        if not self.sessions.enabled:
            return self._render.html(request, "disabled.html", 403)
        target = target or safe_next(request.query_params.get("next"))
        return self._render.html(request, "login.html", status, error=error, next=target)

    async def logout(self, request: Request) -> Response:
        session = await self.authorised_post(request)
        if isinstance(session, Response):
            return session
        await self.sessions.close(session.id)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    # ------------------------------------------------------------------------------------------ checks

    async def session_of(self, request: Request) -> Session | None:
        return await self.sessions.get(request.cookies.get(COOKIE))

    async def authorised_post(self, request: Request) -> Session | Response:
        """The session of a state-changing request, or the refusal (401 without a session, 403 without CSRF)."""
        session = await self.session_of(request)
        if session is None:
            return self._render.html(request, "error.html", 401, title="Not logged in", message="log in first")
        fields = await form_fields(request)
        request.state.fields = fields
        presented = request.headers.get("x-csrf-token") or fields.get("csrf", "")
        if not same_origin(request) or not hmac.compare_digest(presented.encode(), session.csrf.encode()):
            log.warning("dashboard.csrf_refused", client=client_address(request), path=request.url.path)
            return self._render.html(
                request, "error.html", 403, title="Refused", message="missing or wrong CSRF token: reload the page"
            )
        request.scope["dashboard_session"] = session
        return session

    # ------------------------------------------------------------------------------------------ controls

    async def control(self, request: Request) -> Response:
        session = await self.authorised_post(request)
        if isinstance(session, Response):
            return session
        fields: dict[str, str] = request.state.fields
        action = str(request.path_params["action"])
        by = f"dashboard:{client_address(request)}"
        d = self._deps
        try:
            if action == "kill":
                if fields.get("confirm") != "yes":  # the confirmation step: show what will happen, ask again
                    return self._render.html(request, "confirm_kill.html", fields=fields)
                await d.kill.kill(reason=fields.get("reason"), action=fields.get("action"), by=by)
            elif action == "resume":
                await d.kill.resume(reason=fields.get("reason"), by=by)
            elif action == "rebalance" and d.rebalance is not None:
                await d.rebalance(by=by, wait=0.0)
            elif action in ("approve", "reject") and d.plan_board is not None:
                run_id = fields.get("run_id") or None
                approve = action == "approve"
                outbox = d.kill.view.requests
                if await control.decide_plan(d.plan_board, outbox, approve=approve, run_id=run_id, by=by) is None:
                    raise ControlError(409, "no plan is awaiting approval")
            elif action == "accept" and d.accept_positions is not None:
                await d.accept_positions(by=by, reason=fields.get("reason"))
            else:
                raise ControlError(404, f"unknown or unavailable control {action!r}")
        except ControlError as exc:
            return await self._pages.controls(request, error=exc.message, status_code=exc.status)
        log.info("dashboard.control", action=action, by=by)
        return RedirectResponse(f"/controls?done={action}", status_code=303)

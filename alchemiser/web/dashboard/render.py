"""Templates (Jinja2, autoescaped, shipped in ``alchemiser/web/templates``) and the page-or-JSON answer.

Every page is rendered from a service result; ``?format=json`` (or the ``/api/dashboard/…`` twin) answers the
same result as JSON, so the page and the API never disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from alchemiser.services import format as fmt
from alchemiser.services.jsonable import jsonable

NAV = (
    ("Overview", "/"),
    ("Positions", "/positions"),
    ("Strategies", "/strategies"),
    ("Decisions", "/decisions"),
    ("Orders", "/orders"),
    ("Parity", "/parity"),
    ("Events", "/events"),
    ("Controls", "/controls"),
)


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("alchemiser.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        money=fmt.money,
        weight=fmt.weight,
        signed_weight=fmt.signed_weight,
        percent=fmt.percent,
        bps=fmt.bps,
        quantity=fmt.quantity,
        price=fmt.price,
        duration=fmt.duration,
        timestamp=fmt.timestamp,
        iso=lambda value: "" if value is None else value.isoformat(),
        operand=_operand,
    )
    env.globals.update(nav=NAV, MISSING=fmt.MISSING)
    return env


def _operand(value: Any) -> str:
    """An ``if`` operand from a trace: numbers with four decimals, missing as unavailable."""
    if value is None:
        return "unavailable"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.query_params.get("format") == "json"


class Renderer:
    def __init__(self, base: Mapping[str, Any], status: Callable[[], dict[str, Any]]) -> None:
        self._env = environment()
        self._base = dict(base)  # mode, version: on every page
        self._status = status  # kill switch etc. for the header of every page

    def html(self, request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        page = self._env.get_template(template).render(
            **self._base,
            path=request.url.path,
            session=request.scope.get("dashboard_session"),
            status=self._status(),
            **context,
        )
        return HTMLResponse(page, status_code=status_code)

    def page(self, request: Request, template: str, data: Any, status_code: int = 200, **context: Any) -> Response:
        """``data`` as JSON when asked for, else the template with ``data`` and ``context``."""
        if wants_json(request):
            return JSONResponse(jsonable(data), status_code=status_code)
        return self.html(request, template, status_code, data=data, **context)

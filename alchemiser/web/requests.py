"""Request parsing and error responses shared by every JSON route: one body limit, one error shape."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

API_PREFIX = "/api/"
MAX_BODY = 16_384


def error(status: int, message: str, *, auth: bool = False) -> JSONResponse:
    """``{"error": message}`` with ``status`` (and a ``WWW-Authenticate`` challenge for 401s when ``auth``)."""
    headers = {"WWW-Authenticate": 'Bearer realm="alchemiser"'} if auth else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def json_body(request: Request) -> dict[str, Any] | JSONResponse:
    """The request's JSON object (``{}`` for an empty body), or the 4xx response to send instead."""
    body = await request.body()
    if len(body) > MAX_BODY:
        return error(413, "request body too large")
    if not body.strip():
        return {}
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return error(400, f"body is not valid JSON: {exc}")
    if not isinstance(payload, dict):
        return error(400, "body must be a JSON object")
    return payload


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"

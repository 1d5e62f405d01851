"""Request parsing and error responses shared by every JSON route: one body limit, one error shape.

:func:`json_body` is the only place a request body is parsed, so every malformed body is a 4xx here, once: a body
over :data:`MAX_BODY` (read no further), bytes that are not UTF-8, nesting deeper than :data:`MAX_DEPTH` (the
parser would otherwise hit Python's recursion limit), integers longer than :data:`MAX_INT_DIGITS` (Python refuses
to convert very long ones), non-finite numbers (``NaN``, ``Infinity``, ``1e999``), and anything but an object.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

API_PREFIX = "/api/"
MAX_BODY = 16_384
MAX_DEPTH = 32
MAX_INT_DIGITS = 64
MAX_REASON = 500


class BodyError(ValueError):
    """A body the routes refuse; the message names what is wrong (never echoes the body)."""


def error(status: int, message: str, *, auth: bool = False) -> JSONResponse:
    """``{"error": message}`` with ``status`` (and a ``WWW-Authenticate`` challenge for 401s when ``auth``)."""
    headers = {"WWW-Authenticate": 'Bearer realm="alchemiser"'} if auth else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def json_body(request: Request) -> dict[str, Any] | JSONResponse:
    """The request's JSON object (``{}`` for an empty body), or the 4xx response to send instead."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        return error(413, f"request body too large (at most {MAX_BODY} bytes)")
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return error(413, f"request body too large (at most {MAX_BODY} bytes)")
    except ClientDisconnect:
        return error(400, "the client disconnected while sending the body")
    try:
        return parse_json_object(bytes(body))
    except BodyError as exc:
        return error(400, str(exc))


def parse_json_object(body: bytes) -> dict[str, Any]:
    """Parse ``body`` as one JSON object under the limits above; :class:`BodyError` names the problem."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(f"body is not UTF-8 (invalid byte at offset {exc.start})") from None
    if not text.strip():
        return {}
    depth = nesting_depth(text)
    if depth > MAX_DEPTH:
        raise BodyError(f"body is nested too deeply ({depth} levels, at most {MAX_DEPTH})")
    try:
        payload = json.loads(text, parse_int=_bounded_int, parse_float=_finite_float, parse_constant=_no_constant)
    except BodyError:
        raise
    except json.JSONDecodeError as exc:
        raise BodyError(f"body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except (ValueError, RecursionError) as exc:  # belt and braces: the checks above should have caught these
        raise BodyError(f"body is not acceptable JSON ({type(exc).__name__})") from None
    if not isinstance(payload, dict):
        raise BodyError("body must be a JSON object")
    return payload


def nesting_depth(text: str) -> int:
    """The deepest ``[``/``{`` nesting in ``text`` (brackets inside strings do not count)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def reason_field(body: Mapping[str, Any], default: str) -> str:
    """The optional ``reason`` text of a body (``default`` when absent or null); :class:`BodyError` if malformed."""
    value = body.get("reason")
    if value is None:
        return default
    if not isinstance(value, str):
        raise BodyError(f"reason must be a string, got {type(value).__name__}")
    text = value.strip()
    if len(text) > MAX_REASON:
        raise BodyError(f"reason is too long ({len(text)} characters, at most {MAX_REASON})")
    return text or default


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise BodyError(f"body holds an integer with more than {MAX_INT_DIGITS} digits")
    return int(digits)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BodyError("body holds a number too large to represent")
    return value


def _no_constant(name: str) -> Any:
    raise BodyError(f"body holds {name}, which is not a JSON number")

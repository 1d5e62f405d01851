"""Response headers and request checks for every dashboard route.

* A strict Content-Security-Policy: scripts, styles and fetches from this origin only, no inline script or style
  (the templates carry none), no framing, forms post only here. Plus ``X-Frame-Options: DENY``, ``nosniff``,
  ``no-referrer`` and ``no-store`` (pages hold account data).
* The Host header must be one of the configured names (``http.dashboard_hosts()``): a page reached through a
  rebinding DNS name is refused with 421 before any session is looked at.
* Requests count as https when the connection is, or when a trusted proxy says so (``X-Forwarded-Proto``) — then
  the session cookie is ``Secure``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Collection

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # not no-referrer: Chrome would then send "Origin: null" on our own forms
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}

Endpoint = Callable[[Request], Awaitable[Response]]


def host_name(request: Request) -> str:
    """The Host header's name, lower case, without the port (``[::1]`` keeps its brackets)."""
    host = request.headers.get("host", "").strip().lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def trusted(address: str, proxies: Collection[str]) -> bool:
    """``address`` is one of ``proxies`` (addresses or networks such as ``172.16.0.0/12``)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for entry in proxies:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def is_https(request: Request, trusted_proxies: Collection[str]) -> bool:
    if request.url.scheme == "https":
        return True
    if trusted(client_address(request), trusted_proxies):
        return request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower() == "https"
    return False


def guarded(endpoint: Endpoint, allowed_hosts: Callable[[], Collection[str]]) -> Endpoint:
    """``endpoint`` behind the Host check, with the security headers on every answer."""

    async def handler(request: Request) -> Response:
        if host_name(request) not in allowed_hosts():
            response: Response = PlainTextResponse(
                "misdirected request: this host name is not configured (http.allowed_hosts)\n", status_code=421
            )
        else:
            response = await endpoint(request)
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    return handler

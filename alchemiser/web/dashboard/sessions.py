"""Dashboard sessions: log in with the control token, get a session cookie; failures are slowed down.

* The token is compared in constant time (``hmac.compare_digest``).
* A session lives ``lifetime`` at most (no sliding renewal) and, when ``idle`` is set, ends after that long without
  a request. It remembers a fingerprint of the control token it was opened with: when the token changes (SIGHUP
  reload), every session opened with the old one is refused and deleted — the operator logs in again.
* Sessions live in the store (``dashboard_sessions``), so a daemon restart keeps operators logged in and an open
  page's live view reconnects. The store holds only a SHA-256 of the cookie (256 random bits, so a plain hash is
  enough); the CSRF token is an HMAC of the cookie, so it is not stored either; the control-token fingerprint is a
  salted scrypt (slow to guess from a stolen store file), computed once per configured token off the event loop.
  Logout, expiry and a token change delete the row; expired rows are pruned at each login.
* Failed logins from one client are slowed: each waits ``failure_delay`` seconds, and after ``free_failures``
  failures within ``window`` the client is refused (429) for an exponentially growing time (capped).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import SecretStr

from alchemiser.store.dashboard_sessions import DashboardSessionRepository, SessionRow

MAX_SESSIONS = 1000
TOUCH_EVERY = timedelta(minutes=1)  # with an idle limit: how stale last_seen_at may get (one write per minute)
_CSRF_LABEL = b"alchemiser-dashboard-csrf"


@dataclass(frozen=True, slots=True)
class Session:
    id: str  # the cookie value: in memory only, never stored
    csrf: str
    created_at: datetime
    expires_at: datetime
    client: str


def session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def csrf_of(session_id: str) -> str:
    digest = hmac.new(session_id.encode(), _CSRF_LABEL, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def token_fingerprint(token: str, salt: bytes) -> str:
    """Salted scrypt of the control token (about 16 MiB and tens of milliseconds: slow to brute-force)."""
    return hashlib.scrypt(token.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32).hex()


class SessionStore:
    def __init__(
        self,
        repository: DashboardSessionRepository,
        token: Callable[[], SecretStr | None],
        now: Callable[[], datetime],
        lifetime: timedelta,
        *,
        idle: timedelta | None = None,
    ) -> None:
        self._repo = repository
        self._token = token
        self._now = now
        self.lifetime = lifetime
        self.idle = idle
        self._fingerprint_of: tuple[str, str] | None = None  # (control token, its fingerprint): one scrypt per token

    async def _fingerprint(self, token: SecretStr) -> str:
        value = token.get_secret_value()
        cached = self._fingerprint_of
        if cached is not None and hmac.compare_digest(cached[0].encode(), value.encode()):
            return cached[1]
        fingerprint = await asyncio.to_thread(token_fingerprint, value, await self._repo.salt())
        self._fingerprint_of = (value, fingerprint)
        return fingerprint

    @property
    def enabled(self) -> bool:
        return self._token() is not None

    def check_token(self, presented: str) -> bool:
        """Constant-time comparison with the configured token (always ``False`` when none is configured)."""
        configured = self._token()
        if configured is None:
            return False
        return hmac.compare_digest(presented.encode(), configured.get_secret_value().encode())

    async def open(self, client: str) -> Session:
        configured = self._token()
        if configured is None:
            raise PermissionError("the dashboard is disabled: no control token is configured")
        now = self._now()
        await self._repo.prune(now, idle_since=None if self.idle is None else now - self.idle)
        session_id = secrets.token_urlsafe(32)
        row = SessionRow(
            token_hash=session_hash(session_id),
            token_fingerprint=await self._fingerprint(configured),
            client=client,
            created_at=now,
            last_seen_at=now,
            expires_at=now + self.lifetime,
        )
        await self._repo.insert(row, keep_at_most=MAX_SESSIONS)
        return Session(session_id, csrf_of(session_id), now, row.expires_at, client)

    async def get(self, session_id: str | None) -> Session | None:
        """The live session with this id: not expired, and opened with the token that is configured now."""
        if not session_id:
            return None
        key = session_hash(session_id)
        row = await self._repo.get(key)
        if row is None:
            return None
        configured = self._token()
        now = self._now()
        idle_out = self.idle is not None and row.last_seen_at + self.idle <= now
        if (
            configured is None
            or row.expires_at <= now
            or idle_out
            or not hmac.compare_digest(row.token_fingerprint, await self._fingerprint(configured))
        ):
            await self._repo.delete(key)
            return None
        if self.idle is not None and now - row.last_seen_at >= TOUCH_EVERY:
            await self._repo.touch(key, now)
        return Session(session_id, csrf_of(session_id), row.created_at, row.expires_at, row.client)

    async def close(self, session_id: str | None) -> None:
        if session_id:
            await self._repo.delete(session_hash(session_id))

    async def count(self) -> int:
        return await self._repo.count()


@dataclass
class _Failures:
    count: int
    first: datetime
    blocked_until: datetime | None = None


class LoginThrottle:
    """Per-client failed-login bookkeeping (see the module docstring)."""

    def __init__(
        self,
        now: Callable[[], datetime],
        *,
        failure_delay: float = 0.5,
        free_failures: int = 5,
        window: timedelta = timedelta(minutes=15),
        max_block: timedelta = timedelta(minutes=15),
    ) -> None:
        self._now = now
        self.failure_delay = failure_delay
        self._free = free_failures
        self._window = window
        self._max_block = max_block
        self._failures: dict[str, _Failures] = {}

    def retry_after(self, client: str) -> float:
        """Seconds this client must wait before trying again (0: may try now)."""
        entry = self._failures.get(client)
        if entry is None or entry.blocked_until is None:
            return 0.0
        return max(0.0, (entry.blocked_until - self._now()).total_seconds())

    def failed(self, client: str) -> None:
        now = self._now()
        entry = self._failures.get(client)
        if entry is None or now - entry.first > self._window:
            entry = _Failures(0, now)
            self._failures[client] = entry
        entry.count += 1
        if entry.count >= self._free:
            block = timedelta(seconds=2 ** (entry.count - self._free + 1))
            entry.blocked_until = now + min(block, self._max_block)
        if len(self._failures) > 10_000:  # bounded memory under a spray of clients
            self._failures.pop(next(iter(self._failures)))

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)

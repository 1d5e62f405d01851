"""Dashboard sessions: log in with the control token, get a session cookie; failures are slowed down.

* The token is compared in constant time (``hmac.compare_digest``).
* A session lives ``lifetime`` at most (no sliding renewal), holds its own CSRF token, and remembers a keyed
  fingerprint of the control token it was opened with: when the token changes (SIGHUP reload), every session
  opened with the old one is refused — the operator logs in again with the new token.
* Sessions live in memory: a restart logs everyone out, which is the safe default for a page that can flatten an
  account.
* Failed logins from one client are slowed: each waits ``failure_delay`` seconds, and after ``free_failures``
  failures within ``window`` the client is refused (429) for an exponentially growing time (capped).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import SecretStr

MAX_SESSIONS = 1000


@dataclass
class Session:
    id: str
    csrf: str
    created_at: datetime
    expires_at: datetime
    token_fingerprint: str
    client: str


class SessionStore:
    def __init__(self, token: Callable[[], SecretStr | None], now: Callable[[], datetime], lifetime: timedelta) -> None:
        self._token = token
        self._now = now
        self.lifetime = lifetime
        self._key = secrets.token_bytes(32)  # keys the token fingerprints; never leaves the process
        self._sessions: dict[str, Session] = {}

    def _fingerprint(self, token: SecretStr) -> str:
        return hmac.new(self._key, token.get_secret_value().encode(), hashlib.sha256).hexdigest()

    @property
    def enabled(self) -> bool:
        return self._token() is not None

    def check_token(self, presented: str) -> bool:
        """Constant-time comparison with the configured token (always ``False`` when none is configured)."""
        configured = self._token()
        if configured is None:
            return False
        return hmac.compare_digest(presented.encode(), configured.get_secret_value().encode())

    def open(self, client: str) -> Session:
        configured = self._token()
        if configured is None:
            raise PermissionError("the dashboard is disabled: no control token is configured")
        self._expire()
        if len(self._sessions) >= MAX_SESSIONS:
            oldest = min(self._sessions.values(), key=lambda s: s.created_at)
            del self._sessions[oldest.id]
        now = self._now()
        session = Session(
            id=secrets.token_urlsafe(32),
            csrf=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + self.lifetime,
            token_fingerprint=self._fingerprint(configured),
            client=client,
        )
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id: not expired, and opened with the token that is configured now."""
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        configured = self._token()
        if (
            configured is None
            or session.expires_at <= self._now()
            or not hmac.compare_digest(session.token_fingerprint, self._fingerprint(configured))
        ):
            self._sessions.pop(session_id, None)
            return None
        return session

    def close(self, session_id: str | None) -> None:
        if session_id:
            self._sessions.pop(session_id, None)

    def _expire(self) -> None:
        now = self._now()
        for key in [k for k, s in self._sessions.items() if s.expires_at <= now]:
            del self._sessions[key]

    def __len__(self) -> int:
        return len(self._sessions)


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

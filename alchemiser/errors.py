"""The exception hierarchy used everywhere in alchemiser.

::

    AlchemiserError
    ├── TransientError            may succeed if tried again later (timeouts, 5xx, 429, dropped sockets)
    ├── PermanentError            will fail the same way again (bad input, rejected order, bad config)
    ├── ConfigError               (permanent) invalid configuration; carries one message per problem
    ├── StoreError                the SQLite store failed or holds data it cannot read
    ├── DataError                 market data missing, stale or malformed
    ├── StrategyError             a symphony cannot be parsed or evaluated
    ├── RiskError                 a risk rule blocked an action (names the rule)
    └── BrokerError               anything the broker said or failed to say
        ├── BrokerTransientError  (transient) timeout, connection error, 5xx
        │   └── RateLimitedError  429, with the time to wait when known
        ├── AuthFailedError       (permanent) 401/403 on auth, stream "unauthorized"
        ├── OrderRejectedError    (permanent) the broker refused an order
        │   ├── InsufficientBuyingPowerError
        │   ├── NotFractionableError
        │   └── DuplicateClientOrderIdError
        ├── NotCancelableError    (permanent) cancel of a filled/canceled/expired order
        └── NotFoundError         (permanent) order, position or asset does not exist

Classify with ``isinstance(err, TransientError)``; subclasses mix in the transient/permanent marker.
No code may catch ``Exception`` and carry on silently: catch the narrowest class that applies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class AlchemiserError(Exception):
    """Base of every error alchemiser raises on purpose."""

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context: dict[str, Any] = context

    def __str__(self) -> str:
        return self.message


class TransientError(AlchemiserError):
    """The operation may succeed if retried later."""


class PermanentError(AlchemiserError):
    """Retrying the same operation will fail the same way."""


class ConfigError(PermanentError):
    """Invalid configuration. ``problems`` holds one human-readable line per bad key."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in self.problems))


class StoreError(AlchemiserError):
    """The store could not be opened, migrated, read or written."""


class DataError(AlchemiserError):
    """Market data missing, stale or malformed."""


class StrategyError(PermanentError):
    """A symphony could not be parsed or evaluated."""


class RiskError(PermanentError):
    """A risk rule blocked an action. ``rule`` names it."""

    def __init__(self, rule: str, message: str, **context: Any) -> None:
        super().__init__(f"{rule}: {message}", rule=rule, **context)
        self.rule = rule


class BrokerError(AlchemiserError):
    """Base of every error raised while talking to a broker."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: int | None = None,
        **context: Any,
    ) -> None:
        super().__init__(message, status_code=status_code, code=code, **context)
        self.status_code = status_code
        self.code = code


class BrokerTransientError(BrokerError, TransientError):
    """Timeout, connection failure or 5xx: the outcome of the call is unknown or may change."""


class RateLimitedError(BrokerTransientError):
    """HTTP 429. ``retry_after`` is seconds to wait when the server said so."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class AuthFailedError(BrokerError, PermanentError):
    """Credentials were refused."""


class OrderRejectedError(BrokerError, PermanentError):
    """The broker refused the order."""


class InsufficientBuyingPowerError(OrderRejectedError):
    """403 / 40310000 'insufficient buying power'."""


class NotFractionableError(OrderRejectedError):
    """'requested asset is not fractionable'."""


class DuplicateClientOrderIdError(OrderRejectedError):
    """'client_order_id must be unique': an order with this id already exists (possibly closed)."""


class NotCancelableError(BrokerError, PermanentError):
    """422 on cancel: the order already reached a terminal state."""


class NotFoundError(BrokerError, PermanentError):
    """404: order, position or asset does not exist."""

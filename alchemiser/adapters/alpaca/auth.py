"""Alpaca credentials: REST headers and the stream's auth messages. The secret never appears in repr or logs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal

from pydantic import SecretStr

from alchemiser.adapters.alpaca.constants import HEADER_KEY_ID, HEADER_SECRET_KEY, USER_AGENT
from alchemiser.errors import ConfigError

StreamAuthFormat = Literal["authenticate", "auth"]


@dataclass(frozen=True)
class AlpacaCredentials:
    """An API key pair. ``secret_key`` is a ``SecretStr`` so that printing the object never leaks it."""

    key_id: str
    secret_key: SecretStr = field(repr=False)

    def __post_init__(self) -> None:
        problems = []
        if not self.key_id.strip():
            problems.append("alpaca.key_id is empty")
        if not self.secret_key.get_secret_value().strip():
            problems.append("alpaca.secret_key is empty")
        if problems:
            raise ConfigError(problems)

    @classmethod
    def of(cls, key_id: str, secret_key: str | SecretStr) -> AlpacaCredentials:
        secret = secret_key if isinstance(secret_key, SecretStr) else SecretStr(secret_key)
        return cls(key_id=key_id, secret_key=secret)

    def rest_headers(self) -> dict[str, str]:
        return {
            HEADER_KEY_ID: self.key_id,
            HEADER_SECRET_KEY: self.secret_key.get_secret_value(),
            "User-Agent": USER_AGENT,
        }

    def stream_auth_message(self, fmt: StreamAuthFormat = "authenticate") -> str:
        """The first frame of a trade_updates connection, in the legacy (alpaca-py) or the current documented form."""
        secret = self.secret_key.get_secret_value()
        if fmt == "authenticate":
            body: dict[str, object] = {
                "action": "authenticate",
                "data": {"key_id": self.key_id, "secret_key": secret},
            }
        else:
            body = {"action": "auth", "key": self.key_id, "secret": secret}
        return json.dumps(body)


def redact(text: str, credentials: AlpacaCredentials) -> str:
    """Remove the secret (and the key id) from a text before it goes to a log line or an error message."""
    secret = credentials.secret_key.get_secret_value()
    if secret:
        text = text.replace(secret, "***")
    return text

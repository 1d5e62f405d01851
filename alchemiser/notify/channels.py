"""Notification channels: one small interface, one implementation on top of apprise.

A ``Channel`` delivers one ``Message`` or raises ``NotificationError`` (transient: the notifier retries with
backoff). ``AppriseChannel`` covers the generic JSON webhook (``json://`` / ``jsons://``), Slack, Discord,
Telegram, email (``mailto://`` / ``mailtos://``) and every other apprise URL. Apprise is blocking, so sends run
in a small dedicated thread pool (never the loop's default executor) under a timeout.

Channel URLs carry tokens: a channel is only ever named by its scheme and position (``slack#1``), never by URL.

apprise is imported when the first channel is built, not with this module: it loads every one of its plugins
(about 15 MiB resident), and a daemon without ``notifications.urls`` never needs it.
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from pydantic import SecretStr

from alchemiser.errors import ConfigError, TransientError
from alchemiser.notify.events import Level, Message

_STRUCTURED_SCHEMES = ("json", "jsons")


class NotificationError(TransientError):
    """A channel did not accept a message (it may on a later attempt)."""


class Channel(Protocol):
    name: str

    async def send(self, message: Message) -> None:
        """Deliver ``message`` or raise ``NotificationError``."""
        ...

    def close(self) -> None:
        """Release resources (threads)."""
        ...


def scheme_of(url: str) -> str:
    head, sep, _ = url.partition("://")
    if not sep or not head:
        raise ConfigError(["notifications.urls: an entry is not a URL of the form scheme://… (value not shown)"])
    return head.lower()


class AppriseChannel:
    """One apprise URL. JSON webhooks receive the structured payload as the message body (a JSON document)."""

    def __init__(self, url: SecretStr, *, index: int = 0, timeout_seconds: float = 10.0) -> None:
        raw = url.get_secret_value()
        self.scheme = scheme_of(raw)
        self.name = f"{self.scheme}#{index}"
        self.timeout_seconds = timeout_seconds
        self._structured = self.scheme in _STRUCTURED_SCHEMES
        import apprise  # here, not at the top: see the module docstring

        self._types = {
            Level.INFO: apprise.NotifyType.INFO,
            Level.SUCCESS: apprise.NotifyType.SUCCESS,
            Level.WARNING: apprise.NotifyType.WARNING,
            Level.FAILURE: apprise.NotifyType.FAILURE,
        }
        self._apprise = apprise.Apprise()
        if not self._apprise.add(raw):
            raise ConfigError([f"notifications.urls[{index}]: apprise does not accept this {self.scheme}:// URL"])
        # One worker: sends of a channel are sequential anyway; a hung send occupies only this channel's thread.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"notify-{self.name}")

    def _body(self, message: Message) -> str:
        if self._structured:
            return json.dumps(
                {"kind": message.kind, "level": message.level.value, "title": message.title, "text": message.body}
                | {"data": message.payload},
                sort_keys=True,
            )
        return message.body

    def _send_blocking(self, message: Message) -> bool:
        result = self._apprise.notify(
            body=self._body(message), title=message.title, notify_type=self._types[message.level]
        )
        return bool(result)

    async def send(self, message: Message) -> None:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, self._send_blocking, message)
        try:
            delivered = await asyncio.wait_for(future, timeout=self.timeout_seconds)
        except TimeoutError as exc:
            raise NotificationError(f"{self.name}: send timed out after {self.timeout_seconds:.0f}s") from exc
        if not delivered:
            raise NotificationError(f"{self.name}: channel refused or failed to deliver the message")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def channels_from_urls(urls: list[SecretStr], *, timeout_seconds: float) -> list[Channel]:
    """Build one channel per configured URL; errors name the entry by position, never by value."""
    return [AppriseChannel(url, index=i, timeout_seconds=timeout_seconds) for i, url in enumerate(urls)]

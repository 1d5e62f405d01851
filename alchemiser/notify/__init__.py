"""Notifications: events, channels (apprise: JSON webhook, Slack, Discord, Telegram, email) and the notifier actor.

Public API::

    notifier = Notifier(channels_from_urls(settings.notifications.urls, timeout_seconds=10), clock, neutral=True)
    task = asyncio.create_task(notifier.run())
    notifier.publish(RunSummary(...))          # never blocks
"""

from alchemiser.notify.channels import AppriseChannel, Channel, NotificationError, channels_from_urls
from alchemiser.notify.events import (
    DecisionSkipped,
    Event,
    Failure,
    KillSwitchChanged,
    Level,
    Message,
    NotificationsDropped,
    ReadinessChanged,
    RunSummary,
    TradeLine,
    render,
)
from alchemiser.notify.notifier import ChannelStats, Notifier

__all__ = [
    "AppriseChannel",
    "Channel",
    "ChannelStats",
    "DecisionSkipped",
    "Event",
    "Failure",
    "KillSwitchChanged",
    "Level",
    "Message",
    "NotificationError",
    "NotificationsDropped",
    "Notifier",
    "ReadinessChanged",
    "RunSummary",
    "TradeLine",
    "channels_from_urls",
    "render",
]

"""Operator commands on the kill switch, shared by the control API, the dashboard and the CLI.

Each command is audited by the kill switch itself (who, when, why) and keeps the Prometheus gauge in step.
"""

from __future__ import annotations

from alchemiser.errors import ConfigError
from alchemiser.services.daemon_view import DaemonView
from alchemiser.store.kill_switch import KillAction, KillSwitchState

KILL_ACTIONS: tuple[KillAction, ...] = ("freeze", "cancel", "flatten")


def kill_action(value: object, view: DaemonView) -> KillAction:
    """``value`` as a kill action (the configured default when absent); ``ConfigError`` naming the choices if not."""
    action = value or view.default_kill_action()
    if not isinstance(action, str) or action not in KILL_ACTIONS:
        raise ConfigError([f"action must be one of {', '.join(KILL_ACTIONS)}, got {action!r}"])
    return action


async def engage_kill(view: DaemonView, *, reason: str, by: str, action: KillAction) -> KillSwitchState:
    state = await view.kill_switch.engage(reason=reason, by=by, action=action)
    view.metrics.kill_switch.set(1)
    return state


async def resume(view: DaemonView, *, reason: str, by: str) -> tuple[KillSwitchState, bool]:
    """Clear the kill switch; ``(state, False)`` without any change (or audit line) when it was not engaged."""
    if not view.kill_switch.engaged:
        return view.kill_switch.state, False
    state = await view.kill_switch.resume(reason=reason, by=by)
    view.metrics.kill_switch.set(0)
    return state, True

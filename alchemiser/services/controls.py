"""The dashboard's side of the operator controls: input checks with an HTTP status, the acts themselves through
the same commands as the control API (:mod:`alchemiser.services.control`, ``DecisionApi.request_rebalance`` /
``accept_positions``, ``PlanBoard.decide``), so the audit journal records who, when and why identically.

``by`` names the channel and the client (``http:127.0.0.1`` / ``api:…`` for the bearer API, ``dashboard:127.0.0.1``
for a browser session). Bad input raises :class:`ControlError` naming the problem.
"""

from __future__ import annotations

from dataclasses import dataclass

from alchemiser.errors import AlchemiserError, ConfigError
from alchemiser.services import control
from alchemiser.services.daemon_view import DaemonView
from alchemiser.store.kill_switch import KillSwitchState

MAX_REASON = 500


class ControlError(AlchemiserError):
    """A control request that cannot be carried out as asked (``status``: the HTTP status to answer)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def reason_text(value: object, *, default: str | None, what: str) -> str:
    """A trimmed reason; required (400) when ``default`` is ``None``."""
    text = "" if value is None else str(value).strip()
    if not text:
        if default is None:
            raise ControlError(400, f"a reason is required to {what}")
        return default
    if len(text) > MAX_REASON:
        raise ControlError(400, f"reason is too long ({len(text)} characters, at most {MAX_REASON})")
    return text


@dataclass
class KillControls:
    """The dashboard's kill and resume: its input checked here, the act itself by :mod:`alchemiser.services.control`
    (the same commands as ``POST /api/kill`` and ``/api/resume``; the kill switch audits who, when and why)."""

    view: DaemonView

    async def kill(self, *, reason: object, action: object, by: str) -> KillSwitchState:
        text = reason_text(reason, default=None, what="kill")
        try:
            chosen = control.kill_action(action or None, self.view)  # an empty form field: the default
        except ConfigError as exc:
            raise ControlError(400, "; ".join(exc.problems)) from exc
        return await control.engage_kill(self.view, reason=text, by=by, action=chosen)

    async def resume(self, *, reason: object, by: str) -> KillSwitchState:
        text = reason_text(reason, default="resumed from the dashboard", what="resume")
        state, _ = await control.resume(self.view, reason=text, by=by)
        return state

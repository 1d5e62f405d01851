"""The SQLite store: connection and migrations (``database``) and one repository module per table group."""

from alchemiser.store.audit import AuditEvent, AuditLog
from alchemiser.store.database import ExecuteResult, Migration, Store, load_migrations, split_statements
from alchemiser.store.kill_switch import KillAction, KillSwitch, KillSwitchState
from alchemiser.store.runs import Run, RunRepository, new_run_id

__all__ = [
    "AuditEvent",
    "AuditLog",
    "ExecuteResult",
    "KillAction",
    "KillSwitch",
    "KillSwitchState",
    "Migration",
    "Run",
    "RunRepository",
    "Store",
    "load_migrations",
    "new_run_id",
    "split_statements",
]

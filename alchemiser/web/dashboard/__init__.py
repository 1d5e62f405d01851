"""The operator's dashboard (see :mod:`alchemiser.web.dashboard.app`)."""

from alchemiser.web.dashboard.app import Dashboard
from alchemiser.web.dashboard.deps import DashboardDeps

__all__ = ["Dashboard", "DashboardDeps"]

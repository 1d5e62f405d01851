"""The query and command layer that every surface reads through: JSON routes, HTML pages and the CLI.

* ``daemon_view`` — :class:`DaemonView`, the read side of a running daemon (clocks, readiness, supervisor, kill
  switch, status sections registered by components).
* ``status`` — the ``/status`` snapshot and the liveness answer.
* ``control`` — operator commands on the kill switch (engage with an action, resume), audited with who and why.

A page and its JSON twin call the same function here, so they can never disagree.
"""

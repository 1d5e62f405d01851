"""``alchemiser rebalance`` and ``alchemiser explain --last``: operate the decision side of a running daemon.

* ``rebalance [--wait S]`` — ``POST /api/rebalance``: run a decision cycle now (every risk rule applies, and the
  session must be open); waits up to ``--wait`` seconds for the outcome, polling the decision if the daemon answers
  202, then prints it. Exit 0 when the decision executed (or had nothing to trade), 1 otherwise.
* ``explain --last [--decision ID] [--format text|json]`` — fetch the last (or a given) decision from the daemon and
  print each strategy's trace: the conditions on the active path with their values, the branch taken, the
  allocation, or the fail-closed reason. ``explain PATH --asof D --data DIR`` (offline, from ``explain_cmd``) is kept
  as it is: this module only adds ``--last`` / ``--decision`` to the same subcommand.
* ``run --real-speed`` / ``run --speed X`` — sim mode at wall-clock speed (or X×) instead of the demo.

The decision trace renderer (:mod:`alchemiser.dsl.trace`, which imports numpy) is imported where a trace is
printed, so ``rebalance`` starts as light as ``status``.

Both use the control API through :mod:`alchemiser.cli.connection`: the daemon's local control socket when present
(no token), else URL and token from the configuration, or ``--url`` / ``--token``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from collections.abc import Callable, MutableMapping
from typing import Any

from alchemiser.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, add_config_arguments
from alchemiser.cli.control import add_connection_arguments, connection_or_exit
from alchemiser.cli.daemon_client import DaemonClient, DaemonUnreachable, Reply

FINISHED = {"executed", "no_trade", "failed", "skipped", "blocked"}


def _connection_arguments(parser: argparse.ArgumentParser, *, with_config: bool = True) -> None:
    if with_config:
        add_config_arguments(parser)
    add_connection_arguments(parser)


def register(subparsers: Any) -> None:
    rebalance = subparsers.add_parser(
        "rebalance",
        help="run a decision cycle now on a running daemon (risk rules and market hours apply)",
    )
    _connection_arguments(rebalance)
    rebalance.add_argument("--wait", type=float, default=120.0, help="seconds to wait for the outcome (default 120)")
    rebalance.set_defaults(func=rebalance_command)
    _extend_explain(subparsers)
    _extend_run(subparsers)


def _extend_run(subparsers: Any) -> None:
    """``alchemiser run --real-speed`` / ``--speed X``: how fast simulated time runs in sim mode.

    Without either, sim mode runs the demo (accelerated, starting shortly before a decision). These flags set
    ``ALCHEMISER_SIM__SPEED`` for this process, which the daemon's configuration reads like any other setting.
    """
    run: argparse.ArgumentParser | None = subparsers.choices.get("run")
    if run is None:
        return
    original: Callable[[argparse.Namespace], int] | None = run.get_default("func")
    if original is None:
        return
    speed = run.add_mutually_exclusive_group()
    speed.add_argument("--real-speed", action="store_true", help="sim: simulated time runs at wall-clock speed")
    speed.add_argument("--speed", type=float, metavar="X", help="sim: simulated seconds per wall second")

    def dispatch(args: argparse.Namespace) -> int:
        apply_speed_flags(args, os.environ)
        return original(args)

    run.set_defaults(func=dispatch)


def apply_speed_flags(args: argparse.Namespace, environ: MutableMapping[str, str]) -> None:
    if getattr(args, "real_speed", False):
        environ["ALCHEMISER_SIM__SPEED"] = "1"
    elif getattr(args, "speed", None) is not None:
        environ["ALCHEMISER_SIM__SPEED"] = repr(float(args.speed))


def _extend_explain(subparsers: Any) -> None:
    """Add ``--last`` / ``--decision`` to the offline ``explain`` (or create ``explain`` if it does not exist)."""
    existing: argparse.ArgumentParser | None = subparsers.choices.get("explain")
    offline: Callable[[argparse.Namespace], int] | None = None if existing is None else existing.get_default("func")
    if existing is None:
        explain: argparse.ArgumentParser = subparsers.add_parser(
            "explain", help="print the trace of the daemon's last decision"
        )
        explain.add_argument("--format", choices=("text", "json"), default="text")
    else:
        explain = existing
        # The offline form's PATH and --asof become optional so that --last can stand alone; checked below.
        for action in explain._actions:
            if action.dest == "path":
                action.nargs = "?"
                action.required = False
            elif action.dest in ("asof", "data"):
                action.required = False
    explain.add_argument("--last", action="store_true", help="explain the running daemon's last decision")
    explain.add_argument("--decision", metavar="ID", help="explain this decision of the running daemon")
    _connection_arguments(explain, with_config=not any(a.dest == "config" for a in explain._actions))

    def dispatch(args: argparse.Namespace) -> int:
        if args.last or args.decision:
            return explain_command(args)
        missing = (
            [
                name
                for name, value in (("PATH", args.path), ("--asof", args.asof), ("--data", args.data))
                if value is None
            ]
            if offline is not None
            else ["--last"]
        )
        if missing or offline is None:
            explain.error("the following arguments are required: " + ", ".join(missing) + " (or use --last)")
            return EXIT_USAGE
        return offline(args)

    explain.set_defaults(func=dispatch)


def _client(args: argparse.Namespace) -> DaemonClient | int:
    connection = connection_or_exit(args, changes_state=True)
    if isinstance(connection, int):
        return connection
    try:
        return connection.client(args.timeout)
    except DaemonUnreachable as exc:
        print(f"alchemiser: cannot reach the daemon: {exc}", file=sys.stderr)
        return EXIT_FAILED


def rebalance_command(args: argparse.Namespace) -> int:
    client = _client(args)
    if isinstance(client, int):
        return client
    deadline = time.monotonic() + max(0.0, args.wait)
    try:
        first_wait = min(max(0.0, args.wait), 60.0)
        reply = client.post("/api/rebalance", {"wait_seconds": first_wait}, timeout=args.timeout + first_wait)
        if reply.status_code == 202:
            decision_id = reply.payload["decision_id"]
            print(f"decision {decision_id} running...", file=sys.stderr)
            reply = _poll(client, decision_id, deadline)
    except DaemonUnreachable as exc:
        print(f"alchemiser: cannot reach the daemon: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return _print_outcome(reply)


def _poll(client: DaemonClient, decision_id: str, deadline: float) -> Reply:
    reply = client.get(f"/api/decisions/{decision_id}")
    while time.monotonic() < deadline:
        if reply.status_code == 200 and isinstance(reply.payload, dict) and reply.payload.get("status") in FINISHED:
            return reply
        time.sleep(1.0)
        reply = client.get(f"/api/decisions/{decision_id}")
    return reply


def _print_outcome(reply: Reply) -> int:
    if not reply.is_success:
        print(f"alchemiser: daemon answered {reply.status_code}: {reply.error_message()}", file=sys.stderr)
        return EXIT_FAILED
    payload = reply.payload
    print(json.dumps(payload, indent=2))
    status = payload.get("status") if isinstance(payload, dict) else None
    return EXIT_OK if status in ("executed", "no_trade") else EXIT_FAILED


def explain_command(args: argparse.Namespace) -> int:
    client = _client(args)
    if isinstance(client, int):
        return client
    path = f"/api/decisions/{args.decision}" if args.decision else "/api/decisions/last"
    try:
        reply = client.get(path)
    except DaemonUnreachable as exc:
        print(f"alchemiser: cannot reach the daemon: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if not reply.is_success:
        print(f"alchemiser: daemon answered {reply.status_code}: {reply.error_message()}", file=sys.stderr)
        return EXIT_FAILED
    if getattr(args, "format", "text") == "json":
        print(json.dumps(reply.payload, indent=2))
    else:
        print(render_decision(reply.payload))
    return EXIT_OK


def render_decision(record: dict[str, Any]) -> str:
    """A human-readable decision: header, then each strategy's trace or fail-closed reason."""
    lines = [
        f"decision {record['decision_id']} for session {record['session']} ({record['trigger']}): "
        f"{record['status']}" + (f" — {record['reason']}" if record.get("reason") else ""),
        f"as-of policy {record['as_of_policy']}, bars through {record.get('as_of') or '?'}",
    ]
    for strategy in record.get("strategies", []):
        lines.append("")
        head = f"[{strategy['strategy']}] capital weight {strategy['capital_weight']}: {strategy['status']}"
        lines.append(head)
        if strategy["status"] != "ok":
            lines.append(f"  failed closed: {strategy.get('fail_reason')}")
            continue
        if strategy.get("not_due"):
            held = ", ".join(f"{s} {w}" for s, w in strategy.get("allocation", {}).items())
            lines.append(f"  {strategy['not_due']}: not evaluated, its book drifts (holding {held or 'nothing'})")
            continue
        lines.append("  allocation: " + ", ".join(f"{s} {w}" for s, w in strategy.get("allocation", {}).items()))
        trace = strategy.get("trace")
        if isinstance(trace, dict) and "steps" in trace:
            from alchemiser.dsl.trace import Trace  # numpy: only to render a trace (see the module docstring)

            rendered = Trace(
                symphony=str(trace.get("symphony", strategy["strategy"])),
                asof=dt.date.fromisoformat(str(trace["asof"])),
                allocation=trace.get("allocation"),
                error=trace.get("error"),
                steps=tuple(trace["steps"]),
            ).render()
            lines.extend("  " + line for line in rendered.splitlines())
        elif trace is not None:
            lines.append("  trace: " + json.dumps(trace))
    return "\n".join(lines)

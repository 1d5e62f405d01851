"""``alchemiser rebalance`` and ``alchemiser explain --last``: operate the decision side of a running daemon.

* ``rebalance [--wait S]`` — ``POST /api/rebalance``: run a decision cycle now (every risk rule applies, and the
  session must be open); waits up to ``--wait`` seconds for the outcome, polling the decision if the daemon answers
  202, then prints it. Exit 0 when the decision executed (or had nothing to trade), 1 otherwise.
* ``explain --last [--decision ID] [--format text|json]`` — fetch the last (or a given) decision from the daemon and
  print each strategy's trace: the conditions on the active path with their values, the branch taken, the
  allocation, or the fail-closed reason. ``explain PATH --asof D --data DIR`` (offline, from ``dsl_cmds``) is kept
  as it is: this module only adds ``--last`` / ``--decision`` to the same subcommand.
* ``run --real-speed`` / ``run --speed X`` — sim mode at wall-clock speed (or X×) instead of the demo.

Both use the control API: URL and token from the configuration, or ``--url`` / ``--token``.
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

import httpx

from alchemiser.cli.control import EXIT_FAILED, EXIT_OK, EXIT_USAGE, _target
from alchemiser.cli.run import add_config_arguments, print_problems
from alchemiser.dsl.trace import Trace
from alchemiser.errors import ConfigError

FINISHED = {"executed", "no_trade", "failed", "skipped", "blocked"}


def _connection_arguments(parser: argparse.ArgumentParser, *, with_config: bool = True) -> None:
    if with_config:
        add_config_arguments(parser)
    parser.add_argument("--url", help="daemon base URL (default from http.host/http.port)")
    parser.add_argument("--token", help="control token (default: control_token from the configuration)")
    parser.add_argument("--timeout", type=float, default=10.0, help="request timeout in seconds")


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


def _client(args: argparse.Namespace) -> tuple[httpx.Client, str] | int:
    try:
        url, token = _target(args)
    except ConfigError as exc:
        print_problems(exc)
        return EXIT_USAGE
    if not token:
        print("alchemiser: no control token (set control_token or pass --token)", file=sys.stderr)
        return EXIT_USAGE
    return httpx.Client(timeout=args.timeout, headers={"Authorization": f"Bearer {token}"}), url


def rebalance_command(args: argparse.Namespace) -> int:
    made = _client(args)
    if isinstance(made, int):
        return made
    client, url = made
    deadline = time.monotonic() + max(0.0, args.wait)
    try:
        with client:
            first_wait = min(max(0.0, args.wait), 60.0)
            response = client.post(
                f"{url}/api/rebalance", json={"wait_seconds": first_wait}, timeout=args.timeout + first_wait
            )
            if response.status_code == 202:
                decision_id = response.json()["decision_id"]
                print(f"decision {decision_id} running...", file=sys.stderr)
                response = _poll(client, url, decision_id, deadline)
    except httpx.HTTPError as exc:
        print(f"alchemiser: cannot reach the daemon: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return _print_outcome(response)


def _poll(client: httpx.Client, url: str, decision_id: str, deadline: float) -> httpx.Response:
    response = client.get(f"{url}/api/decisions/{decision_id}")
    while time.monotonic() < deadline:
        if response.status_code == 200 and response.json().get("status") in FINISHED:
            return response
        time.sleep(1.0)
        response = client.get(f"{url}/api/decisions/{decision_id}")
    return response


def _print_outcome(response: httpx.Response) -> int:
    payload = _payload(response)
    if not response.is_success:
        message = payload.get("error") if isinstance(payload, dict) else payload
        print(f"alchemiser: daemon answered {response.status_code}: {message}", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps(payload, indent=2))
    status = payload.get("status") if isinstance(payload, dict) else None
    return EXIT_OK if status in ("executed", "no_trade") else EXIT_FAILED


def _payload(response: httpx.Response) -> Any:
    try:
        return response.json()
    except json.JSONDecodeError:
        return response.text


def explain_command(args: argparse.Namespace) -> int:
    made = _client(args)
    if isinstance(made, int):
        return made
    client, url = made
    path = f"/api/decisions/{args.decision}" if args.decision else "/api/decisions/last"
    try:
        with client:
            response = client.get(f"{url}{path}")
    except httpx.HTTPError as exc:
        print(f"alchemiser: cannot reach the daemon: {exc}", file=sys.stderr)
        return EXIT_FAILED
    payload = _payload(response)
    if not response.is_success:
        message = payload.get("error") if isinstance(payload, dict) else payload
        print(f"alchemiser: daemon answered {response.status_code}: {message}", file=sys.stderr)
        return EXIT_FAILED
    if getattr(args, "format", "text") == "json":
        print(json.dumps(payload, indent=2))
    else:
        print(render_decision(payload))
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
        lines.append("  allocation: " + ", ".join(f"{s} {w}" for s, w in strategy.get("allocation", {}).items()))
        trace = strategy.get("trace")
        if isinstance(trace, dict) and "steps" in trace:
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

"""``alchemiser kill | resume | status``: talk to a running daemon.

The way to the daemon is :mod:`alchemiser.cli.connection`: its owner-only local control socket when present (no
token needed), else HTTP at ``http://<http.host>:<http.port>`` with ``control_token``, both read from the same
configuration sources as the daemon; ``--url`` / ``--token`` force HTTP. ``status`` prints a human summary
(``--json`` for the daemon's JSON); ``resume`` when nothing is latched says so and succeeds.
Exit codes: 0 success, 1 daemon unreachable or refused, 2 bad configuration/usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from alchemiser.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, add_config_arguments, print_problems
from alchemiser.cli.connection import Connection, connect
from alchemiser.cli.daemon_client import DaemonUnreachable, Reply
from alchemiser.cli.status_view import render_status
from alchemiser.errors import ConfigError

NO_CONTROL_ACCESS = (
    "alchemiser: no control token and no local control socket (is the daemon running on this machine with the "
    "same store.path?); set control_token or pass --token"
)


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="daemon base URL (default: the local control socket, else http.host/http.port)")
    parser.add_argument("--token", help="control token (default: control_token from the configuration)")
    parser.add_argument("--timeout", type=float, default=10.0, help="request timeout in seconds")


def register(subparsers: Any) -> None:
    for name, help_text in (
        ("kill", "engage the kill switch of a running daemon (latched until resume)"),
        ("resume", "clear the kill switch of a running daemon"),
        ("status", "show the status of a running daemon"),
    ):
        parser = subparsers.add_parser(name, help=help_text)
        add_config_arguments(parser)
        add_connection_arguments(parser)
        if name in ("kill", "resume"):
            parser.add_argument("--reason", default=None, help="recorded in the audit journal")
        if name == "kill":
            parser.add_argument("--action", choices=("freeze", "cancel", "flatten"), help="default: risk setting")
        if name == "status":
            parser.add_argument("--json", action="store_true", help="print the daemon's /status JSON")
        parser.set_defaults(func=control_command, control=name)


def connection_or_exit(args: argparse.Namespace, *, changes_state: bool) -> Connection | int:
    """The connection to use, or the exit code after printing why there is none."""
    try:
        connection = connect(args)
    except ConfigError as exc:
        print_problems(exc)
        return EXIT_USAGE
    if changes_state and not connection.authorised:
        print(NO_CONTROL_ACCESS, file=sys.stderr)
        return EXIT_USAGE
    return connection


def control_command(args: argparse.Namespace) -> int:
    connection = connection_or_exit(args, changes_state=args.control != "status")
    if isinstance(connection, int):
        return connection
    try:
        client = connection.client(args.timeout)
        if args.control == "status":
            reply = client.get("/status")
        else:
            body: dict[str, Any] = {}
            if args.reason:
                body["reason"] = args.reason
            if getattr(args, "action", None):
                body["action"] = args.action
            reply = client.post(f"/api/{args.control}", body)
    except DaemonUnreachable as exc:
        print(f"alchemiser: cannot reach the daemon at {connection.where}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return _report(args, reply)


def _report(args: argparse.Namespace, reply: Reply) -> int:
    if not reply.is_success:
        print(f"alchemiser: daemon answered {reply.status_code}: {reply.error_message()}", file=sys.stderr)
        return EXIT_FAILED
    payload = reply.payload
    if args.control == "status" and not args.json and isinstance(payload, dict):
        print(render_status(payload))
    elif args.control == "resume" and isinstance(payload, dict) and payload.get("changed") is False:
        print("alchemiser: the kill switch is not engaged; nothing to resume")
    else:
        print(json.dumps(payload, indent=2) if not isinstance(payload, str) else payload)
    return EXIT_OK

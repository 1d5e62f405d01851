"""The daemon's local control socket: a Unix-domain socket beside the store, guarded by file permissions.

Anyone who can open it may run ``status``, ``explain --last``, ``kill`` and ``resume`` without the control token —
that is the point (``make run`` configures no token) — so it is only ever created 0600 and owned by the daemon's
user, and both ends refuse a socket that is not: the daemon will not replace another user's socket, the CLI will
not talk to one (it could be a fake daemon collecting requests).

The socket is bound under a temporary name, restricted to 0600, then renamed into place, so there is no moment at
which the final path accepts connections from other users.
"""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

from alchemiser.errors import ConfigError

SUFFIX = ".sock"
# sun_path holds 108 bytes on Linux (104 on BSD/macOS) including the terminating NUL.
MAX_PATH_BYTES = 103


def socket_path(store_path: Path) -> Path:
    """The control socket of the daemon running on the store at ``store_path``."""
    return store_path.with_name(store_path.name + SUFFIX)


def check_private(path: Path) -> None:
    """``ConfigError`` unless ``path`` is a socket owned by this user and closed to group and others."""
    info = path.lstat()
    if not stat.S_ISSOCK(info.st_mode):
        raise ConfigError([f"control socket {path}: not a socket; refusing to use it"])
    if info.st_uid != os.getuid():
        raise ConfigError(
            [f"control socket {path} is owned by uid {info.st_uid}, not by you (uid {os.getuid()}); refusing to use it"]
        )
    if info.st_mode & 0o077:
        raise ConfigError(
            [f"control socket {path} has mode {stat.S_IMODE(info.st_mode):04o}, open to other users; refusing it"]
        )


def bind_private(path: Path) -> socket.socket:
    """A listening ``AF_UNIX`` socket at ``path``, mode 0600.

    A leftover socket of ours is replaced (one daemon per store is guaranteed by the store lock); another user's
    socket, or anything that is not a socket, is a ``ConfigError``. So is a path too long for ``sun_path``.
    """
    if len(os.fsencode(path)) > MAX_PATH_BYTES:
        raise ConfigError([f"control socket {path}: path longer than {MAX_PATH_BYTES} bytes"])
    if path.exists() or path.is_symlink():
        info = path.lstat()
        if not stat.S_ISSOCK(info.st_mode) or info.st_uid != os.getuid():
            raise ConfigError(
                [f"control socket {path} exists and is not a socket of uid {os.getuid()} (owner uid {info.st_uid});"
                 " refusing to replace it"]
            )  # fmt: skip
        path.unlink()
    staging = path.with_name(f".{path.name}.{os.getpid()}")
    staging.unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(staging))
        os.chmod(staging, 0o600)
        os.replace(staging, path)
        sock.listen(64)
    except OSError as exc:
        sock.close()
        staging.unlink(missing_ok=True)
        raise ConfigError([f"control socket {path}: {exc.strerror or exc}"]) from exc
    sock.setblocking(False)
    return sock


def remove(path: Path) -> None:
    """Remove the socket file if it is still ours."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISSOCK(info.st_mode) and info.st_uid == os.getuid():
        path.unlink(missing_ok=True)

"""Which process a piece of work belongs to, and whether that process still lives.

A server killed with ``kill -9`` leaves its jobs marked running and its staging files on
disk. The one that starts next must tell those from the work of a server that is still
running beside it (several ``sentier serve`` on one database, or one with several workers).
So work is stamped with its process's :data:`TOKEN` — host, process id and the process's start
time, which together never name two processes — and :func:`is_dead` answers from the token.
A token of another host is never judged dead: only that host's own server can tell.
"""

from __future__ import annotations

import hashlib
import os
import socket
from pathlib import Path

_PROC = Path("/proc")


def _host() -> str:
    return hashlib.sha256(socket.gethostname().encode("utf-8")).hexdigest()[:8]


def start_ticks(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot (Linux), or None when it
    does not exist; ``"0"`` where ``/proc`` is not available (the pid alone is then used)."""
    if not _PROC.is_dir():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return "0"
        return "0"
    try:
        stat = (_PROC / str(pid) / "stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: fields follow the last ")".
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else "0"


def make_token(pid: int) -> str:
    """The token of process ``pid`` on this host (safe in file names: ``[0-9a-f-]``)."""
    return f"{_host()}-{pid}-{start_ticks(pid) or '0'}"


TOKEN = make_token(os.getpid())


def current() -> str:
    """This process's token (recomputed after a fork, whose child is another process)."""
    global TOKEN
    if TOKEN.split("-")[1] != str(os.getpid()):
        TOKEN = make_token(os.getpid())
    return TOKEN


def is_dead(token: str | None) -> bool:
    """Is the process that ``token`` names known to have ended?

    A missing or malformed token (work recorded before tokens were) counts as dead; a token of
    another host as alive.
    """
    if not token:
        return True
    parts = token.split("-")
    if len(parts) != 3 or not parts[1].isdigit():
        return True
    host, pid, ticks = parts
    if host != _host():
        return False
    if token == current():
        return False
    now = start_ticks(int(pid))
    return now is None or (now != ticks and "0" not in (now, ticks))

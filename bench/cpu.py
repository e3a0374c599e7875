"""CPU seconds used by the processes of this machine while a case runs, by role.

On a 2-core machine the web server, the background import, the sandboxes standing in for
Coupa, the Celery worker, PostgreSQL and the load generator all share the same cores; this
says which of them used the CPU. Linux only (it reads /proc); elsewhere it reports nothing.
A process seen during the window counts from zero if it started in it, and up to its last
sample if it ended in it (sampled every `interval` seconds).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

PROC = Path("/proc")

#: (role, a substring of the command line that marks it), first match wins.
ROLES = [
    ("background import", "bench.background"),
    ("sandboxes (Coupa stand-ins)", "coupa.sandbox"),
    ("Celery worker", "celery"),
    ("web server", "gunicorn"),
    ("PostgreSQL", "postgres"),
]


def _ticks() -> float:
    try:
        return float(os.sysconf("SC_CLK_TCK"))
    except (ValueError, OSError, AttributeError):
        return 100.0


def _snapshot(me_role: str) -> dict[int, tuple[str, float]]:
    """pid -> (role, CPU seconds so far) for every process we can classify; this
    process is `me_role`."""
    out: dict[int, tuple[str, float]] = {}
    me = os.getpid()
    hz = _ticks()
    for entry in PROC.iterdir() if PROC.is_dir() else []:
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command may hold spaces and parentheses: fields start after the last ")".
        fields = stat[stat.rfind(")") + 2 :].split()
        seconds = (int(fields[11]) + int(fields[12])) / hz  # utime + stime
        if pid == me:
            role = me_role
        else:
            role = next((r for r, mark in ROLES if mark in cmdline), "")
            if not role:
                continue
        out[pid] = (role, seconds)
    return out


class CpuByRole:
    """Sample /proc in a thread between start() and stop(); `seconds` is the result."""

    def __init__(self, me: str = "load generator (this process)", interval: float = 0.5) -> None:
        self.me = me
        self.interval = interval
        self._first: dict[int, float] = {}
        self._last: dict[int, tuple[str, float]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        for pid, (role, seconds) in _snapshot(self.me).items():
            self._last[pid] = (role, seconds)

    def start(self) -> CpuByRole:
        self._first = {pid: s for pid, (_, s) in _snapshot(self.me).items()}
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def stop(self) -> dict[str, float]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()
        return self.seconds

    @property
    def seconds(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for pid, (role, seconds) in self._last.items():
            out[role] = out.get(role, 0.0) + seconds - self._first.get(pid, 0.0)
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))

"""The real Celery workers of the chaos run: started, SIGKILLed at random moments, restarted.

Each worker is `celery -A spendflo worker --pool solo`, so the process the driver kills
is the one doing the work (a prefork parent would only lose a child). Workers share the
driver's environment: the throwaway database, the broker, the short stale limits.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from bench.env import ROOT

WORKER = [
    sys.executable, "-m", "celery", "-A", "spendflo", "worker", "--pool", "solo",
    "--loglevel", "ERROR", "--without-heartbeat", "--without-gossip", "--without-mingle",
]  # fmt: skip


class Workers:
    """`count` worker processes; `kill()` one with SIGKILL, `ensure()` restarts the dead."""

    def __init__(self, env: dict[str, str], count: int = 1) -> None:
        self.env = env
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * count
        self.kills = 0
        self.starts = 0
        #: Kills by how the victim was chosen: "talking to Coupa", "busiest CPU", "random".
        self.picks: Counter[str] = Counter()
        self._pick = "random"

    def _start(self, slot: int) -> None:
        self.procs[slot] = subprocess.Popen(  # noqa: S603 - our own interpreter and app
            [*WORKER, "--hostname", f"chaos{slot}-{self.starts}@%h"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.starts += 1

    def ensure(self) -> None:
        """Start a worker in every slot whose process is gone."""
        for slot, proc in enumerate(self.procs):
            if proc is None or proc.poll() is not None:
                self._start(slot)

    def busiest(self, rng: random.Random, *, port: int, sample: float = 0.2) -> int:
        """The slot whose worker is talking to Coupa (a connection open to `port`), else
        the one that used the most CPU over `sample` seconds; random where /proc cannot tell."""
        talking = [slot for slot, p in enumerate(self.procs) if _connected_to(p, port)]
        if talking:
            self._pick = "talking to Coupa"
            return rng.choice(talking)
        before = [_cpu_ticks(p) for p in self.procs]
        time.sleep(sample)
        after = [_cpu_ticks(p) for p in self.procs]
        used = [
            (b - a, slot)
            for slot, (a, b) in enumerate(zip(before, after, strict=True))
            if a is not None and b is not None
        ]
        if not used or max(used)[0] == 0:
            self._pick = "random"
            return rng.randrange(len(self.procs))
        self._pick = "busiest CPU"
        return max(used)[1]

    def kill(self, slot: int) -> bool:
        """SIGKILL the worker in `slot` (no clean-up of any kind); False if none ran."""
        proc = self.procs[slot]
        if proc is None or proc.poll() is not None:
            return False
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        self.kills += 1
        self.picks[self._pick] += 1
        self._pick = "random"
        return True

    def stop(self) -> None:
        """Stop every worker (the run is over and the workers idle)."""
        for proc in self.procs:
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)


def _cpu_ticks(proc: subprocess.Popen[bytes] | None) -> int | None:
    """User plus system CPU ticks of a live process (Linux), else None."""
    if proc is None or proc.poll() is not None:
        return None
    try:
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[11]) + int(fields[12])


def _connected_to(proc: subprocess.Popen[bytes] | None, port: int) -> bool:
    """Whether a live process holds an established TCP connection to loopback `port` (Linux)."""
    if proc is None or proc.poll() is not None:
        return False
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if cols[2].rsplit(":", 1)[1] == f"{port:04X}" and cols[3] == "01":
                inodes.add(f"socket:[{cols[9]}]")
    try:
        fds = list(Path(f"/proc/{proc.pid}/fd").iterdir())
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(fd) in inodes:
                return True
        except OSError:
            continue
    return False


def wait_until(predicate: object, timeout: float, every: float = 0.25) -> bool:
    """Poll `predicate()` until it is true or `timeout` seconds passed; return the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        if callable(predicate) and predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(every)

"""The real Celery workers of the chaos run: started, SIGKILLed at random moments, restarted.

Each worker is `celery -A spendflo worker --pool solo`, so the process the driver kills
is the one doing the work (a prefork parent would only lose a child). Workers share the
driver's environment: the throwaway database, the broker, the short stale limits.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

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

    def kill(self, slot: int) -> bool:
        """SIGKILL the worker in `slot` (no clean-up of any kind); False if none ran."""
        proc = self.procs[slot]
        if proc is None or proc.poll() is not None:
            return False
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        self.kills += 1
        return True

    def stop(self) -> None:
        """Stop every worker (the run is over and the workers idle)."""
        for proc in self.procs:
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)


def wait_until(predicate: object, timeout: float, every: float = 0.25) -> bool:
    """Poll `predicate()` until it is true or `timeout` seconds passed; return the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        if callable(predicate) and predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(every)

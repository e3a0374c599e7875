"""What every case needs: Django, a throwaway database, connections to a sandbox, RSS.

`django_setup()` must run before any product import. The database is a fresh test
database (PostgreSQL when DATABASE_URL is set, else a SQLite file: the paging threads'
rate-limiter writes then wait for the importer instead of failing as on a shared
in-memory database), destroyed at the end.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def django_setup() -> None:
    """Configure Django for a benchmark process (throwaway secrets, no .env)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spendflo.settings")
    os.environ.setdefault("SPENDFLO_IGNORE_DOTENV", "1")
    os.environ.setdefault("SECRET_KEY", "bench-only")
    # Notifications of the PR/PO sync go nowhere (the console would drown the output).
    os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
    if not os.environ.get("CELERY_BROKER_URL") and not os.environ.get("REDIS_URL"):
        # The embedded broker in a folder of this run's own, never `make run`'s.
        os.environ["CELERY_BROKER_FOLDER"] = tempfile.mkdtemp(prefix="bench-broker-")
    if not os.environ.get("FIELD_ENCRYPTION_KEY"):
        from cryptography.fernet import Fernet

        os.environ["FIELD_ENCRYPTION_KEY"] = Fernet.generate_key().decode()
    import django

    django.setup()


@contextlib.contextmanager
def throwaway_database() -> Iterator[str]:
    """Create a fresh test database for the process; yield its vendor; drop it after."""
    from django.db import connection as db

    if db.vendor == "sqlite":
        tmp = tempfile.mkdtemp(prefix="bench-")
        db.settings_dict["TEST"]["NAME"] = str(Path(tmp) / "bench.sqlite3")
    elif os.environ.get("BENCH_DB_SUFFIX"):  # workers running side by side (a quick run)
        db.settings_dict["TEST"]["NAME"] = (
            f"test_{db.settings_dict['NAME']}_{os.environ['BENCH_DB_SUFFIX']}"
        )
    name = db.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False, serialize=False)
    try:
        yield db.vendor
    finally:
        from django.db import connections

        from integrations.ratelimit import release_db_connections

        release_db_connections()
        connections.close_all()
        try:
            db.creation.destroy_test_db(name, verbosity=0)
        except Exception as exc:  # the figures are written; a leftover database is not fatal
            print(f"could not drop the benchmark database {name}: {exc}", file=sys.stderr)


def database_url() -> str:
    """A URL of the throwaway database, for the processes a case starts."""
    from django.db import connection as db

    d = db.settings_dict
    if db.vendor == "sqlite":
        return f"sqlite:///{d['NAME']}"
    auth = d.get("USER") or ""
    if d.get("PASSWORD"):
        auth += f":{d['PASSWORD']}"
    return f"postgres://{auth}@{d.get('HOST') or '127.0.0.1'}:{d.get('PORT') or 5432}/{d['NAME']}"


@contextlib.contextmanager
def celery_worker(
    *, concurrency: int, sandboxes: list[Any], env: dict[str, str] | None = None
) -> Iterator[None]:
    """A Celery worker of the project on the throwaway database and this process's broker,
    as production runs it (prefork) on PostgreSQL; threads on SQLite, whose writers would
    otherwise lock each other out across processes. It may call `sandboxes` (their exact
    origins are allowed). Queued messages of an earlier case are purged first; the worker
    is stopped (SIGTERM, then SIGKILL) at the end."""
    import subprocess

    from django.conf import settings
    from django.db import connection as db

    from spendflo.celery import app, ensure_broker_folders

    ensure_broker_folders()
    app.control.purge()
    pool = ["--pool", "prefork"] if db.vendor == "postgresql" else ["--pool", "threads"]
    allowed = ",".join([*settings.COUPA_ALLOWED_HOSTS, *(s.base_url for s in sandboxes)])
    proc = subprocess.Popen(  # noqa: S603 - our interpreter and the project's app
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "spendflo",
            "--quiet",
            "worker",
            "--loglevel",
            "WARNING",
            "--concurrency",
            str(concurrency),
            *pool,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": database_url(),
            "COUPA_ALLOWED_HOSTS": allowed,
            **(env or {}),
        },
    )
    try:
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def make_connection(sandbox: Any, *, rate: float, label: str, burst: int = 10) -> Any:
    """A connected Connection of a new organization to `sandbox`, at `rate` requests/s."""
    from django.conf import settings

    from integrations.crypto import encrypt
    from integrations.models import Connection
    from spendflo.organizations.models import Organization

    if sandbox.base_url not in settings.COUPA_ALLOWED_HOSTS:
        settings.COUPA_ALLOWED_HOSTS = [*settings.COUPA_ALLOWED_HOSTS, sandbox.base_url]
    org = Organization.objects.create(slug=f"bench-{label}-{time.time_ns()}", name=f"Bench {label}")
    return Connection.objects.create(
        organization=org,
        host=sandbox.base_url.split("//")[1],
        base_url=sandbox.base_url,
        provider_settings={"client_id": sandbox.client_id, "post_token_pause": 0.0},
        secret_encrypted=encrypt(sandbox.client_secret),
        state=Connection.State.CONNECTED,
        rate_limit=rate or 5000.0,
        rate_burst=burst if rate else 500,
    )


def select_charts(connection: Any, limit: int | None = None) -> int:
    """Import the charts of accounts and select the first `limit` (all when None)."""
    from coupa.client.connection import client_for
    from coupa.models import ChartOfAccounts
    from coupa.reference.importers import import_charts
    from coupa.reference.walk import charts_fetch_active

    with client_for(connection) as client:
        import_charts(connection=connection, records=charts_fetch_active(client))
    charts = list(ChartOfAccounts.objects.filter(connection=connection).order_by("external_id"))
    chosen = charts if limit is None else charts[:limit]
    ChartOfAccounts.objects.filter(pk__in=[c.pk for c in chosen]).update(selected=True)
    return len(chosen)


def refill(rate: float, burst: int) -> None:
    """Wait until a sandbox bucket of `burst` at `rate`/s is full again."""
    if rate:
        time.sleep(burst / rate + 0.1)


def rss_mb() -> float:
    """This process's resident set size in MB (Linux; 0 elsewhere)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class PeakRss:
    """Sample this process's RSS every 50 ms in a thread; keep the peak."""

    def __init__(self) -> None:
        self.peak = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, rss_mb())

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class Sampler:
    """Call `probe()` every `every` seconds in a thread; keep (seconds since start, value)."""

    def __init__(self, probe: Any, every: float = 0.25) -> None:
        self.points: list[tuple[float, float]] = []
        self._probe = probe
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._started = 0.0

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            with contextlib.suppress(Exception):
                self.points.append((time.perf_counter() - self._started, float(self._probe())))

    def __enter__(self) -> Sampler:
        self._started = time.perf_counter()
        self.points.append((0.0, 0.0))
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        with contextlib.suppress(Exception):
            self.points.append((time.perf_counter() - self._started, float(self._probe())))

"""Local development helper used by `make run`.

`python scripts/dev.py env` writes `.env` the first time (fresh secrets, never overwritten).
`python scripts/dev.py run` starts the web server, a Celery worker with beat and the Coupa
sandbox in the foreground, prefixes their output with their names, and stops them all on Ctrl-C.
"""

from __future__ import annotations

import os
import secrets
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
ENV_FILE = ROOT / ".env"
WEB_PORT = int(os.environ.get("WEB_PORT", "8000"))
SANDBOX_PORT = int(os.environ.get("SANDBOX_PORT", "8111"))
DEFAULT_AUTOPILOT = "approve=30,order=60,receive=300"
CONSOLE_EMAIL = "django.core.mail.backends.console.EmailBackend"
DEMO_EMAILS = "requester@demo.example,admin@demo.example,ops@demo.example"  # demo_setup's


def read_env() -> dict[str, str]:
    values: dict[str, str] = {}
    if ENV_FILE.exists():
        for line in ENV_FILE.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, _, value = line.partition("=")
                values[key.strip()] = value.strip()
    return values


def write_env() -> None:
    """Write `.env` once; later runs keep it (secrets must not change under stored data)."""
    (ROOT / "var").mkdir(exist_ok=True)
    if ENV_FILE.exists():
        return
    lines = [
        "# Written once by `make run`; edit freely, it is never overwritten.",
        f"SECRET_KEY={secrets.token_urlsafe(50)}",
        f"FIELD_ENCRYPTION_KEY={Fernet.generate_key().decode()}",
        "DEBUG=false",
        "ALLOWED_HOSTS=localhost,127.0.0.1",
        # Local HTTP: the production security defaults would redirect to https.
        "SECURE_SSL_REDIRECT=false",
        "SESSION_COOKIE_SECURE=false",
        "CSRF_COOKIE_SECURE=false",
        "SECURE_HSTS_SECONDS=0",
        # Reset links and notices are printed to the console, never sent.
        f"EMAIL_BACKEND={CONSOLE_EMAIL}",
        f"COUPA_ALLOWED_HOSTS=*.coupahost.com,*.coupacloud.com,http://127.0.0.1:{SANDBOX_PORT}",
        "COUPA_SANDBOX_CLIENT_ID=spendflo-demo",
        f"COUPA_SANDBOX_CLIENT_SECRET={secrets.token_urlsafe(24)}",
    ]
    ENV_FILE.write_text("\n".join(lines) + "\n")
    ENV_FILE.chmod(0o600)
    print(f"Wrote {ENV_FILE.name} with freshly generated secrets.")


def _processes(env: dict[str, str]) -> dict[str, list[str]]:
    py = sys.executable
    embedded = not env.get("REDIS_URL")
    worker = [
        py, "-m", "celery", "-A", "spendflo", "worker", "--beat", "--loglevel", "INFO",
        "--schedule", str(ROOT / "var" / "celerybeat-schedule"),
    ]
    if embedded:
        # The embedded broker and SQLite want a single worker process.
        worker += ["--concurrency", "1"]
    procs = {
        "web": [
            py, "-m", "gunicorn", "spendflo.wsgi", "--bind", f"127.0.0.1:{WEB_PORT}",
            "--workers", "2", "--access-logfile", "-", "--log-level", "info",
        ],
        "worker": worker,
    }
    if (ROOT / "coupa" / "sandbox" / "__main__.py").exists():
        procs["sandbox"] = [
            py, "-m", "coupa.sandbox", "--port", str(SANDBOX_PORT),
            "--client-id", env["COUPA_SANDBOX_CLIENT_ID"],
            "--client-secret", env["COUPA_SANDBOX_CLIENT_SECRET"],
            "--state-file", str(ROOT / "var" / "sandbox-state.json"),
            # New requisitions get approved, ordered and received by themselves (demo).
            "--autopilot", env.get("COUPA_SANDBOX_AUTOPILOT", DEFAULT_AUTOPILOT),
            # The demo's people are Coupa users too, so their requests can become PRs.
            "--user-emails", DEMO_EMAILS,
        ]
    return procs


def child_environment(env: dict[str, str]) -> dict[str, str]:
    """The processes' environment: the demo's PR/PO pass every 2 minutes instead of hourly,
    and email printed to the console (production's default is SMTP), unless set otherwise
    in the environment or .env."""
    child_env = {
        "COUPA_PR_SYNC_SECONDS": "120",
        "SITE_URL": f"http://127.0.0.1:{WEB_PORT}",
        **os.environ,
        "PYTHONUNBUFFERED": "1",
    }
    if "EMAIL_BACKEND" not in env:
        child_env["EMAIL_BACKEND"] = CONSOLE_EMAIL
    return child_env


def run() -> int:
    env = {**read_env(), **os.environ}
    child_env = child_environment(env)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    sel = selectors.DefaultSelector()
    commands = _processes(env)
    width = max(len(n) for n in commands)
    for name, cmd in commands.items():
        proc = subprocess.Popen(  # noqa: S603 - our own fixed commands
            cmd, cwd=ROOT, env=child_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        procs[name] = proc
        assert proc.stdout is not None
        sel.register(proc.stdout, selectors.EVENT_READ, name)

    print("\n" + "=" * 72)
    print(f"  Spendflo is starting at  http://127.0.0.1:{WEB_PORT}/")
    if "sandbox" in commands:
        print("  Connect Coupa with (Settings → Integrations → Procurement → Connect):")
        print(f"    Coupa domain:   http://127.0.0.1:{SANDBOX_PORT}")
        print(f"    Client ID:      {env['COUPA_SANDBOX_CLIENT_ID']}")
        print(f"    Client secret:  {env['COUPA_SANDBOX_CLIENT_SECRET']}")
    print("  Press Ctrl-C to stop everything.")
    print("=" * 72 + "\n", flush=True)

    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for key, _ in sel.select(timeout=0.5):
            line = key.fileobj.readline()  # type: ignore[union-attr]
            if not line:
                sel.unregister(key.fileobj)
                continue
            text = line.decode(errors="replace").rstrip()
            print(f"{key.data:<{width}} | {text}", flush=True)
        for name, proc in procs.items():
            if proc.poll() is not None:
                print(f"{name} exited with code {proc.returncode}; stopping the others.")
                exit_code = proc.returncode or 1
                stopping = True
                break
    for proc in procs.values():
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for proc in procs.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    print("Stopped.")
    return exit_code


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "env":
        write_env()
    elif command == "run":
        sys.exit(run())
    else:
        sys.exit("usage: dev.py env|run")

"""`make run`'s helper: .env is written once with fresh secrets and never overwritten."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def load_dev():
    spec = importlib.util.spec_from_file_location("dev_script", ROOT / "scripts" / "dev.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_env_is_written_once_with_fresh_secrets(tmp_path: Path, monkeypatch) -> None:
    dev = load_dev()
    monkeypatch.setattr(dev, "ROOT", tmp_path)
    monkeypatch.setattr(dev, "ENV_FILE", tmp_path / ".env")
    dev.write_env()
    first = dev.read_env()
    Fernet(first["FIELD_ENCRYPTION_KEY"].encode())  # a usable key
    assert len(first["SECRET_KEY"]) >= 50
    assert "http://127.0.0.1:8111" in first["COUPA_ALLOWED_HOSTS"]
    assert first["COUPA_SANDBOX_CLIENT_SECRET"]
    assert first["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"
    dev.write_env()
    assert dev.read_env() == first
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.setattr(dev, "ROOT", other)
    monkeypatch.setattr(dev, "ENV_FILE", other / ".env")
    dev.write_env()
    assert dev.read_env()["SECRET_KEY"] != first["SECRET_KEY"]


def test_the_run_starts_web_worker_and_sandbox() -> None:
    dev = load_dev()
    procs = dev._processes({"COUPA_SANDBOX_CLIENT_ID": "c", "COUPA_SANDBOX_CLIENT_SECRET": "s"})
    assert set(procs) == {"web", "worker", "sandbox"}
    assert "--beat" in procs["worker"] and "--concurrency" in procs["worker"]  # embedded: one process
    with_redis = dev._processes({"COUPA_SANDBOX_CLIENT_ID": "c", "COUPA_SANDBOX_CLIENT_SECRET": "s",
                                 "REDIS_URL": "redis://127.0.0.1:6379/0"})
    assert "--concurrency" not in with_redis["worker"]


def test_the_run_prints_email_to_the_console_unless_told_otherwise(monkeypatch) -> None:
    """Production defaults to SMTP; `make run` (even with a .env from before) keeps the
    console, and an EMAIL_BACKEND from .env or the environment wins."""
    dev = load_dev()
    monkeypatch.delenv("EMAIL_BACKEND", raising=False)
    console = "django.core.mail.backends.console.EmailBackend"
    assert dev.child_environment({})["EMAIL_BACKEND"] == console
    smtp = {"EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend"}
    assert "EMAIL_BACKEND" not in dev.child_environment(smtp)

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from spendflo import health
from spendflo.users.models import User

ROOT = Path(__file__).resolve().parents[2]


def test_healthz_is_always_ok() -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_reports_database_and_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health, "_broker_ok", lambda: True)
    assert Client().get("/readyz").status_code == 200


@pytest.mark.django_db
def test_readyz_names_what_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health, "_broker_ok", lambda: False)
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["down"] == ["broker"]


@pytest.mark.django_db
def test_create_organization_command_prints_a_one_time_password() -> None:
    out = io.StringIO()
    call_command("create_organization", "initech", "--name", "Initech", "--admin-email", "boss@initech.test", stdout=out)
    password = out.getvalue().split("One-time password: ")[1].split()[0]
    admin = User.objects.get(email="boss@initech.test")
    assert admin.role == User.Role.ADMIN and admin.organization.slug == "initech"
    assert admin.check_password(password)
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_organization", "initech", "--name", "X", "--admin-email", "y@x.test")


@pytest.mark.django_db
def test_demo_setup_keeps_passwords_across_runs(tmp_path: Path) -> None:
    creds = tmp_path / "demo.json"
    call_command("demo_setup", "--credentials-file", str(creds), stdout=io.StringIO())
    first = json.loads(creds.read_text())
    call_command("demo_setup", "--credentials-file", str(creds), stdout=io.StringIO())
    assert json.loads(creds.read_text()) == first
    assert set(first) == {"admin@demo.example", "ops@demo.example", "requester@demo.example"}
    for email, pw in first.items():
        assert User.objects.get(email=email).check_password(pw)


def test_beat_schedule_has_the_hourly_and_daily_syncs() -> None:
    from spendflo.celery import app

    schedule = app.conf.beat_schedule
    tasks = {entry["task"]: entry["schedule"] for entry in schedule.values()}
    assert tasks["coupa.reference_sync_all"] == 3600.0
    assert tasks["coupa.requisition_sync_all"] == 86400.0
    app.loader.import_default_modules()
    for name in tasks:
        assert name in app.tasks, f"beat names an unregistered task: {name}"


def test_celery_is_json_only_with_late_acks() -> None:
    from spendflo.celery import app

    assert app.conf.accept_content == ["json"]
    assert app.conf.task_serializer == "json"
    assert app.conf.task_acks_late is True
    assert app.conf.task_time_limit and app.conf.task_soft_time_limit < app.conf.task_time_limit


def test_docker_compose_names_every_service_the_readme_mentions() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = set(compose["services"])
    assert {"postgres", "redis", "web", "worker", "beat", "sandbox"} <= services
    readme = (ROOT / "README.md").read_text()
    for service in services:
        assert f"`{service}`" in readme, f"README does not mention the {service} service"
    for name in ("web", "worker", "beat"):
        env = compose["services"][name].get("environment", {})
        assert "DATABASE_URL" in env and "REDIS_URL" in env
    assert (ROOT / "Dockerfile").exists()


def test_env_example_lists_every_variable_the_settings_read() -> None:
    settings_src = (ROOT / "spendflo" / "settings.py").read_text()
    import re

    read = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z_]+)"', settings_src))
    listed = {
        line.split("=", 1)[0].lstrip("# ").strip()
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line
    }
    assert read - listed == set()


def test_check_deploy_passes_with_production_values(tmp_path: Path) -> None:
    from cryptography.fernet import Fernet

    env = {
        "PATH": "/usr/bin:/bin",
        "SPENDFLO_IGNORE_DOTENV": "1",
        "SECRET_KEY": "p" * 20 + "-production-like-secret-key-with-enough-entropy-1234567890",
        "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "DEBUG": "false",
        "ALLOWED_HOSTS": "spendflo.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _env_example() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def _check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True,
        check=False,
    )


def _production_env(tmp_path: Path) -> dict[str, str]:
    """`.env.example` as an operator starts from it: its values, secrets filled in."""
    import secrets

    from cryptography.fernet import Fernet

    return {
        **_env_example(),
        "SPENDFLO_IGNORE_DOTENV": "1",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "spendflo.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }


def test_check_deploy_is_clean_with_the_values_of_env_example(tmp_path: Path) -> None:
    """DEBUG off, secure cookies, HSTS, SSL redirect (behind the proxy's X-Forwarded-Proto),
    SMTP email: nothing for `check --deploy` to warn about."""
    env = _production_env(tmp_path)
    assert env["DEBUG"] == "false"
    assert env["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    result = _check_deploy(env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_warns_about_console_email_in_production(tmp_path: Path) -> None:
    """Reset links sent to the console end up in the logs."""
    env = _production_env(tmp_path)
    for backend in ("django.core.mail.backends.console.EmailBackend", None):
        if backend is None:
            env.pop("EMAIL_BACKEND")  # the default without DEBUG is SMTP: clean
            assert _check_deploy(env).returncode == 0
            continue
        result = _check_deploy({**env, "EMAIL_BACKEND": backend})
        assert result.returncode != 0
        assert "spendflo.W001" in result.stderr + result.stdout
        assert "reset links end up in the logs" in result.stderr + result.stdout


def test_production_settings_redirect_to_https_behind_a_proxy_and_mark_cookies_secure(
    settings, admin_user: User, password: str
) -> None:
    settings.SECURE_SSL_REDIRECT = True
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.ALLOWED_HOSTS = ["spendflo.example.com"]
    plain = Client(HTTP_HOST="spendflo.example.com").get("/accounts/login/")
    assert plain.status_code == 301
    assert plain["Location"] == "https://spendflo.example.com/accounts/login/"
    proxied = Client(HTTP_HOST="spendflo.example.com", HTTP_X_FORWARDED_PROTO="https")
    page = proxied.get("/accounts/login/")
    assert page.status_code == 200
    assert "max-age=31536000" in page["Strict-Transport-Security"]
    signed_in = proxied.post(
        "/accounts/login/", {"username": admin_user.email, "password": password}
    )
    assert signed_in.status_code == 302
    assert signed_in.cookies["sessionid"]["secure"]
    assert signed_in.cookies["sessionid"]["httponly"]
    assert Client(HTTP_HOST="spendflo.example.com").get("/healthz").status_code == 200


def test_the_docker_image_never_contains_local_secrets_or_state() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".env", ".venv/", "var/"} <= ignored


def test_every_production_start_runs_gunicorn_with_the_repositorys_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The image, docker-compose and `make bench` start the web server with
    gunicorn.conf.py: 4 workers per core + 1, or WEB_CONCURRENCY."""
    import os
    import runpy

    config = ROOT / "gunicorn.conf.py"
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert runpy.run_path(str(config))["workers"] == 4 * (cores or 1) + 1
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    assert runpy.run_path(str(config))["workers"] == 3
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "gunicorn --config gunicorn.conf.py spendflo.wsgi" in compose
    assert '"gunicorn", "--config", "gunicorn.conf.py"' in (ROOT / "Dockerfile").read_text()
    assert "--workers" not in compose + (ROOT / "Dockerfile").read_text()

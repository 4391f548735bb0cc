"""Production settings, the default when DJANGO_ENV is unset, each loaded in a process of its own.

The test run itself uses DJANGO_ENV=test; these tests start `manage.py` or a small probe with the
environment an operator would give a production server.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
HOST = "forloeb.example.dk"


def production_env(**overrides: str | None) -> dict[str, str]:
    env = dict(os.environ)
    # Only what the operator sets: nothing from the test run that production would not have.
    for name in ("DJANGO_ENV", "DJANGO_DEBUG", "DJANGO_BEHIND_TLS_PROXY", "DJANGO_ALLOW_ASYNC_UNSAFE"):
        env.pop(name, None)
    env["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(45)  # 60 characters
    env["DJANGO_ALLOWED_HOSTS"] = HOST
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_reports_nothing_with_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"DJANGO_SECRET_KEY": None}, "DJANGO_SECRET_KEY"),
        ({"DJANGO_SECRET_KEY": ""}, "DJANGO_SECRET_KEY"),
        ({"DJANGO_ALLOWED_HOSTS": None}, "DJANGO_ALLOWED_HOSTS"),
        ({"DJANGO_ALLOWED_HOSTS": " , "}, "DJANGO_ALLOWED_HOSTS"),
        ({"DJANGO_DEBUG": "1"}, "DJANGO_DEBUG"),
        ({"DJANGO_DEBUG": "true", "DJANGO_ENV": "production"}, "DJANGO_DEBUG"),
        ({"DJANGO_ENV": "staging"}, "DJANGO_ENV"),
    ],
    ids=[
        "no-secret-key",
        "empty-secret-key",
        "no-hosts",
        "blank-hosts",
        "debug",
        "debug-explicit",
        "bad-env",
    ],
)
def test_production_refuses_to_start_when_misconfigured(overrides, variable):
    result = manage("check", env=production_env(**overrides))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert variable in result.stderr.splitlines()[-1]


def test_development_allows_debug_over_plain_http():
    result = manage("check", env=production_env(DJANGO_ENV="development", DJANGO_DEBUG="1"))
    assert result.returncode == 0, result.stderr


def test_seed_demo_refuses_production_because_its_logins_share_a_published_password():
    result = manage("seed_demo", env=production_env())
    assert result.returncode != 0
    assert "seed_demo refuses to run with production settings" in result.stderr


PROBE = """
import json
import django
django.setup()
from django.conf import settings
from django.test import Client

client = Client(HTTP_HOST=settings.ALLOWED_HOSTS[0])
plain = client.get("/login/")
secure = client.get("/login/", secure=True)
proxied = client.get("/login/", HTTP_X_FORWARDED_PROTO="https")
print(json.dumps({
    "plain": [plain.status_code, plain.get("Location", "")],
    "secure_status": secure.status_code,
    "secure_headers": dict(secure.headers),
    "cookies": {
        name: {"secure": bool(m["secure"]), "httponly": bool(m["httponly"]), "samesite": m["samesite"]}
        for name, m in secure.cookies.items()
    },
    "proxied_status": proxied.status_code,
    "healthz_status": client.get("/healthz").status_code,
    "session_cookie": [settings.SESSION_COOKIE_NAME, settings.SESSION_COOKIE_SECURE],
    "language_cookie": [settings.LANGUAGE_COOKIE_SECURE, settings.LANGUAGE_COOKIE_HTTPONLY],
}))
"""


def probe(**overrides: str | None) -> dict[str, Any]:
    env = production_env(DJANGO_SETTINGS_MODULE="config.settings", **overrides)
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def production() -> dict[str, Any]:
    return probe()


def test_production_sends_plain_http_to_https_with_hsts_and_host_only_secure_cookies(production):
    seen = production
    assert seen["plain"] == [301, f"https://{HOST}/login/"]
    assert seen["secure_status"] == 200
    headers = seen["secure_headers"]
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert seen["cookies"]["__Host-csrftoken"] == {"secure": True, "httponly": False, "samesite": "Lax"}
    assert seen["session_cookie"] == ["__Host-sessionid", True]
    assert seen["language_cookie"] == [True, True]


def test_healthz_answers_plain_http_so_probes_inside_the_network_work(production):
    # 200 or 503 depending on the services around the test run, but never a redirect.
    assert production["healthz_status"] in (200, 503)


def test_forwarded_proto_is_trusted_only_behind_a_declared_tls_proxy(production):
    assert production["proxied_status"] == 301
    assert probe(DJANGO_BEHIND_TLS_PROXY="1")["proxied_status"] == 200

"""docker-compose.yml describes the same stack with the same configuration variables as `make run`."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_compose_has_the_six_services_with_the_settings_variables():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    # Two workers: notices never wait behind PDFs (tests/pathways/test_worker_queues.py).
    assert set(compose["services"]) == {"postgres", "redis", "web", "worker", "worker-documents", "beat"}
    settings_source = (ROOT / "config" / "settings.py").read_text()
    for service in ("web", "worker", "worker-documents", "beat"):
        env = compose["services"][service]["environment"]
        for name in (
            "PGHOST",
            "PGDATABASE",
            "PGUSER",
            "PGPASSWORD",
            "REDIS_URL",
            "DJANGO_SECRET_KEY",
            "DJANGO_ENV",
            "DJANGO_ALLOWED_HOSTS",
            "DJANGO_BEHIND_TLS_PROXY",
        ):
            assert name in env, (service, name)
            assert f'"{name}"' in settings_source, name


def test_compose_runs_production_settings_with_no_secret_or_demo_login_of_its_own():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    env = compose["services"]["web"]["environment"]
    assert env["DJANGO_ENV"] == "${DJANGO_ENV:-production}"
    # Secrets must come from the operator: compose stops with a message instead of using a default.
    for name in ("DJANGO_SECRET_KEY", "PGPASSWORD", "DJANGO_ALLOWED_HOSTS"):
        assert env[name] == f"${{{name}:?set {name}}}", name
    assert (
        compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"] == "${PGPASSWORD:?set PGPASSWORD}"
    )
    assert "seed_demo" not in compose["services"]["web"]["command"]

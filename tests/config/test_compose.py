"""docker-compose.yml describes the same stack with the same configuration variables as `make run`."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_compose_has_the_five_services_with_the_settings_variables():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert set(compose["services"]) == {"postgres", "redis", "web", "worker", "beat"}
    settings_source = (ROOT / "config" / "settings.py").read_text()
    for service in ("web", "worker", "beat"):
        env = compose["services"][service]["environment"]
        for name in ("PGHOST", "PGDATABASE", "PGUSER", "PGPASSWORD", "REDIS_URL", "DJANGO_SECRET_KEY"):
            assert name in env, (service, name)
            assert f'"{name}"' in settings_source, name

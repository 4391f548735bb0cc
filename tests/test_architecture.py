"""Dependencies point one way. The import contracts live in pyproject.toml [tool.importlinter]."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept():
    """The same check `make test` runs, so a developer running only pytest sees a broken layer too."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [lint_imports, "--no-logo", "--no-cache", ROOT / "pyproject.toml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# The models that hold patient data: outside the app's access, selectors and services modules nothing
# queries them, so every read passes the access policy (and its log).
PATIENT_DATA = [
    "Patient", "PathwayPlan", "PlanCondition", "PlanParticipant", "Goal", "Task",
    "EmergencyAccess", "AccessLog",
]  # fmt: skip


def view_modules() -> list[Path]:
    """Every module that answers requests: page views (a module or a package), API views, sign-in views."""
    found = [*ROOT.glob("*/views.py"), *ROOT.glob("*/views/*.py"), *ROOT.glob("*/api.py")]
    found += [*ROOT.glob("*/account_views.py"), *ROOT.glob("*/signin/views.py")]
    return sorted(found)


def test_the_view_guard_sees_every_view_module():
    names = {str(path.relative_to(ROOT)) for path in view_modules()}
    assert {"pathways/api.py", "pathways/views/plans.py", "pathways/views/tasks.py"} <= names


@pytest.mark.parametrize("path", view_modules(), ids=lambda path: str(path.relative_to(ROOT)))
def test_views_read_patient_data_only_through_access(path):
    """No Model.objects on patient data, no get_object_or_404, no lookup by raw primary key in a view."""
    source = path.read_text(encoding="utf-8")
    assert ".objects.get(pk=" not in source
    assert "get_object_or_404(" not in source
    for model in PATIENT_DATA:
        assert not re.search(rf"\b{model}\.objects\b", source), f"{model}.objects in {path.name}"


def _layer_order() -> list[str]:
    """Our apps from the lowest layer up, as the import contract in pyproject.toml states them."""
    import tomllib

    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    layers = next(c for c in contracts if c["id"] == "apps-layers")["layers"]
    return [layer for layer in reversed(layers) if layer != "config"]


def test_installed_apps_list_our_apps_in_layer_order():
    from django.conf import settings

    ours = [app for app in settings.INSTALLED_APPS if app in _layer_order()]
    assert ours == _layer_order() == ["pathways", "relatives", "coordination", "quality", "portal"]


def test_seed_demo_runs_each_apps_demo_step_in_layer_order():
    from pathways.management.commands.seed_demo import demo_steps

    labels = [label for label, _step in demo_steps()]
    assert labels == [app for app in _layer_order() if app in labels]
    assert labels[0] == "pathways"

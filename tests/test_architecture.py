"""Dependencies point one way. The import contracts live in pyproject.toml [tool.importlinter]."""

import subprocess
import sys
from pathlib import Path

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


def test_no_view_fetches_by_raw_primary_key():
    """Views never do Model.objects.get(pk=<user input>); they go through access.py."""
    for path in ROOT.glob("*/views*.py"):
        source = path.read_text(encoding="utf-8")
        assert ".objects.get(pk=" not in source, path
        assert "get_object_or_404(" not in source, path

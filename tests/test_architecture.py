"""Dependencies point one way: the hub `pathways` imports from no other app of ours."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OTHER_APPS = {"coordination", "relatives", "quality", "portal"}


def imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_pathways_imports_no_other_app():
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_top_levels(path) & OTHER_APPS)
        for path in (ROOT / "pathways").rglob("*.py")
        if imported_top_levels(path) & OTHER_APPS
    }
    assert offenders == {}


def test_no_view_fetches_by_raw_primary_key():
    """Views never do Model.objects.get(pk=<user input>); they go through access.py."""
    for path in ROOT.glob("*/views*.py"):
        source = path.read_text(encoding="utf-8")
        assert ".objects.get(pk=" not in source, path
        assert "get_object_or_404(" not in source, path

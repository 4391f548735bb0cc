"""make bench-national's measuring command (bench_national), at a size the suite can afford."""

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command

PAGES = [
    "caseload",
    "plan",
    "worklist",
    "plan access log",
    "portal plan",
    "portal access log",
    "quality dashboard",
]


@pytest.mark.django_db
def test_bench_national_times_each_page_beside_its_floor_and_compares_two_sizes(tmp_path: Path):
    call_command("seed_synthetic", patients=120, reads_per_month=1, stdout=io.StringIO())
    call_command("seed_synthetic_relatives", stdout=io.StringIO())
    call_command("seed_synthetic_coordination", stdout=io.StringIO())
    small, large = tmp_path / "small.json", tmp_path / "large.json"
    out = io.StringIO()
    call_command("bench_national", repeat=2, refresh=True, save=small, stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("Quality summary refreshed in")
    assert "× floor" in lines[1]
    assert [line[11:33].strip() for line in lines[2:]] == PAGES
    saved = json.loads(small.read_text())
    assert [page["name"] for page in saved["pages"]] == PAGES
    for page in saved["pages"]:
        assert page["queries"] > 0
        assert page["median_ms"] > 0
        assert page["floor_ms"] > 0

    call_command("seed_synthetic", patients=240, reads_per_month=1, stdout=io.StringIO())
    call_command("bench_national", repeat=2, save=large, stdout=io.StringIO())
    out = io.StringIO()
    call_command("bench_national", compare=[small, large], stdout=out)
    header, *rows = out.getvalue().splitlines()
    assert header.split()[1:3] == [f"{saved['patients']:,}", f"{json.loads(large.read_text())['patients']:,}"]
    assert [row[:22].strip() for row in rows] == PAGES
    assert all(row.rstrip().endswith("×") for row in rows)

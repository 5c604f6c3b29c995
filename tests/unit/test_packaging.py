"""The wheel ships the SQL templates, and an installed copy renders them."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from tests.conftest import ROOT


def test_wheel_contains_sql_and_renders_from_site_packages(tmp_path):
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                          "-q", "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    wheel = next(tmp_path.glob("pypersonalize-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    templates = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "sql").rglob("*.sql"))
    assert templates and all(f"pypersonalize/{t}" in names for t in templates)
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    script = ("import sys; sys.path.insert(0, sys.argv[1]);"
              "from pypersonalize import sqlkit;"
              "assert str(sqlkit.sql_dir()).startswith(sys.argv[1]), sqlkit.sql_dir();"
              "print(sqlkit.render('catalog/00_tables.sql'))")
    rendered = subprocess.run([sys.executable, "-I", "-c", script, str(site)], capture_output=True,
                              text=True, cwd=tmp_path)
    assert rendered.returncode == 0, rendered.stderr
    assert "CREATE TABLE IF NOT EXISTS pypersonalize.objects" in rendered.stdout

"""Progress shows on a terminal, never in piped output, and --quiet silences it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import DOMAIN_DIRS

VOD = DOMAIN_DIRS["VIDEO_ON_DEMAND"]
pytestmark = pytest.mark.skipif(os.name != "posix", reason="needs a pseudo-terminal")


def _cli(db, *args, stderr_tty: bool):
    import pty

    cmd = [sys.executable, "-m", "pypersonalize.cli", "--db", str(db), *args]
    if not stderr_tty:
        done = subprocess.run(cmd, capture_output=True, text=True)
        return done.returncode, done.stdout, done.stderr
    master, slave = pty.openpty()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=slave)
    out, _ = proc.communicate(timeout=120)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    return proc.returncode, out.decode(), b"".join(chunks).decode()


def _setup(db):
    for args in (("dataset-group", "create", "m", "--domain", "VIDEO_ON_DEMAND"),
                 ("schema", "create", "s", "--schema", str(VOD / "interactions.schema.json"),
                  "--domain", "VIDEO_ON_DEMAND"),
                 ("dataset", "create", "d", "--dataset-group", "m", "--type", "Interactions",
                  "--schema", "s")):
        assert _cli(db, *args, stderr_tty=False)[0] == 0


def test_progress_on_terminal_quiet_and_pipes(tmp_path):
    db = tmp_path / "p.duckdb"
    _setup(db)
    source = str(VOD / "interactions.csv")
    code, out, err = _cli(db, "--format", "json", "dataset", "import", "d", source, stderr_tty=True)
    assert code == 0 and json.loads(out)["status"] == "ACTIVE"     # stdout stays clean JSON
    assert "staging interactions" in err and "imported 45,313 rows" in err
    code, out, err = _cli(db, "--format", "json", "dataset", "import", "d", source, "--quiet",
                          stderr_tty=True)
    assert code == 0 and err == ""
    code, out, err = _cli(db, "--format", "json", "dataset", "import", "d", source, stderr_tty=False)
    assert code == 0 and err == "" and json.loads(out)["rowCount"] == 45313
